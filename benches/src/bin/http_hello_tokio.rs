//! The HTTP/1.1 "Hello, World!" server of the network benches on tokio's
//! current-thread runtime, the peer of tulip's `http_hello`: keep-alive,
//! pipelining, requests parsed by `tulip_benches::netbench::http` (the
//! parser every HTTP bench server shares), a malformed request answered
//! `400` and the connection closed.
//!
//! ```text
//! http_hello_tokio [--addr HOST:PORT]    # prints `listening on HOST:PORT`
//! ```

use tulip_benches::netbench::serve_tokio;
use tulip_benches::netbench::tokio_peers::http_hello;

fn main() -> std::io::Result<()> {
    serve_tokio("http_hello_tokio", http_hello)
}
