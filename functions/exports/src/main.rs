use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    common::telemetry::init();
    let state = exports::ExportsApp::from_env()?;
    run(service_fn(|req| exports::handle(&state, req))).await
}
