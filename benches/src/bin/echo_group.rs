//! tulip's per-core echo server for the network benches: the Protocol-API
//! echo of `echo_protocol` on every loop of a `LoopGroup`, the loops
//! sharing one port by `SO_REUSEPORT` (`--balance reuse-port`, the
//! default) or one balanced acceptor (`--balance acceptor`). The peer is
//! `echo_mt_tokio` on tokio's multi-threaded runtime.
//!
//! ```text
//! echo_group [--addr HOST:PORT] [--loops N] [--balance reuse-port|acceptor]
//! ```
//!
//! It prints `listening on HOST:PORT` once every loop serves; SIGINT or
//! SIGTERM stop it, and it prints each loop's `live/accepted` connections
//! on a `loads:` line before exiting 0.

use tulip_benches::echo_protocol::Echo;
use tulip_benches::netbench::serve_tulip_per_core;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    serve_tulip_per_core("echo_group", Echo::default)
}
