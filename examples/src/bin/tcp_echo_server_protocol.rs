//! TCP echo server, from the asyncio documentation (transports and
//! protocols page, "Examples": "TCP Echo Server").
//!
//! [`create_server`](tulip::transport::LoopNetExt::create_server) listens on
//! 127.0.0.1:8888 and makes an `EchoServerProtocol` for each connection: it
//! prints the peer's address, echoes the first data it receives, and closes
//! the connection. The server runs until the program is stopped (Ctrl-C).
//! For each client (here the `tcp_echo_client_protocol` example) it prints:
//!
//! ```text
//! Connection from 127.0.0.1:54321
//! Data received: 'Hello World!'
//! Send: 'Hello World!'
//! Close the client socket
//! ```
//!
//! The Python original:
//!
//! ```python
//! import asyncio
//!
//!
//! class EchoServerProtocol(asyncio.Protocol):
//!     def connection_made(self, transport):
//!         peername = transport.get_extra_info('peername')
//!         print('Connection from {}'.format(peername))
//!         self.transport = transport
//!
//!     def data_received(self, data):
//!         message = data.decode()
//!         print('Data received: {!r}'.format(message))
//!
//!         print('Send: {!r}'.format(message))
//!         self.transport.write(data)
//!
//!         print('Close the client socket')
//!         self.transport.close()
//!
//!
//! async def main():
//!     # Get a reference to the event loop as we plan to use
//!     # low-level APIs.
//!     loop = asyncio.get_running_loop()
//!
//!     server = await loop.create_server(
//!         lambda: EchoServerProtocol(),
//!         '127.0.0.1', 8888)
//!
//!     async with server:
//!         await server.serve_forever()
//!
//!
//! asyncio.run(main())
//! ```
//!
//! Differences in the output: the peer address prints as Rust's
//! [`SocketAddr`](std::net::SocketAddr) does (`127.0.0.1:54321`) where
//! Python prints its `peername` tuple (`('127.0.0.1', 54321)`). `{!r}` is
//! Python's `repr()`, printed here with [`py_repr`].
//! Bytes that are not UTF-8 are printed as U+FFFD where Python's
//! `data.decode()` would raise (the Python server then logs the exception
//! and leaves the connection open; this one echoes and closes it).
//!
//! Run it with `cargo run -p tulip-examples --bin tcp_echo_server_protocol`,
//! then `cargo run -p tulip-examples --bin tcp_echo_client_protocol` in
//! another terminal. Both use port 8888 unless `TULIP_EXAMPLE_PORT` names
//! another.

use tulip::prelude::*;
use tulip::transport::ServerOptions;

#[derive(Default)]
struct EchoServerProtocol {
    transport: Option<Transport>,
}

impl Protocol for EchoServerProtocol {
    fn connection_made(&mut self, transport: Transport) {
        match transport.peer_addr() {
            Some(peername) => println!("Connection from {peername}"),
            None => println!("Connection from None"),
        }
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        let message = String::from_utf8_lossy(data);
        println!("Data received: {}", py_repr(&message));

        let transport = self
            .transport
            .as_ref()
            .expect("connection_made comes first");
        println!("Send: {}", py_repr(&message));
        // A failed write has closed the connection already (and told
        // `connection_lost`); there is nothing more to do with it.
        let _ = transport.write(data);

        println!("Close the client socket");
        transport.close();
    }
}

impl BaseProtocol for EchoServerProtocol {}

async fn main_task() -> Result<(), Error> {
    let port = port()?;

    // Get a reference to the event loop as we plan to use
    // low-level APIs.
    let lp = get_running_loop()?;

    let server = lp
        .create_server(
            EchoServerProtocol::default,
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
