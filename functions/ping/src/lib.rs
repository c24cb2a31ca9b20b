//! `GET /ping`: liveness, no authentication.

use common::http::{json, serve_public};
use common::views::PingView;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

/// The route table answers other methods 405.
pub async fn handle(req: Request) -> Result<Response<Body>, Error> {
    Ok(serve_public(&req, || {
        Ok(json(StatusCode::OK, &PingView { status: "ok" }))
    }))
}
