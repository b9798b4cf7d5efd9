//! TCP echo server using streams, from the asyncio documentation (streams
//! page, "Examples": "TCP echo server using streams").
//!
//! [`start_server`] listens on 127.0.0.1:8888 and runs `handle_echo` as a
//! task of its own for each client, with the connection's
//! [`StreamReader`] and [`StreamWriter`]: it reads up to 100 bytes, prints
//! them with the peer's address, writes them back, waits for
//! [`drain`](StreamWriter::drain), and closes the connection. The server
//! runs until the program is stopped (Ctrl-C). It prints its address, then
//! for each client (here the `tcp_echo_client_streams` example):
//!
//! ```text
//! Serving on 127.0.0.1:8888
//! Received 'Hello World!' from 127.0.0.1:54321
//! Send: 'Hello World!'
//! Close the connection
//! ```
//!
//! The Python original:
//!
//! ```python
//! import asyncio
//!
//! async def handle_echo(reader, writer):
//!     data = await reader.read(100)
//!     message = data.decode()
//!     addr = writer.get_extra_info('peername')
//!
//!     print(f"Received {message!r} from {addr!r}")
//!
//!     print(f"Send: {message!r}")
//!     writer.write(data)
//!     await writer.drain()
//!
//!     print("Close the connection")
//!     writer.close()
//!     await writer.wait_closed()
//!
//! async def main():
//!     server = await asyncio.start_server(
//!         handle_echo, '127.0.0.1', 8888)
//!
//!     addrs = ', '.join(str(sock.getsockname()) for sock in server.sockets)
//!     print(f'Serving on {addrs}')
//!
//!     async with server:
//!         await server.serve_forever()
//!
//! asyncio.run(main())
//! ```
//!
//! Differences in the output: addresses print as Rust's
//! [`SocketAddr`](std::net::SocketAddr) does (`127.0.0.1:54321`) where
//! Python prints its address tuples (`('127.0.0.1', 54321)`). `{!r}` is
//! Python's `repr()`, printed here with [`py_repr`]. Bytes that are not
//! UTF-8 are printed as U+FFFD where Python's `data.decode()` would raise
//! (the Python handler then dies with the exception, which asyncio logs,
//! and its connection is closed; this one echoes and closes). A client
//! that sends nothing and closes gets `Received '' from ...`, as in
//! Python. `handle_echo` returns a `Result`: an error (the client reset the
//! connection, say) goes to the loop's exception handler and the
//! connection is closed, as asyncio does with an exception raised by the
//! handler.
//!
//! The same server written with a protocol is `tcp_echo_server_protocol`.
//!
//! Run it with `cargo run -p tulip-examples --bin tcp_echo_server_streams`,
//! then `cargo run -p tulip-examples --bin tcp_echo_client_streams` in
//! another terminal. Both use port 8888 unless `TULIP_EXAMPLE_PORT` names
//! another.

use tulip::prelude::*;
use tulip::streams::{ServerOptions, StreamReader, StreamWriter};

async fn handle_echo(
    mut reader: StreamReader,
    writer: StreamWriter,
) -> Result<(), tulip::streams::Error> {
    let data = reader.read(100).await?;
    let message = String::from_utf8_lossy(&data);
    let addr =
        (writer.transport().peer_addr()).map_or_else(|| "None".to_string(), |a| a.to_string());

    println!("Received {} from {addr}", py_repr(&message));

    println!("Send: {}", py_repr(&message));
    writer.write(&data)?;
    writer.drain().await?;

    println!("Close the connection");
    writer.close();
    writer.wait_closed().await
}

async fn main_task() -> Result<(), Error> {
    let port = port()?;
    let server = start_server(handle_echo, "127.0.0.1", port, ServerOptions::new()).await?;

    let addrs: Vec<String> = server
        .sockets()
        .iter()
        .filter_map(|sock| sock.local_addr().map(ToString::to_string))
        .collect();
    println!("Serving on {}", addrs.join(", "));

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
