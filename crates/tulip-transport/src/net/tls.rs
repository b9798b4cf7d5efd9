//! TLS over a poll-based stream: [`TlsStream`], rustls' client or server
//! session driven straight over any `futures_io::AsyncRead + AsyncWrite`
//! stream ([`TcpStream`](crate::net::TcpStream),
//! [`UnixStream`](crate::net::UnixStream), a half, a test double), with
//! the configurations the transports use ([`TlsClientConfig`],
//! [`TlsServerConfig`]) and their errors ([`TlsError`]).
//!
//! - **Handshake.** [`TlsStream::connect`] and [`TlsStream::accept`]
//!   return once it is done, within asyncio's `ssl_handshake_timeout`
//!   (60 s, or [`TlsStreamOptions::ssl_handshake_timeout`]).
//! - **Reading.** Plaintext comes from what rustls decrypted; records are
//!   read from the stream only when rustls holds none. The peer's
//!   close_notify is EOF (a read of 0); a stream that ends without it is
//!   an `UnexpectedEof` error carrying [`TlsError::Truncated`], never a
//!   clean EOF.
//! - **Writing.** A write reports the bytes rustls took (encrypted into
//!   its buffer of records, 64 KiB at most), then pushes the records to
//!   the stream as far as it takes them; a full buffer waits for the
//!   stream. `poll_flush` drives every pending record out; `poll_close`
//!   sends close_notify, flushes, and closes the stream's writing side (a
//!   peer that is gone already is not an error, as for the sockets).
//! - **Errors.** A handshake fails with [`Error::Tls`] (a certificate
//!   rejected, an alert, the timeout); once connected, the I/O traits
//!   return `io::Error`s whose inner error is the [`Error`] (so
//!   [`TlsError`] is reachable with `get_ref`/`downcast_ref`).
//!
//! Unlike the TLS transports (asyncio's `sslproto`), a `TlsStream` keeps
//! no task or timer of its own: it makes progress only while it is
//! polled, as Rust's streams do.

use std::fmt;
use std::future::{Future, poll_fn};
use std::io::{self, BufRead, IoSlice, Read, Write};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};

use crate::error::{Error, Result};
use crate::tls::error::{HandshakeFailure, TlsError};
use crate::tls::info::TlsInfo;
use crate::tls::options::{
    SSL_HANDSHAKE_TIMEOUT, TlsClientConfig, TlsServerConfig, check_timeout, server_name, tls_error,
};

/// Options of [`TlsStream::connect_with`] and [`TlsStream::accept_with`]
/// (asyncio's keyword arguments of the TLS calls).
///
/// ```
/// use std::time::Duration;
/// use tulip::net::TlsStreamOptions;
///
/// let options = TlsStreamOptions::new().ssl_handshake_timeout(Duration::from_secs(5));
/// assert_eq!(options.ssl_handshake_timeout, Some(Duration::from_secs(5)));
/// // The default: asyncio's 60 seconds.
/// assert_eq!(TlsStreamOptions::default().ssl_handshake_timeout, None);
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct TlsStreamOptions {
    /// How long the handshake may take (default 60 s,
    /// [`SSL_HANDSHAKE_TIMEOUT`](crate::SSL_HANDSHAKE_TIMEOUT)); past it
    /// the call fails with [`TlsError::HandshakeTimeout`] and the stream
    /// is closed. Zero is [`Error::InvalidInput`].
    pub ssl_handshake_timeout: Option<Duration>,
}

impl TlsStreamOptions {
    /// The default options.
    ///
    /// ```
    /// use tulip::net::TlsStreamOptions;
    ///
    /// assert!(TlsStreamOptions::new().ssl_handshake_timeout.is_none());
    /// ```
    pub fn new() -> TlsStreamOptions {
        TlsStreamOptions::default()
    }

    /// Sets [`ssl_handshake_timeout`](TlsStreamOptions::ssl_handshake_timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::net::TlsStreamOptions;
    ///
    /// let options = TlsStreamOptions::new().ssl_handshake_timeout(Duration::from_millis(500));
    /// assert_eq!(options.ssl_handshake_timeout, Some(Duration::from_millis(500)));
    /// ```
    pub fn ssl_handshake_timeout(mut self, timeout: Duration) -> TlsStreamOptions {
        self.ssl_handshake_timeout = Some(timeout);
        self
    }
}

/// A TLS session over a stream `S`: the client's side
/// ([`connect`](TlsStream::connect)) or the server's
/// ([`accept`](TlsStream::accept)), on rustls.
///
/// It implements `futures_io::{AsyncRead, AsyncBufRead, AsyncWrite}` (so
/// [`tulip::io`](https://docs.rs/futures-util/latest/futures_util/io/)'s
/// extension traits give it `read`, `read_line`, `write_all`, `close`,
/// ...), tokio's
/// `AsyncRead`/`AsyncWrite` with the `tokio-io` feature and hyper's
/// `rt::Read`/`rt::Write` with the `hyper` feature. It is `Send` exactly
/// when `S` is (a `tulip::net` stream is not: it belongs to its loop).
///
/// Dropped without `close` (`tulip::io::AsyncWriteExt::close`), it sends
/// no close_notify: the peer sees a truncated stream.
///
/// ```
/// use tulip::io::{AsyncReadExt, AsyncWriteExt};
/// use tulip::net::{TcpListener, TcpStream, TlsStream};
/// use tulip::transport::{TlsClientConfig, TlsServerConfig};
///
/// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
/// let server_tls = TlsServerConfig::from_pem(
///     cert.cert.pem().as_bytes(),
///     cert.key_pair.serialize_pem().as_bytes(),
/// )?;
/// let client_tls = TlsClientConfig::with_ca_pem(cert.cert.pem().as_bytes())?;
///
/// tulip::run(async move {
///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
///     let port = listener.local_addr()?.port();
///     let server = tulip::spawn(async move {
///         let (tcp, _) = listener.accept().await?;
///         let mut tls = TlsStream::accept(tcp, &server_tls).await?;
///         let mut line = [0; 5];
///         tls.read_exact(&mut line).await?;
///         tls.write_all(&line.to_ascii_uppercase()).await?;
///         tls.close().await?; // close_notify
///         Ok::<(), Box<dyn std::error::Error>>(())
///     });
///     let tcp = TcpStream::connect("127.0.0.1", port).await?;
///     let mut tls = TlsStream::connect(tcp, "localhost", &client_tls).await?;
///     tls.write_all(b"hello").await?;
///     let mut answer = Vec::new();
///     tls.read_to_end(&mut answer).await?; // ends at the close_notify
///     assert_eq!(answer, b"HELLO");
///     server.await?.map_err(|e| e.to_string())?;
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TlsStream<S> {
    io: S,
    conn: rustls::Connection,
    /// The client's server name (verified, and sent as SNI).
    hostname: Option<String>,
    /// Our close_notify is queued (it is sent once, by the first
    /// `poll_close`).
    close_notify_sent: bool,
}

impl<S> fmt::Debug for TlsStream<S>
where
    S: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("io", &self.io)
            .field("server_side", &self.is_server())
            .field("server_name", &self.server_name())
            .field("close_notify_sent", &self.close_notify_sent)
            .finish_non_exhaustive()
    }
}

impl<S> TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// The client's side: a TLS handshake over `stream` that verifies the
    /// server's certificate for `server_hostname` (a DNS name or an IP
    /// address, sent as SNI when it is a name) against `config`'s trust
    /// roots, within the default 60 s; see
    /// [`connect_with`](TlsStream::connect_with).
    ///
    /// Errors: [`Error::InvalidInput`] for an empty or malformed
    /// `server_hostname` (an empty name never turns verification off);
    /// [`Error::Tls`] when the server's certificate is rejected
    /// ([`TlsError::certificate_error`]: an unknown issuer, not valid for
    /// the name, which the error then names), when the server refuses us
    /// with an alert, or at the timeout; [`Error::Io`] when the stream
    /// fails or ends during the handshake; [`Error::Loop`] outside a
    /// running loop (the timeout is the loop's timer). The stream is
    /// dropped (closed) then.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, the stream is dropped (closed) with
    /// it.
    ///
    /// ```
    /// use tulip::net::{TcpListener, TcpStream, TlsStream};
    /// use tulip::transport::rustls::{CertificateError, RootCertStore};
    /// use tulip::transport::{TlsClientConfig, TlsServerConfig};
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let server_tls = TlsServerConfig::from_pem(
    ///     cert.cert.pem().as_bytes(),
    ///     cert.key_pair.serialize_pem().as_bytes(),
    /// )?;
    /// // Trusts nobody: the server's certificate is refused.
    /// let client_tls = TlsClientConfig::with_roots(RootCertStore::empty())?;
    ///
    /// tulip::run(async move {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let tcp = TcpStream::connect("127.0.0.1", listener.local_addr()?.port()).await?;
    ///     let (served, _) = listener.accept().await?;
    ///     let server = tulip::spawn(async move { TlsStream::accept(served, &server_tls).await });
    ///     let err = TlsStream::connect(tcp, "localhost", &client_tls).await.unwrap_err();
    ///     let tls = err.as_tls().expect("a TLS error");
    ///     assert_eq!(tls.certificate_error(), Some(&CertificateError::UnknownIssuer));
    ///     // The server hears of it as an alert.
    ///     assert!(server.await?.unwrap_err().as_tls().unwrap().is_certificate_error());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn connect(
        stream: S,
        server_hostname: &str,
        config: &TlsClientConfig,
    ) -> Result<TlsStream<S>> {
        TlsStream::connect_with(stream, server_hostname, config, TlsStreamOptions::new()).await
    }

    /// [`connect`](TlsStream::connect) with options: the handshake
    /// timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::net::{TcpListener, TcpStream, TlsStream, TlsStreamOptions};
    /// use tulip::transport::TlsClientConfig;
    ///
    /// tulip::run(async {
    ///     // A peer that accepts the connection but never answers.
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let tcp = TcpStream::connect("127.0.0.1", listener.local_addr()?.port()).await?;
    ///     let (_silent, _) = listener.accept().await?;
    ///     let options = TlsStreamOptions::new().ssl_handshake_timeout(Duration::from_millis(100));
    ///     let tls = TlsClientConfig::new()?;
    ///     let err = TlsStream::connect_with(tcp, "localhost", &tls, options).await.unwrap_err();
    ///     assert!(err.is_timeout(), "{err}");
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn connect_with(
        stream: S,
        server_hostname: &str,
        config: &TlsClientConfig,
        options: TlsStreamOptions,
    ) -> Result<TlsStream<S>> {
        let name = server_name(server_hostname)?;
        let conn = rustls::ClientConnection::new(config.rustls_config().clone(), name)
            .map_err(tls_error)?;
        let hostname = Some(server_hostname.to_owned());
        TlsStream::handshake(stream, conn.into(), hostname, options).await
    }

    /// The server's side: a TLS handshake over `stream` (an accepted
    /// connection) presenting `config`'s certificate, within the default
    /// 60 s; see [`accept_with`](TlsStream::accept_with). The client's
    /// SNI name is [`server_name`](TlsStream::server_name) then, and the
    /// ALPN protocol chosen from `config`'s list
    /// [`alpn_protocol`](TlsStream::alpn_protocol).
    ///
    /// Errors: [`Error::Tls`] when the client refuses our certificate
    /// (an alert), offers nothing we support (no common version, cipher
    /// suite or ALPN protocol), sends something that is not TLS, or at
    /// the timeout; [`Error::Io`] when the stream fails or ends during
    /// the handshake; [`Error::Loop`] outside a running loop. The stream
    /// is dropped (closed) then.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, the stream is dropped (closed) with
    /// it.
    ///
    /// ```
    /// use tulip::io::AsyncWriteExt;
    /// use tulip::net::{TlsStream, UnixStream};
    /// use tulip::transport::{TlsClientConfig, TlsServerConfig};
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let server_tls = TlsServerConfig::from_pem(
    ///     cert.cert.pem().as_bytes(),
    ///     cert.key_pair.serialize_pem().as_bytes(),
    /// )?;
    /// let client_tls = TlsClientConfig::with_ca_pem(cert.cert.pem().as_bytes())?;
    ///
    /// tulip::run(async move {
    ///     // TLS over any stream: here a Unix socket pair.
    ///     let (a, b) = UnixStream::pair()?;
    ///     let client = tulip::spawn(async move {
    ///         let mut tls = TlsStream::connect(a, "localhost", &client_tls).await?;
    ///         tls.close().await?;
    ///         Ok::<(), tulip::transport::Error>(())
    ///     });
    ///     let served = TlsStream::accept(b, &server_tls).await?;
    ///     assert_eq!(served.server_name(), Some("localhost"));
    ///     client.await??;
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn accept(stream: S, config: &TlsServerConfig) -> Result<TlsStream<S>> {
        TlsStream::accept_with(stream, config, TlsStreamOptions::new()).await
    }

    /// [`accept`](TlsStream::accept) with options: the handshake timeout
    /// (a client that connects and sends nothing is dropped then).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::net::{TlsStream, TlsStreamOptions, UnixStream};
    /// use tulip::transport::{TlsError, TlsServerConfig};
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let server_tls = TlsServerConfig::from_pem(
    ///     cert.cert.pem().as_bytes(),
    ///     cert.key_pair.serialize_pem().as_bytes(),
    /// )?;
    /// tulip::run(async move {
    ///     let (_silent, served) = UnixStream::pair()?;
    ///     let options = TlsStreamOptions::new().ssl_handshake_timeout(Duration::from_millis(100));
    ///     let err = TlsStream::accept_with(served, &server_tls, options).await.unwrap_err();
    ///     assert!(matches!(err.as_tls(), Some(TlsError::HandshakeTimeout(_))), "{err}");
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn accept_with(
        stream: S,
        config: &TlsServerConfig,
        options: TlsStreamOptions,
    ) -> Result<TlsStream<S>> {
        let conn =
            rustls::ServerConnection::new(config.rustls_config().clone()).map_err(tls_error)?;
        TlsStream::handshake(stream, conn.into(), None, options).await
    }

    /// Runs the handshake of `conn` over `io`, within the options'
    /// timeout.
    async fn handshake(
        io: S,
        conn: rustls::Connection,
        hostname: Option<String>,
        options: TlsStreamOptions,
    ) -> Result<TlsStream<S>> {
        check_timeout("ssl_handshake_timeout", options.ssl_handshake_timeout)?;
        let timeout = options
            .ssl_handshake_timeout
            .unwrap_or(SSL_HANDSHAKE_TIMEOUT);
        // The timer is the running loop's: fail cleanly without one.
        tulip_executor::get_running_loop()?;
        let mut stream = TlsStream {
            io,
            conn,
            hostname,
            close_notify_sent: false,
        };
        let mut deadline = pin!(tulip_executor::sleep(timeout));
        poll_fn(|cx| {
            if let Poll::Ready(done) = stream.poll_handshake(cx) {
                return Poll::Ready(done);
            }
            match deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    Poll::Ready(Err(Error::Tls(TlsError::HandshakeTimeout(timeout))))
                }
                Poll::Pending => Poll::Pending,
            }
        })
        .await?;
        Ok(stream)
    }

    /// Drives the handshake: ready once it is done and every record of
    /// it is sent.
    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        loop {
            let sent = self.poll_send_records(cx);
            if !self.conn.is_handshaking() {
                // Done once its last records are sent. A peer already gone
                // cannot take them (a client that closed at once, a
                // server's session tickets): what it sent before is still
                // readable, and the next write or flush reports the error.
                return match sent {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(_) => Poll::Ready(Ok(())),
                };
            }
            let sent = sent.map_err(Error::io)?;
            if sent.is_pending() && !self.conn.wants_read() {
                return Poll::Pending;
            }
            if ready!(self.poll_receive_records(cx))? == 0 {
                let who = match &self.hostname {
                    Some(host) => format!("the server {host}"),
                    None => String::from("the client"),
                };
                return Poll::Ready(Err(Error::io(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    format!("{who} closed the connection during the TLS handshake"),
                ))));
            }
        }
    }

    /// Writes rustls' queued records to the stream: ready once none is
    /// left, pending while the stream takes no more.
    fn poll_send_records(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            let mut sink = PollIo {
                io: &mut self.io,
                cx,
            };
            match self.conn.write_tls(&mut sink) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Reads records from the stream once and lets rustls process them:
    /// the count of bytes read (0 at the stream's EOF).
    fn poll_receive_records(&mut self, cx: &mut Context<'_>) -> Poll<Result<usize>> {
        let mut source = PollIo {
            io: &mut self.io,
            cx,
        };
        let n = match self.conn.read_tls(&mut source) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
            Err(e) => return Poll::Ready(Err(Error::io(e))),
        };
        if let Err(e) = self.conn.process_new_packets() {
            // The alert rustls queued for the peer goes out if the stream
            // takes it now; the error is ours to report either way.
            let _ = self.poll_send_records(cx);
            // A client's failed handshake names the server (the stream's
            // address is not known here).
            let err = match &self.hostname {
                Some(name) if self.conn.is_handshaking() => {
                    Error::Tls(TlsError::ClientHandshake(Box::new(HandshakeFailure {
                        server_name: name.clone(),
                        addr: None,
                        error: e,
                    })))
                }
                _ => tls_error(e),
            };
            return Poll::Ready(Err(err));
        }
        Poll::Ready(Ok(n))
    }

    /// Waits until rustls holds plaintext (`true`) or the peer's
    /// close_notify was read (`false`, EOF).
    fn poll_plaintext(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        loop {
            match self.conn.reader().fill_buf() {
                Ok(chunk) => return Poll::Ready(Ok(!chunk.is_empty())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Poll::Ready(Err(Error::Tls(TlsError::Truncated).into()));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
            // Records rustls queued while reading (an answer to a key
            // update) go out on the way; a failure to send them is the
            // writer's to report.
            if self.conn.wants_write() {
                let _ = self.poll_send_records(cx);
            }
            ready!(self.poll_receive_records(cx))?;
        }
    }

    /// Moves plaintext into the caller's buffer with `put` (given a chunk
    /// of at most `room` bytes): the count moved, 0 at EOF.
    fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        room: usize,
        put: impl FnOnce(&[u8]),
    ) -> Poll<io::Result<usize>> {
        if room == 0 || !ready!(self.poll_plaintext(cx))? {
            return Poll::Ready(Ok(0));
        }
        let mut reader = self.conn.reader();
        let chunk = reader.fill_buf()?;
        let n = chunk.len().min(room);
        put(&chunk[..n]);
        reader.consume(n);
        Poll::Ready(Ok(n))
    }

    /// Hands plaintext to rustls with `take` (which returns the count it
    /// took), then pushes the records out as far as the stream takes
    /// them: the count taken. Waits for the stream only when rustls'
    /// buffer is full.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
        mut take: impl FnMut(&mut rustls::Writer<'_>) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        if self.close_notify_sent {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write to a TLS stream after its close (close_notify was sent)",
            )));
        }
        loop {
            let n = take(&mut self.conn.writer())?;
            if n > 0 {
                // Taken: the records go out as far as the stream takes
                // them now; a failure to send is reported by the next
                // write or flush (the stream's error recurs).
                let _ = self.poll_send_records(cx);
                return Poll::Ready(Ok(n));
            }
            if !self.conn.wants_write() {
                // Nothing waits to go out, yet rustls takes nothing: it
                // will not send (it closed the session).
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            // rustls' buffer is full: wait until the stream takes it.
            ready!(self.poll_send_records(cx))?;
        }
    }

    /// Sends every pending record, then flushes the stream.
    fn poll_flush_records(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.conn.writer().flush()?;
        ready!(self.poll_send_records(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Sends close_notify (once), flushes, and closes the stream's
    /// writing side.
    fn poll_close_notify(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.close_notify_sent {
            self.conn.send_close_notify();
            self.close_notify_sent = true;
        }
        match ready!(self.poll_flush_records(cx)) {
            Ok(()) => {}
            // A peer that is gone cannot get it: closing goes on.
            Err(e) if peer_gone(&e) => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
        Pin::new(&mut self.io).poll_close(cx)
    }
}

impl<S> TlsStream<S> {
    fn is_server(&self) -> bool {
        matches!(self.conn, rustls::Connection::Server(_))
    }

    /// The ALPN protocol both sides chose (asyncio's
    /// `selected_alpn_protocol()`), if any.
    ///
    /// ```
    /// use tulip::net::{TlsStream, UnixStream};
    /// use tulip::transport::{TlsClientConfig, TlsServerConfig};
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let server_tls = TlsServerConfig::from_pem(
    ///     cert.cert.pem().as_bytes(),
    ///     cert.key_pair.serialize_pem().as_bytes(),
    /// )?
    /// .alpn_protocols(&[b"h2", b"http/1.1"]);
    /// let client_tls =
    ///     TlsClientConfig::with_ca_pem(cert.cert.pem().as_bytes())?.alpn_protocols(&[b"h2"]);
    ///
    /// tulip::run(async move {
    ///     let (a, b) = UnixStream::pair()?;
    ///     let server = tulip::spawn(async move { TlsStream::accept(b, &server_tls).await });
    ///     let client = TlsStream::connect(a, "localhost", &client_tls).await?;
    ///     assert_eq!(client.alpn_protocol(), Some(&b"h2"[..]));
    ///     assert_eq!(server.await??.alpn_protocol(), Some(&b"h2"[..]));
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// The SNI name: on the server's side the one the client sent (`None`
    /// when it sent none, as clients connecting to an IP address do), on
    /// the client's the `server_hostname` it connected with.
    ///
    /// ```
    /// use tulip::net::{TlsStream, UnixStream};
    /// use tulip::transport::{TlsClientConfig, TlsServerConfig};
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let server_tls = TlsServerConfig::from_pem(
    ///     cert.cert.pem().as_bytes(),
    ///     cert.key_pair.serialize_pem().as_bytes(),
    /// )?;
    /// let client_tls = TlsClientConfig::with_ca_pem(cert.cert.pem().as_bytes())?;
    ///
    /// tulip::run(async move {
    ///     let (a, b) = UnixStream::pair()?;
    ///     let server = tulip::spawn(async move { TlsStream::accept(b, &server_tls).await });
    ///     let client = TlsStream::connect(a, "localhost", &client_tls).await?;
    ///     assert_eq!(client.server_name(), Some("localhost"));
    ///     assert_eq!(server.await??.server_name(), Some("localhost"));
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn server_name(&self) -> Option<&str> {
        match &self.conn {
            rustls::Connection::Client(_) => self.hostname.as_deref(),
            rustls::Connection::Server(s) => s.server_name(),
        }
    }

    /// What the session negotiated: the protocol version, the cipher
    /// suite, the ALPN protocol, the SNI name and the peer's
    /// certificates (asyncio's `ssl_object` queries; the same
    /// [`TlsInfo`] as a TLS transport's).
    ///
    /// ```
    /// use tulip::net::{TlsStream, UnixStream};
    /// use tulip::transport::{TlsClientConfig, TlsServerConfig};
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let der = cert.cert.der().to_vec();
    /// let server_tls = TlsServerConfig::from_pem(
    ///     cert.cert.pem().as_bytes(),
    ///     cert.key_pair.serialize_pem().as_bytes(),
    /// )?;
    /// let client_tls = TlsClientConfig::with_ca_pem(cert.cert.pem().as_bytes())?;
    ///
    /// tulip::run(async move {
    ///     let (a, b) = UnixStream::pair()?;
    ///     let server = tulip::spawn(async move { TlsStream::accept(b, &server_tls).await });
    ///     let client = TlsStream::connect(a, "localhost", &client_tls).await?;
    ///     let info = client.tls_info();
    ///     assert!(!info.server_side && info.handshake_complete);
    ///     assert_eq!(info.protocol_version.as_deref(), Some("TLSv1.3"));
    ///     assert_eq!(info.peer_certificates, vec![der]);
    ///     // The server saw no client certificate.
    ///     assert!(server.await??.tls_info().peer_certificates.is_empty());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tls_info(&self) -> TlsInfo {
        let conn = &self.conn;
        TlsInfo {
            server_side: self.is_server(),
            handshake_complete: !conn.is_handshaking(),
            protocol_version: conn.protocol_version().map(|v| {
                match v {
                    rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
                    rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
                    _ => "unknown",
                }
                .to_owned()
            }),
            cipher: conn.negotiated_cipher_suite().map(|s| {
                let suite = s.suite();
                suite
                    .as_str()
                    .map_or_else(|| format!("{suite:?}"), str::to_owned)
            }),
            alpn_protocol: conn.alpn_protocol().map(<[u8]>::to_vec),
            server_name: self.server_name().map(str::to_owned),
            peer_certificates: conn
                .peer_certificates()
                .map(|certs| certs.iter().map(|c| c.to_vec()).collect())
                .unwrap_or_default(),
        }
    }

    /// The rustls session (for what [`tls_info`](TlsStream::tls_info)
    /// does not say: exporting keying material, say).
    ///
    /// ```
    /// use tulip::net::{TlsStream, UnixStream};
    /// use tulip::transport::{TlsClientConfig, TlsServerConfig};
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let server_tls = TlsServerConfig::from_pem(
    ///     cert.cert.pem().as_bytes(),
    ///     cert.key_pair.serialize_pem().as_bytes(),
    /// )?;
    /// let client_tls = TlsClientConfig::with_ca_pem(cert.cert.pem().as_bytes())?;
    ///
    /// tulip::run(async move {
    ///     let (a, b) = UnixStream::pair()?;
    ///     let server = tulip::spawn(async move { TlsStream::accept(b, &server_tls).await });
    ///     let client = TlsStream::connect(a, "localhost", &client_tls).await?;
    ///     let server = server.await??;
    ///     // Both sides derive the same secret from the session.
    ///     let ours = client.rustls_connection().export_keying_material([0; 32], b"label", None)?;
    ///     let theirs = server.rustls_connection().export_keying_material([0; 32], b"label", None)?;
    ///     assert_eq!(ours, theirs);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rustls_connection(&self) -> &rustls::Connection {
        &self.conn
    }

    /// The stream underneath.
    ///
    /// ```
    /// use tulip::net::{TcpListener, TcpStream, TlsStream};
    /// use tulip::transport::{TlsClientConfig, TlsServerConfig};
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let server_tls = TlsServerConfig::from_pem(
    ///     cert.cert.pem().as_bytes(),
    ///     cert.key_pair.serialize_pem().as_bytes(),
    /// )?;
    /// let client_tls = TlsClientConfig::with_ca_pem(cert.cert.pem().as_bytes())?;
    ///
    /// tulip::run(async move {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let port = listener.local_addr()?.port();
    ///     let tcp = TcpStream::connect("127.0.0.1", port).await?;
    ///     let (served, _) = listener.accept().await?;
    ///     let server = tulip::spawn(async move { TlsStream::accept(served, &server_tls).await });
    ///     let client = TlsStream::connect(tcp, "localhost", &client_tls).await?;
    ///     let _server = server.await??;
    ///     assert_eq!(client.get_ref().peer_addr()?.port(), port);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The stream underneath, mutably: reading or writing it directly
    /// breaks the TLS session; setting options is what it is for.
    ///
    /// ```
    /// use tulip::net::{TcpListener, TcpStream, TlsStream};
    /// use tulip::transport::{TlsClientConfig, TlsServerConfig};
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let server_tls = TlsServerConfig::from_pem(
    ///     cert.cert.pem().as_bytes(),
    ///     cert.key_pair.serialize_pem().as_bytes(),
    /// )?;
    /// let client_tls = TlsClientConfig::with_ca_pem(cert.cert.pem().as_bytes())?;
    ///
    /// tulip::run(async move {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let tcp = TcpStream::connect("127.0.0.1", listener.local_addr()?.port()).await?;
    ///     let (served, _) = listener.accept().await?;
    ///     let server = tulip::spawn(async move { TlsStream::accept(served, &server_tls).await });
    ///     let mut client = TlsStream::connect(tcp, "localhost", &client_tls).await?;
    ///     let _server = server.await??;
    ///     client.get_mut().set_nodelay(true)?;
    ///     assert!(client.get_ref().nodelay()?);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The stream underneath, ending the TLS session without a
    /// close_notify (records rustls still held are lost; close or flush
    /// first).
    ///
    /// ```
    /// use tulip::io::AsyncReadExt;
    /// use tulip::net::{TlsStream, UnixStream};
    /// use tulip::transport::{TlsClientConfig, TlsServerConfig};
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let server_tls = TlsServerConfig::from_pem(
    ///     cert.cert.pem().as_bytes(),
    ///     cert.key_pair.serialize_pem().as_bytes(),
    /// )?;
    /// let client_tls = TlsClientConfig::with_ca_pem(cert.cert.pem().as_bytes())?;
    ///
    /// tulip::run(async move {
    ///     let (a, b) = UnixStream::pair()?;
    ///     let server = tulip::spawn(async move { TlsStream::accept(b, &server_tls).await });
    ///     let client = TlsStream::connect(a, "localhost", &client_tls).await?;
    ///     let mut served = server.await??;
    ///     // The bare socket goes on; ended, the server sees the TLS
    ///     // stream end without a close_notify: a truncation.
    ///     let bare = client.into_inner();
    ///     bare.shutdown(std::net::Shutdown::Write)?;
    ///     let mut buf = Vec::new();
    ///     let err = served.read_to_end(&mut buf).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> S {
        self.io
    }
}

/// The stream as std's `Read`/`Write` for rustls: `Pending` becomes
/// `WouldBlock` (the context's waker is registered by then).
struct PollIo<'a, 'b, S> {
    io: &'a mut S,
    cx: &'a mut Context<'b>,
}

impl<S: AsyncRead + Unpin> Read for PollIo<'_, '_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        would_block(Pin::new(&mut *self.io).poll_read(self.cx, buf))
    }
}

impl<S: AsyncWrite + Unpin> Write for PollIo<'_, '_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        would_block(Pin::new(&mut *self.io).poll_write(self.cx, buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        would_block(Pin::new(&mut *self.io).poll_write_vectored(self.cx, bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        would_block(Pin::new(&mut *self.io).poll_flush(self.cx))
    }
}

/// Whether `e` says the peer closed the connection.
fn peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::NotConnected
    )
}

fn would_block<T>(poll: Poll<io::Result<T>>) -> io::Result<T> {
    match poll {
        Poll::Ready(r) => r,
        Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
    }
}

impl<S> AsyncRead for TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let room = buf.len();
        self.get_mut()
            .poll_read_into(cx, room, |chunk| buf[..chunk.len()].copy_from_slice(chunk))
    }
}

/// Lends rustls' own plaintext buffer: `read_line` and friends need no
/// `BufReader` (and no copy) over a TLS stream.
impl<S> AsyncBufRead for TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if !ready!(this.poll_plaintext(cx))? {
            return Poll::Ready(Ok(&[]));
        }
        Poll::Ready(this.conn.reader().into_first_chunk())
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().conn.reader().consume(amt);
    }
}

impl<S> AsyncWrite for TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, buf.len(), |w| w.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.get_mut()
            .poll_write_with(cx, len, |w| w.write_vectored(bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_records(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_close_notify(cx)
    }
}

#[cfg(feature = "tokio-io")]
impl<S> tokio::io::AsyncRead for TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // rustls hands out its plaintext as a slice: it is copied into
        // the unfilled part with the safe `put_slice` (no zeroing, no
        // unsafe code).
        let room = buf.remaining();
        ready!(
            self.get_mut()
                .poll_read_into(cx, room, |chunk| buf.put_slice(chunk))
        )?;
        Poll::Ready(Ok(()))
    }
}

#[cfg(feature = "hyper")]
impl<S> hyper::rt::Read for TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // rustls hands out its plaintext as a slice: it is copied into
        // the cursor with the safe `put_slice` (unlike the sockets, which
        // let the kernel fill the uninitialised memory in place).
        let room = buf.remaining();
        ready!(
            self.get_mut()
                .poll_read_into(cx, room, |chunk| buf.put_slice(chunk))
        )?;
        Poll::Ready(Ok(()))
    }
}

/// tokio's `AsyncWrite` and hyper's `rt::Write` (`$Write`, behind
/// `$feature`): the futures-io methods, `poll_shutdown` being `poll_close`.
macro_rules! write_trait {
    ($feature:literal, $Write:path) => {
        #[cfg(feature = $feature)]
        impl<S> $Write for TlsStream<S>
        where
            S: AsyncRead + AsyncWrite + Unpin,
        {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write(self, cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write_vectored(self, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_flush(self, cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_close(self, cx)
            }
        }
    };
}

write_trait!("tokio-io", tokio::io::AsyncWrite);
write_trait!("hyper", hyper::rt::Write);
