//! The same hello world on a current-thread tokio runtime, as the service's
//! functions run: the second peer in `scripts/bench-coldstart.sh`, so the
//! runtime flavour's share of a cold start is visible apart from the
//! functions' own init.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|_req: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello, world")))
    }))
    .await
}
