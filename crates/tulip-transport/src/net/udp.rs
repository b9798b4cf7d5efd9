//! UDP for `tulip::net`: [`UdpSocket`], with `poll_*` methods and their
//! async forms. Datagrams are whole: a send puts one on the wire or none,
//! a receive takes one (the part of a longer one that does not fit the
//! buffer is discarded, as `recv(2)` does).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::task::{Context, Poll};

use rustix::net::{RecvFlags, SendFlags, SocketType, sockopt};
use tulip_executor::Loop;
use tulip_reactor::Interest;

use crate::connect::dns;
use crate::connect::happy_eyeballs;
use crate::connect::options::ConnectOptions;
use crate::error::{Error, Result, bind_error};
use crate::net::registration::Registration;
use crate::net::tcp::inet_addr;
use crate::server::base::resolve;
use crate::server::options::ServerOptions;
use crate::sock;

/// A UDP socket of the running loop, registered with it once for its
/// whole life.
///
/// ```
/// use tulip::net::UdpSocket;
///
/// tulip::run(async {
///     let a = UdpSocket::bind("127.0.0.1", 0).await?;
///     let b = UdpSocket::bind("127.0.0.1", 0).await?;
///     a.send_to(b"ping", b.local_addr()?).await?;
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    io: Registration,
}

impl UdpSocket {
    /// Binds a UDP socket to `port` on `host` (a numeric address at once,
    /// a name resolved without blocking the loop, the first address that
    /// binds; an empty `host` is `0.0.0.0`). A bind failure names the
    /// address.
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let socket = UdpSocket::bind("::1", 0).await?;
    ///     assert!(socket.local_addr()?.is_ipv6());
    ///     let port = socket.local_addr()?.port();
    ///     let err = UdpSocket::bind("::1", port).await.unwrap_err();
    ///     assert!(err.to_string().contains(&port.to_string()));
    ///     Ok::<(), tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn bind(host: &str, port: u16) -> Result<UdpSocket> {
        let lp = tulip_executor::get_running_loop()?;
        let host = if host.is_empty() { "0.0.0.0" } else { host };
        let addrs = resolve(&lp, host, port, &ServerOptions::new()).await?;
        let mut last = None;
        for addr in addrs {
            let fd = sock::new_socket(dns::family_of(&addr).to_rustix(), SocketType::DGRAM)?;
            match rustix::net::bind(&fd, &addr) {
                Ok(()) => {
                    return Ok(UdpSocket {
                        io: Registration::with_loop(&lp, fd)?,
                    });
                }
                Err(e) => last = Some(bind_error(&addr, e.into())),
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::InvalidInput(format!("no address to bind for host {host:?}"))
        }))
    }

    /// Takes a UDP socket from std, registering it with the running loop.
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let socket = UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0")?)?;
    ///     assert!(socket.local_addr()?.ip().is_loopback());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> Result<UdpSocket> {
        Ok(UdpSocket {
            io: Registration::new(OwnedFd::from(socket))?,
        })
    }

    /// Hands the socket back to std, out of the loop (still non-blocking);
    /// its `OwnedFd` is what
    /// [`DatagramOptions::sock`](crate::DatagramOptions::sock) takes.
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let socket = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     let addr = socket.local_addr()?;
    ///     assert_eq!(socket.into_std()?.local_addr()?, addr);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        Ok(std::net::UdpSocket::from(self.io.into_fd()?))
    }

    /// Sets the socket's default peer (`connect(2)`): `send` and `recv`
    /// then talk to it, and datagrams from anyone else are dropped by the
    /// kernel. `host` is resolved as [`bind`](UdpSocket::bind) does; the
    /// first address of the socket's family is used.
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let server = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     let client = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     client.connect("localhost", server.local_addr()?.port()).await?;
    ///     assert_eq!(client.peer_addr()?, server.local_addr()?);
    ///     client.send(b"hi").await?;
    ///     let mut buf = [0; 2];
    ///     let (_, from) = server.recv_from(&mut buf).await?;
    ///     server.send_to(b"yo", from).await?;
    ///     assert_eq!(client.recv(&mut buf).await?, 2);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn connect(&self, host: &str, port: u16) -> Result<()> {
        let local = self.local_addr()?;
        let options = ConnectOptions::new().family(dns::family_of(&local));
        let addrs = happy_eyeballs::resolve(self.io.get_loop(), host, port, &options).await?;
        let Some(addr) = addrs.first() else {
            return Err(Error::InvalidInput(format!(
                "{host:?} has no address of the socket's family"
            )));
        };
        rustix::net::connect(self.io.fd(), addr).map_err(|e| {
            Error::from(io::Error::new(
                io::Error::from(e).kind(),
                format!("connect to {addr} failed: {e}"),
            ))
        })
    }

    /// Sends one datagram to the connected peer: the count sent (all of
    /// `buf`). Without a peer it is `ENOTCONN`/`EDESTADDRREQ`.
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let socket = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     assert!(socket.send(b"nobody").await.is_err()); // not connected
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_send(cx, buf)).await
    }

    /// The poll form of [`send`](UdpSocket::send).
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     let b = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     a.connect("127.0.0.1", b.local_addr()?.port()).await?;
    ///     let n = std::future::poll_fn(|cx| a.poll_send(cx, b"x")).await?;
    ///     assert_eq!(n, 1);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_io(Interest::WRITE, cx, |fd| {
            Ok(rustix::net::send(fd, buf, SendFlags::NOSIGNAL)?)
        })
    }

    /// Receives one datagram from the connected peer into `buf`: its
    /// length (the rest of a longer one is discarded).
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, it has received nothing.
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     let b = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     b.connect("127.0.0.1", a.local_addr()?.port()).await?;
    ///     a.send_to(b"truncated", b.local_addr()?).await?;
    ///     let mut buf = [0; 5];
    ///     assert_eq!(b.recv(&mut buf).await?, 5);
    ///     assert_eq!(&buf, b"trunc");
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_recv(cx, buf)).await
    }

    /// The poll form of [`recv`](UdpSocket::recv).
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     a.send_to(b"self", a.local_addr()?).await?;
    ///     let mut buf = [0; 4];
    ///     let n = std::future::poll_fn(|cx| a.poll_recv(cx, &mut buf)).await?;
    ///     assert_eq!(&buf[..n], b"self");
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_io(Interest::READ, cx, |fd| {
            Ok(rustix::net::recv(fd, &mut *buf, RecvFlags::empty())?.0)
        })
    }

    /// Sends one datagram to `target`: the count sent (all of `buf`).
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     assert_eq!(a.send_to(b"abc", a.local_addr()?).await?, 3);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_send_to(cx, buf, target)).await
    }

    /// The poll form of [`send_to`](UdpSocket::send_to).
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     let to = a.local_addr()?;
    ///     let n = std::future::poll_fn(|cx| a.poll_send_to(cx, b"abc", to)).await?;
    ///     assert_eq!(n, 3);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io.poll_io(Interest::WRITE, cx, |fd| {
            Ok(rustix::net::sendto(fd, buf, SendFlags::NOSIGNAL, &target)?)
        })
    }

    /// Receives one datagram into `buf`: its length and its sender.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, it has received nothing.
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     a.send_to(b"me", a.local_addr()?).await?;
    ///     let mut buf = [0; 8];
    ///     let (n, from) = a.recv_from(&mut buf).await?;
    ///     assert_eq!((n, from), (2, a.local_addr()?));
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_recv_from(cx, buf)).await
    }

    /// The poll form of [`recv_from`](UdpSocket::recv_from).
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     a.send_to(b"me", a.local_addr()?).await?;
    ///     let mut buf = [0; 8];
    ///     let (n, _) = std::future::poll_fn(|cx| a.poll_recv_from(cx, &mut buf)).await?;
    ///     assert_eq!(n, 2);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io.poll_io(Interest::READ, cx, |fd| {
            let (n, _, addr) = rustix::net::recvfrom(fd, &mut *buf, RecvFlags::empty())?;
            match addr {
                Some(addr) => Ok((n, inet_addr(addr, "sender")?)),
                None => Err(io::Error::other(
                    "the datagram came without a sender address",
                )),
            }
        })
    }

    /// The socket's own address.
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let socket = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     assert_ne!(socket.local_addr()?.port(), 0);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        inet_addr(rustix::net::getsockname(self.io.fd())?, "local")
    }

    /// The connected peer's address (`NotConnected` without one).
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let socket = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     assert_eq!(socket.peer_addr().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
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

    /// Sets `SO_BROADCAST` (sending to a broadcast address).
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let socket = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     socket.set_broadcast(true)?;
    ///     assert!(socket.broadcast()?);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        Ok(sockopt::set_socket_broadcast(self.io.fd(), on)?)
    }

    /// Whether `SO_BROADCAST` is set.
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let socket = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     assert!(!socket.broadcast()?);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        Ok(sockopt::socket_broadcast(self.io.fd())?)
    }

    /// The loop the socket is registered with.
    ///
    /// ```
    /// use tulip::net::UdpSocket;
    ///
    /// tulip::run(async {
    ///     let socket = UdpSocket::bind("127.0.0.1", 0).await?;
    ///     assert!(socket.get_loop().is_running());
    ///     Ok::<(), tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_loop(&self) -> Loop {
        self.io.get_loop().clone()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.fd()
    }
}

impl std::os::fd::AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.io.fd())
    }
}
