//! The echo server of the network benches on tokio's current-thread
//! runtime, the peer of tulip's `echo_protocol`: transport-style, one read
//! buffer per thread, reading paused while a write is pending, write side
//! shut down after the client's EOF (`tulip_benches::netbench::echo`).
//!
//! ```text
//! echo_tokio [--addr HOST:PORT]     # prints `listening on HOST:PORT`
//! ```

use tulip_benches::netbench::{echo::echo, serve_tokio};

fn main() -> std::io::Result<()> {
    serve_tokio("echo_tokio", echo)
}
