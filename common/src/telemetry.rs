//! JSON logs for CloudWatch; `RUST_LOG` sets the level (default `info`).
//! Beside them, CloudWatch embedded-metric-format lines (see
//! [`crate::http`]) go to the same writer, one JSON object a line.

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, OnceLock};

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

use crate::config::env_value;

/// Writes one whole line (with its newline) of metrics.
type LineSink = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Where metric lines go once [`init`] ran; nowhere before (tests, tools).
static METRICS: OnceLock<LineSink> = OnceLock::new();

thread_local! {
    /// A [`scoped_with_writer`] capture on this thread, ahead of [`METRICS`].
    static SCOPED: RefCell<Option<LineSink>> = const { RefCell::new(None) };
}

pub fn init() {
    init_with_writer(std::io::stdout);
}

/// The same logs and metric lines written elsewhere: the handler benchmark
/// formats every line as Lambda would and writes it to `std::io::sink`.
pub fn init_with_writer<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Clone + Send + Sync + 'static,
{
    let filter = levels_from_env();
    let _ = METRICS.set(line_sink(writer.clone()));
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(Level::TRACE)
        .with_current_span(false)
        .with_target(false)
        .with_writer(writer)
        .finish()
        .with(filter)
        .with(ceilings());
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// `RUST_LOG` as per-target levels (`info`, `warn,common=debug`); `info`
/// when unset or unreadable. Plain levels are all the functions need, so
/// this is tracing-subscriber's `Targets` rather than `EnvFilter`, whose
/// span and field matching would bring the regex engine into every binary
/// (about half a megabyte).
fn levels_from_env() -> Targets {
    env_value("RUST_LOG")
        .and_then(|levels| levels.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(Level::INFO))
}

/// Levels no `RUST_LOG` can raise: at `trace` the Lambda runtime logs the raw
/// event (its `Authorization` header with the tenant's token) and the SDK
/// each outgoing request (its SigV4 `Authorization` header).
fn ceilings() -> Targets {
    Targets::new()
        .with_default(Level::TRACE)
        .with_target("lambda_runtime", Level::DEBUG)
        .with_target("lambda_runtime_api_client", Level::DEBUG)
        .with_target("lambda_http", Level::DEBUG)
        .with_target("aws_smithy_runtime", Level::DEBUG)
        .with_target("aws_smithy_runtime_api", Level::DEBUG)
        .with_target("aws_smithy_http_client", Level::DEBUG)
        .with_target("aws_sigv4", Level::DEBUG)
        .with_target("hyper", Level::DEBUG)
        .with_target("hyper_util", Level::DEBUG)
        .with_target("h2", Level::DEBUG)
}

fn line_sink<W>(writer: W) -> LineSink
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    Arc::new(move |line: &[u8]| {
        // One write of the whole line: Lambda reads stdout line by line.
        let _ = writer.make_writer().write_all(line);
    })
}

/// Whether a metric line would go anywhere (so callers skip formatting it).
pub(crate) fn metrics_enabled() -> bool {
    SCOPED.with(|s| s.borrow().is_some()) || METRICS.get().is_some()
}

/// Writes one metric line (ending in `\n`) to this thread's capture, else
/// to the writer [`init`] set up, else nowhere.
pub(crate) fn write_metrics_line(line: &[u8]) {
    let written = SCOPED.with(|s| match &*s.borrow() {
        Some(sink) => {
            sink(line);
            true
        }
        None => false,
    });
    if !written && let Some(sink) = METRICS.get() {
        sink(line);
    }
}

/// Sends this thread's logs (at `info`) and metric lines to `writer` until
/// the returned guard is dropped, whatever [`init`] set up. Tests capture
/// what a handler writes with it: a handler awaited on a current-thread
/// runtime logs on the test's thread.
#[must_use = "dropping the guard ends the capture"]
pub fn scoped_with_writer<W>(writer: W) -> Scoped
where
    W: for<'w> MakeWriter<'w> + Clone + Send + Sync + 'static,
{
    let previous = SCOPED.with(|s| s.replace(Some(line_sink(writer.clone()))));
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(Level::INFO)
        .with_current_span(false)
        .with_target(false)
        .with_writer(writer)
        .finish()
        .with(ceilings());
    // With a single dispatcher tracing asks only the current thread's for a
    // callsite's interest, so a callsite first reached on another thread
    // (another test) would stay "never" here. A second one, idle and kept
    // for good, makes it ask every dispatcher.
    static IDLE: OnceLock<tracing::Dispatch> = OnceLock::new();
    IDLE.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
    let logs = tracing::subscriber::set_default(subscriber);
    // Callsites reached before cached "never" (there was no subscriber).
    tracing::callsite::rebuild_interest_cache();
    Scoped {
        _logs: logs,
        previous,
    }
}

/// Ends a [`scoped_with_writer`] capture when dropped.
pub struct Scoped {
    _logs: tracing::subscriber::DefaultGuard,
    previous: Option<LineSink>,
}

impl Drop for Scoped {
    fn drop(&mut self) {
        let previous = self.previous.take();
        SCOPED.with(|s| *s.borrow_mut() = previous);
    }
}
