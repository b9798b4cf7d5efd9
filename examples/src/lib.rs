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
//!
//! `tests/examples_output.rs` runs every binary and checks its output;
//! `tests/examples_network.rs` and `tests/examples_streams.rs` run the
//! networking ones against each other and against plain `std::net` peers
//! over loopback, on free ports passed through [`PORT_ENV`].
//!
//! This library holds the little the examples share and Python has built in:
//! [`datetime_now`], which prints as `datetime.datetime.now()` does, and the
//! fast mode of the examples that wait ([`FAST_ENV`]): with
//! `TULIP_EXAMPLE_FAST=1` they run on the virtual clock
//! ([`EventLoopBuilder::paused_clock`](tulip::EventLoopBuilder::paused_clock)),
//! print the same lines and finish at once.

pub mod tls;

use std::cell::Cell;
use std::fmt;
use std::time::Instant;

use chrono::{DateTime, Local, Timelike};
use tulip::transport::{ExtraInfo, Server};
use tulip::{Error, EventLoop};

/// The environment variable of fast mode: set to `1`, the examples that wait
/// (`display_date`, `display_date_coroutine`, `queue_workers`, `taskgroup`,
/// `timeout`) run their loop on the virtual clock, so they finish instantly
/// while printing the same lines; so does the server `echo_server_timeout`,
/// whose silent connections then time out at once.
pub const FAST_ENV: &str = "TULIP_EXAMPLE_FAST";

/// Whether fast mode was asked for ([`FAST_ENV`] set to anything but empty
/// or `0`).
pub fn fast_mode() -> bool {
    std::env::var(FAST_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The environment variable naming the port of the networking examples
/// (`echo_server_timeout`, `tcp_echo_server_protocol`,
/// `tcp_echo_client_protocol`, `udp_echo_server_protocol`,
/// `udp_echo_client_protocol`,
/// `tcp_echo_server_streams`, `tcp_echo_client_streams`,
/// `chat_server_streams`): unset or empty, they use the asyncio
/// documentation's ports (8888 for TCP, 9999 for UDP); the tests set it to
/// a free port. See [`example_port`].
pub const PORT_ENV: &str = "TULIP_EXAMPLE_PORT";

/// The port a networking example uses: [`PORT_ENV`]'s value, or `default`
/// when it is unset or empty. A value that is not a port number is an
/// [`io::ErrorKind::InvalidInput`](std::io::ErrorKind::InvalidInput) error.
pub fn example_port(default: u16) -> Result<u16, Error> {
    match std::env::var(PORT_ENV) {
        Ok(v) if !v.is_empty() => v.parse().map_err(|_| {
            let why = format!("{PORT_ENV}={v:?} is not a port number");
            std::io::Error::new(std::io::ErrorKind::InvalidInput, why).into()
        }),
        _ => Ok(default),
    }
}

/// Python's `str()` of an address that `get_extra_info('peername')` (or
/// `'sockname'`) returned, as the examples print it: the address as Rust
/// displays it (`127.0.0.1:54321`, where Python shows the tuple
/// `('127.0.0.1', 54321)`), or `None` when there is none.
pub fn show_addr(info: Option<ExtraInfo>) -> String {
    match info.as_ref().and_then(ExtraInfo::as_addr) {
        Some(addr) => addr.to_string(),
        None => String::from("None"),
    }
}

/// The addresses of a server's listening sockets joined by `, `: Python's
/// `', '.join(str(sock.getsockname()) for sock in server.sockets)`, with
/// the addresses as [`show_addr`] prints them.
pub fn server_addresses(server: &Server) -> String {
    let addrs: Vec<String> = server
        .sockets()
        .iter()
        .filter_map(|sock| sock.local_addr().map(ToString::to_string))
        .collect();
    addrs.join(", ")
}

/// Python's `async with server: await server.serve_forever()`: serves
/// until serving fails (or the program is stopped), then closes the server
/// and waits until it is closed, as leaving the `async with` block does.
/// Returns what `serve_forever` returned.
pub async fn serve_forever_and_close(server: &Server) -> Result<(), Error> {
    let served = server.serve_forever().await;
    server.close();
    server.wait_closed().await;
    Ok(served?)
}

/// A loop on the virtual clock: time stands still while callbacks run and
/// jumps straight to the next timer when the loop would otherwise wait.
pub fn virtual_clock_loop() -> Result<EventLoop, Error> {
    EventLoop::builder().paused_clock(true).build()
}

/// In fast mode, makes [`tulip::new_event_loop`] and [`tulip::run`] build
/// their loops on the virtual clock ([`virtual_clock_loop`]), through the
/// loop factory (asyncio's event loop policy). Does nothing otherwise.
pub fn use_virtual_clock_in_fast_mode() {
    if fast_mode() {
        tulip::set_event_loop_factory(Some(virtual_clock_loop));
    }
}

thread_local! {
    /// The wall-clock time and loop time of the first [`datetime_now`] on a
    /// virtual clock.
    static VIRTUAL_ANCHOR: Cell<Option<(DateTime<Local>, Instant)>> = const { Cell::new(None) };
}

/// The current local date and time, as Python's `datetime.datetime.now()`;
/// its `Display` is Python's `str()` of it: `YYYY-MM-DD HH:MM:SS.ffffff`
/// (without the `.ffffff` when the microseconds are zero, as Python does).
///
/// Inside a loop running on the virtual clock, the time moves with the
/// loop's clock instead of the wall clock: the first call reads the wall
/// clock, later calls add how far the loop's time has moved since. A fast
/// run then prints the dates a real run would, one second apart.
pub fn datetime_now() -> PyDateTime {
    let now = Local::now();
    let Ok(lp) = tulip::get_running_loop() else {
        return PyDateTime(now);
    };
    if !lp.is_clock_paused() {
        return PyDateTime(now);
    }
    let loop_now = lp.time();
    let (wall, at) = VIRTUAL_ANCHOR.with(|a| match a.get() {
        Some(anchor) => anchor,
        None => {
            a.set(Some((now, loop_now)));
            (now, loop_now)
        }
    });
    let elapsed = loop_now.saturating_duration_since(at);
    match chrono::Duration::from_std(elapsed) {
        Ok(d) => PyDateTime(wall + d),
        Err(_) => PyDateTime(now),
    }
}

/// A local date and time that displays as Python's `str(datetime)`; see
/// [`datetime_now`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PyDateTime(pub DateTime<Local>);

impl fmt::Display for PyDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Python keeps microseconds (truncated, never rounded) and leaves
        // them out when they are zero.
        let micros = self.0.nanosecond() % 1_000_000_000 / 1_000;
        write!(f, "{}", self.0.format("%Y-%m-%d %H:%M:%S"))?;
        if micros != 0 {
            write!(f, ".{micros:06}")?;
        }
        Ok(())
    }
}

/// A string that displays as Python's `repr()` of a `str` (what `{!r}` and
/// `%r` print): in single quotes, or in double quotes when it holds a single
/// quote and no double quote; backslashes, the quote, `\n`, `\r`, `\t` and
/// other control and non-space whitespace characters escaped as Python
/// escapes them. Unlike Python, the invisible format characters (such as
/// U+200B) are kept as they are.
#[derive(Clone, Copy, Debug)]
pub struct PyRepr<'a>(pub &'a str);

impl fmt::Display for PyRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        let s = self.0;
        let quote = if s.contains('\'') && !s.contains('"') {
            '"'
        } else {
            '\''
        };
        f.write_char(quote)?;
        for c in s.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c == quote => write!(f, "\\{c}")?,
                c if c.is_control() || (c.is_whitespace() && c != ' ') => match u32::from(c) {
                    n @ ..=0xff => write!(f, "\\x{n:02x}")?,
                    n @ ..=0xffff => write!(f, "\\u{n:04x}")?,
                    n => write!(f, "\\U{n:08x}")?,
                },
                c => f.write_char(c)?,
            }
        }
        f.write_char(quote)
    }
}

/// The README's code, compiled and run as a doc test so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::{PyDateTime, PyRepr};
    use chrono::{Local, TimeZone};

    #[test]
    fn displays_as_python_str_of_datetime() {
        let base = Local.with_ymd_and_hms(2014, 2, 3, 4, 5, 6).unwrap();
        let with_micros = base + chrono::Duration::nanoseconds(7_008_999);
        assert_eq!(
            PyDateTime(with_micros).to_string(),
            "2014-02-03 04:05:06.007008"
        );
        assert_eq!(PyDateTime(base).to_string(), "2014-02-03 04:05:06");
    }

    #[test]
    fn displays_as_python_repr_of_str() {
        let repr = |s: &str| PyRepr(s).to_string();
        assert_eq!(repr("Hello World!"), "'Hello World!'");
        assert_eq!(repr(""), "''");
        assert_eq!(repr("it's"), "\"it's\"");
        assert_eq!(repr("it's \"so\""), "'it\\'s \"so\"'");
        assert_eq!(repr("a\\b\n\r\t"), "'a\\\\b\\n\\r\\t'");
        assert_eq!(
            repr("\0\x1b\x7f\u{85}\u{a0}"),
            "'\\x00\\x1b\\x7f\\x85\\xa0'"
        );
        assert_eq!(repr("\u{2028}\u{3000}"), "'\\u2028\\u3000'");
        assert_eq!(repr("é✓ 日本"), "'é✓ 日本'");
    }
}
