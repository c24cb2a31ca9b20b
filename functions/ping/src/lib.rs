//! `GET /ping`: liveness, no authentication.

use common::ApiError;
use common::http::{json, serve_public};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, Response};

pub async fn handle(req: Request) -> Result<Response<Body>, Error> {
    let outcome = match *req.method() {
        Method::GET | Method::HEAD => {
            Ok(json(StatusCode::OK, &serde_json::json!({"status": "ok"})))
        }
        _ => Err(ApiError::MethodNotAllowed { allow: "GET, HEAD" }),
    };
    Ok(serve_public(&req, outcome))
}
