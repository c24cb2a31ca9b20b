use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    common::telemetry::init();
    let sdk = common::app::sdk_config().await;
    let state = exports::ExportsApp {
        app: common::App::from_sdk(&sdk)?,
        exporter: exports::Exporter::from_env(&sdk)?,
    };
    run(service_fn(|req| exports::handle(&state, req))).await
}
