//! TLS echo server using streams: the asyncio documentation's "TCP echo
//! server using streams" with `ssl=` added to `start_server`.
//!
//! The handler is the TCP one, unchanged. For each client (here
//! `tls_echo_client_streams`) it prints:
//!
//! ```text
//! Serving on 127.0.0.1:8443
//! Received 'Hello World!' from 127.0.0.1:54321 over TLSv1.3
//! Send: 'Hello World!'
//! Close the connection
//! ```
//!
//! The Python original's `main()`, with TLS:
//!
//! ```python
//! ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
//! ssl_context.load_cert_chain('cert.pem', 'key.pem')
//! server = await asyncio.start_server(
//!     handle_echo, '127.0.0.1', 8443, ssl=ssl_context)
//! ```
//!
//! The certificate comes from `tulip_examples::tls` (made at the first
//! run). `over TLSv1.3` is this example's own addition: the
//! `tls_version` extra info of the writer.
//!
//! Run it with `cargo run -p tulip-examples --bin tls_echo_server_streams`,
//! then `cargo run -p tulip-examples --bin tls_echo_client_streams` in
//! another terminal (port 8443 unless `TULIP_EXAMPLE_PORT` names another).

use tulip::prelude::*;
use tulip::streams::{ServerOptions, StreamReader, StreamWriter};
use tulip::transport::ExtraInfo;
use tulip_examples::{
    PyRepr, example_port, serve_forever_and_close, server_addresses, show_addr, tls,
};

async fn handle_echo(
    mut reader: StreamReader,
    writer: StreamWriter,
) -> Result<(), tulip::streams::Error> {
    let data = reader.read(100).await?;
    let message = String::from_utf8_lossy(&data);
    let addr = show_addr(writer.get_extra_info("peername"));
    let version = match writer.get_extra_info("tls_version") {
        Some(ExtraInfo::Text(v)) => v,
        _ => String::from("plain TCP"),
    };
    println!("Received {} from {addr} over {version}", PyRepr(&message));

    println!("Send: {}", PyRepr(&message));
    writer.write(&data)?;
    writer.drain().await?;

    println!("Close the connection");
    writer.close();
    writer.wait_closed().await
}

async fn main_task() -> Result<(), Error> {
    let port = example_port(8443)?;
    let options = ServerOptions::new().tls(tls::server_config()?);
    let server = start_server(handle_echo, "127.0.0.1", port, options).await?;
    println!("Serving on {}", server_addresses(&server));
    // async with server:
    //     await server.serve_forever()
    serve_forever_and_close(&server).await
}

fn main() -> Result<(), Error> {
    tulip::run(main_task())?
}
