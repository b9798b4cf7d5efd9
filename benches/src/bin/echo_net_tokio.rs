//! The poll-based socket echo server of the network benches on tokio's
//! current-thread runtime, the peer of tulip's `echo_net` (the same
//! program on `tulip::net::TcpStream`): a task per connection, each with
//! its own 16 KiB buffer, `read` into it and `write_all` back what came
//! (so reading waits for the write), until the client's EOF, then
//! `shutdown` of the write side.
//!
//! This is the shape most tokio code has, and so the shape of the
//! `tulip::net` rows of `cargo xtask bench net` (family `net`): they
//! compare the two runtimes' sockets, readiness and task wake-ups with the
//! same user code on top.
//!
//! ```text
//! echo_net_tokio [--addr HOST:PORT]   # prints `listening on HOST:PORT`
//! ```

use tulip_benches::netbench::serve_tokio;
use tulip_benches::netbench::tokio_peers::echo;

fn main() -> std::io::Result<()> {
    serve_tokio("echo_net_tokio", echo)
}
