use lambda_runtime::{Error, run, service_fn};

// One thread: Lambda hands an instance one event at a time (README, Architecture).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    common::telemetry::init();
    let state = exports::ExportsApp::from_env()?;
    run(service_fn(|event| export_worker::handle(&state, event))).await
}
