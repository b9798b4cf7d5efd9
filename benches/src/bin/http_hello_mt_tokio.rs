//! The HTTP/1.1 "Hello, World!" server of the network benches on tokio's
//! multi-threaded runtime (`--workers N`, default 2): the peer of tulip's
//! `http_group` (a loop per core). The program is `http_hello_tokio`'s
//! ([`tokio_peers::http_hello`]): keep-alive, pipelining, requests parsed
//! by `tulip_benches::netbench::http`, a malformed request answered `400`
//! and the connection closed; tokio's work-stealing scheduler spreads the
//! connections' tasks over its worker threads.
//!
//! ```text
//! http_hello_mt_tokio [--addr HOST:PORT] [--workers N]   # prints `listening on HOST:PORT`
//! ```

use tulip_benches::netbench::{serve_tokio_mt, tokio_peers};

fn main() -> std::io::Result<()> {
    serve_tokio_mt("http_hello_mt_tokio", tokio_peers::http_hello)
}
