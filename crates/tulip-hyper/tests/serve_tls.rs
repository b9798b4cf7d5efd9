//! HTTPS with `TlsListener`: the HTTP version served is the one ALPN chose
//! (`h2`, `http/1.1`), or the first bytes' choice when the client offered
//! no ALPN; a caller's own ALPN list is kept; a failed handshake (plain
//! text, an untrusted certificate, no common protocol) closes that
//! connection only; the header-read timeout covers a client that never
//! finishes its handshake; a graceful shutdown lets an HTTP/2 request
//! over TLS finish and ends a handshake under way; HTTPS over a Unix socket.
//!
//! The clients are tulip's own: `TlsStream::connect` over a
//! `tulip::net` stream, and hyper's `client::conn` (HTTP/1.1 or HTTP/2)
//! over it.

use std::cell::Cell;
use std::convert::Infallible;
use std::future::IntoFuture;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Request, Response, Version};
use tulip::hyper::rt::{TulipExecutor, TulipTimer};
use tulip::hyper::{HttpProtocol, Listener, TlsListener, serve_hyper};
use tulip::net::{TcpListener, TcpStream, TlsStream, UnixListener, UnixStream};
use tulip::prelude::*;
use tulip::transport::rustls::{CertificateError, RootCertStore};
use tulip::transport::{TlsClientConfig, TlsServerConfig};
use tulip_test::{run, wait_until};

/// A certificate for `localhost`: the server's configuration (no ALPN
/// set) and a client's that trusts it.
fn certificate() -> (TlsServerConfig, TlsClientConfig) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let pem = cert.cert.pem();
    let server =
        TlsServerConfig::from_pem(pem.as_bytes(), cert.key_pair.serialize_pem().as_bytes())
            .unwrap();
    (
        server,
        TlsClientConfig::with_ca_pem(pem.as_bytes()).unwrap(),
    )
}

/// Requests the service started and finished.
#[derive(Default)]
struct Counts {
    started: Cell<usize>,
    done: Cell<usize>,
}

/// The service: answers with the HTTP version it was asked in, after a
/// sleep for `/slow/MS`.
async fn version(
    req: Request<Incoming>,
    counts: Rc<Counts>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    counts.started.set(counts.started.get() + 1);
    if let Some(ms) = req.uri().path().strip_prefix("/slow/") {
        sleep(Duration::from_millis(ms.parse().unwrap())).await;
    }
    counts.done.set(counts.done.get() + 1);
    let body = format!("{:?}", req.version());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// A running HTTPS server of [`version`]: its port, the requests it
/// served, and what stops it (gracefully).
struct Server {
    port: u16,
    counts: Rc<Counts>,
    stop: Box<dyn Fn()>,
    task: Task<std::io::Result<()>>,
}

impl Server {
    /// Serves on a free port of 127.0.0.1 with `config`, and this
    /// header-read timeout (else the default).
    async fn start(config: TlsServerConfig, header_read_timeout: Option<Duration>) -> Server {
        let tcp = TcpListener::bind("127.0.0.1", 0).await.unwrap();
        let port = tcp.local_addr().unwrap().port();
        let counts = Rc::new(Counts::default());
        let shared = counts.clone();
        let service = service_fn(move |req| version(req, shared.clone()));
        let lp = get_running_loop().unwrap();
        let stop = lp.create_future::<()>();
        let setter = stop.clone();
        let mut serve = serve_hyper(TlsListener::new(tcp, config), service);
        if let Some(t) = header_read_timeout {
            serve = serve.header_read_timeout(Some(t));
        }
        let task = spawn(serve.with_graceful_shutdown(stop).into_future());
        Server {
            port,
            counts,
            stop: Box::new(move || {
                let _ = setter.set_result(());
            }),
            task,
        }
    }

    /// Checks that the server still serves: an HTTP/2 request over TLS.
    async fn check_serving(&self, client: &TlsClientConfig) {
        let tls = connect(self.port, client, &[b"h2"]).await.unwrap();
        let got = get_http2(tls, &["/"]).await.unwrap();
        assert_eq!(got, answers(Version::HTTP_2, 1));
    }

    /// Shuts the server down gracefully; checks that it ended well.
    async fn shut_down(self) {
        (self.stop)();
        self.task.await.unwrap().unwrap();
    }
}

/// A TLS connection to `port` offering `alpn`.
async fn connect(
    port: u16,
    client: &TlsClientConfig,
    alpn: &[&[u8]],
) -> tulip::transport::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect("127.0.0.1", port).await?;
    let config = client.clone().alpn_protocols(alpn);
    TlsStream::connect(tcp, "localhost", &config).await
}

/// `GET path` over HTTP/1.1 on `io`: the response's version and body.
async fn get_http1<I>(io: I, paths: &[&str]) -> hyper::Result<Vec<(Version, String)>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
{
    let (mut sender, conn) = http1::handshake::<_, Empty<Bytes>>(io).await?;
    let conn = spawn(conn);
    let mut out = Vec::new();
    for path in paths {
        let req = Request::get(*path)
            .header("host", "localhost")
            .body(Empty::new())
            .unwrap();
        let res = sender.send_request(req).await?;
        out.push(read(res).await);
    }
    drop(sender);
    conn.await.unwrap()?;
    Ok(out)
}

/// `GET path` over HTTP/2 on `io`, the requests at once on one
/// connection: the responses' versions and bodies.
async fn get_http2<I>(io: I, paths: &[&str]) -> hyper::Result<Vec<(Version, String)>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
{
    let (sender, conn) = http2::Builder::new(TulipExecutor)
        .timer(TulipTimer)
        .handshake::<_, Empty<Bytes>>(io)
        .await?;
    let conn = spawn(conn);
    let mut requests = Vec::new();
    for path in paths {
        let req = Request::get(format!("https://localhost{path}"))
            .body(Empty::new())
            .unwrap();
        let mut sender = sender.clone();
        requests.push(spawn(async move { sender.send_request(req).await }));
    }
    let mut out = Vec::new();
    for request in requests {
        out.push(read(request.await.unwrap()?).await);
    }
    drop(sender);
    conn.await.unwrap()?;
    Ok(out)
}

async fn read(res: Response<Incoming>) -> (Version, String) {
    let version = res.version();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (version, String::from_utf8(body.to_vec()).unwrap())
}

fn answers(version: Version, n: usize) -> Vec<(Version, String)> {
    vec![(version, format!("{version:?}")); n]
}

#[test]
fn alpn_h2_is_served_as_http2() {
    run(async {
        let (config, client) = certificate();
        let server = Server::start(config, None).await;
        // Offering both, the server's preference wins: h2.
        let tls = connect(server.port, &client, &[b"http/1.1", b"h2"])
            .await
            .unwrap();
        assert_eq!(tls.alpn_protocol(), Some(&b"h2"[..]));
        assert_eq!(
            <TlsListener<TcpListener> as Listener>::protocol(&tls),
            HttpProtocol::Http2
        );
        let got = get_http2(tls, &["/", "/slow/50", "/"]).await.unwrap();
        assert_eq!(got, answers(Version::HTTP_2, 3));
        server.shut_down().await;
    });
}

#[test]
fn alpn_http1_1_is_served_as_http1_1() {
    run(async {
        let (config, client) = certificate();
        let server = Server::start(config, None).await;
        let tls = connect(server.port, &client, &[b"http/1.1"]).await.unwrap();
        assert_eq!(tls.alpn_protocol(), Some(&b"http/1.1"[..]));
        // Two requests on the connection (keep-alive).
        let got = get_http1(tls, &["/", "/"]).await.unwrap();
        assert_eq!(got, answers(Version::HTTP_11, 2));
        server.shut_down().await;
    });
}

#[test]
fn the_version_alpn_chose_is_the_only_one_served() {
    run(async {
        let (config, client) = certificate();
        let server = Server::start(config, None).await;
        // ALPN said http/1.1: HTTP/2's preface is no HTTP/1 request.
        let tls = connect(server.port, &client, &[b"http/1.1"]).await.unwrap();
        assert!(get_http2(tls, &["/"]).await.is_err());
        // ALPN said h2: an HTTP/1.1 request is no HTTP/2 preface.
        let tls = connect(server.port, &client, &[b"h2"]).await.unwrap();
        assert!(get_http1(tls, &["/"]).await.is_err());
        assert_eq!(server.counts.done.get(), 0);
        // The server goes on.
        server.check_serving(&client).await;
        server.shut_down().await;
    });
}

#[test]
fn without_alpn_the_first_bytes_choose() {
    run(async {
        let (config, client) = certificate();
        let server = Server::start(config, None).await;
        let tls = connect(server.port, &client, &[]).await.unwrap();
        assert_eq!(tls.alpn_protocol(), None);
        let got = get_http1(tls, &["/"]).await.unwrap();
        assert_eq!(got, answers(Version::HTTP_11, 1));
        // HTTP/2 by prior knowledge, over TLS.
        let tls = connect(server.port, &client, &[]).await.unwrap();
        let got = get_http2(tls, &["/", "/"]).await.unwrap();
        assert_eq!(got, answers(Version::HTTP_2, 2));
        server.shut_down().await;
    });
}

#[test]
fn an_alpn_list_of_the_callers_is_kept() {
    run(async {
        let (config, client) = certificate();
        let server = Server::start(config.alpn_protocols(&[b"http/1.1"]), None).await;
        let tls = connect(server.port, &client, &[b"h2", b"http/1.1"])
            .await
            .unwrap();
        assert_eq!(tls.alpn_protocol(), Some(&b"http/1.1"[..]));
        let got = get_http1(tls, &["/"]).await.unwrap();
        assert_eq!(got, answers(Version::HTTP_11, 1));
        // A client that wants h2 only has no protocol in common: refused.
        let err = connect(server.port, &client, &[b"h2"]).await.unwrap_err();
        assert!(err.as_tls().is_some(), "{err}");
        // The server goes on.
        let tls = connect(server.port, &client, &[b"http/1.1"]).await.unwrap();
        assert_eq!(get_http1(tls, &["/"]).await.unwrap().len(), 1);
        server.shut_down().await;
    });
}

#[test]
fn a_plain_text_client_loses_only_its_connection() {
    run(async {
        let (config, client) = certificate();
        let server = Server::start(config, None).await;
        let port = server.port;
        // HTTP in plain text, on the std library's blocking socket.
        let reply = to_thread(move || {
            let mut plain = std::net::TcpStream::connect(("127.0.0.1", port))?;
            plain.set_read_timeout(Some(Duration::from_secs(30)))?;
            plain.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
            let mut reply = Vec::new();
            match plain.read_to_end(&mut reply) {
                Ok(_) => Ok(reply),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(reply),
                Err(e) => Err(e),
            }
        })
        .await
        .unwrap()
        .unwrap();
        // Closed without an HTTP answer (at most a TLS alert).
        assert!(!reply.starts_with(b"HTTP"), "{reply:?}");
        assert_eq!(server.counts.done.get(), 0);
        server.check_serving(&client).await;
        server.shut_down().await;
    });
}

#[test]
fn an_untrusted_certificate_fails_only_that_handshake() {
    run(async {
        let (config, client) = certificate();
        let server = Server::start(config, None).await;
        // A client trusting nobody: an unknown issuer.
        let nobody = TlsClientConfig::with_roots(RootCertStore::empty()).unwrap();
        let err = connect(server.port, &nobody, &[b"h2"]).await.unwrap_err();
        let tls = err.as_tls().unwrap_or_else(|| panic!("{err}"));
        assert_eq!(
            tls.certificate_error(),
            Some(&CertificateError::UnknownIssuer)
        );
        // One trusting another certificate (of the same name, so rustls
        // finds the signature bad).
        let (_, other) = certificate();
        let err = connect(server.port, &other, &[b"h2"]).await.unwrap_err();
        assert!(
            err.as_tls().is_some_and(|e| e.is_certificate_error()),
            "{err}"
        );
        assert_eq!(server.counts.started.get(), 0);
        server.check_serving(&client).await;
        server.shut_down().await;
    });
}

#[test]
fn the_header_read_timeout_covers_an_unfinished_tls_handshake() {
    const TIMEOUT: Duration = Duration::from_millis(200);
    run(async {
        let (config, client) = certificate();
        let server = Server::start(config, Some(TIMEOUT)).await;
        let lp = get_running_loop().unwrap();
        // Silent; then the start of a TLS record (a ClientHello's header)
        // and nothing more.
        for sent in [&b""[..], &[0x16, 0x03, 0x01, 0x02, 0x00]] {
            let start = lp.time();
            let stream = TcpStream::connect("127.0.0.1", server.port).await.unwrap();
            stream.write_all(sent).await.unwrap();
            let mut rest = Vec::new();
            // Closed by the server long before TLS's own 60 s timeout
            // (the read fails first if it waits that long).
            let read = timeout(Duration::from_secs(30))
                .run((&stream).read_to_end(&mut rest))
                .await;
            assert!(read.is_ok(), "still open after 30 s");
            assert!(lp.time() - start >= TIMEOUT);
        }
        // A handshake and a request in time are served.
        let tls = connect(server.port, &client, &[b"http/1.1"]).await.unwrap();
        assert_eq!(get_http1(tls, &["/"]).await.unwrap().len(), 1);
        server.shut_down().await;
    });
}

#[test]
fn a_graceful_shutdown_lets_an_http2_request_over_tls_finish() {
    run(async {
        let (config, client) = certificate();
        let server = Server::start(config, None).await;
        let tls = connect(server.port, &client, &[b"h2"]).await.unwrap();
        let request = spawn(get_http2(tls, &["/slow/300"]));
        let counts = server.counts.clone();
        assert!(wait_until(|| counts.started.get() == 1).await);
        server.shut_down().await;
        assert_eq!(counts.done.get(), 1);
        let got = request.await.unwrap().unwrap();
        assert_eq!(got, answers(Version::HTTP_2, 1));
    });
}

#[test]
fn a_graceful_shutdown_ends_an_unfinished_tls_handshake() {
    run(async {
        let (config, _) = certificate();
        let server = Server::start(config, None).await;
        // Connected, silent: its handshake waits (up to the 30 s default
        // header-read timeout) when the shutdown starts.
        let silent = TcpStream::connect("127.0.0.1", server.port).await.unwrap();
        sleep(Duration::from_millis(50)).await;
        // The shutdown ends the handshake at once rather than waiting
        // for it (the 30 s shutdown timeout would end it too: 10 s tells
        // them apart).
        let ended = timeout(Duration::from_secs(10))
            .run(server.shut_down())
            .await;
        assert!(ended.is_ok(), "the shutdown waited for the handshake");
        let mut rest = Vec::new();
        assert_eq!((&silent).read_to_end(&mut rest).await.unwrap_or(0), 0);
    });
}

#[test]
fn https_over_a_unix_socket_by_alpn() {
    run(async {
        let (config, client) = certificate();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("https.sock");
        let listener = TlsListener::new(UnixListener::bind(&path).unwrap(), config);
        let counts = Rc::new(Counts::default());
        let shared = counts.clone();
        let service = service_fn(move |req| version(req, shared.clone()));
        let server = spawn(serve_hyper(listener, service).into_future());
        for (alpn, want) in [
            (&b"h2"[..], Version::HTTP_2),
            (b"http/1.1", Version::HTTP_11),
        ] {
            let unix = UnixStream::connect(&path).await.unwrap();
            let config = client.clone().alpn_protocols(&[alpn]);
            let tls = TlsStream::connect(unix, "localhost", &config)
                .await
                .unwrap();
            let got = if want == Version::HTTP_2 {
                get_http2(tls, &["/"]).await
            } else {
                get_http1(tls, &["/"]).await
            };
            assert_eq!(got.unwrap(), answers(want, 1));
        }
        assert_eq!(counts.done.get(), 2);
        server.cancel();
    });
}
