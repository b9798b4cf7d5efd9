//! The pooled `Client` over loopback: against a small hyper server run on
//! the test's loop (HTTP/1.1, HTTP/2 by prior knowledge, HTTP/2 and
//! HTTP/1.1 over TLS with a private CA made by rcgen, each counting the
//! connections it accepted), against Python's `http.server` (the module
//! as a command, HTTP/1.0, and a keep-alive HTTP/1.1 handler), and
//! against raw sockets that misbehave (silent, closing, refusing).

use std::cell::Cell;
use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::server::conn::auto;
use tulip::hyper::rt::TulipExecutor;
use tulip::hyper::{Client, ClientError, ClientOptions, ClientResponse, Origin, RequestBody};
use tulip::net::{TcpListener, TlsStream};
use tulip::prelude::*;
use tulip::transport::rustls::CertificateError;
use tulip::transport::{TlsClientConfig, TlsServerConfig};
use tulip_test::{run, wait_until};

// ---------------------------------------------------------------------
// The test server: hyper-util's auto builder on tulip::net, counting the
// connections it accepts.

/// What the server answers, by path.
async fn handler(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let response = match path.as_str() {
        "/redirect" => Response::builder()
            .status(StatusCode::FOUND)
            .header("location", "/target")
            .body(Full::new(Bytes::from_static(b"moved")))
            .unwrap(),
        "/big" => Response::new(Full::new(Bytes::from(vec![b'x'; 100_000]))),
        "/binary" => Response::new(Full::new(Bytes::from_static(b"\xff\xfe not text"))),
        "/slow" => {
            sleep(Duration::from_millis(100)).await;
            Response::new(Full::new(Bytes::from_static(b"slow")))
        }
        _ => {
            let method = req.method().clone();
            let version = req.version();
            let header = req
                .headers()
                .get("x-test")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let host = req
                .headers()
                .get("host")
                .map(|v| v.to_str().unwrap().to_owned())
                .or_else(|| req.uri().authority().map(|a| a.to_string()))
                .unwrap_or_default();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let text = format!(
                "{method} {path} {version:?} host={host} x-test={header} body={}",
                String::from_utf8_lossy(&body)
            );
            Response::builder()
                .header("x-served", "tulip")
                .body(Full::new(Bytes::from(text)))
                .unwrap()
        }
    };
    Ok(response)
}

/// A server of the test's loop: its port, how many connections it
/// accepted, and how many of them have ended.
struct Server {
    port: u16,
    accepted: Rc<Cell<usize>>,
    ended: Rc<Cell<usize>>,
    task: Task<()>,
}

impl Server {
    fn accepted(&self) -> usize {
        self.accepted.get()
    }

    fn ended(&self) -> usize {
        self.ended.get()
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        let host = if scheme == "https" {
            "localhost"
        } else {
            "127.0.0.1"
        };
        format!("{scheme}://{host}:{}{path}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.cancel();
    }
}

/// Starts the test server (with TLS when `tls` is given) on 127.0.0.1.
async fn start_server(tls: Option<TlsServerConfig>) -> Server {
    start_server_with(tls, None).await
}

/// [`start_server`] whose connections are cut (dropped, the socket
/// closed) after `life`.
async fn start_server_with(tls: Option<TlsServerConfig>, life: Option<Duration>) -> Server {
    let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Rc::new(Cell::new(0));
    let ended = Rc::new(Cell::new(0));
    let (counter, end_counter) = (accepted.clone(), ended.clone());
    let task = spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            counter.set(counter.get() + 1);
            let (tls, end_counter) = (tls.clone(), end_counter.clone());
            spawn(async move {
                let builder = auto::Builder::new(TulipExecutor::new());
                let service = service_fn(handler);
                let serve = async {
                    match tls {
                        Some(config) => match TlsStream::accept(stream, &config).await {
                            Ok(stream) => builder.serve_connection(stream, service).await,
                            Err(_) => Ok(()),
                        },
                        None => builder.serve_connection(stream, service).await,
                    }
                };
                let _ = match life {
                    Some(life) => wait_for(serve, life).await.unwrap_or(Ok(())),
                    None => serve.await,
                };
                end_counter.set(end_counter.get() + 1);
            })
            .detach();
        }
    });
    Server {
        port,
        accepted,
        ended,
        task,
    }
}

/// A private CA and a certificate it signed for `names`, as the server's
/// TLS configuration (offering `alpn`) and the PEM of the CA.
fn private_ca(names: &[&str], alpn: &[&[u8]]) -> (TlsServerConfig, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    // A name of its own: another CA of the same name would be a bad
    // signature to the client, not an unknown issuer.
    let ca_name = format!(
        "tulip test CA {}",
        ca_key.public_key_raw()[..8].escape_ascii()
    );
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = rcgen::CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let server = TlsServerConfig::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes())
        .unwrap()
        .alpn_protocols(alpn);
    (server, ca.pem())
}

/// A client trusting `ca_pem`.
fn client_trusting(ca_pem: &str) -> Client {
    let tls = TlsClientConfig::with_ca_pem(ca_pem.as_bytes()).unwrap();
    Client::with_options(ClientOptions::new().tls(tls))
}

/// GETs `url` and reads its body as text.
async fn get_text(client: &Client, url: &str) -> String {
    client.get(url).await.unwrap().text().await.unwrap()
}

/// `n` GETs of `url` at once, each in its own task: each response's
/// version and body.
async fn get_concurrently(client: &Client, url: &str, n: usize) -> Vec<(Version, String)> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let client = client.clone();
            let url = url.to_owned();
            spawn(async move {
                let response = client.get(url).await.unwrap();
                (response.version(), response.text().await.unwrap())
            })
        })
        .collect();
    let mut responses = Vec::new();
    for task in tasks {
        responses.push(task.await.unwrap());
    }
    responses
}

/// A server that accepts connections and never answers: its port, how
/// many connections it accepted, and the task holding them.
async fn silent_server() -> (u16, Rc<Cell<usize>>, Task<()>) {
    let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Rc::new(Cell::new(0));
    let counter = accepted.clone();
    let task = spawn(async move {
        let mut held = Vec::new();
        loop {
            held.push(listener.accept().await.unwrap());
            counter.set(held.len());
        }
    });
    (port, accepted, task)
}

// ---------------------------------------------------------------------
// Requests and responses.

#[test]
fn get_and_post_with_headers_and_a_body() {
    run(async {
        let server = start_server(None).await;
        let client = Client::new();

        let response = client.get(server.url("http", "/hello?x=1")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.version(), Version::HTTP_11);
        assert_eq!(response.headers()["x-served"], "tulip");
        assert_eq!(response.uri().path(), "/hello");
        let host = format!("127.0.0.1:{}", server.port);
        assert_eq!(
            response.text().await.unwrap(),
            format!("GET /hello HTTP/1.1 host={host} x-test= body=")
        );

        let response = client
            .post(server.url("http", "/form"), "name=tulip")
            .await
            .unwrap();
        assert_eq!(
            response.text().await.unwrap(),
            format!("POST /form HTTP/1.1 host={host} x-test= body=name=tulip")
        );

        // Any method, headers, a body.
        let request = Request::put(server.url("http", "/items/7"))
            .header("x-test", "yes")
            .header("content-type", "application/json")
            .body(r#"{"a":1}"#)
            .unwrap();
        let response = client.request(request).await.unwrap();
        let body = response.bytes().await.unwrap();
        assert_eq!(
            body,
            format!(r#"PUT /items/7 HTTP/1.1 host={host} x-test=yes body={{"a":1}}"#)
        );

        // A streamed body (chunked).
        let streamed = RequestBody::wrap(Full::new(Bytes::from_static(b"streamed")));
        let request = Request::post(server.url("http", "/stream"))
            .body(streamed)
            .unwrap();
        let text = client.request(request).await.unwrap().text().await.unwrap();
        assert!(text.ends_with("body=streamed"), "{text}");
    });
}

#[test]
fn redirects_are_returned_not_followed() {
    run(async {
        let server = start_server(None).await;
        let response = Client::new()
            .get(server.url("http", "/redirect"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(response.headers()["location"], "/target");
        assert_eq!(response.text().await.unwrap(), "moved");
    });
}

#[test]
fn a_body_over_the_limit_is_an_error_naming_the_limit() {
    run(async {
        let server = start_server(None).await;
        let client = Client::with_options(ClientOptions::new().max_body_size(1000));
        let err = client
            .get(server.url("http", "/big"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap_err();
        assert!(
            matches!(err, ClientError::BodyTooLarge { limit: 1000, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("/big"), "{err}");
        // A HEAD's Content-Length announces no body to read.
        let head = Request::head(server.url("http", "/big")).body(()).unwrap();
        let response = client.request(head).await.unwrap();
        assert_eq!(response.headers()["content-length"], "100000");
        assert!(response.bytes().await.unwrap().is_empty());
        // Under the limit it is read.
        let client = Client::with_options(ClientOptions::new().max_body_size(100_000));
        let body = client
            .get(server.url("http", "/big"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(body.len(), 100_000);
    });
}

#[test]
fn text_checks_that_the_body_is_utf8() {
    run(async {
        let server = start_server(None).await;
        let err = Client::new()
            .get(server.url("http", "/binary"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::InvalidUtf8 { .. }), "{err}");
        assert!(err.to_string().contains("/binary"), "{err}");
    });
}

#[test]
fn bad_uris_are_typed_errors_naming_them() {
    run(async {
        let client = Client::new();
        let err = client.get("ftp://127.0.0.1/file").await.unwrap_err();
        assert!(
            matches!(&err, ClientError::UnsupportedScheme { scheme, .. } if scheme == "ftp"),
            "{err}"
        );
        assert!(err.to_string().contains("ftp://127.0.0.1/file"), "{err}");

        let err = client.get("/relative/path").await.unwrap_err();
        assert!(matches!(err, ClientError::InvalidUri { .. }), "{err}");
        assert!(err.to_string().contains("/relative/path"), "{err}");

        let err = client.get("http://bad host/").await.unwrap_err();
        assert!(matches!(err, ClientError::InvalidUri { .. }), "{err}");
        assert!(err.to_string().contains("http://bad host/"), "{err}");
    });
}

// ---------------------------------------------------------------------
// The HTTP/1.1 pool.

#[test]
fn sequential_requests_reuse_one_keep_alive_connection() {
    run(async {
        let server = start_server(None).await;
        let client = Client::new();
        for i in 0..3 {
            let text = get_text(&client, &server.url("http", &format!("/{i}"))).await;
            assert!(text.starts_with(&format!("GET /{i} ")), "{text}");
            // Back in the pool once its body was read.
            assert_eq!(client.idle_connections(server.url("http", "/")).unwrap(), 1);
        }
        assert_eq!(server.accepted(), 1, "three GETs, one connection");

        // A clone shares the pool.
        get_text(&client.clone(), &server.url("http", "/")).await;
        assert_eq!(server.accepted(), 1);
    });
}

#[test]
fn concurrent_http1_requests_use_a_connection_each_then_pool_them() {
    run(async {
        let server = start_server(None).await;
        let client = Client::new();
        let slow = server.url("http", "/slow");
        for (version, text) in get_concurrently(&client, &slow, 3).await {
            assert_eq!((version, text.as_str()), (Version::HTTP_11, "slow"));
        }
        assert_eq!(server.accepted(), 3);
        // Each is back in the pool once its body was read.
        let origin = server.url("http", "/");
        assert_eq!(client.idle_connections(origin.as_str()).unwrap(), 3);
        // The pool keeps at most max_idle_per_origin.
        let limited = Client::with_options(ClientOptions::new().max_idle_per_origin(1));
        get_concurrently(&limited, &slow, 3).await;
        assert_eq!(limited.idle_connections(origin.as_str()).unwrap(), 1);
    });
}

#[test]
fn an_idle_connection_is_closed_after_the_idle_timeout() {
    run(async {
        let server = start_server(None).await;
        let options = ClientOptions::new().pool_idle_timeout(Duration::from_millis(100));
        let client = Client::with_options(options);
        let url = server.url("http", "/");
        get_text(&client, &url).await;
        assert_eq!(client.idle_connections(&url).unwrap(), 1);
        assert!(wait_until(|| client.idle_connections(&url).unwrap() == 0).await);
        // Closed, not just forgotten: the server saw it end.
        assert!(wait_until(|| server.ended() == 1).await);
        get_text(&client, &url).await;
        assert_eq!(
            server.accepted(),
            2,
            "the expired connection was not reused"
        );
    });
}

#[test]
fn dropping_the_client_closes_its_connections() {
    run(async {
        let server = start_server(None).await;
        let (tls, ca) = private_ca(&["localhost"], &[b"h2", b"http/1.1"]);
        let tls_server = start_server(Some(tls)).await;
        let client = client_trusting(&ca);
        get_concurrently(&client, &server.url("http", "/slow"), 3).await;
        get_concurrently(&client, &tls_server.url("https", "/slow"), 3).await;
        assert_eq!((server.accepted(), tls_server.accepted()), (3, 1));
        assert_eq!((server.ended(), tls_server.ended()), (0, 0));
        drop(client);
        assert!(wait_until(|| server.ended() == 3).await, "pooled HTTP/1.1");
        assert!(wait_until(|| tls_server.ended() == 1).await, "HTTP/2");
    });
}

#[test]
fn no_pooling_with_max_idle_zero() {
    run(async {
        let server = start_server(None).await;
        let client = Client::with_options(ClientOptions::new().max_idle_per_origin(0));
        for _ in 0..2 {
            get_text(&client, &server.url("http", "/")).await;
        }
        assert_eq!(server.accepted(), 2);
    });
}

#[test]
fn a_response_dropped_unread_does_not_return_its_connection() {
    run(async {
        let server = start_server(None).await;
        let client = Client::new();
        let url = server.url("http", "/big");
        drop(client.get(&url).await.unwrap());
        // The next request works, on a new connection.
        assert_eq!(get_text(&client, &url).await.len(), 100_000);
        assert_eq!(server.accepted(), 2);
    });
}

/// A raw HTTP/1.1 server that answers each connection's first request
/// (keep-alive, by its headers) and then closes the connection.
async fn answer_once_then_close(listener: TcpListener, accepted: Rc<Cell<usize>>) {
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        accepted.set(accepted.get() + 1);
        let mut head = Vec::new();
        let mut buf = [0; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await;
        sleep(Duration::from_millis(20)).await;
        drop(stream);
    }
}

#[test]
fn a_pooled_connection_the_server_closed_is_not_used() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Rc::new(Cell::new(0));
        let _server = spawn(answer_once_then_close(listener, accepted.clone()));
        let client = Client::new();
        let url = format!("http://127.0.0.1:{port}/");
        for _ in 0..3 {
            let response = client.get(&url).await.unwrap();
            assert_eq!(response.text().await.unwrap(), "ok");
            // Let the server close the connection while it is pooled.
            sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(accepted.get(), 3);
    });
}

// ---------------------------------------------------------------------
// HTTP/2.

#[test]
fn http2_over_tls_shares_one_connection_among_concurrent_requests() {
    run(async {
        let (tls, ca) = private_ca(&["localhost"], &[b"h2", b"http/1.1"]);
        let server = start_server(Some(tls)).await;
        let client = client_trusting(&ca);
        let slow = server.url("https", "/slow");
        for (version, text) in get_concurrently(&client, &slow, 8).await {
            assert_eq!((version, text.as_str()), (Version::HTTP_2, "slow"));
        }
        assert_eq!(
            server.accepted(),
            1,
            "eight requests, one HTTP/2 connection"
        );

        // Later requests, with a body and headers, on the same connection.
        let request = Request::post(server.url("https", "/h2"))
            .header("x-test", "h2")
            .body("over h2")
            .unwrap();
        let text = client.request(request).await.unwrap().text().await.unwrap();
        let authority = format!("localhost:{}", server.port);
        assert_eq!(
            text,
            format!("POST /h2 HTTP/2.0 host={authority} x-test=h2 body=over h2")
        );
        assert_eq!(server.accepted(), 1);
    });
}

#[test]
fn https_with_a_server_that_picks_http11_pools_keep_alive_connections() {
    run(async {
        let (tls, ca) = private_ca(&["localhost"], &[b"http/1.1"]);
        let server = start_server(Some(tls)).await;
        let client = client_trusting(&ca);
        for _ in 0..3 {
            let response = client.get(server.url("https", "/tls")).await.unwrap();
            assert_eq!(response.version(), Version::HTTP_11);
            assert!(
                response
                    .text()
                    .await
                    .unwrap()
                    .starts_with("GET /tls HTTP/1.1")
            );
        }
        assert_eq!(server.accepted(), 1);
    });
}

#[test]
fn a_closed_http2_connection_is_replaced() {
    run(async {
        let server = start_server_with(None, Some(Duration::from_millis(200))).await;
        let client = Client::with_options(ClientOptions::new().http2_prior_knowledge(true));
        let url = server.url("http", "/");
        assert!(get_text(&client, &url).await.starts_with("GET / HTTP/2.0"));
        // The server cuts the connection; the client's side sees it close.
        assert!(wait_until(|| server.ended() == 1).await);
        sleep(Duration::from_millis(50)).await;
        assert!(get_text(&client, &url).await.starts_with("GET / HTTP/2.0"));
        assert_eq!(server.accepted(), 2);
    });
}

#[test]
fn http2_by_prior_knowledge_over_plain_tcp() {
    run(async {
        let server = start_server(None).await;
        let client = Client::with_options(ClientOptions::new().http2_prior_knowledge(true));
        let slow = server.url("http", "/slow");
        for (version, text) in get_concurrently(&client, &slow, 4).await {
            assert_eq!((version, text.as_str()), (Version::HTTP_2, "slow"));
        }
        assert_eq!(server.accepted(), 1);
    });
}

// ---------------------------------------------------------------------
// Failures.

#[test]
fn a_refused_connection_is_an_error_naming_the_address() {
    run(async {
        let port = TcpListener::bind("127.0.0.1", 0)
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = Client::new()
            .get(format!("http://127.0.0.1:{port}/x"))
            .await
            .unwrap_err();
        let ClientError::Connect { origin, source } = &err else {
            panic!("not a connect error: {err}");
        };
        assert_eq!(origin.port(), port);
        assert_eq!(
            source.io_kind(),
            Some(std::io::ErrorKind::ConnectionRefused)
        );
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
    });
}

#[test]
fn a_silent_server_is_a_request_timeout() {
    run(async {
        let (port, _, _silent) = silent_server().await;
        let options = ClientOptions::new().request_timeout(Duration::from_millis(200));
        let client = Client::with_options(options);
        let url = format!("http://127.0.0.1:{port}/never");
        let err = client.get(&url).await.unwrap_err();
        assert!(
            matches!(&err, ClientError::RequestTimeout { uri, after }
                if uri.path() == "/never" && *after == Duration::from_millis(200)),
            "{err}"
        );
        assert!(err.is_timeout());
        assert!(err.to_string().contains(&url), "{err}");
    });
}

#[test]
fn a_silent_tls_server_is_a_connect_timeout_naming_the_origin() {
    run(async {
        // The TCP connection is accepted; the TLS handshake never answers.
        let (port, _, _silent) = silent_server().await;
        let options = ClientOptions::new().connect_timeout(Duration::from_millis(200));
        let client = Client::with_options(options);
        let err = client
            .get(format!("https://localhost:{port}/"))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::ConnectTimeout { .. }), "{err}");
        assert_eq!(err.origin().unwrap().host(), "localhost");
        assert!(
            err.to_string()
                .contains(&format!("https://localhost:{port}")),
            "{err}"
        );
    });
}

#[test]
fn requests_waiting_on_a_first_connection_share_its_failure() {
    run(async {
        // https: whether it is HTTP/2 is known after the handshake, so the
        // concurrent requests wait for the first connection, and get its
        // timeout rather than each trying again in turn.
        let (port, accepted, _silent) = silent_server().await;
        let options = ClientOptions::new().connect_timeout(Duration::from_millis(200));
        let client = Client::with_options(options);
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let client = client.clone();
                spawn(async move { client.get(format!("https://localhost:{port}/")).await })
            })
            .collect();
        for task in tasks {
            let err = task.await.unwrap().unwrap_err();
            assert!(matches!(err, ClientError::ConnectTimeout { .. }), "{err}");
        }
        assert_eq!(accepted.get(), 1, "one attempt for the four requests");
    });
}

#[test]
fn an_untrusted_certificate_is_a_tls_error_naming_the_host() {
    run(async {
        let (tls, _ca) = private_ca(&["localhost"], &[b"h2", b"http/1.1"]);
        let server = start_server(Some(tls)).await;
        let (_, other_ca) = private_ca(&["localhost"], &[]);
        let err = client_trusting(&other_ca)
            .get(server.url("https", "/"))
            .await
            .unwrap_err();
        let ClientError::Tls { origin, source } = &err else {
            panic!("not a TLS error: {err}");
        };
        assert_eq!(origin.host(), "localhost");
        assert_eq!(
            source.as_tls().unwrap().certificate_error(),
            Some(&CertificateError::UnknownIssuer)
        );
        let message = err.to_string();
        assert!(message.contains("localhost"), "{err}");
        // Said once, though the transport's error names the server too.
        assert_eq!(message.matches("TLS handshake").count(), 1, "{err}");

        // The system's trust store does not know the private CA either.
        let err = Client::new()
            .get(server.url("https", "/"))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Tls { .. }), "{err}");
    });
}

#[test]
fn a_certificate_for_another_name_is_a_tls_error_naming_the_host() {
    run(async {
        let (tls, ca) = private_ca(&["other.test"], &[b"h2", b"http/1.1"]);
        let server = start_server(Some(tls)).await;
        let err = client_trusting(&ca)
            .get(server.url("https", "/"))
            .await
            .unwrap_err();
        let ClientError::Tls { source, .. } = &err else {
            panic!("not a TLS error: {err}");
        };
        assert!(
            matches!(
                source.as_tls().unwrap().certificate_error(),
                Some(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )
            ),
            "{err}"
        );
        assert!(err.to_string().contains("localhost"), "{err}");
    });
}

#[test]
fn origins_name_scheme_host_and_port() {
    let origin = Origin::from_uri(&"https://LOCALHOST:8443/a".parse().unwrap()).unwrap();
    assert_eq!(
        (origin.scheme(), origin.host(), origin.port()),
        ("https", "localhost", 8443)
    );
    let v6 = Origin::from_uri(&"http://[::1]/".parse().unwrap()).unwrap();
    assert_eq!(v6.to_string(), "http://[::1]:80");
}

#[test]
fn the_client_is_a_loop_object_and_its_errors_travel() {
    tulip_test::neither_send_nor_sync!(Client, ClientResponse, RequestBody);
    // An error can go to another thread, or into a `Box<dyn Error + Send + Sync>`.
    tulip_test::send_sync!(ClientError, ClientOptions, Origin);
}

// ---------------------------------------------------------------------
// Python's http.server: an independent implementation.

/// A Python server as a child process, killed when dropped.
struct Python {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `python3 -u` with `args` in a temporary directory holding
/// `hello.txt`, and reads the port from the first line it prints that
/// says "port N".
fn python(args: &[&str]) -> Python {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello from python\n").unwrap();
    let mut child = Command::new("python3")
        .arg("-u")
        .args(args)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().expect("python printed its port").unwrap();
    let port = line
        .split_whitespace()
        .skip_while(|w| *w != "port")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    Python {
        child,
        port,
        _dir: dir,
    }
}

#[test]
fn python_http_server_module() {
    // HTTP/1.0, one connection per request.
    let server = python(&["-m", "http.server", "--bind", "127.0.0.1", "0"]);
    let port = server.port;
    run(async move {
        let client = Client::new();
        for _ in 0..2 {
            let response = client
                .get(format!("http://127.0.0.1:{port}/hello.txt"))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.version(), Version::HTTP_10);
            assert_eq!(response.headers()["content-type"], "text/plain");
            assert_eq!(response.text().await.unwrap(), "hello from python\n");
        }
        // Nothing is pooled from a server that closes each connection.
        sleep(Duration::from_millis(50)).await;
        let url = format!("http://127.0.0.1:{port}/");
        assert_eq!(client.idle_connections(&url).unwrap(), 0);
        let response = client
            .get(format!("http://127.0.0.1:{port}/missing"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    });
    drop(server);
}

/// A keep-alive HTTP/1.1 server on Python's `http.server`: it echoes the
/// method, path, an `X-Test` header and the body, and counts connections.
const PYTHON_KEEP_ALIVE: &str = r#"
import http.server, sys

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections = 0

    def setup(self):
        Handler.connections += 1
        super().setup()

    def reply(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        text = "%s %s x-test=%s body=%s connections=%d" % (
            self.command, self.path, self.headers.get("X-Test"), body, Handler.connections)
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = reply
    do_POST = reply

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("listening on port", server.server_address[1])
server.serve_forever()
"#;

#[test]
fn python_keep_alive_server_get_post_and_reuse() {
    let server = python(&["-c", PYTHON_KEEP_ALIVE]);
    let port = server.port;
    run(async move {
        let client = Client::new();
        for i in 0..3 {
            let text = client
                .get(format!("http://127.0.0.1:{port}/get/{i}"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_eq!(
                text,
                format!("GET /get/{i} x-test=None body= connections=1")
            );
        }
        let request = Request::post(format!("http://127.0.0.1:{port}/post"))
            .header("x-test", "from tulip")
            .body("a body")
            .unwrap();
        let text = client.request(request).await.unwrap().text().await.unwrap();
        assert_eq!(
            text,
            "POST /post x-test=from tulip body=a body connections=1"
        );
    });
    drop(server);
}
