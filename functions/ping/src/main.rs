use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    common::telemetry::init();
    run(service_fn(ping::handle)).await
}
