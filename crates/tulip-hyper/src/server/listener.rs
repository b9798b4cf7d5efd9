//! [`Listener`]: what [`serve`](crate::serve) accepts connections from.
//!
//! Accepting and the per-connection handshake are two steps: the accept
//! loop only accepts, and each connection's handshake (none for plain TCP
//! or Unix sockets, the TLS handshake for a TLS listener) runs in that
//! connection's own task, under the server's header-read timeout, so a slow
//! or silent client never holds up the others.

use std::fmt;
use std::future::{Future, ready};
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use tulip_transport::UnixAddr;
use tulip_transport::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// A source of connections for [`serve`](crate::serve): tulip's
/// [`TcpListener`] and
/// [`UnixListener`], or your own (a TLS
/// listener, [`TlsListener`](crate::TlsListener), wraps one of them, does
/// its handshake in [`handshake`](Listener::handshake) and tells the HTTP
/// version ALPN chose in [`protocol`](Listener::protocol)).
///
/// ```
/// use std::future::{Future, Ready, ready};
/// use std::io;
/// use std::task::{Context, Poll};
/// use tulip::hyper::Listener;
/// use tulip::net::{TcpListener, TcpStream};
///
/// /// Serves only the peers of one address.
/// struct LocalOnly(TcpListener);
///
/// impl Listener for LocalOnly {
///     type Conn = TcpStream;
///     type Io = TcpStream;
///     type Addr = std::net::SocketAddr;
///
///     fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, Self::Addr)>> {
///         loop {
///             let (stream, peer) = std::task::ready!(self.0.poll_accept(cx))?;
///             if peer.ip().is_loopback() {
///                 return Poll::Ready(Ok((stream, peer)));
///             } // else: dropped, which closes it
///         }
///     }
///
///     fn handshake(&self, conn: TcpStream) -> impl Future<Output = io::Result<TcpStream>> + 'static {
///         ready(Ok(conn))
///     }
///
///     fn local_addr(&self) -> io::Result<Self::Addr> {
///         self.0.local_addr()
///     }
/// }
/// # fn main() {}
/// ```
pub trait Listener: 'static {
    /// A connection as accepted, before its handshake.
    type Conn: 'static;
    /// The connection hyper reads requests from and writes responses to,
    /// after the handshake.
    type Io: hyper::rt::Read + hyper::rt::Write + Unpin + 'static;
    /// The address of a peer (and of the listener).
    type Addr: fmt::Debug + 'static;

    /// Accepts the next connection. An error is about one `accept` call:
    /// [`serve`](crate::serve) logs it and goes on (pausing first when the
    /// process is out of descriptors or memory).
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Conn, Self::Addr)>>;

    /// Makes an accepted connection ready to serve (a TLS handshake, say).
    /// The future runs in the connection's own task, under the server's
    /// [header-read timeout](crate::Serve::header_read_timeout); an error
    /// drops the connection and is logged at debug level.
    fn handshake(&self, conn: Self::Conn) -> impl Future<Output = io::Result<Self::Io>> + 'static;

    /// The address the listener is bound to.
    fn local_addr(&self) -> io::Result<Self::Addr>;

    /// Which HTTP version to serve on a connection, once its handshake is
    /// done: the one its TLS handshake chose by ALPN, say. The default,
    /// [`HttpProtocol::Auto`], tells HTTP/1.1 and HTTP/2 (by prior
    /// knowledge) apart by the first bytes the client sends.
    ///
    /// A port that serves HTTP/2 by prior knowledge only (an HTTP/1.1
    /// request there is a protocol error):
    ///
    /// ```
    /// use std::future::{Future, ready};
    /// use std::io;
    /// use std::task::{Context, Poll};
    /// use hyper::service::service_fn;
    /// use tulip::hyper::{HttpProtocol, Listener};
    /// use tulip::net::{TcpListener, TcpStream};
    ///
    /// struct H2cOnly(TcpListener);
    ///
    /// impl Listener for H2cOnly {
    ///     type Conn = TcpStream;
    ///     type Io = TcpStream;
    ///     type Addr = std::net::SocketAddr;
    ///
    ///     fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, Self::Addr)>> {
    ///         self.0.poll_accept(cx)
    ///     }
    ///
    ///     fn handshake(&self, conn: TcpStream) -> impl Future<Output = io::Result<TcpStream>> + 'static {
    ///         ready(Ok(conn))
    ///     }
    ///
    ///     fn local_addr(&self) -> io::Result<Self::Addr> {
    ///         self.0.local_addr()
    ///     }
    ///
    ///     fn protocol(_: &TcpStream) -> HttpProtocol {
    ///         HttpProtocol::Http2
    ///     }
    /// }
    ///
    /// tulip::run(async {
    ///     let listener = H2cOnly(TcpListener::bind("127.0.0.1", 0).await?);
    ///     let hello = service_fn(|_req| async {
    ///         Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("hi")))
    ///     });
    ///     let server = tulip::hyper::serve_hyper(listener, hello);
    ///     assert!(server.local_addr()?.ip().is_loopback());
    ///     Ok::<(), io::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn protocol(io: &Self::Io) -> HttpProtocol {
        let _ = io;
        HttpProtocol::Auto
    }
}

/// The HTTP version a connection is served with
/// ([`Listener::protocol`]).
///
/// ```
/// use tulip::hyper::{HttpProtocol, Listener};
/// use tulip::net::{TcpListener, TcpStream};
///
/// tulip::run(async {
///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
///     let client = TcpStream::connect("127.0.0.1", listener.local_addr()?.port()).await?;
///     let (served, _) = listener.accept().await?;
///     // Plain TCP: told by the first bytes (a TLS listener says what
///     // ALPN chose).
///     assert_eq!(<TcpListener as Listener>::protocol(&served), HttpProtocol::Auto);
///     drop(client);
///     Ok::<(), std::io::Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpProtocol {
    /// Told by the first bytes: HTTP/2 if the client starts with HTTP/2's
    /// connection preface (prior knowledge), HTTP/1.1 otherwise.
    Auto,
    /// HTTP/1.1 (and 1.0) only.
    Http1,
    /// HTTP/2 only.
    Http2,
}

impl HttpProtocol {
    /// The version an ALPN protocol name stands for: `h2` is HTTP/2,
    /// `http/1.1` and `http/1.0` are HTTP/1; no protocol (the client
    /// offered none) or another name is [`Auto`](HttpProtocol::Auto).
    ///
    /// ```
    /// use tulip::hyper::HttpProtocol;
    ///
    /// assert_eq!(HttpProtocol::from_alpn(Some(&b"http/1.1"[..])), HttpProtocol::Http1);
    /// assert_eq!(HttpProtocol::from_alpn(Some(&b"h2"[..])), HttpProtocol::Http2);
    /// assert_eq!(HttpProtocol::from_alpn(Some(&b"acme-tls/1"[..])), HttpProtocol::Auto);
    /// ```
    pub fn from_alpn(protocol: Option<&[u8]>) -> HttpProtocol {
        match protocol {
            Some(b"h2") => HttpProtocol::Http2,
            Some(b"http/1.1" | b"http/1.0") => HttpProtocol::Http1,
            _ => HttpProtocol::Auto,
        }
    }
}

/// TCP: no handshake beyond turning Nagle's algorithm off (`TCP_NODELAY`),
/// so that a response written in pieces is not held back waiting for the
/// peer's acknowledgement.
///
/// ```
/// use hyper::service::service_fn;
/// use tulip::net::TcpListener;
///
/// tulip::run(async {
///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
///     let hello = service_fn(|_req| async {
///         Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("hi")))
///     });
///     let server = tulip::hyper::serve_hyper(listener, hello);
///     assert!(server.local_addr()?.ip().is_loopback());
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl Listener for TcpListener {
    type Conn = TcpStream;
    type Io = TcpStream;
    type Addr = SocketAddr;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        TcpListener::poll_accept(self, cx)
    }

    fn handshake(&self, conn: TcpStream) -> impl Future<Output = io::Result<TcpStream>> + 'static {
        if let Err(e) = conn.set_nodelay(true) {
            log::debug!("cannot set TCP_NODELAY on an accepted connection: {e}");
        }
        ready(Ok(conn))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}

/// Unix-domain sockets: no handshake.
///
/// ```
/// use hyper::service::service_fn;
/// use tulip::net::UnixListener;
///
/// let dir = std::env::temp_dir().join(format!("tulip-hyper-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("http.sock");
/// tulip::run(async move {
///     let listener = UnixListener::bind(&path)?;
///     let hello = service_fn(|_req| async {
///         Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("hi")))
///     });
///     let server = tulip::hyper::serve_hyper(listener, hello);
///     println!("serving on {:?}", server.local_addr()?);
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl Listener for UnixListener {
    type Conn = UnixStream;
    type Io = UnixStream;
    type Addr = UnixAddr;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, UnixAddr)>> {
        UnixListener::poll_accept(self, cx)
    }

    fn handshake(
        &self,
        conn: UnixStream,
    ) -> impl Future<Output = io::Result<UnixStream>> + 'static {
        ready(Ok(conn))
    }

    fn local_addr(&self) -> io::Result<UnixAddr> {
        UnixListener::local_addr(self)
    }
}
