//! The HTTPS client of deliveries. Each delivery connects to the addresses
//! its URL's host resolved to when the SSRF rules checked them (never
//! resolving the name a second time, which a hostile DNS server could
//! answer differently), follows no redirect, and waits at most
//! `DELIVERY_TIMEOUT` for the status line.

use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;

/// A receiver answering 2xx within this long has the event.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What one POST got: the status, or why there was none.
pub struct Posted {
    pub status: Result<u16, String>,
    pub took: Duration,
}

#[derive(Clone)]
pub struct WebhookClient {
    tls: Arc<rustls::ClientConfig>,
}

impl WebhookClient {
    /// Trusts the system's roots (receivers use any public CA). Read once
    /// per cold start.
    pub fn new() -> WebhookClient {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            tracing::warn!(%error, "a system root certificate could not be read");
        }
        roots.add_parsable_certificates(native.certs);
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        WebhookClient { tls: Arc::new(tls) }
    }

    /// POSTs `body` to `url`, connecting only to `addresses`.
    pub async fn post(
        &self,
        url: &str,
        addresses: Vec<SocketAddr>,
        headers: &[(&str, String)],
        body: String,
    ) -> Posted {
        let started = Instant::now();
        let status = self.send(url, addresses, headers, body).await;
        Posted {
            status,
            took: started.elapsed(),
        }
    }

    async fn send(
        &self,
        url: &str,
        addresses: Vec<SocketAddr>,
        headers: &[(&str, String)],
        body: String,
    ) -> Result<u16, String> {
        let mut http = HttpConnector::new_with_resolver(Pinned(addresses));
        // https URLs pass through to the TLS layer.
        http.enforce_http(false);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*self.tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        let mut request = Request::post(url);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("the request could not be built: {e}"))?;
        match tokio::time::timeout(DELIVERY_TIMEOUT, client.request(request)).await {
            Err(_) => Err(format!("no answer within {} s", DELIVERY_TIMEOUT.as_secs())),
            Ok(Err(e)) => Err(format!("request failed: {}", error_chain(&e))),
            // The body is not read: the status says it all.
            Ok(Ok(response)) => Ok(response.status().as_u16()),
        }
    }
}

impl Default for WebhookClient {
    fn default() -> Self {
        WebhookClient::new()
    }
}

/// The error and its causes, which hyper keeps apart ("client error
/// (Connect)" alone says little).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A resolver that answers the checked addresses, whatever the name.
#[derive(Clone)]
struct Pinned(Vec<SocketAddr>);

impl tower_service::Service<Name> for Pinned {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Name) -> Self::Future {
        ready(Ok(self.0.clone().into_iter()))
    }
}
