//! hyper's hello world on tulip (not in asyncio's documentation: the Rust
//! ecosystem on tulip): a hyper `service_fn` served with
//! `tulip::hyper::serve_hyper`, over HTTP/1.1 and HTTP/2 on one port, and
//! over HTTPS on another, where ALPN chooses HTTP/2 (`h2`) or HTTP/1.1.
//!
//! ```text
//! listening on http://127.0.0.1:8080 (HTTP/1.1, HTTP/2 with prior knowledge)
//! listening on https://127.0.0.1:8443 (HTTP/2 or HTTP/1.1 by ALPN), CA /tmp/tulip-tls-example/hyper_server-ca.pem
//! GET / HTTP/2.0
//! Ctrl-C: finishing the requests in flight
//! shut down
//! ```
//!
//! Try it with curl:
//!
//! ```text
//! curl --http1.1 http://127.0.0.1:8080/
//! curl --http2-prior-knowledge http://127.0.0.1:8080/
//! curl --http2 --cacert /tmp/tulip-tls-example/hyper_server-ca.pem https://127.0.0.1:8443/
//! ```
//!
//! `GET /` answers `Hello, World!`; `GET /slow/MS` answers the same after
//! MS milliseconds (at most a minute), to watch a graceful shutdown
//! finish a request in flight; every request is printed as
//! `METHOD PATH VERSION`.
//!
//! **HTTPS.** The certificate is made at start-up with rcgen: a fresh
//! certificate authority signs a certificate for `localhost` and
//! `127.0.0.1`, and only the authority's certificate is written out
//! (`hyper_server-ca.pem` in `TULIP_EXAMPLE_TLS_DIR`, or in
//! `tulip-tls-example` of the temporary directory), for clients to trust.
//! A real server reads its certificate and key from files
//! (`TlsServerConfig::from_pem_files`). `TlsListener` sets the ALPN
//! protocols `h2` and `http/1.1` on the configuration, which names none,
//! and serves each connection as the protocol ALPN chose.
//!
//! **Ctrl-C** (or SIGTERM) shuts the server down gracefully: both
//! listeners close, the requests in flight finish (within 30 s), and the
//! program exits with status 0. A second Ctrl-C cancels everything at
//! once (tulip's runner).
//!
//! **Ports.** 8080 and 8443; with `TULIP_EXAMPLE_PORT=N`, N for HTTP and
//! N + 1 for HTTPS, and with `TULIP_EXAMPLE_PORT=0`, free ports (printed).

use std::convert::Infallible;
use std::error::Error;
use std::future::IntoFuture;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use tulip::hyper::{TlsListener, serve_hyper};
use tulip::net::TcpListener;
use tulip::prelude::*;
use tulip::signal::{SIGINT, SIGTERM};
use tulip::transport::TlsServerConfig;

/// The longest `/slow/MS` may sleep.
const MAX_SLOW: Duration = Duration::from_secs(60);

/// The service: hyper's hello world, and `/slow/MS`.
async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    println!("{} {path} {:?}", req.method(), req.version());
    if path == "/" {
        return Ok(Response::new(Full::new(Bytes::from("Hello, World!"))));
    }
    let Some(ms) = path.strip_prefix("/slow/") else {
        return Ok(answer(
            StatusCode::NOT_FOUND,
            format!("no route for {path}"),
        ));
    };
    match ms.parse().map(Duration::from_millis) {
        Ok(delay) if delay <= MAX_SLOW => {
            sleep(delay).await;
            Ok(Response::new(Full::new(Bytes::from("Hello, World!"))))
        }
        _ => Ok(answer(
            StatusCode::BAD_REQUEST,
            format!("{ms:?} is not a number of milliseconds up to {MAX_SLOW:?}"),
        )),
    }
}

fn answer(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
}

async fn main_task() -> Result<(), Box<dyn Error>> {
    let lp = get_running_loop()?;

    // Ctrl-C or SIGTERM: a graceful shutdown. The handlers go once one
    // fires, so that a second Ctrl-C falls back to tulip::run's (which
    // cancels everything).
    let stop = lp.create_future::<()>();
    for signum in [SIGINT, SIGTERM] {
        let (stop, handlers) = (stop.clone(), lp.clone());
        lp.add_signal_handler(signum, move || {
            println!("Ctrl-C: finishing the requests in flight");
            let _ = stop.set_result(());
            handlers.remove_signal_handler(SIGINT);
            handlers.remove_signal_handler(SIGTERM);
        })?;
    }

    let (http_port, https_port) = ports()?;
    let (tls, ca) = tls_config()?;
    let http = TcpListener::bind("127.0.0.1", http_port).await?;
    let https = TlsListener::new(TcpListener::bind("127.0.0.1", https_port).await?, tls);
    println!(
        "listening on http://{} (HTTP/1.1, HTTP/2 with prior knowledge)",
        http.local_addr()?
    );
    println!(
        "listening on https://{} (HTTP/2 or HTTP/1.1 by ALPN), CA {}",
        https.get_ref().local_addr()?,
        ca.display()
    );

    let http = serve_hyper(http, service_fn(hello)).with_graceful_shutdown(stop.clone());
    let https = serve_hyper(https, service_fn(hello)).with_graceful_shutdown(stop);
    let http = spawn(http.into_future());
    let https = spawn(https.into_future());
    let (http, https) = (http.await?, https.await?);
    http?;
    https?;
    println!("shut down");
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    tulip::run(main_task())?
}

/// The ports: 8080 and 8443, or `TULIP_EXAMPLE_PORT` and the next one
/// (both free ports for 0).
fn ports() -> std::io::Result<(u16, u16)> {
    let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
    match std::env::var("TULIP_EXAMPLE_PORT") {
        Ok(p) if !p.is_empty() => {
            let port: u16 = p
                .parse()
                .map_err(|_| invalid(format!("TULIP_EXAMPLE_PORT={p:?} is not a port number")))?;
            if port == 0 {
                return Ok((0, 0));
            }
            let next = port.checked_add(1).ok_or_else(|| {
                invalid(format!(
                    "TULIP_EXAMPLE_PORT={port}: HTTPS needs the next port, and there is none"
                ))
            })?;
            Ok((port, next))
        }
        _ => Ok((8080, 8443)),
    }
}

/// A TLS configuration with a certificate for `localhost` and
/// `127.0.0.1`, signed by a certificate authority made on the spot, whose
/// certificate is written to `hyper_server-ca.pem` (the returned path) in
/// `TULIP_EXAMPLE_TLS_DIR` or `tulip-tls-example` of the temporary
/// directory.
fn tls_config() -> Result<(TlsServerConfig, PathBuf), Box<dyn Error>> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

    let authority_key = KeyPair::generate()?;
    let mut authority = CertificateParams::new(Vec::<String>::new())?;
    authority.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    authority
        .distinguished_name
        .push(DnType::CommonName, "tulip hyper_server example CA");
    let authority = authority.self_signed(&authority_key)?;

    let key = KeyPair::generate()?;
    let names = ["localhost", "127.0.0.1"].map(String::from).to_vec();
    let cert = CertificateParams::new(names)?.signed_by(&key, &authority, &authority_key)?;

    let dir = match std::env::var_os("TULIP_EXAMPLE_TLS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::temp_dir().join("tulip-tls-example"),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create the directory {}: {e}", dir.display()))?;
    let ca = dir.join("hyper_server-ca.pem");
    std::fs::write(&ca, authority.pem())
        .map_err(|e| format!("cannot write {}: {e}", ca.display()))?;

    let config = TlsServerConfig::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes())?;
    Ok((config, ca))
}
