//! The axum "Hello, World!" server of the network benches on tokio's
//! current-thread runtime, the peer of tulip's `axum_hello`: the shared
//! `tulip_benches::axum_app::hello_router` served by `axum::serve`, which
//! speaks HTTP/1.1 and HTTP/2 by prior knowledge (h2c) on the same port
//! (hyper-util's auto builder). `TCP_NODELAY` is set on every connection,
//! as on the other bench servers.
//!
//! SIGINT or SIGTERM shut it down gracefully: it stops accepting, lets the
//! requests in flight finish (idle HTTP/1.1 connections close, HTTP/2
//! connections get a GOAWAY), and exits 0; connections still open after
//! [`DRAIN`] are dropped.
//!
//! ```text
//! axum_hello_tokio [--addr HOST:PORT]    # prints `listening on HOST:PORT`
//! ```

use std::io;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;
use tulip_benches::axum_app::hello_router;
use tulip_benches::netbench::{announce, server_addr};

/// How long a graceful shutdown waits for open connections to finish.
const DRAIN: Duration = Duration::from_secs(5);

fn main() -> io::Result<()> {
    let addr = server_addr("axum_hello_tokio");
    tulip_benches::tokio_current_thread().block_on(async {
        // The handlers first, so that a signal right after the announcement
        // already shuts down gracefully.
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        announce(listener.local_addr()?)?;
        let listener = listener.tap_io(|stream| {
            if let Err(e) = stream.set_nodelay(true) {
                eprintln!("axum_hello_tokio: TCP_NODELAY: {e}");
            }
        });
        let (signalled, draining) = oneshot::channel::<()>();
        let shutdown = async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            let _ = signalled.send(());
        };
        let serving = axum::serve(listener, hello_router()).with_graceful_shutdown(shutdown);
        // The drain deadline runs beside the server, from the signal on.
        let deadline = async {
            match draining.await {
                Ok(()) => tokio::time::sleep(DRAIN).await,
                Err(_) => std::future::pending().await, // never signalled
            }
        };
        tokio::select! {
            served = serving => served,
            () = deadline => {
                eprintln!("axum_hello_tokio: connections still open after {DRAIN:?}: dropped");
                Ok(())
            }
        }
    })
}
