//! What the serve tests share: a tower service with `!Send` state, a
//! server started on a free loopback port, and a raw HTTP/1.1 client.

#![allow(dead_code)] // each test binary uses a part

use std::cell::Cell;
use std::convert::Infallible;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use tulip::hyper::{Serve, serve};

use tulip::net::TcpListener;
use tulip::prelude::*;

/// What the service saw, shared with the test (`Rc`: the service is
/// `!Send`, which `serve` allows).
#[derive(Default)]
pub struct Stats {
    /// Requests whose handler started.
    pub started: Cell<usize>,
    /// Handlers running now.
    pub in_flight: Cell<usize>,
    /// Handlers dropped before they finished (a connection closed under
    /// them).
    pub dropped: Cell<usize>,
}

/// A tower service: `GET /` answers `Hello, World!`, `GET /slow/MS`
/// answers after sleeping MS milliseconds, anything else is 404.
#[derive(Clone, Default)]
pub struct App {
    pub stats: Rc<Stats>,
}

/// Counts a handler in flight; counts it dropped unless it finished.
struct InFlight {
    stats: Rc<Stats>,
    finished: bool,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.stats.in_flight.set(self.stats.in_flight.get() - 1);
        if !self.finished {
            self.stats.dropped.set(self.stats.dropped.get() + 1);
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl tower_service::Service<Request<Incoming>> for App {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Full<Bytes>>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let stats = self.stats.clone();
        Box::pin(async move {
            stats.started.set(stats.started.get() + 1);
            stats.in_flight.set(stats.in_flight.get() + 1);
            let mut guard = InFlight {
                stats: stats.clone(),
                finished: false,
            };
            let path = req.uri().path().to_owned();
            let response = if path == "/" {
                text(StatusCode::OK, "Hello, World!".to_owned())
            } else if let Some(ms) = path.strip_prefix("/slow/").and_then(|m| m.parse().ok()) {
                sleep(Duration::from_millis(ms)).await;
                text(StatusCode::OK, format!("slept {ms} ms"))
            } else {
                text(StatusCode::NOT_FOUND, format!("no route for {path}"))
            };
            guard.finished = true;
            Ok(response)
        })
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r
}

/// A server of `App` on a free port of 127.0.0.1, not started yet.
pub async fn app_server() -> (AppServe, u16, Rc<Stats>) {
    let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = App::default();
    let stats = app.stats.clone();
    (serve(listener, app), port, stats)
}

/// The `Serve` of [`app_server`].
pub type AppServe = Serve<TcpListener, hyper_util::service::TowerToHyperService<App>>;

/// Runs `body` (given the port and the service's stats) on a fresh loop
/// against a running `App` server configured by `configure`, then shuts the
/// server down gracefully and checks that it ended well.
pub fn with_app<F>(
    configure: impl FnOnce(AppServe) -> AppServe + 'static,
    body: impl FnOnce(u16, Rc<Stats>) -> F + 'static,
) where
    F: Future<Output = ()> + 'static,
{
    tulip_test::run(async move {
        let (server, port, stats) = app_server().await;
        let (stop, set_stop) = stop_signal();
        let server = spawn(configure(server).with_graceful_shutdown(stop).into_future());
        body(port, stats).await;
        set_stop();
        server.await.unwrap().unwrap();
    });
}

/// A loop future to use as a shutdown signal, and its setter.
pub fn stop_signal() -> (LoopFuture<()>, impl Fn()) {
    let stop = get_running_loop().unwrap().create_future::<()>();
    let setter = stop.clone();
    (stop, move || {
        let _ = setter.set_result(());
    })
}

/// One parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

/// How long a client read waits before the test fails (instead of hanging).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A raw HTTP/1.1 client on one connection, on the standard library's
/// blocking sockets run off the loop (`to_thread`), so that the server
/// under test is checked against a client that shares nothing with it. It
/// writes what it is given and parses the responses that come back
/// (`Content-Length` bodies, as the test services send).
pub struct RawClient<S = std::net::TcpStream> {
    stream: Option<S>,
    buf: Vec<u8>,
}

impl RawClient {
    /// Connects to `port` on 127.0.0.1.
    pub async fn connect(port: u16) -> RawClient {
        let stream = to_thread(move || std::net::TcpStream::connect(("127.0.0.1", port)))
            .await
            .unwrap()
            .unwrap();
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        RawClient::new(stream)
    }
}

impl RawClient<UnixStream> {
    /// Connects to the Unix socket at `path`.
    pub async fn connect_unix(path: PathBuf) -> RawClient<UnixStream> {
        let stream = to_thread(move || UnixStream::connect(path))
            .await
            .unwrap()
            .unwrap();
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        RawClient::new(stream)
    }
}

impl<S: Read + Write + Send + 'static> RawClient<S> {
    fn new(stream: S) -> RawClient<S> {
        RawClient {
            stream: Some(stream),
            buf: Vec::new(),
        }
    }

    /// Runs `f` on the blocking stream on a worker thread.
    async fn blocking<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut S) -> T + Send + 'static,
    ) -> T {
        let mut stream = self.stream.take().expect("one operation at a time");
        let (stream, out) = to_thread(move || {
            let out = f(&mut stream);
            (stream, out)
        })
        .await
        .unwrap();
        self.stream = Some(stream);
        out
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        let bytes = bytes.to_vec();
        self.blocking(move |s| s.write_all(&bytes)).await.unwrap();
    }

    /// Reads more bytes; false at the end of the stream or on a reset.
    async fn fill(&mut self) -> bool {
        let chunk = self
            .blocking(|s| {
                let mut chunk = vec![0u8; 4096];
                match s.read(&mut chunk) {
                    Ok(n) => {
                        chunk.truncate(n);
                        Ok(chunk)
                    }
                    Err(e) => Err(e),
                }
            })
            .await;
        match chunk {
            Ok(c) if !c.is_empty() => {
                self.buf.extend_from_slice(&c);
                true
            }
            Ok(_) => false,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("no answer and no close from the server within {READ_TIMEOUT:?}")
            }
            Err(_) => false,
        }
    }

    /// The next response; `None` if the connection ends first.
    pub async fn response(&mut self) -> Option<Reply> {
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head = String::from_utf8(self.buf[..head_end].to_vec()).unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().unwrap())
            })
            .unwrap_or(0);
        while self.buf.len() < head_end + length {
            if !self.fill().await {
                return None;
            }
        }
        let body = self.buf[head_end..head_end + length].to_vec();
        self.buf.drain(..head_end + length);
        Some(Reply { status, head, body })
    }

    /// Whether the server closed the connection (end of stream or reset,
    /// with no more response bytes).
    pub async fn closed(&mut self) -> bool {
        !self.fill().await && self.buf.is_empty()
    }
}

/// `GET path` with a Host header, keeping the connection open.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
}
