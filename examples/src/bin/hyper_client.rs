//! `hyper_client`: GET over `http` and `https` with tulip's pooled HTTP
//! client, [`tulip::hyper::Client`] (not in asyncio's documentation: the
//! Rust ecosystem on tulip).
//!
//! Given URLs, it GETs each with one client (so that requests to the same
//! origin share its pooled connections) and prints the status, the HTTP
//! version, the body's length and its first line; `--cafile FILE` trusts
//! the CA certificates of a PEM file instead of the system's trust store:
//!
//! ```text
//! $ cargo run -p tulip-examples --bin hyper_client -- --cafile ca.pem https://localhost:8443/
//! GET https://localhost:8443/ -> 200 OK, HTTP/2.0, 22 bytes: Hello from / over HTTP/2.0
//! ```
//!
//! Without URLs it runs a demonstration on loopback only: it starts two
//! hyper servers on the loop ([`serve_hyper`]), one over plain TCP and
//! one over TLS with a certificate authority made on the spot (offering
//! HTTP/2 by ALPN), then GETs twice from each with a client that trusts
//! that authority. The first server answers over HTTP/1.1 (its connection
//! kept in the pool and reused), the second over HTTP/2.
//!
//! A failed request (refused, a certificate not trusted, a timeout) is
//! printed on standard error, naming the address or host, and the program
//! exits with status 1.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use tulip::hyper::{Client, ClientOptions, Listener, serve_hyper};
use tulip::net::{TcpListener, TcpStream, TlsStream};
use tulip::transport::{TlsClientConfig, TlsServerConfig};

/// The demonstration servers' service: says which path it got, over which
/// HTTP version.
async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let text = format!(
        "Hello from {} over {:?}",
        request.uri().path(),
        request.version()
    );
    Ok(Response::new(Full::new(Bytes::from(text))))
}

/// tulip's `TcpListener` with a TLS handshake per accepted connection, for
/// [`serve_hyper`]; the handshake runs in the connection's own task.
struct TlsListener {
    tcp: TcpListener,
    tls: TlsServerConfig,
}

impl Listener for TlsListener {
    type Conn = TcpStream;
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.tcp.poll_accept(cx)
    }

    fn handshake(
        &self,
        conn: TcpStream,
    ) -> impl Future<Output = io::Result<TlsStream<TcpStream>>> + 'static {
        let tls = self.tls.clone();
        async move {
            TlsStream::accept(conn, &tls)
                .await
                .map_err(|e| io::Error::other(e.to_string()))
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// A certificate authority and a certificate it signed for `localhost`:
/// the server's TLS configuration (ALPN `h2` and `http/1.1`) and the
/// client's, which trusts that authority only.
fn private_ca() -> Result<(TlsServerConfig, TlsClientConfig), Box<dyn std::error::Error>> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hyper_client example CA");
    let ca = ca_params.self_signed(&ca_key)?;
    let key = rcgen::KeyPair::generate()?;
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])?
        .signed_by(&key, &ca, &ca_key)?;
    let server = TlsServerConfig::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes())?
        .alpn_protocols(&[b"h2", b"http/1.1"]);
    let client = TlsClientConfig::with_ca_pem(ca.pem().as_bytes())?;
    Ok((server, client))
}

/// GETs `url` and prints what came back.
async fn get(client: &Client, url: &str) -> Result<(), tulip::hyper::ClientError> {
    let response = client.get(url).await?;
    let (status, version) = (response.status(), response.version());
    let body = response.bytes().await?;
    let text = String::from_utf8_lossy(&body);
    let first_line = text.lines().next().unwrap_or("");
    println!(
        "GET {url} -> {status}, {version:?}, {} bytes: {first_line}",
        body.len()
    );
    Ok(())
}

/// The demonstration: two servers on loopback, two GETs from each.
async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let (server_tls, client_tls) = private_ca()?;
    let plain = TcpListener::bind("127.0.0.1", 0).await?;
    let http = format!("http://127.0.0.1:{}", plain.local_addr()?.port());
    let tls = TlsListener {
        tcp: TcpListener::bind("127.0.0.1", 0).await?,
        tls: server_tls,
    };
    let https = format!("https://localhost:{}", tls.local_addr()?.port());
    tulip::spawn(serve_hyper(plain, service_fn(hello)).into_future()).detach();
    tulip::spawn(serve_hyper(tls, service_fn(hello)).into_future()).detach();

    let client = Client::with_options(ClientOptions::new().tls(client_tls));
    for base in [&http, &https] {
        get(&client, &format!("{base}/")).await?;
        get(&client, &format!("{base}/again")).await?;
    }
    println!(
        "idle HTTP/1.1 connections kept for {http}: {}",
        client.idle_connections(&http)?
    );
    Ok(())
}

/// GETs each URL with one client; `--cafile FILE` names the trusted CAs.
async fn fetch(args: Vec<String>) -> Result<(), Box<dyn std::error::Error>> {
    let mut options = ClientOptions::new();
    let mut urls = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--cafile" {
            let file = args.next().ok_or("--cafile needs a file")?;
            options = options.tls(TlsClientConfig::with_ca_file(file)?);
        } else {
            urls.push(arg);
        }
    }
    let client = Client::with_options(options);
    for url in &urls {
        get(&client, url).await?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = tulip::run(async move {
        if args.is_empty() {
            demo().await
        } else {
            fetch(args).await
        }
    });
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("hyper_client: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("hyper_client: the loop failed: {e}");
            ExitCode::FAILURE
        }
    }
}
