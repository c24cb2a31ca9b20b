use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    common::telemetry::init();
    // Clients and config are built once per cold start and shared by reference.
    let app = common::App::from_env()?;
    run(service_fn(|req| coupons::handle(&app, req))).await
}
