//! The axum "Hello, World!" server of the network benches on tulip: the
//! shared `tulip_benches::axum_app::hello_router` served unchanged by
//! `tulip::hyper::serve` under `tulip::run`. Like its peer
//! `axum_hello_tokio` (the same Router on `axum::serve`), it speaks
//! HTTP/1.1 and HTTP/2 by prior knowledge (h2c) on the same port
//! (hyper-util's auto builder), and every connection gets `TCP_NODELAY`
//! (tulip-hyper's `TcpListener` handshake sets it).
//!
//! SIGINT or SIGTERM shut it down gracefully: it stops accepting, lets the
//! requests in flight finish (idle HTTP/1.1 connections close, HTTP/2
//! connections get a GOAWAY), and exits 0; connections still open after
//! [`DRAIN`] are closed.
//!
//! ```text
//! axum_hello [--addr HOST:PORT]    # prints `listening on HOST:PORT`
//! ```

use std::error::Error;
use std::time::Duration;

use tulip::net::TcpListener;
use tulip_benches::axum_app::hello_router;
use tulip_benches::netbench::{announce, server_addr};

/// How long a graceful shutdown waits for open connections to finish (the
/// peer's drain limit).
const DRAIN: Duration = Duration::from_secs(5);

fn main() -> Result<(), Box<dyn Error>> {
    let addr = server_addr("axum_hello");
    tulip::run(async move {
        // The handlers first, so that a signal right after the announcement
        // already shuts down gracefully. They replace the runner's own
        // SIGINT handling (which would cancel the server outright).
        let lp = tulip::get_running_loop()?;
        let signalled = lp.create_future::<()>();
        for signum in [tulip::signal::SIGINT, tulip::signal::SIGTERM] {
            let signalled = signalled.clone();
            lp.add_signal_handler(signum, move || {
                // A second signal finds the future already done: ignored.
                let _ = signalled.set_result(());
            })?;
        }
        let listener = TcpListener::bind(&addr.ip().to_string(), addr.port()).await?;
        announce(listener.local_addr()?)?;
        tulip::hyper::serve(listener, hello_router())
            .shutdown_timeout(DRAIN)
            .with_graceful_shutdown(signalled)
            .await?;
        Ok::<(), Box<dyn Error>>(())
    })?
}
