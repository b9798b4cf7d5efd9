//! # tulip-examples
//!
//! The examples of the asyncio documentation, ported to tulip. Each one is a
//! binary of this package that prints what the Python original prints:
//!
//! ```text
//! cargo run -p tulip-examples --bin hello_world_callback
//! ```
//!
//! | binary | asyncio documentation example |
//! |---|---|
//! | `hello_world_callback` | Hello World with `call_soon()` |
//! | `display_date` | Display the current date with `call_later()` |
//! | `watch_fd` | Watch a file descriptor for read events (`add_reader`) |
//! | `hello_world_coroutine` | Hello World coroutine |
//! | `display_date_coroutine` | Coroutine displaying the current date |
//! | `queue_workers` | Workers sharing a queue: `Queue`, `join`, cancelling the workers |
//! | `taskgroup` | Task groups (`asyncio.TaskGroup`) |
//! | `timeout` | Timeouts: `asyncio.timeout()`, `Timeout.reschedule()`, `wait_for()` |
//! | `echo_server_timeout` | Echo server with a timeout (the original asyncio documentation): `call_later` timers restarted on data |
//! | `tcp_echo_server_protocol` | TCP Echo Server (`create_server`, `serve_forever`) |
//! | `tcp_echo_client_protocol` | TCP Echo Client (`create_connection`) |
//! | `udp_echo_server_protocol` | UDP Echo Server (`create_datagram_endpoint`, `local_addr`) |
//! | `udp_echo_client_protocol` | UDP Echo Client (`create_datagram_endpoint`, `remote_addr`) |
//! | `existing_socket_protocol` | Connecting Existing Sockets (`create_connection` with `sock`) |
//! | `tcp_echo_server_streams` | TCP echo server using streams (`start_server`) |
//! | `tcp_echo_client_streams` | TCP echo client using streams (`open_connection`) |
//! | `get_http_headers` | Get HTTP headers (`readline`; takes a URL) |
//! | `open_socket_streams` | Register an open socket to wait for data using streams (`open_connection` with `sock`) |
//! | `chat_server_streams` | A chat server (not in asyncio's docs): `start_server` with many clients |
//! | `subprocess_date_protocol` | Subprocess: the date with `subprocess_exec` and `SubprocessProtocol` |
//! | `subprocess_date`, `subprocess_communicate` | Subprocesses: `create_subprocess_exec`, `communicate`, `create_subprocess_shell` |
//! | `signal_handler` | Set signal handlers for SIGINT and SIGTERM |
//! | `tls_echo_server_protocol`, `tls_echo_client_protocol` | The TCP echo server and client with protocols, over TLS (`ssl=`) |
//! | `tls_echo_server_streams`, `tls_echo_client_streams` | The TCP echo server and client using streams, over TLS (`ssl=`) |
//! | `net_echo` | A tour of `tulip::net`: a `TcpListener` accept loop, a task per client, `split` and `into_split` halves, `tulip::io::copy` |
//! | `axum_app` | Not in asyncio's docs: an axum Router (JSON routes, a path parameter, shared state) served by `tulip::hyper::serve`, graceful Ctrl-C |
//! | `echo_per_core` | Not in asyncio's docs: a protocol echo server on every loop of a `LoopGroup`, sharing the port by `reuse_port` or a `BalancedAcceptor` (`--balance`); Ctrl-C stops the group |
//! | `http_per_core` | Not in asyncio's docs: a streams HTTP hello server on every loop (both listening modes) |
//! | `fan_out` | Not in asyncio's docs: one loop hands jobs to the others over `tulip::channel` (workers started with `RemoteLoop::spawn`) and gathers the answers |
//! | `hyper_server` | Not in asyncio's docs: hyper's hello `service_fn` on `tulip::hyper::serve_hyper`, HTTP/1.1 and HTTP/2 (prior knowledge) on one port, HTTPS with ALPN (`TlsListener`) on another; graceful Ctrl-C |
//! | `hyper_client` | Not in asyncio's docs: GET over http and https with `tulip::hyper::Client` (HTTP/1.1 pooling, HTTP/2 by ALPN) |
//! | `ps_demo` | Not in asyncio's docs: a job server (a task group, a queue, workers, a listener) whose loop answers `tulip-ps PID` (asyncio's `python -m asyncio ps`/`pstree`) |
//! | `websocket_echo` | A WebSocket echo server and client on `tulip::net` (async-tungstenite over futures-io; server, client, or both) |
//!
//! Each binary stands alone: what it needs beyond tulip (Python's `repr()`
//! of a string, the port, the examples' TLS certificates) is written in
//! its own file, so it pastes into a project that depends on `tulip`.
//!
//! `tests/examples_output.rs` runs every binary and checks its output;
//! `tests/examples_network.rs`, `tests/examples_streams.rs`,
//! `tests/examples_tls.rs`, `tests/examples_net.rs`,
//! `tests/examples_axum_app.rs`, `tests/examples_hyper_server.rs`,
//! `tests/examples_hyper_client.rs`, `tests/examples_per_core.rs` and `tests/examples_ps.rs` run the networking ones against each
//! other and against real clients and servers (plain `std::net` peers,
//! curl, Python's standard library) over loopback. This library names the
//! environment variables through which the tests steer the binaries.

/// Set to `1`, the examples that wait (`display_date`,
/// `display_date_coroutine`, `queue_workers`, `taskgroup`, `timeout`,
/// `echo_server_timeout`) run their loop on the virtual clock
/// (`EventLoop::builder().paused_clock(true)`): they print the same lines
/// and finish at once.
pub const FAST_ENV: &str = "TULIP_EXAMPLE_FAST";

/// The port of the networking examples: unset or empty, they use the
/// asyncio documentation's ports (8888 for TCP, 9999 for UDP, 8443 for
/// TLS); the tests set it to a free port.
pub const PORT_ENV: &str = "TULIP_EXAMPLE_PORT";

/// The certificates of the TLS examples.
pub mod tls {
    /// The directory where the TLS server examples make their certificate
    /// authority (`ca.pem`) and certificate (`cert.pem`, `key.pem`), and
    /// where the TLS client examples read `ca.pem`; unset, it is
    /// `tulip-tls-example` in the system's temporary directory.
    pub const TLS_DIR_ENV: &str = "TULIP_EXAMPLE_TLS_DIR";
}

/// The README's code, compiled and run as a doc test so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
