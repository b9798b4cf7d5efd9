//! The poll-based socket echo server of the network benches on tokio's
//! multi-threaded runtime (`--workers N`, default 2): the peer of tulip's
//! `echo_group` (a loop per core). The program is `echo_net_tokio`'s
//! ([`tokio_peers::echo`]): a task per connection, each with its own
//! 16 KiB buffer, `read` into it and `write_all` back what came, until the
//! client's EOF, then `shutdown` of the write side; here tokio's
//! work-stealing scheduler spreads those tasks over its worker threads.
//!
//! ```text
//! echo_mt_tokio [--addr HOST:PORT] [--workers N]   # prints `listening on HOST:PORT`
//! ```
//!
//! SIGINT or SIGTERM keep their default action (the process ends), as on
//! the other tokio peers.

use tulip_benches::netbench::{serve_tokio_mt, tokio_peers};

fn main() -> std::io::Result<()> {
    serve_tokio_mt("echo_mt_tokio", tokio_peers::echo)
}
