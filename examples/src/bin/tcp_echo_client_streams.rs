//! TCP echo client using streams, from the asyncio documentation (streams
//! page, "Examples": "TCP echo client using streams").
//!
//! [`open_connection`] connects to 127.0.0.1:8888 and returns a
//! [`StreamReader`] and a [`StreamWriter`]: the client writes `Hello
//! World!`, waits for [`drain`](StreamWriter::drain), reads up to 100
//! bytes of the answer, then closes the stream and waits until it is
//! closed. Against the `tcp_echo_server_streams` example, the
//! output is:
//!
//! ```text
//! Send: 'Hello World!'
//! Received: 'Hello World!'
//! Close the connection
//! ```
//!
//! The Python original:
//!
//! ```python
//! import asyncio
//!
//! async def tcp_echo_client(message):
//!     reader, writer = await asyncio.open_connection(
//!         '127.0.0.1', 8888)
//!
//!     print(f'Send: {message!r}')
//!     writer.write(message.encode())
//!     await writer.drain()
//!
//!     data = await reader.read(100)
//!     print(f'Received: {data.decode()!r}')
//!
//!     print('Close the connection')
//!     writer.close()
//!     await writer.wait_closed()
//!
//! asyncio.run(tcp_echo_client('Hello World!'))
//! ```
//!
//! `{!r}` is Python's `repr()`, printed here with [`py_repr`]. Bytes that
//! are not UTF-8 are printed as U+FFFD where Python's `data.decode()` would
//! raise. With no server listening, `open_connection` fails and the program
//! exits with the error ("Connection refused"), as the Python one does with
//! a traceback.
//!
//! The same client written with a protocol is `tcp_echo_client_protocol`.
//!
//! Run it with `cargo run -p tulip-examples --bin tcp_echo_client_streams`
//! while `tcp_echo_server_streams` runs. Both use port 8888 unless
//! `TULIP_EXAMPLE_PORT` names another.

use tulip::prelude::*;
use tulip::streams::ConnectOptions;

async fn tcp_echo_client(message: &str) -> Result<(), Error> {
    let port = port()?;
    let (mut reader, writer) = open_connection("127.0.0.1", port, ConnectOptions::new()).await?;

    println!("Send: {}", py_repr(message));
    writer.write(message.as_bytes())?;
    writer.drain().await?;

    let data = reader.read(100).await?;
    println!("Received: {}", py_repr(&String::from_utf8_lossy(&data)));

    println!("Close the connection");
    writer.close();
    writer.wait_closed().await?;
    Ok(())
}

fn main() -> Result<(), Error> {
    tulip::run(tcp_echo_client("Hello World!"))?
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
