//! `GET /ping`: liveness, no authentication. Deployed, this function also
//! takes API Gateway's `$default` route: what no other route takes gets the
//! route table's 404 or 405 here.

use common::http::{json, serve_public};
use common::routes::Function;
use common::views::PingView;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

pub async fn handle(req: Request) -> Result<Response<Body>, Error> {
    Ok(serve_public(&req, Function::Ping, || {
        Ok(json(StatusCode::OK, &PingView { status: "ok" }))
    }))
}
