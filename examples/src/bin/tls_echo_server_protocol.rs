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
//! The certificate comes from `server_config` below (made at the first
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
use tulip::transport::TlsServerConfig;

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
        println!("Data received: {}", py_repr(&message));
        let Some(transport) = &self.transport else {
            return;
        };
        println!("Send: {}", py_repr(&message));
        let _ = transport.write(data);
        println!("Close the client socket");
        // Sends close_notify after the echo, then closes.
        transport.close();
    }
}

impl BaseProtocol for EchoServerProtocol {}

async fn main_task() -> Result<(), Box<dyn std::error::Error>> {
    let port = port()?;
    let lp = get_running_loop()?;
    let options = ServerOptions::new().tls(server_config()?);
    let server = lp
        .create_server(EchoServerProtocol::default, "127.0.0.1", port, options)
        .await?;
    // async with server:
    //     await server.serve_forever()
    let served = server.serve_forever().await;
    server.close();
    server.wait_closed().await;
    Ok(served?)
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

/// The server's certificate for `localhost` and `127.0.0.1`: `cert.pem` and
/// `key.pem` of [`tls_dir`], made on the first run with the CA that signs
/// it (`ca.pem`, which the client examples trust). A real server reads the
/// files its configuration names (`TlsServerConfig::from_pem_files`).
fn server_config() -> Result<TlsServerConfig, Box<dyn std::error::Error>> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let dir = tls_dir();
    if !dir.join("cert.pem").is_file() {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_name = "tulip example CA";
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        let ca = ca_params.self_signed(&ca_key)?;
        let key = KeyPair::generate()?;
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let cert = CertificateParams::new(names)?.signed_by(&key, &ca, &ca_key)?;
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("ca.pem"), ca.pem())?;
        std::fs::write(dir.join("key.pem"), key.serialize_pem())?;
        // Last: its presence says the set is complete.
        std::fs::write(dir.join("cert.pem"), cert.pem())?;
    }
    Ok(TlsServerConfig::from_pem_files(
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )?)
}
