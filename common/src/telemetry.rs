//! JSON logs for CloudWatch; `RUST_LOG` sets the level (default `info`).

use tracing_subscriber::fmt::MakeWriter;

pub fn init() {
    init_with_writer(std::io::stdout);
}

/// The same logs written elsewhere: the handler benchmark formats every
/// line as Lambda would and writes it to `std::io::sink`.
pub fn init_with_writer<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .with_writer(writer)
        .try_init();
}
