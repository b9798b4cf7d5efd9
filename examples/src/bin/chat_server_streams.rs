//! A small chat server with streams: [`start_server`] with many clients at
//! once, each line a client sends relayed to every other client.
//!
//! This one is not in the asyncio documentation: it is the streams page's
//! echo server grown into what `start_server` is for, many connections
//! served side by side, each by its own task, sharing state (the writers
//! of the connected clients) without locks, since every task runs on the
//! one loop thread. Connect with a few `nc 127.0.0.1 8888` (or `telnet`)
//! and type lines. The server prints its address, then who comes and
//! goes:
//!
//! ```text
//! Serving on 127.0.0.1:8888
//! 127.0.0.1:50000 joined
//! 127.0.0.1:50002 joined
//! 127.0.0.1:50000 left
//! ```
//!
//! and each line `hello` from `127.0.0.1:50000` reaches the other clients
//! as `127.0.0.1:50000: hello`. The sender does not get its own lines
//! back. A last line without a newline, sent before the client leaves, is
//! relayed with one. A client whose line is longer than the reader's limit
//! (64 KiB) is disconnected, as the Python version does: `readline` fails
//! (`LimitOverrun`, Python's `ValueError`) and the server prints why
//! (`127.0.0.1:50000: Separator is not found, and chunk exceed the limit
//! ...`) before `... left`.
//!
//! The same program in Python, written for this port in the style of the
//! streams page's examples:
//!
//! ```python
//! import asyncio
//!
//! clients = []  # the writers of the connected clients
//!
//! async def handle_client(reader, writer):
//!     addr = writer.get_extra_info('peername')
//!     print(f'{addr} joined')
//!     clients.append(writer)
//!     try:
//!         while line := await reader.readline():
//!             if not line.endswith(b'\n'):
//!                 line += b'\n'
//!             message = f'{addr}: '.encode() + line
//!             others = [w for w in clients if w is not writer]
//!             for other in others:
//!                 other.write(message)
//!             for other in others:
//!                 try:
//!                     await other.drain()
//!                 except ConnectionError:
//!                     pass  # it is leaving: its own task cleans up
//!     except (ConnectionError, ValueError) as exc:
//!         print(f'{addr}: {exc}')
//!     finally:
//!         clients.remove(writer)
//!         print(f'{addr} left')
//!         writer.close()
//!         try:
//!             await writer.wait_closed()
//!         except ConnectionError:
//!             pass
//!
//! async def main():
//!     server = await asyncio.start_server(
//!         handle_client, '127.0.0.1', 8888)
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
//! Differences: addresses print as Rust's
//! [`SocketAddr`](std::net::SocketAddr) does (`127.0.0.1:50000`), not as
//! Python's tuples, and errors as tulip displays them. Each handler waits
//! for the other clients'
//! [`drain`](StreamWriter::drain) after relaying a line, so a client that
//! never reads ends up holding back the ones that write (their writes wait
//! until its buffer empties): memory stays bounded, as in Python.
//!
//! Run it with `cargo run -p tulip-examples --bin chat_server_streams`; it
//! uses port 8888 unless `TULIP_EXAMPLE_PORT` names another
//!.

use std::cell::RefCell;
use std::rc::Rc;

use tulip::prelude::*;
use tulip::streams::{Error as StreamError, ServerOptions, StreamReader, StreamWriter};

/// The writers of the connected clients.
type Clients = Rc<RefCell<Vec<StreamWriter>>>;

/// Serves one client: registers its writer, relays its lines until it
/// leaves, then unregisters and closes it.
async fn handle_client(clients: &Clients, mut reader: StreamReader, writer: StreamWriter) {
    let addr =
        (writer.transport().peer_addr()).map_or_else(|| "None".to_string(), |a| a.to_string());
    println!("{addr} joined");
    clients.borrow_mut().push(writer.clone());

    if let Err(exc) = relay_lines(clients, &addr, &mut reader, &writer).await {
        println!("{addr}: {exc}");
    }

    clients
        .borrow_mut()
        .retain(|w| !w.transport().ptr_eq(writer.transport()));
    println!("{addr} left");
    writer.close();
    // A client that reset the connection has said all it had to say.
    let _ = writer.wait_closed().await;
}

/// Sends each line of `reader` to every client but `writer`'s, until EOF
/// (`Ok`) or an error: the connection's, or a line over the limit.
async fn relay_lines(
    clients: &Clients,
    addr: &str,
    reader: &mut StreamReader,
    writer: &StreamWriter,
) -> Result<(), StreamError> {
    loop {
        let mut line = reader.readline().await?;
        if line.is_empty() {
            return Ok(());
        }
        if !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        let message = [format!("{addr}: ").as_bytes(), &line].concat();
        let others: Vec<StreamWriter> = clients
            .borrow()
            .iter()
            .filter(|w| !w.transport().ptr_eq(writer.transport()))
            .cloned()
            .collect();
        for other in &others {
            // A failed write means that client is leaving: its own task
            // cleans up.
            let _ = other.write(&message);
        }
        for other in &others {
            let _ = other.drain().await;
        }
    }
}

async fn main_task() -> Result<(), Error> {
    let port = port()?;
    let clients = Clients::default();
    let server = start_server(
        async move |reader: StreamReader, writer: StreamWriter| {
            handle_client(&clients, reader, writer).await;
        },
        "127.0.0.1",
        port,
        ServerOptions::new(),
    )
    .await?;

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
