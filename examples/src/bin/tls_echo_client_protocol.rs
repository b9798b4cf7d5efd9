//! TLS echo client with a protocol: the asyncio documentation's "TCP Echo
//! Client" (transports and protocols page) with `ssl=` added to
//! `create_connection`.
//!
//! It connects to 127.0.0.1:8443, verifies the server's certificate for
//! the name `localhost` against the examples' CA (`client_config` below),
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
use tulip::transport::TlsClientConfig;

struct EchoClientProtocol {
    message: String,
    on_con_lost: LoopFuture<bool>,
}

impl Protocol for EchoClientProtocol {
    fn connection_made(&mut self, transport: Transport) {
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

async fn main_task() -> Result<(), Box<dyn std::error::Error>> {
    let port = port()?;
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
        .tls(client_config()?)
        .server_hostname("localhost");
    let (transport, _protocol) = lp
        .create_connection(factory, "127.0.0.1", port, options)
        .await?;
    // Wait until the protocol signals that the connection is lost.
    let _ = on_con_lost.await;
    transport.close();
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
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

/// The port: asyncio's 8443, or the one `TULIP_EXAMPLE_PORT` names (the
/// tests use free ports).
fn port() -> std::io::Result<u16> {
    match std::env::var("TULIP_EXAMPLE_PORT") {
        Ok(p) if !p.is_empty() => p.parse().map_err(|_| {
            let why = format!("TULIP_EXAMPLE_PORT={p:?} is not a port number");
            std::io::Error::new(std::io::ErrorKind::InvalidInput, why)
        }),
        _ => Ok(8443),
    }
}

/// The directory of the examples' certificates: `TULIP_EXAMPLE_TLS_DIR`, or
/// `tulip-tls-example` in the temporary directory.
fn tls_dir() -> std::path::PathBuf {
    match std::env::var_os("TULIP_EXAMPLE_TLS_DIR") {
        Some(dir) if !dir.is_empty() => dir.into(),
        _ => std::env::temp_dir().join("tulip-tls-example"),
    }
}

/// A configuration that trusts the examples' CA, `ca.pem` of [`tls_dir`]
/// (a TLS server example makes it: start one first). A real client trusts
/// the system's store (`TlsClientConfig::new()`).
fn client_config() -> Result<TlsClientConfig, Box<dyn std::error::Error>> {
    let ca = tls_dir().join("ca.pem");
    if !ca.is_file() {
        let why = format!(
            "{} is missing: start a TLS server example first (it makes it)",
            ca.display()
        );
        return Err(why.into());
    }
    Ok(TlsClientConfig::with_ca_file(ca)?)
}
