//! UDP echo server, from the asyncio documentation (transports and
//! protocols page, "Examples": "UDP Echo Server").
//!
//! [`create_datagram_endpoint`](tulip::transport::LoopNetExt::create_datagram_endpoint)
//! binds 127.0.0.1:9999 (`local_addr`); one `EchoServerProtocol` serves
//! every client, sending each datagram back to where it came from. The
//! server serves for an hour, then closes its endpoint and exits (stop it
//! earlier with Ctrl-C). For each datagram (here from the
//! `udp_echo_client_protocol` example) it prints:
//!
//! ```text
//! Starting UDP server
//! Received 'Hello World!' from 127.0.0.1:54321
//! Send 'Hello World!' to 127.0.0.1:54321
//! ```
//!
//! The Python original:
//!
//! ```python
//! import asyncio
//!
//!
//! class EchoServerProtocol:
//!     def connection_made(self, transport):
//!         self.transport = transport
//!
//!     def datagram_received(self, data, addr):
//!         message = data.decode()
//!         print('Received %r from %s' % (message, addr))
//!         print('Send %r to %s' % (message, addr))
//!         self.transport.sendto(data, addr)
//!
//!
//! async def main():
//!     print("Starting UDP server")
//!
//!     # Get a reference to the event loop as we plan to use
//!     # low-level APIs.
//!     loop = asyncio.get_running_loop()
//!
//!     # One protocol instance will be created to serve all
//!     # client requests.
//!     transport, protocol = await loop.create_datagram_endpoint(
//!         lambda: EchoServerProtocol(),
//!         local_addr=('127.0.0.1', 9999))
//!
//!     try:
//!         await asyncio.sleep(3600)  # Serve for 1 hour.
//!     finally:
//!         transport.close()
//!
//!
//! asyncio.run(main())
//! ```
//!
//! Differences in the output: the sender's address prints as Rust's
//! [`SocketAddr`] does (`127.0.0.1:54321`) where
//! Python prints its address tuple (`('127.0.0.1', 54321)`). `%r` is
//! Python's `repr()`, printed here with [`py_repr`].
//! Bytes that are not UTF-8 are printed as U+FFFD where Python's
//! `data.decode()` would raise (the Python server then logs the exception
//! and does not answer; this one echoes the datagram).
//!
//! Run it with `cargo run -p tulip-examples --bin udp_echo_server_protocol`,
//! then `cargo run -p tulip-examples --bin udp_echo_client_protocol` in
//! another terminal. Both use port 9999 unless `TULIP_EXAMPLE_PORT` names
//! another.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tulip::prelude::*;
use tulip::transport::{DatagramOptions, SockAddr};

#[derive(Default)]
struct EchoServerProtocol {
    transport: Option<DatagramTransport>,
}

impl DatagramProtocol for EchoServerProtocol {
    fn connection_made(&mut self, transport: DatagramTransport) {
        self.transport = Some(transport);
    }

    fn datagram_received(&mut self, data: &[u8], addr: Option<SockAddr>) {
        let message = String::from_utf8_lossy(data);
        let from = match &addr {
            Some(addr) => addr.to_string(),
            None => String::from("None"),
        };
        println!("Received {} from {from}", py_repr(&message));
        println!("Send {} to {from}", py_repr(&message));
        let transport = self
            .transport
            .as_ref()
            .expect("connection_made comes first");
        // A failed send is reported to `error_received` (asyncio logs it);
        // the endpoint stays open.
        let _ = transport.sendto(data, addr.as_ref());
    }
}

impl BaseProtocol for EchoServerProtocol {}

async fn main_task() -> Result<(), Error> {
    let port = port()?;
    println!("Starting UDP server");

    // Get a reference to the event loop as we plan to use
    // low-level APIs.
    let lp = get_running_loop()?;

    // One protocol instance will be created to serve all
    // client requests.
    let local_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let (transport, _protocol) = lp
        .create_datagram_endpoint(
            EchoServerProtocol::default,
            DatagramOptions::new().local_addr(local_addr),
        )
        .await?;

    sleep(Duration::from_secs(3600)).await; // Serve for 1 hour.
    transport.close();
    Ok(())
}

fn main() -> Result<(), Error> {
    tulip::run(main_task())?
}

// What Python has built in, written out for this example.

/// Python's `repr()` of a `str`, which `{!r}` prints: in single quotes, or
/// in double quotes when it holds a single quote and no double quote
/// (control characters are escaped as Rust writes them: `\u{1b}` where
/// Python writes `\x1b`).
fn py_repr(s: &str) -> String {
    let escaped = s.escape_debug().to_string();
    if s.contains('\'') && !s.contains('"') {
        format!("\"{}\"", escaped.replace("\\'", "'"))
    } else {
        format!("'{}'", escaped.replace("\\\"", "\""))
    }
}

/// The port: asyncio's 9999, or the one `TULIP_EXAMPLE_PORT` names (the
/// tests use free ports).
fn port() -> std::io::Result<u16> {
    match std::env::var("TULIP_EXAMPLE_PORT") {
        Ok(p) if !p.is_empty() => p.parse().map_err(|_| {
            let why = format!("TULIP_EXAMPLE_PORT={p:?} is not a port number");
            std::io::Error::new(std::io::ErrorKind::InvalidInput, why)
        }),
        _ => Ok(9999),
    }
}
