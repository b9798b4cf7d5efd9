//! UDP echo client, from the asyncio documentation (transports and
//! protocols page, "Examples": "UDP Echo Client").
//!
//! [`create_datagram_endpoint`](tulip::transport::LoopNetExt::create_datagram_endpoint)
//! opens an endpoint connected to 127.0.0.1:9999 (`remote_addr`);
//! `EchoClientProtocol` sends `Hello World!` as soon as it is made, prints
//! the answer and closes its transport, whose `connection_lost` completes
//! the future `main` waits for. Against the `udp_echo_server_protocol`
//! example, the output is:
//!
//! ```text
//! Send: Hello World!
//! Received: Hello World!
//! Close the socket
//! Connection closed
//! ```
//!
//! The Python original:
//!
//! ```python
//! import asyncio
//!
//!
//! class EchoClientProtocol:
//!     def __init__(self, message, on_con_lost):
//!         self.message = message
//!         self.transport = None
//!         self.on_con_lost = on_con_lost
//!
//!     def connection_made(self, transport):
//!         self.transport = transport
//!         print('Send:', self.message)
//!         self.transport.sendto(self.message.encode())
//!
//!     def datagram_received(self, data, addr):
//!         print("Received:", data.decode())
//!
//!         print("Close the socket")
//!         self.transport.close()
//!
//!     def error_received(self, exc):
//!         print('Error received:', exc)
//!
//!     def connection_lost(self, exc):
//!         print("Connection closed")
//!         self.on_con_lost.set_result(True)
//!
//!
//! async def main():
//!     # Get a reference to the event loop as we plan to use
//!     # low-level APIs.
//!     loop = asyncio.get_running_loop()
//!
//!     on_con_lost = loop.create_future()
//!     message = "Hello World!"
//!
//!     transport, protocol = await loop.create_datagram_endpoint(
//!         lambda: EchoClientProtocol(message, on_con_lost),
//!         remote_addr=('127.0.0.1', 9999))
//!
//!     try:
//!         await on_con_lost
//!     finally:
//!         transport.close()
//!
//!
//! asyncio.run(main())
//! ```
//!
//! As in Python, with no server listening the kernel reports the datagram
//! undeliverable: the client prints `Error received: Connection refused
//! (os error 111)` (Rust's spelling of Python's `[Errno 111] Connection
//! refused`) and keeps waiting for an answer that never comes. Bytes that
//! are not UTF-8 are printed as U+FFFD where Python's `data.decode()` would
//! raise.
//!
//! Run it with `cargo run -p tulip-examples --bin udp_echo_client_protocol`
//! while `udp_echo_server_protocol` runs. Both use port 9999 unless
//! `TULIP_EXAMPLE_PORT` names another
//!.

use std::net::{Ipv4Addr, SocketAddr};

use tulip::prelude::*;
use tulip::transport::{DatagramOptions, SockAddr};

struct EchoClientProtocol {
    message: String,
    transport: Option<DatagramTransport>,
    on_con_lost: LoopFuture<bool>,
}

impl DatagramProtocol for EchoClientProtocol {
    fn connection_made(&mut self, transport: DatagramTransport) {
        println!("Send: {}", self.message);
        // A failed send is reported to `error_received`.
        let _ = transport.sendto(self.message.as_bytes(), None);
        self.transport = Some(transport);
    }

    fn datagram_received(&mut self, data: &[u8], _addr: Option<SockAddr>) {
        println!("Received: {}", String::from_utf8_lossy(data));

        println!("Close the socket");
        if let Some(transport) = &self.transport {
            transport.close();
        }
    }

    fn error_received(&mut self, exc: tulip::transport::Error) {
        println!("Error received: {exc}");
    }
}

impl BaseProtocol for EchoClientProtocol {
    fn connection_lost(&mut self, _exc: Option<tulip::transport::Error>) {
        println!("Connection closed");
        let _ = self.on_con_lost.set_result(true);
    }
}

async fn main_task() -> Result<(), Error> {
    let port = port()?;

    // Get a reference to the event loop as we plan to use
    // low-level APIs.
    let lp = get_running_loop()?;

    let on_con_lost = lp.create_future();
    let message = String::from("Hello World!");

    let factory = {
        let on_con_lost = on_con_lost.clone();
        move || EchoClientProtocol {
            message: message.clone(),
            transport: None,
            on_con_lost: on_con_lost.clone(),
        }
    };
    let remote_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let (transport, _protocol) = lp
        .create_datagram_endpoint(factory, DatagramOptions::new().remote_addr(remote_addr))
        .await?;

    let outcome = on_con_lost.await;
    transport.close();
    outcome.map(drop)
}

fn main() -> Result<(), Error> {
    tulip::run(main_task())?
}

// What Python has built in, written out for this example.

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
