//! The test model server as its own process, for end-to-end tests of the app:
//! `stepwise-test-server [PORT]` prints `listening on http://127.0.0.1:PORT` and serves until killed.
//! Script it over HTTP: `POST /_control/behaviors`, `PUT /_control/default`,
//! `PUT /_control/models` (what `GET /v1/models` lists), `GET /_control/requests`,
//! `POST /_control/reset`.

use std::process::ExitCode;

use stepwise_testkit::TestServer;

#[tokio::main]
async fn main() -> ExitCode {
    let port: u16 = match std::env::args().nth(1).map(|p| p.parse()) {
        None => 0,
        Some(Ok(p)) => p,
        Some(Err(_)) => {
            eprintln!("usage: stepwise-test-server [PORT]");
            return ExitCode::from(2);
        }
    };
    let server = match TestServer::start_on(([127, 0, 0, 1], port).into()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stepwise-test-server: cannot listen on port {port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", server.url());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
