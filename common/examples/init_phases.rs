//! Where a function's cold start goes after exec: times each step `main`
//! takes before it asks the Runtime API for an event, in one process (the
//! root certificates are read once per process). Prints one JSON line, in
//! microseconds; `scripts/bench-coldstart.sh` runs it repeatedly and prints
//! the medians. Needs the environment a function gets (AWS_REGION,
//! credentials, TABLE_NAME); it makes no AWS call.

use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), common::config::SettingError> {
    let started = Instant::now();
    common::telemetry::init_with_writer(std::io::sink);
    let telemetry = started.elapsed();
    let sdk = common::app::sdk_config()?;
    let sdk_config = started.elapsed() - telemetry;
    // Building the first client validates its HTTPS connector, which reads
    // and parses the root certificates (with TLS_ROOTS=system, the system's;
    // they are cached for the process); a second one shows what a client
    // costs once they are loaded.
    let app = common::App::from_sdk(&sdk)?;
    let first_client = started.elapsed() - telemetry - sdk_config;
    let second = common::app::dynamodb_client(&sdk);
    let second_client = started.elapsed() - telemetry - sdk_config - first_client;
    drop((app, second));
    println!(
        r#"{{"telemetry":{},"sdk_config":{},"first_client":{},"second_client":{}}}"#,
        telemetry.as_micros(),
        sdk_config.as_micros(),
        first_client.as_micros(),
        second_client.as_micros()
    );
    Ok(())
}
