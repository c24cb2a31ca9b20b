use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    common::telemetry::init();
    let state = exports::ExportsApp::from_env()?;
    run(service_fn(|event| export_schedule::handle(&state, event))).await
}
