//! TLS echo server with a protocol: the asyncio documentation's "TCP Echo
//! Server" (transports and protocols page) with `ssl=` added to
//! `create_server`, as asyncio's SSL support allows.
//!
//! The protocol is the TCP one, unchanged: TLS is a layer between it and
//! the socket. For each client (here `tls_echo_client_protocol`) it
//! prints:
//!
//! ```text
//! Connection from 127.0.0.1:54321
//! TLS: TLSv1.3 TLS13_AES_256_GCM_SHA384, SNI localhost
//! Data received: 'Hello World!'
//! Send: 'Hello World!'
//! Close the client socket
//! ```
//!
//! The Python original's `main()`, with TLS:
//!
//! ```python
//! ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
//! ssl_context.load_cert_chain('cert.pem', 'key.pem')
//! server = await loop.create_server(
//!     lambda: EchoServerProtocol(),
//!     '127.0.0.1', 8443, ssl=ssl_context)
//! ```
//!
//! The certificate comes from `tulip_examples::tls` (made at the first
//! run, in the directory `TULIP_EXAMPLE_TLS_DIR` names or a temporary
//! one). The `TLS:` line is this example's own: what
//! [`Transport::tls_info`](tulip::transport::Transport::tls_info) says
//! (asyncio's `get_extra_info('ssl_object')`).
//!
//! Run it with `cargo run -p tulip-examples --bin tls_echo_server_protocol`,
//! then `cargo run -p tulip-examples --bin tls_echo_client_protocol` in
//! another terminal. Both use port 8443 unless `TULIP_EXAMPLE_PORT` names
//! another.

use tulip::prelude::*;
use tulip::transport::ServerOptions;
use tulip_examples::{PyRepr, example_port, serve_forever_and_close, tls};

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
        if let Some(info) = transport.tls_info() {
            println!(
                "TLS: {} {}, SNI {}",
                info.protocol_version.as_deref().unwrap_or("?"),
                info.cipher.as_deref().unwrap_or("?"),
                info.server_name.as_deref().unwrap_or("none"),
            );
        }
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        let message = String::from_utf8_lossy(data);
        println!("Data received: {}", PyRepr(&message));
        let Some(transport) = &self.transport else {
            return;
        };
        println!("Send: {}", PyRepr(&message));
        let _ = transport.write(data);
        println!("Close the client socket");
        // Sends close_notify after the echo, then closes.
        transport.close();
    }
}

impl BaseProtocol for EchoServerProtocol {}

async fn main_task() -> Result<(), Error> {
    let port = example_port(8443)?;
    let lp = get_running_loop()?;
    let options = ServerOptions::new().tls(tls::server_config()?);
    let server = lp
        .create_server(EchoServerProtocol::default, "127.0.0.1", port, options)
        .await?;
    // async with server:
    //     await server.serve_forever()
    serve_forever_and_close(&server).await
}

fn main() -> Result<(), Error> {
    tulip::run(main_task())?
}
