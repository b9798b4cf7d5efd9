//! One connection's task: its handshake, then hyper-util's connection
//! (HTTP/1.1 or HTTP/2: the one the handshake chose by ALPN, else told by
//! the first bytes), told to shut down gracefully when the server does.
//!
//! The header-read timeout runs from the accept: it covers the handshake
//! and the first bytes, until the connection has read 24 bytes (the length
//! of HTTP/2's preface, all hyper-util needs to tell the protocols apart)
//! or written a response. hyper's own HTTP/1 header-read timeout starts once
//! the protocol is known and covers each request head after that,
//! keep-alive waits included; without this first one, a connection that
//! never sends a byte would sit in hyper-util's protocol detection forever.

use std::error::Error as StdError;
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::{Body, Incoming};
use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::server::conn::auto::Builder;
use tulip_executor::{Sleep, sleep_until};

use crate::server::ServerExecutor;
use crate::server::listener::HttpProtocol;
use crate::server::tracker::TaskGuard;

/// Bytes after which the protocol is known (HTTP/2's connection preface).
const PROTOCOL_KNOWN_AFTER: usize = 24;

/// The server's connection builders, one per [`HttpProtocol`].
pub(crate) struct Builders {
    /// Tells HTTP/1.1 and HTTP/2 apart by the first bytes.
    pub(crate) auto: Builder<ServerExecutor>,
    /// HTTP/1 only (ALPN chose `http/1.1`).
    pub(crate) http1: Builder<ServerExecutor>,
    /// HTTP/2 only (ALPN chose `h2`).
    pub(crate) http2: Builder<ServerExecutor>,
}

impl Builders {
    /// The builders of `auto`'s settings.
    pub(crate) fn new(auto: Builder<ServerExecutor>) -> Builders {
        Builders {
            http1: auto.clone().http1_only(),
            http2: auto.clone().http2_only(),
            auto,
        }
    }

    fn get(&self, protocol: HttpProtocol) -> &Builder<ServerExecutor> {
        match protocol {
            HttpProtocol::Auto => &self.auto,
            HttpProtocol::Http1 => &self.http1,
            HttpProtocol::Http2 => &self.http2,
        }
    }
}

/// What one connection needs from its server.
pub(crate) struct ConnParams<H> {
    pub(crate) builders: Rc<Builders>,
    pub(crate) service: H,
    pub(crate) header_read_timeout: Option<Duration>,
}

/// Serves one connection to its end: handshake, then HTTP until the peer
/// closes, an error, or the end of a graceful shutdown.
pub(crate) async fn serve_connection<Hs, I, H, B, A>(
    handshake: Hs,
    protocol: fn(&I) -> HttpProtocol,
    peer: A,
    accepted_at: Instant,
    params: ConnParams<H>,
    guard: TaskGuard,
) where
    Hs: Future<Output = io::Result<I>>,
    I: Read + Write + Unpin + 'static,
    H: Service<Request<Incoming>, Response = Response<B>> + 'static,
    H::Future: 'static,
    H::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    A: fmt::Debug,
{
    let timeout = params.header_read_timeout;
    let mut deadline = timeout
        .and_then(|d| accepted_at.checked_add(d))
        .map(|at| (sleep_until(at), timeout.unwrap_or_default()));

    // The handshake, until the deadline or a shutdown.
    let mut handshake = pin!(handshake);
    let io = poll_fn(|cx| {
        if guard.poll_shutdown(cx) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server shut down during the handshake",
            )));
        }
        if let Poll::Ready(r) = handshake.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        if let Some((sleep, d)) = &mut deadline {
            if Pin::new(sleep).poll(cx).is_ready() {
                return Poll::Ready(Err(header_timeout(*d)));
            }
        }
        Poll::Pending
    })
    .await;
    let io = match io {
        Ok(io) => io,
        Err(e) => {
            log::debug!("connection from {peer:?}: handshake failed: {e}");
            return;
        }
    };

    let builder = params.builders.get(protocol(&io));
    let io = FirstBytes {
        io,
        deadline,
        read: 0,
    };
    let mut conn = pin!(builder.serve_connection(io, params.service));
    let mut graceful = false;
    let outcome = poll_fn(|cx| {
        if !graceful && guard.poll_shutdown(cx) {
            graceful = true;
            conn.as_mut().graceful_shutdown();
        }
        conn.as_mut().poll(cx)
    })
    .await;
    if let Err(e) = outcome {
        log::debug!("connection from {peer:?}: {e}");
    }
}

/// The error of a connection that sent no request head in time.
fn header_timeout(d: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no request head within the header read timeout ({d:?})"),
    )
}

/// A connection under the header-read deadline until its protocol is known
/// or it wrote something; a plain pass-through after that.
struct FirstBytes<I> {
    io: I,
    /// The deadline's sleep and the timeout it stands for; `None` once the
    /// protocol is known (dropping the sleep cancels its timer).
    deadline: Option<(Sleep, Duration)>,
    read: usize,
}

impl<I: Read + Unpin> Read for FirstBytes<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some((sleep, timeout)) = &mut this.deadline else {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        };
        // Through a small buffer of our own, to count the bytes (only the
        // first reads of a connection take this path).
        let mut scratch = [0u8; 256];
        let n = buf.remaining().min(scratch.len());
        let mut small = ReadBuf::new(&mut scratch[..n]);
        match Pin::new(&mut this.io).poll_read(cx, small.unfilled()) {
            Poll::Ready(Ok(())) => {
                let got = small.filled();
                buf.put_slice(got);
                this.read += got.len();
                if this.read >= PROTOCOL_KNOWN_AFTER {
                    this.deadline = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if Pin::new(sleep).poll(cx).is_ready() {
                    Poll::Ready(Err(header_timeout(*timeout)))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl<I: Write + Unpin> Write for FirstBytes<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.deadline = None;
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.deadline = None;
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
