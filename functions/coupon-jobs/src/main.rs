use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    common::telemetry::init();
    let app = common::App::from_env()?;
    run(service_fn(|event| coupon_jobs::handle(&app.store, event))).await
}
