//! # tulip-hyper
//!
//! hyper 1.x on tulip (`tulip::hyper`, behind the facade's `hyper`
//! feature): serve any tower service (an axum `Router` as it is) or hyper
//! service over HTTP/1.1 and HTTP/2 on a tulip loop, with no `Send`
//! bound anywhere.
//!
//! - [`serve`] / [`serve_hyper`]: accept connections from a [`Listener`]
//!   (tulip's `TcpListener` and `UnixListener`, or a [`TlsListener`] over
//!   either) and serve each in its own task with hyper-util's auto
//!   builder: HTTP/1.1 with keep-alive and pipelining, HTTP/2 by prior
//!   knowledge, and over TLS the version ALPN chose. Graceful shutdown, a
//!   shutdown deadline and a header-read timeout are options of the
//!   returned [`Serve`].
//! - [`Client`]: a pooled HTTP/1.1 and HTTP/2 client (keep-alive per
//!   origin, HTTP/2 by ALPN, typed errors, redirects returned).
//! - [`rt`]: hyper's runtime traits, for your own use of hyper's
//!   connection builders: [`TulipExecutor`](rt::TulipExecutor) spawns on
//!   the running loop (`!Send` futures included) and
//!   [`TulipTimer`](rt::TulipTimer) sleeps on the loop's timers, with a
//!   sleep that is `Send + Sync` (as hyper requires) without any `unsafe`.
//!
//! hyper's types (`Request`, `Response`, `service_fn`, bodies) come from the
//! hyper, http-body-util and bytes crates, which your project depends on
//! beside tulip:
//!
//! ```toml
//! [dependencies]
//! tulip = { path = "../tulip/crates/tulip", features = ["hyper"] }
//! hyper = "1"
//! http-body-util = "0.1"
//! bytes = "1"
//! ```
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use hyper::body::Incoming;
//! use hyper::service::service_fn;
//! use hyper::{Request, Response};
//! use tulip::net::{TcpListener, TcpStream};
//! use tulip::prelude::*;
//!
//! async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     Ok(Response::new(Full::new(Bytes::from_static(b"Hello, World!"))))
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     tulip::run(async {
//!         let listener = TcpListener::bind("127.0.0.1", 0).await?;
//!         let port = listener.local_addr()?.port();
//!         let lp = get_running_loop()?;
//!         let stop = lp.create_future::<()>();
//!         let server = spawn(
//!             tulip::hyper::serve_hyper(listener, service_fn(hello))
//!                 .with_graceful_shutdown(stop.clone())
//!                 .into_future(),
//!         );
//!
//!         // A client: one HTTP/1.1 request.
//!         let client = TcpStream::connect("127.0.0.1", port).await?;
//!         client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await?;
//!         let mut reply = String::new();
//!         (&client).read_to_string(&mut reply).await?;
//!         assert!(reply.ends_with("Hello, World!"));
//!
//!         stop.set_result(())?;
//!         server.await??;
//!         Ok(())
//!     })?
//! }
//! ```

mod client;
pub mod rt;
mod server;

pub use client::{
    Client, ClientError, ClientOptions, ClientResponse, IntoUri, Origin, RequestBody,
};
pub use server::listener::{HttpProtocol, Listener};
pub use server::tls::TlsListener;
pub use server::{
    ACCEPT_RETRY_DELAY, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT, Serve, ServeFuture,
    serve, serve_hyper,
};
