//! TCP echo client, from the asyncio documentation (transports and
//! protocols page, "Examples": "TCP Echo Client").
//!
//! [`create_connection`](tulip::transport::LoopNetExt::create_connection)
//! connects to 127.0.0.1:8888; `EchoClientProtocol` sends `Hello World!` as
//! soon as the connection is made, prints what comes back, and completes
//! the future `main` waits for when the server closes the connection.
//! Against the `tcp_echo_server_protocol` example, the output is:
//!
//! ```text
//! Data sent: 'Hello World!'
//! Data received: 'Hello World!'
//! The server closed the connection
//! ```
//!
//! The Python original:
//!
//! ```python
//! import asyncio
//!
//!
//! class EchoClientProtocol(asyncio.Protocol):
//!     def __init__(self, message, on_con_lost):
//!         self.message = message
//!         self.on_con_lost = on_con_lost
//!
//!     def connection_made(self, transport):
//!         transport.write(self.message.encode())
//!         print('Data sent: {!r}'.format(self.message))
//!
//!     def data_received(self, data):
//!         print('Data received: {!r}'.format(data.decode()))
//!
//!     def connection_lost(self, exc):
//!         print('The server closed the connection')
//!         self.on_con_lost.set_result(True)
//!
//!
//! async def main():
//!     # Get a reference to the event loop as we plan to use
//!     # low-level APIs.
//!     loop = asyncio.get_running_loop()
//!
//!     on_con_lost = loop.create_future()
//!     message = 'Hello World!'
//!
//!     transport, protocol = await loop.create_connection(
//!         lambda: EchoClientProtocol(message, on_con_lost),
//!         '127.0.0.1', 8888)
//!
//!     # Wait until the protocol signals that the connection
//!     # is lost and close the transport.
//!     try:
//!         await on_con_lost
//!     finally:
//!         transport.close()
//!
//!
//! asyncio.run(main())
//! ```
//!
//! `{!r}` is Python's `repr()`, printed here with
//! [`py_repr`]. Bytes that are not UTF-8 are printed
//! as U+FFFD where Python's `data.decode()` would raise. With no server
//! listening, `create_connection` fails and the program exits with the
//! error ("Connection refused"), as the Python one does with a traceback.
//!
//! Run it with `cargo run -p tulip-examples --bin tcp_echo_client_protocol`
//! while `tcp_echo_server_protocol` runs. Both use port 8888 unless
//! `TULIP_EXAMPLE_PORT` names another.

use tulip::prelude::*;
use tulip::transport::ConnectOptions;

struct EchoClientProtocol {
    message: String,
    on_con_lost: LoopFuture<bool>,
}

impl Protocol for EchoClientProtocol {
    fn connection_made(&mut self, transport: Transport) {
        // A write cannot fail on a connection just made; if it ever did,
        // `connection_lost` would follow and end the program.
        let _ = transport.write(self.message.as_bytes());
        println!("Data sent: {}", py_repr(&self.message));
    }

    fn data_received(&mut self, data: &[u8]) {
        println!("Data received: {}", py_repr(&String::from_utf8_lossy(data)));
    }
}

impl BaseProtocol for EchoClientProtocol {
    fn connection_lost(&mut self, _exc: Option<tulip::transport::Error>) {
        println!("The server closed the connection");
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
            on_con_lost: on_con_lost.clone(),
        }
    };
    let (transport, _protocol) = lp
        .create_connection(factory, "127.0.0.1", port, ConnectOptions::new())
        .await?;

    // Wait until the protocol signals that the connection
    // is lost and close the transport.
    let outcome = on_con_lost.await;
    transport.close();
    outcome.map(drop)
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
