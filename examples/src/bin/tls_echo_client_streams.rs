//! TLS echo client using streams: the asyncio documentation's "TCP echo
//! client using streams" with `ssl=` added to `open_connection`.
//!
//! It connects to 127.0.0.1:8443, verifies the server for `localhost`
//! against the examples' CA (`client_config` below), writes `Hello
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
use tulip::transport::TlsClientConfig;

async fn tls_echo_client(message: &str) -> Result<(), Box<dyn std::error::Error>> {
    let port = port()?;
    let options = ConnectOptions::new()
        .tls(client_config()?)
        .server_hostname("localhost");
    let (mut reader, writer) = open_connection("127.0.0.1", port, options).await?;

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tulip::run(tls_echo_client("Hello World!"))?
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
