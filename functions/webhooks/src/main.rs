use common::ssrf::AddressPolicy;
use lambda_http::{Error, run, service_fn};

// One thread: Lambda hands an instance one event at a time (README, Architecture).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    common::telemetry::init();
    // Clients and config are built once per cold start and shared by reference.
    let app = common::App::from_env()?;
    let policy = AddressPolicy::from_env()?;
    run(service_fn(|req| webhooks::handle(&app, policy, req))).await
}
