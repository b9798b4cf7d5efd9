//! [`TlsListener`]: HTTPS, a [`Listener`] that runs the TLS handshake
//! ([`TlsStream::accept`]) in each connection's own task and serves the
//! HTTP version ALPN chose.
//!
//! The accept loop only accepts; the handshake is the connection's
//! [`Listener::handshake`], so it runs under the server's header-read
//! timeout, and a client that fails it (plain text on the TLS port, a
//! certificate it does not trust, no common protocol) loses its own
//! connection only: the failure is logged at debug level and the server
//! goes on.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use tulip_transport::net::{TcpListener, TcpStream, TlsStream, UnixListener, UnixStream};
use tulip_transport::{TlsServerConfig, UnixAddr};

use crate::server::listener::{HttpProtocol, Listener};

/// The ALPN protocols a [`TlsListener`] accepts when its configuration
/// names none: HTTP/2 first, then HTTP/1.1.
const DEFAULT_ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// A TLS listener: serves HTTPS over a tulip [`TcpListener`] or
/// [`UnixListener`] with [`serve`](crate::serve) or
/// [`serve_hyper`](crate::serve_hyper).
///
/// Each accepted connection does its TLS handshake in its own task (the
/// inner listener's handshake first: `TCP_NODELAY` for TCP), under the
/// server's [header-read timeout](crate::Serve::header_read_timeout),
/// which covers the TLS handshake and the first request's start (with no
/// header-read timeout, TLS's own 60 s handshake timeout still applies).
/// A failed handshake closes that connection only, logged at debug level.
///
/// **HTTP/2 by ALPN.** If `config` names no ALPN protocol, the listener
/// sets `h2` and `http/1.1` (in that order of preference). A connection
/// is then served as HTTP/2 when ALPN chose `h2`, as HTTP/1.1 when it
/// chose `http/1.1`, and, when the client offered no ALPN at all, as what
/// its first bytes say (HTTP/2 by prior knowledge or HTTP/1.1), as over
/// plain TCP. A configuration with its own list keeps it (`&[b"h2"]`
/// serves HTTP/2 only, say); a client that offers none of its protocols
/// fails the handshake.
///
/// ```
/// use std::convert::Infallible;
/// use std::future::IntoFuture;
/// use hyper::service::service_fn;
/// use tulip::hyper::TlsListener;
/// use tulip::io::{AsyncReadExt, AsyncWriteExt};
/// use tulip::net::{TcpListener, TcpStream, TlsStream};
/// use tulip::transport::{TlsClientConfig, TlsServerConfig};
///
/// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
/// let server_tls = TlsServerConfig::from_pem(
///     cert.cert.pem().as_bytes(),
///     cert.key_pair.serialize_pem().as_bytes(),
/// )?;
/// let client_tls = TlsClientConfig::with_ca_pem(cert.cert.pem().as_bytes())?
///     .alpn_protocols(&[b"http/1.1"]);
///
/// tulip::run(async move {
///     let tcp = TcpListener::bind("127.0.0.1", 0).await?;
///     let port = tcp.local_addr()?.port();
///     let hello = service_fn(|_req| async {
///         Ok::<_, Infallible>(hyper::Response::new(String::from("Hello, World!")))
///     });
///     let server = tulip::spawn(
///         tulip::hyper::serve_hyper(TlsListener::new(tcp, server_tls), hello).into_future(),
///     );
///
///     // A client: TLS with ALPN http/1.1, then one HTTP/1.1 request.
///     let tcp = TcpStream::connect("127.0.0.1", port).await?;
///     let mut tls = TlsStream::connect(tcp, "localhost", &client_tls).await?;
///     assert_eq!(tls.alpn_protocol(), Some(&b"http/1.1"[..]));
///     tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
///     let mut reply = String::new();
///     tls.read_to_string(&mut reply).await?;
///     assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
///     assert!(reply.ends_with("Hello, World!"), "{reply}");
///
///     server.cancel(); // dropping the server closes it
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TlsListener<L> {
    inner: L,
    config: TlsServerConfig,
}

impl<L> TlsListener<L> {
    /// Serves TLS with `config` on the connections `listener` accepts;
    /// ALPN `h2` and `http/1.1` are set on `config` if it names no ALPN
    /// protocol.
    ///
    /// ```
    /// use tulip::hyper::TlsListener;
    /// use tulip::net::TcpListener;
    /// use tulip::transport::TlsServerConfig;
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let (cert_pem, key_pem) = (cert.cert.pem(), cert.key_pair.serialize_pem());
    /// tulip::run(async move {
    ///     let config = TlsServerConfig::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?;
    ///     let tls = TlsListener::new(TcpListener::bind("127.0.0.1", 0).await?, config);
    ///     let alpn = &tls.config().rustls_config().alpn_protocols;
    ///     assert_eq!(alpn, &[b"h2".to_vec(), b"http/1.1".to_vec()]);
    ///
    ///     // A list of your own is kept.
    ///     let config = TlsServerConfig::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?
    ///         .alpn_protocols(&[b"http/1.1"]);
    ///     let tls = TlsListener::new(TcpListener::bind("127.0.0.1", 0).await?, config);
    ///     assert_eq!(tls.config().rustls_config().alpn_protocols, [b"http/1.1".to_vec()]);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(listener: L, config: TlsServerConfig) -> TlsListener<L> {
        let config = if config.rustls_config().alpn_protocols.is_empty() {
            config.alpn_protocols(&DEFAULT_ALPN)
        } else {
            config
        };
        TlsListener {
            inner: listener,
            config,
        }
    }

    /// The TLS configuration, with the ALPN protocols it serves.
    ///
    /// ```
    /// use tulip::hyper::TlsListener;
    /// use tulip::net::TcpListener;
    /// use tulip::transport::TlsServerConfig;
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let config = TlsServerConfig::from_pem(
    ///     cert.cert.pem().as_bytes(),
    ///     cert.key_pair.serialize_pem().as_bytes(),
    /// )?
    /// .alpn_protocols(&[b"h2"]);
    /// tulip::run(async move {
    ///     let tls = TlsListener::new(TcpListener::bind("127.0.0.1", 0).await?, config);
    ///     assert_eq!(tls.config().rustls_config().alpn_protocols, [b"h2".to_vec()]);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn config(&self) -> &TlsServerConfig {
        &self.config
    }

    /// The listener underneath.
    ///
    /// ```
    /// use tulip::hyper::TlsListener;
    /// use tulip::net::TcpListener;
    /// use tulip::transport::TlsServerConfig;
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let config = TlsServerConfig::from_pem(
    ///     cert.cert.pem().as_bytes(),
    ///     cert.key_pair.serialize_pem().as_bytes(),
    /// )?;
    /// tulip::run(async move {
    ///     let tls = TlsListener::new(TcpListener::bind("127.0.0.1", 0).await?, config);
    ///     assert!(tls.get_ref().local_addr()?.ip().is_loopback());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_ref(&self) -> &L {
        &self.inner
    }

    /// The listener underneath, the TLS configuration dropped.
    ///
    /// ```
    /// use tulip::hyper::TlsListener;
    /// use tulip::net::TcpListener;
    /// use tulip::transport::TlsServerConfig;
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let config = TlsServerConfig::from_pem(
    ///     cert.cert.pem().as_bytes(),
    ///     cert.key_pair.serialize_pem().as_bytes(),
    /// )?;
    /// tulip::run(async move {
    ///     let tls = TlsListener::new(TcpListener::bind("127.0.0.1", 0).await?, config);
    ///     let tcp: TcpListener = tls.into_inner();
    ///     assert!(tcp.local_addr()?.ip().is_loopback());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> L {
        self.inner
    }
}

impl<L: fmt::Debug> fmt::Debug for TlsListener<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish()
    }
}

/// `Listener` for `TlsListener<$listener>`, whose streams are `$stream`
/// and addresses `$addr`.
macro_rules! tls_listener {
    ($listener:ty, $stream:ty, $addr:ty, $doc:literal) => {
        #[doc = $doc]
        impl Listener for TlsListener<$listener> {
            type Conn = $stream;
            type Io = TlsStream<$stream>;
            type Addr = $addr;

            fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<($stream, $addr)>> {
                Listener::poll_accept(&mut self.inner, cx)
            }

            fn handshake(
                &self,
                conn: $stream,
            ) -> impl Future<Output = io::Result<TlsStream<$stream>>> + 'static {
                let plain = self.inner.handshake(conn);
                let config = self.config.clone();
                async move {
                    let io = plain.await?;
                    TlsStream::accept(io, &config)
                        .await
                        .map_err(io::Error::from)
                }
            }

            fn local_addr(&self) -> io::Result<$addr> {
                Listener::local_addr(&self.inner)
            }

            /// What ALPN chose: `h2` is HTTP/2, `http/1.1` HTTP/1.1, none
            /// at all the first bytes' choice.
            fn protocol(io: &TlsStream<$stream>) -> HttpProtocol {
                HttpProtocol::from_alpn(io.alpn_protocol())
            }
        }
    };
}

tls_listener!(
    TcpListener,
    TcpStream,
    SocketAddr,
    "HTTPS over TCP (see [`TlsListener`]); the example there serves one."
);

tls_listener!(
    UnixListener,
    UnixStream,
    UnixAddr,
    r#"HTTPS over a Unix-domain socket (see [`TlsListener`]).

```
use std::convert::Infallible;
use std::future::IntoFuture;
use hyper::service::service_fn;
use tulip::hyper::TlsListener;
use tulip::io::{AsyncReadExt, AsyncWriteExt};
use tulip::net::{TlsStream, UnixListener, UnixStream};
use tulip::transport::{TlsClientConfig, TlsServerConfig};

let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
let server_tls = TlsServerConfig::from_pem(
    cert.cert.pem().as_bytes(),
    cert.key_pair.serialize_pem().as_bytes(),
)?;
let client_tls = TlsClientConfig::with_ca_pem(cert.cert.pem().as_bytes())?;
let dir = tempfile::tempdir()?;
let path = dir.path().join("https.sock");

tulip::run(async move {
    let hello = service_fn(|_req| async {
        Ok::<_, Infallible>(hyper::Response::new(String::from("Hello, World!")))
    });
    let listener = TlsListener::new(UnixListener::bind(&path)?, server_tls);
    let server = tulip::spawn(tulip::hyper::serve_hyper(listener, hello).into_future());

    // A client offering no ALPN: served as its first bytes say (HTTP/1.1).
    let mut tls = TlsStream::connect(UnixStream::connect(&path).await?, "localhost", &client_tls).await?;
    assert_eq!(tls.alpn_protocol(), None);
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
    let mut reply = String::new();
    tls.read_to_string(&mut reply).await?;
    assert!(reply.ends_with("Hello, World!"), "{reply}");
    server.cancel();
    Ok::<(), Box<dyn std::error::Error>>(())
})??;
# Ok::<(), Box<dyn std::error::Error>>(())
```"#
);
