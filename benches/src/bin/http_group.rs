//! tulip's per-core HTTP/1.1 "Hello, World!" server for the network
//! benches: the Protocol-API server of `http_hello`
//! (`tulip_benches::netbench::http_protocol::Hello`) on every loop of a
//! `LoopGroup`, the loops sharing one port by `SO_REUSEPORT`
//! (`--balance reuse-port`, the default) or one balanced acceptor
//! (`--balance acceptor`). The peer is `http_hello_mt_tokio` on tokio's
//! multi-threaded runtime.
//!
//! ```text
//! http_group [--addr HOST:PORT] [--loops N] [--balance reuse-port|acceptor]
//! ```
//!
//! It prints `listening on HOST:PORT` once every loop serves; SIGINT or
//! SIGTERM stop it, and it prints each loop's `live/accepted` connections
//! on a `loads:` line before exiting 0.

use tulip_benches::netbench::http_protocol::Hello;
use tulip_benches::netbench::serve_tulip_per_core;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    serve_tulip_per_core("http_group", Hello::default)
}
