//! TLS echo client using streams: the asyncio documentation's "TCP echo
//! client using streams" with `ssl=` added to `open_connection`.
//!
//! It connects to 127.0.0.1:8443, verifies the server for `localhost`
//! against the examples' CA (`tulip_examples::tls`), writes `Hello
//! World!`, reads the answer and closes (a TLS close_notify). Against
//! `tls_echo_server_streams`:
//!
//! ```text
//! Send: 'Hello World!'
//! Received: 'Hello World!'
//! Close the connection
//! ```
//!
//! The Python original's call, with TLS:
//!
//! ```python
//! ssl_context = ssl.create_default_context(cafile='ca.pem')
//! reader, writer = await asyncio.open_connection(
//!     '127.0.0.1', 8443, ssl=ssl_context, server_hostname='localhost')
//! ```
//!
//! Run it with `cargo run -p tulip-examples --bin tls_echo_client_streams`
//! while `tls_echo_server_streams` runs (port 8443 unless
//! `TULIP_EXAMPLE_PORT` names another).

use tulip::prelude::*;
use tulip::streams::ConnectOptions;
use tulip_examples::{PyRepr, example_port, tls};

async fn tls_echo_client(message: &str) -> Result<(), Error> {
    let port = example_port(8443)?;
    let options = ConnectOptions::new()
        .tls(tls::client_config()?)
        .server_hostname("localhost");
    let (mut reader, writer) = open_connection("127.0.0.1", port, options).await?;

    println!("Send: {}", PyRepr(message));
    writer.write(message.as_bytes())?;
    writer.drain().await?;

    let data = reader.read(100).await?;
    println!("Received: {}", PyRepr(&String::from_utf8_lossy(&data)));

    println!("Close the connection");
    writer.close();
    writer.wait_closed().await?;
    Ok(())
}

fn main() -> Result<(), Error> {
    tulip::run(tls_echo_client("Hello World!"))?
}
