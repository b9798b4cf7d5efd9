//! TLS echo client with a protocol: the asyncio documentation's "TCP Echo
//! Client" (transports and protocols page) with `ssl=` added to
//! `create_connection`.
//!
//! It connects to 127.0.0.1:8443, verifies the server's certificate for
//! the name `localhost` against the examples' CA (`tulip_examples::tls`),
//! sends `Hello World!` and prints the echo. Against
//! `tls_echo_server_protocol`:
//!
//! ```text
//! Data sent: 'Hello World!'
//! Data received: 'Hello World!'
//! The server closed the connection
//! ```
//!
//! The Python original's call, with TLS:
//!
//! ```python
//! ssl_context = ssl.create_default_context(cafile='ca.pem')
//! transport, protocol = await loop.create_connection(
//!     lambda: EchoClientProtocol(message, on_con_lost),
//!     '127.0.0.1', 8443, ssl=ssl_context, server_hostname='localhost')
//! ```
//!
//! A server whose certificate does not verify makes `create_connection`
//! fail with a TLS certificate error; the program exits with it.
//!
//! Run it with `cargo run -p tulip-examples --bin tls_echo_client_protocol`
//! while `tls_echo_server_protocol` runs (port 8443 unless
//! `TULIP_EXAMPLE_PORT` names another).

use tulip::prelude::*;
use tulip::transport::ConnectOptions;
use tulip_examples::{PyRepr, example_port, tls};

struct EchoClientProtocol {
    message: String,
    on_con_lost: LoopFuture<bool>,
}

impl Protocol for EchoClientProtocol {
    fn connection_made(&mut self, transport: Transport) {
        let _ = transport.write(self.message.as_bytes());
        println!("Data sent: {}", PyRepr(&self.message));
    }

    fn data_received(&mut self, data: &[u8]) {
        println!("Data received: {}", PyRepr(&String::from_utf8_lossy(data)));
    }
}

impl BaseProtocol for EchoClientProtocol {
    fn connection_lost(&mut self, _exc: Option<tulip::transport::Error>) {
        println!("The server closed the connection");
        let _ = self.on_con_lost.set_result(true);
    }
}

async fn main_task() -> Result<(), Error> {
    let port = example_port(8443)?;
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
    let options = ConnectOptions::new()
        .tls(tls::client_config()?)
        .server_hostname("localhost");
    let (transport, _protocol) = lp
        .create_connection(factory, "127.0.0.1", port, options)
        .await?;
    // Wait until the protocol signals that the connection is lost.
    let _ = on_con_lost.await;
    transport.close();
    Ok(())
}

fn main() -> Result<(), Error> {
    tulip::run(main_task())?
}
