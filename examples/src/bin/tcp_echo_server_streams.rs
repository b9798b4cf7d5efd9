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
//! Python's `repr()`, printed here with [`PyRepr`]. Bytes that are not
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
//! another ([`PORT_ENV`](tulip_examples::PORT_ENV)).

use tulip::prelude::*;
use tulip::streams::{ServerOptions, StreamReader, StreamWriter};
use tulip_examples::{PyRepr, example_port, serve_forever_and_close, server_addresses, show_addr};

async fn handle_echo(
    mut reader: StreamReader,
    writer: StreamWriter,
) -> Result<(), tulip::streams::Error> {
    let data = reader.read(100).await?;
    let message = String::from_utf8_lossy(&data);
    let addr = show_addr(writer.get_extra_info("peername"));

    println!("Received {} from {addr}", PyRepr(&message));

    println!("Send: {}", PyRepr(&message));
    writer.write(&data)?;
    writer.drain().await?;

    println!("Close the connection");
    writer.close();
    writer.wait_closed().await
}

async fn main_task() -> Result<(), Error> {
    let port = example_port(8888)?;
    let server = start_server(handle_echo, "127.0.0.1", port, ServerOptions::new()).await?;

    println!("Serving on {}", server_addresses(&server));

    // async with server:
    //     await server.serve_forever()
    serve_forever_and_close(&server).await
}

fn main() -> Result<(), Error> {
    tulip::run(main_task())?
}
