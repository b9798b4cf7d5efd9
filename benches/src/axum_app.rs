//! The axum application of the `axum` bench family: one [`Router`] that
//! every server of the family serves unchanged, so that the rows compare
//! the runtimes underneath and nothing else.
//!
//! - `axum_hello_tokio` serves it with `axum::serve` on tokio's
//!   current-thread runtime (hyper-util's auto builder: HTTP/1.1, and
//!   HTTP/2 by prior knowledge over cleartext, h2c);
//! - `axum_hello` serves it on tulip, through `tulip_hyper::serve`.
//!
//! `cargo xtask bench net` drives both with `wrk -t1 -c50` (HTTP/1.1) and
//! `h2load -c10 -m5` (HTTP/2: 50 streams over 10 connections).

use axum::Router;
use axum::routing::get;

/// The body of every answer to `GET /`.
pub const HELLO: &str = "Hello, World!";

/// The bench application: `GET /` answers `200 OK` with [`HELLO`] as
/// `text/plain; charset=utf-8`; any other path is `404 Not Found`, and any
/// other method on `/` is `405 Method Not Allowed` (axum's defaults).
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// axum::serve(listener, tulip_benches::axum_app::hello_router()).await
/// # }
/// ```
pub fn hello_router() -> Router {
    Router::new().route("/", get(hello))
}

/// The handler of `GET /`.
async fn hello() -> &'static str {
    HELLO
}

#[cfg(test)]
mod tests {
    //! The router served by `axum::serve` on a current-thread runtime and
    //! asked by curl over HTTP/1.1 and HTTP/2 prior knowledge, as the
    //! bench clients (wrk, h2load) ask it.

    use super::*;

    /// Runs curl with `args` against the router, served on a loopback port
    /// for the length of the call: curl's stdout (`--write-out` adds the status,
    /// the HTTP version and the content type after the body). curl is a
    /// test requirement (`.ci/run` installs it).
    fn curl(args: &[&str], path: &str) -> String {
        let rt = crate::tokio_current_thread();
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind a loopback port");
            let url = format!(
                "http://{}{path}",
                listener.local_addr().expect("an address")
            );
            let server = tokio::spawn(async move { axum::serve(listener, hello_router()).await });
            let mut command = tokio::process::Command::new("curl");
            command
                .args(["--silent", "--show-error", "--max-time", "30"])
                .args(args)
                .args([
                    "--write-out",
                    " %{http_code} %{http_version} %{content_type}",
                    &url,
                ]);
            let out = command
                .output()
                .await
                .expect("curl runs (install curl to run these tests)");
            server.abort();
            assert!(out.status.success(), "curl failed: {out:?}");
            String::from_utf8(out.stdout).expect("UTF-8 from curl")
        })
    }

    #[test]
    fn hello_over_http1() {
        assert_eq!(
            curl(&["--http1.1"], "/"),
            "Hello, World! 200 1.1 text/plain; charset=utf-8"
        );
    }

    #[test]
    fn hello_over_http2_prior_knowledge() {
        assert_eq!(
            curl(&["--http2-prior-knowledge"], "/"),
            "Hello, World! 200 2 text/plain; charset=utf-8"
        );
    }

    #[test]
    fn other_paths_and_methods_are_refused() {
        assert_eq!(curl(&["--http1.1"], "/nowhere"), " 404 1.1 ");
        assert_eq!(curl(&["--http1.1", "-X", "POST"], "/"), " 405 1.1 ");
    }
}
