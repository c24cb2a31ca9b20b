use lambda_runtime::{Error, run, service_fn};

// One thread: Lambda hands an instance one event at a time (README, Architecture).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    common::telemetry::init();
    let app = common::App::from_env()?;
    run(service_fn(|event| coupon_jobs::handle(&app.store, event))).await
}
