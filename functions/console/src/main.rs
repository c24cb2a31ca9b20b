use lambda_http::{Error, run, service_fn};

// One thread: Lambda hands an instance one event at a time (README, Architecture).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    common::telemetry::init();
    run(service_fn(console::handle)).await
}
