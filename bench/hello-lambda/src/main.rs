//! Hello world on `lambda_http`, as its examples write it (`#[tokio::main]`,
//! the multi-thread runtime): the peer `scripts/bench-coldstart.sh` measures
//! the functions' cold start against. Same Lambda runtime, same tokio, same
//! release profile, and nothing else: no SDK clients, no logging setup.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_req: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello, world")))
    }))
    .await
}
