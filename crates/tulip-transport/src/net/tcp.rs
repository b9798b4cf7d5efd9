//! TCP for `tulip::net`: [`TcpListener`] and [`TcpStream`], with asyncio's
//! address handling (host names resolved without blocking the loop,
//! numeric hosts at once, Happy Eyeballs between a name's addresses).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use rustix::net::{SocketFlags, sockopt};
use tulip_executor::Loop;
use tulip_reactor::Interest;

use crate::address::SockAddr;
use crate::connect::happy_eyeballs;
use crate::connect::options::ConnectOptions;
use crate::error::{Error, Result, bind_error};
use crate::net::registration::Registration;
use crate::net::stream::stream_impl;
use crate::server::base::{bind_one, resolve};
use crate::server::options::{DEFAULT_BACKLOG, ServerOptions};

/// The delay between two connection attempts of
/// [`TcpStream::connect`] (RFC 8305's recommended Happy Eyeballs delay).
pub const HAPPY_EYEBALLS_DELAY: Duration = Duration::from_millis(250);

/// A listening TCP socket of the running loop, registered with it once
/// for its whole life.
///
/// ```
/// use tulip::net::{TcpListener, TcpStream};
///
/// tulip::run(async {
///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
///     let port = listener.local_addr()?.port();
///     let client = TcpStream::connect("127.0.0.1", port).await?;
///     let (served, peer) = listener.accept().await?;
///     assert_eq!(peer, client.local_addr()?);
///     client.write_all(b"hello").await?;
///     let mut buf = [0; 5];
///     served.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hello");
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct TcpListener {
    io: Registration,
}

impl TcpListener {
    /// Binds a listening socket to `host` and `port` with the default
    /// [`ServerOptions`] (`SO_REUSEADDR`, asyncio's backlog of 100); see
    /// [`bind_with`](TcpListener::bind_with).
    ///
    /// ```
    /// use tulip::net::TcpListener;
    ///
    /// tulip::run(async {
    ///     // Port 0: the OS picks a free one.
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     assert_ne!(listener.local_addr()?.port(), 0);
    ///     // A port in use is an error naming the address.
    ///     let port = listener.local_addr()?.port();
    ///     let err = TcpListener::bind("127.0.0.1", port).await.unwrap_err();
    ///     assert!(err.to_string().contains(&format!("127.0.0.1:{port}")));
    ///     Ok::<(), tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn bind(host: &str, port: u16) -> Result<TcpListener> {
        TcpListener::bind_with(host, port, &ServerOptions::new()).await
    }

    /// Binds a listening socket as asyncio's `create_server` binds each of
    /// its sockets: `host` is a numeric address (IPv6 in brackets or not)
    /// or a name resolved without blocking the loop, and the first of its
    /// addresses that binds is used; an empty `host` is `0.0.0.0`. The
    /// options' `backlog`, `reuse_address`, `reuse_port`, `keep_alive`,
    /// `family` and `flags` apply; `sock` and `tls` are
    /// [`Error::InvalidInput`] (use [`from_std`](TcpListener::from_std),
    /// and wrap accepted streams in a [`TlsStream`](crate::net::TlsStream)).
    ///
    /// ```
    /// use tulip::net::TcpListener;
    /// use tulip::transport::ServerOptions;
    ///
    /// tulip::run(async {
    ///     let options = ServerOptions::new().reuse_port(true).backlog(1024);
    ///     let a = TcpListener::bind_with("127.0.0.1", 0, &options).await?;
    ///     let port = a.local_addr()?.port();
    ///     // SO_REUSEPORT: a second listener on the same port.
    ///     let b = TcpListener::bind_with("127.0.0.1", port, &options).await?;
    ///     assert_eq!(b.local_addr()?.port(), port);
    ///     Ok::<(), tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn bind_with(host: &str, port: u16, options: &ServerOptions) -> Result<TcpListener> {
        if options.sock.is_some() {
            return Err(Error::InvalidInput(String::from(
                "a TcpListener binds its own socket: use TcpListener::from_std for an existing one",
            )));
        }
        if options.tls.is_some() {
            return Err(Error::InvalidInput(String::from(
                "a TcpListener does not speak TLS: wrap each accepted stream with TlsStream::accept",
            )));
        }
        let lp = tulip_executor::get_running_loop()?;
        let host = if host.is_empty() { "0.0.0.0" } else { host };
        let addrs = resolve(&lp, host, port, options).await?;
        let mut last = None;
        for addr in addrs {
            match bind_one(addr, options) {
                Ok(fd) => {
                    let backlog = options.backlog.unwrap_or(DEFAULT_BACKLOG);
                    let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
                    rustix::net::listen(&fd, backlog).map_err(|e| bind_error(&addr, e.into()))?;
                    return Ok(TcpListener {
                        io: Registration::with_loop(&lp, fd)?,
                    });
                }
                Err(e) => last = Some(bind_error(&addr, e)),
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::InvalidInput(format!("no address to listen on for host {host:?}"))
        }))
    }

    /// Takes a listening socket from std (already bound and listening),
    /// registering it with the running loop; it is put in non-blocking
    /// mode.
    ///
    /// ```
    /// use tulip::net::TcpListener;
    ///
    /// tulip::run(async {
    ///     let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let listener = TcpListener::from_std(std_listener)?;
    ///     assert!(listener.local_addr()?.ip().is_loopback());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> Result<TcpListener> {
        Ok(TcpListener {
            io: Registration::new(OwnedFd::from(listener))?,
        })
    }

    /// Hands the socket back to std, out of the loop (still in
    /// non-blocking mode).
    ///
    /// ```
    /// use tulip::net::TcpListener;
    ///
    /// tulip::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let addr = listener.local_addr()?;
    ///     let std_listener: std::net::TcpListener = listener.into_std()?;
    ///     assert_eq!(std_listener.local_addr()?, addr);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        Ok(std::net::TcpListener::from(self.io.into_fd()?))
    }

    /// Accepts a connection once one is there: the new stream (registered
    /// with the listener's loop, `TCP_NODELAY` off as the OS made it) and
    /// the peer's address. Running out of descriptors is the OS's error
    /// (`EMFILE`); the pending connection stays queued.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, it has accepted nothing.
    ///
    /// ```
    /// use tulip::net::{TcpListener, TcpStream};
    ///
    /// tulip::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let port = listener.local_addr()?.port();
    ///     let client = tulip::spawn(TcpStream::connect("127.0.0.1", port));
    ///     let (stream, peer) = listener.accept().await?;
    ///     assert_eq!(stream.peer_addr()?, peer);
    ///     client.await??;
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// The poll form of [`accept`](TcpListener::accept).
    ///
    /// ```
    /// use tulip::net::{TcpListener, TcpStream};
    ///
    /// tulip::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let port = listener.local_addr()?.port();
    ///     let _client = TcpStream::connect("127.0.0.1", port).await?;
    ///     let (_stream, peer) = std::future::poll_fn(|cx| listener.poll_accept(cx)).await?;
    ///     assert!(peer.ip().is_loopback());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        loop {
            let (fd, addr) = ready!(self.io.poll_io(Interest::READ, cx, |fd| {
                Ok(rustix::net::acceptfrom_with(
                    fd,
                    SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
                )?)
            }))?;
            // A connection reset before it was accepted may come without
            // an address: it is gone, take the next one.
            let Some(addr) = addr.and_then(SockAddr::from_any).and_then(|a| a.as_inet()) else {
                continue;
            };
            let io = Registration::with_loop(self.io.get_loop(), fd).map_err(io::Error::from)?;
            return Poll::Ready(Ok((TcpStream { io }, addr)));
        }
    }

    /// The address the listener is bound to.
    ///
    /// ```
    /// use tulip::net::TcpListener;
    ///
    /// tulip::run(async {
    ///     let listener = TcpListener::bind("::1", 0).await?;
    ///     assert!(listener.local_addr()?.is_ipv6());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        inet_addr(rustix::net::getsockname(self.io.fd())?, "local")
    }

    /// The loop the listener is registered with.
    ///
    /// ```
    /// use tulip::net::TcpListener;
    ///
    /// tulip::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     assert!(listener.get_loop().is_running());
    ///     Ok::<(), tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_loop(&self) -> Loop {
        self.io.get_loop().clone()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.fd()
    }
}

impl std::os::fd::AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.io.fd())
    }
}

/// A connected TCP stream of the running loop, registered with it once
/// for its whole life: the poll-based face of the loop, for code written
/// against `futures-io` (and, with the `tokio-io` and `hyper` features,
/// tokio's and hyper's I/O traits).
///
/// Its methods take `&self`: one task may read while another writes
/// (through `&TcpStream`, [`split`](TcpStream::split) or
/// [`into_split`](TcpStream::into_split)); two tasks reading at once
/// each get some of the bytes, and only the last one's waker is kept.
///
/// ```
/// use tulip::net::{TcpListener, TcpStream};
///
/// tulip::run(async {
///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
///     let port = listener.local_addr()?.port();
///     let echo = tulip::spawn(async move {
///         let (stream, _) = listener.accept().await?;
///         let mut buf = [0; 1024];
///         loop {
///             let n = stream.read(&mut buf).await?;
///             if n == 0 {
///                 return stream.close().await;
///             }
///             stream.write_all(&buf[..n]).await?;
///         }
///     });
///     let client = TcpStream::connect("127.0.0.1", port).await?;
///     client.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     client.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     client.close().await?;
///     echo.await??;
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct TcpStream {
    io: Registration,
}

stream_impl!(
    TcpStream,
    "use tulip::net::{TcpListener, TcpStream};
# tulip::run(async {
let listener = TcpListener::bind(\"127.0.0.1\", 0).await?;
let stream = TcpStream::connect(\"127.0.0.1\", listener.local_addr()?.port()).await?;
let (mut peer, _) = listener.accept().await?;"
);

impl TcpStream {
    /// Connects to `port` on `host`: a numeric address at once, a name
    /// resolved without blocking the loop and its addresses tried with
    /// Happy Eyeballs (a new attempt every [`HAPPY_EYEBALLS_DELAY`] while
    /// the earlier ones are pending, families interleaved). The error of
    /// the last attempt when all fail; see
    /// [`connect_with`](TcpStream::connect_with) for the other options.
    ///
    /// ```
    /// use tulip::net::{TcpListener, TcpStream};
    ///
    /// tulip::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let port = listener.local_addr()?.port();
    ///     let stream = TcpStream::connect("localhost", port).await?;
    ///     assert_eq!(stream.peer_addr()?.port(), port);
    ///     drop(listener);
    ///     // Nobody listens any more: refused, and the error says where.
    ///     let err = TcpStream::connect("127.0.0.1", port).await.unwrap_err();
    ///     assert!(err.to_string().contains(&format!("127.0.0.1:{port}")));
    ///     Ok::<(), tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn connect(host: &str, port: u16) -> Result<TcpStream> {
        let options = ConnectOptions::new().happy_eyeballs_delay(HAPPY_EYEBALLS_DELAY);
        TcpStream::connect_with(host, port, options).await
    }

    /// Connects as asyncio's `create_connection` does, with its options:
    /// `happy_eyeballs_delay` (none: one address after the other),
    /// `interleave`, `all_errors`, `local_addr`, `family`, `proto`,
    /// `flags`. `sock` and `tls` are [`Error::InvalidInput`]: use
    /// [`from_std`](TcpStream::from_std), and wrap the stream in a
    /// [`TlsStream`](crate::net::TlsStream).
    ///
    /// ```
    /// use tulip::net::{TcpListener, TcpStream};
    /// use tulip::transport::{AddressFamily, ConnectOptions};
    ///
    /// tulip::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let port = listener.local_addr()?.port();
    ///     let options = ConnectOptions::new().family(AddressFamily::Inet);
    ///     let stream = TcpStream::connect_with("localhost", port, options).await?;
    ///     assert!(stream.peer_addr()?.is_ipv4());
    ///     Ok::<(), tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn connect_with(host: &str, port: u16, options: ConnectOptions) -> Result<TcpStream> {
        if options.sock.is_some() {
            return Err(Error::InvalidInput(String::from(
                "TcpStream::connect makes its own socket: use TcpStream::from_std for a connected one",
            )));
        }
        if options.tls.is_some() {
            return Err(Error::InvalidInput(String::from(
                "a TcpStream does not speak TLS: wrap it with TlsStream::connect",
            )));
        }
        let lp = tulip_executor::get_running_loop()?;
        let fd = happy_eyeballs::connect(&lp, host, port, &options).await?;
        Ok(TcpStream {
            io: Registration::with_loop(&lp, fd)?,
        })
    }

    /// Takes a connected stream from std, registering it with the running
    /// loop; it is put in non-blocking mode.
    ///
    /// ```
    /// use tulip::net::TcpStream;
    ///
    /// tulip::run(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let std_stream = std::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let stream = TcpStream::from_std(std_stream)?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> Result<TcpStream> {
        Ok(TcpStream {
            io: Registration::new(OwnedFd::from(stream))?,
        })
    }

    /// Hands the socket back to std, out of the loop (still in
    /// non-blocking mode). Its `OwnedFd` (`OwnedFd::from(std_stream)`) is
    /// what asyncio's `sock=` arguments take: a transport and protocol
    /// with [`LoopNetExt::connect_accepted_socket`](crate::LoopNetExt::connect_accepted_socket),
    /// a pair of streams with `tulip::streams::open_connection` and
    /// [`ConnectOptions::sock`].
    ///
    /// ```
    /// use std::os::fd::OwnedFd;
    /// use tulip::net::{TcpListener, TcpStream};
    /// use tulip::streams::{ConnectOptions, open_connection};
    ///
    /// tulip::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let stream = TcpStream::connect("127.0.0.1", listener.local_addr()?.port()).await?;
    ///     let (peer, _) = listener.accept().await?;
    ///     // The same connection, now as asyncio's streams.
    ///     let fd = OwnedFd::from(stream.into_std()?);
    ///     let (mut reader, writer) = open_connection("", 0, ConnectOptions::new().sock(fd)).await?;
    ///     peer.write_all(b"line\n").await?;
    ///     assert_eq!(reader.readline().await?, b"line\n");
    ///     writer.close();
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        Ok(std::net::TcpStream::from(self.io.into_fd()?))
    }

    /// The stream's own address.
    ///
    /// ```
    /// use tulip::net::{TcpListener, TcpStream};
    ///
    /// tulip::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let stream = TcpStream::connect("127.0.0.1", listener.local_addr()?.port()).await?;
    ///     let (_, peer) = listener.accept().await?;
    ///     assert_eq!(stream.local_addr()?, peer);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        inet_addr(rustix::net::getsockname(self.io.fd())?, "local")
    }

    /// The peer's address (`ENOTCONN` once the connection is gone).
    ///
    /// ```
    /// use tulip::net::{TcpListener, TcpStream};
    ///
    /// tulip::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let stream = TcpStream::connect("127.0.0.1", listener.local_addr()?.port()).await?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match rustix::net::getpeername(self.io.fd())? {
            Some(addr) => inet_addr(addr, "peer"),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Sets `TCP_NODELAY` (Nagle's algorithm off: small writes leave at
    /// once). asyncio sets it on every TCP transport; a `TcpStream` leaves
    /// the OS default (off) as std and tokio do.
    ///
    /// ```
    /// use tulip::net::{TcpListener, TcpStream};
    ///
    /// tulip::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let stream = TcpStream::connect("127.0.0.1", listener.local_addr()?.port()).await?;
    ///     stream.set_nodelay(true)?;
    ///     assert!(stream.nodelay()?);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        Ok(sockopt::set_tcp_nodelay(self.io.fd(), nodelay)?)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// ```
    /// use tulip::net::{TcpListener, TcpStream};
    ///
    /// tulip::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let stream = TcpStream::connect("127.0.0.1", listener.local_addr()?.port()).await?;
    ///     assert!(!stream.nodelay()?);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(sockopt::tcp_nodelay(self.io.fd())?)
    }
}

/// An IPv4 or IPv6 address of a TCP or UDP socket (`which`: "local" or
/// "peer", for the error).
pub(crate) fn inet_addr(addr: rustix::net::SocketAddrAny, which: &str) -> io::Result<SocketAddr> {
    SockAddr::from_any(addr)
        .and_then(|a| a.as_inet())
        .ok_or_else(|| io::Error::other(format!("the {which} address is not an IP address")))
}
