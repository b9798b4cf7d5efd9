//! Echo server with a timeout, from the asyncio documentation (the first
//! "Examples" section of the original asyncio documentation, "Echo
//! server": "A `Protocol` implementing an echo server").
//!
//! Each connection gets an `EchoServer` protocol. It answers every piece
//! of data with the same bytes after `Re: `, and closes the connection
//! after [`TIMEOUT`](EchoServer::TIMEOUT) (5 seconds) without data: the
//! timer is a [`call_later`](tulip::Loop::call_later) started by
//! `connection_made` and started again (cancelled, then a new one) by each
//! `data_received`; `connection_lost` cancels it. The server listens on
//! 127.0.0.1:8888 and runs until the program is stopped (Ctrl-C). For a
//! client that sends `hello` and then stays silent, it prints:
//!
//! ```text
//! connection made
//! data received:  hello
//! connection timeout, closing.
//! connection lost: None
//! ```
//!
//! The Python original (the documentation gives the protocol only; the
//! server around it is as in the "TCP Echo Server" example):
//!
//! ```python
//! class EchoServer(asyncio.Protocol):
//!
//!     TIMEOUT = 5.0
//!
//!     def timeout(self):
//!         print('connection timeout, closing.')
//!         self.transport.close()
//!
//!     def connection_made(self, transport):
//!         print('connection made')
//!         self.transport = transport
//!
//!         # start 5 seconds timeout timer
//!         self.h_timeout = asyncio.get_event_loop().call_later(
//!             self.TIMEOUT, self.timeout)
//!
//!     def data_received(self, data):
//!         print('data received: ', data.decode())
//!         self.transport.write(b'Re: ' + data)
//!
//!         # restart timeout timer
//!         self.h_timeout.cancel()
//!         self.h_timeout = asyncio.get_event_loop().call_later(
//!             self.TIMEOUT, self.timeout)
//!
//!     def eof_received(self):
//!         pass
//!
//!     def connection_lost(self, exc):
//!         print('connection lost:', exc)
//!         self.h_timeout.cancel()
//! ```
//!
//! The output is Python's: `print` puts a space between its arguments, so
//! `data received:` is followed by two spaces; the text received is
//! printed as it is (a newline in it ends the line). `connection lost:`
//! is followed by `None` for a regular close, else by the error. Bytes that
//! are not UTF-8 are printed as U+FFFD where Python's `data.decode()`
//! would raise (the Python server then logs the exception and neither
//! answers nor restarts the timer; this one does both). The timer's
//! callback cannot borrow the protocol while the transport may be calling
//! it, so `timeout` gets the transport, which is all it uses.
//!
//! Run it with `cargo run -p tulip-examples --bin echo_server_timeout`,
//! then talk to it with `nc 127.0.0.1 8888` (or `telnet`). The port is
//! 8888 unless `TULIP_EXAMPLE_PORT` names another.
//! Two options serve the tests:
//! `--timeout SECONDS` sets another timeout, and with
//! `TULIP_EXAMPLE_FAST=1` the
//! loop runs on the virtual clock, where a silent connection's 5 seconds
//! pass at once. So does any wait for data that has not arrived yet,
//! however short: fast mode is for clients that stay silent.

use std::time::Duration;

use tulip::prelude::*;
use tulip::transport::ServerOptions;

struct EchoServer {
    /// `self.TIMEOUT`: [`EchoServer::TIMEOUT`] unless `--timeout` says
    /// otherwise.
    timeout: Duration,
    transport: Option<Transport>,
    h_timeout: Option<TimerHandle>,
}

impl EchoServer {
    /// How long a connection may stay silent, in seconds.
    const TIMEOUT: f64 = 5.0;

    fn new(timeout: Duration) -> EchoServer {
        EchoServer {
            timeout,
            transport: None,
            h_timeout: None,
        }
    }

    fn timeout(transport: &Transport) {
        println!("connection timeout, closing.");
        transport.close();
    }

    /// `asyncio.get_event_loop().call_later(self.TIMEOUT, self.timeout)`.
    fn start_timer(&mut self) {
        let transport = self.transport.clone().expect("connection_made comes first");
        self.h_timeout = tulip::get_event_loop()
            .and_then(|lp| lp.call_later(self.timeout, move || EchoServer::timeout(&transport)))
            .ok();
    }
}

impl Protocol for EchoServer {
    fn connection_made(&mut self, transport: Transport) {
        println!("connection made");
        self.transport = Some(transport);

        // start 5 seconds timeout timer
        self.start_timer();
    }

    fn data_received(&mut self, data: &[u8]) {
        println!("data received:  {}", String::from_utf8_lossy(data));
        let transport = self
            .transport
            .as_ref()
            .expect("connection_made comes first");
        // A failed write has closed the connection already (and told
        // `connection_lost`); there is nothing more to do with it.
        let _ = transport.write(&[b"Re: ", data].concat());

        // restart timeout timer
        if let Some(h) = &self.h_timeout {
            h.cancel();
        }
        self.start_timer();
    }

    fn eof_received(&mut self) -> bool {
        // Python's `pass` returns None, which closes the transport.
        false
    }
}

impl BaseProtocol for EchoServer {
    fn connection_lost(&mut self, exc: Option<tulip::transport::Error>) {
        match exc {
            Some(exc) => println!("connection lost: {exc}"),
            None => println!("connection lost: None"),
        }
        if let Some(h) = &self.h_timeout {
            h.cancel();
        }
    }
}

/// The timeout: `--timeout SECONDS` if given, else
/// [`EchoServer::TIMEOUT`].
fn timeout_from_args() -> Result<Duration, Error> {
    let mut args = std::env::args().skip(1);
    let seconds = match (args.next().as_deref(), args.next()) {
        (None, _) => return Ok(Duration::from_secs_f64(EchoServer::TIMEOUT)),
        (Some("--timeout"), Some(seconds)) => seconds,
        (first, _) => {
            let why = format!("usage: echo_server_timeout [--timeout SECONDS], not {first:?}");
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, why).into());
        }
    };
    seconds
        .parse()
        .ok()
        .and_then(|s: f64| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| {
            let why = format!("--timeout {seconds:?} is not a number of seconds");
            std::io::Error::new(std::io::ErrorKind::InvalidInput, why).into()
        })
}

async fn main_task() -> Result<(), Error> {
    let timeout = timeout_from_args()?;
    let port = port()?;
    let lp = get_running_loop()?;

    let server = lp
        .create_server(
            move || EchoServer::new(timeout),
            "127.0.0.1",
            port,
            ServerOptions::new(),
        )
        .await?;

    // async with server:
    //     await server.serve_forever()
    let served = server.serve_forever().await;
    server.close();
    server.wait_closed().await;
    Ok(served?)
}

fn main() -> Result<(), Error> {
    // With TULIP_EXAMPLE_FAST=1 (the tests set it) the loop runs on the
    // virtual clock, which jumps to the next timer: same output, no waiting.
    if std::env::var_os("TULIP_EXAMPLE_FAST").is_some_and(|v| v == "1") {
        tulip::set_event_loop_factory(Some(|| EventLoop::builder().paused_clock(true).build()));
    }
    tulip::run(main_task())?
}

// What Python has built in, written out for this example.

/// The port: asyncio's 8888, or the one `TULIP_EXAMPLE_PORT` names (the
/// tests use free ports).
fn port() -> std::io::Result<u16> {
    match std::env::var("TULIP_EXAMPLE_PORT") {
        Ok(p) if !p.is_empty() => p.parse().map_err(|_| {
            let why = format!("TULIP_EXAMPLE_PORT={p:?} is not a port number");
            std::io::Error::new(std::io::ErrorKind::InvalidInput, why)
        }),
        _ => Ok(8888),
    }
}
