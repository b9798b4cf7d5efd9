//! Unix-domain stream sockets for `tulip::net`: [`UnixListener`] and
//! [`UnixStream`]. Paths are spelled as asyncio spells them: a leading NUL
//! byte names Linux's abstract namespace.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::task::{Context, Poll, ready};

use rustix::net::{AddressFamily, SocketFlags, SocketType};
use tulip_executor::Loop;
use tulip_reactor::Interest;

use crate::address::{SockAddr, UnixAddr};
use crate::error::{Result, bind_error};
use crate::net::registration::Registration;
use crate::net::stream::stream_impl;
use crate::server::options::DEFAULT_BACKLOG;
use crate::sock::{self, remove_stale_socket};

/// A listening Unix-domain socket of the running loop.
///
/// As std's and tokio's, it leaves its socket file behind when dropped
/// (asyncio's `create_unix_server` removes it: remove it yourself, or use
/// the abstract namespace, which leaves nothing).
///
/// ```
/// use tulip::net::{UnixListener, UnixStream};
///
/// tulip::run(async {
///     let dir = tempfile::tempdir()?;
///     let path = dir.path().join("app.sock");
///     let listener = UnixListener::bind(&path)?;
///     let client = UnixStream::connect(&path).await?;
///     let (served, _) = listener.accept().await?;
///     client.write_all(b"hi").await?;
///     let mut buf = [0; 2];
///     served.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hi");
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct UnixListener {
    io: Registration,
}

impl UnixListener {
    /// Binds a listening socket to `path` (a stale socket file left there
    /// by a server that did not clean up is removed first, as asyncio
    /// does; any other file is an error naming the path), with asyncio's
    /// backlog of 100.
    ///
    /// ```
    /// use tulip::net::UnixListener;
    /// use tulip::transport::UnixAddr;
    ///
    /// tulip::run(async {
    ///     // A leading NUL byte: Linux's abstract namespace, no file.
    ///     let listener = UnixListener::bind("\0tulip-doc-listener")?;
    ///     assert!(matches!(listener.local_addr()?, UnixAddr::Abstract(_)));
    ///     let err = UnixListener::bind("/nonexistent-dir/app.sock").unwrap_err();
    ///     assert!(err.to_string().contains("/nonexistent-dir/app.sock"));
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> Result<UnixListener> {
        let lp = tulip_executor::get_running_loop()?;
        let addr = UnixAddr::from_asyncio(path);
        let raw = addr.to_rustix()?;
        if let UnixAddr::Path(p) = &addr {
            remove_stale_socket(p);
        }
        let fd = sock::new_socket(AddressFamily::UNIX, SocketType::STREAM)?;
        rustix::net::bind(&fd, &raw).map_err(|e| bind_error(&addr, e.into()))?;
        let backlog = i32::try_from(DEFAULT_BACKLOG).unwrap_or(i32::MAX);
        rustix::net::listen(&fd, backlog).map_err(|e| bind_error(&addr, e.into()))?;
        Ok(UnixListener {
            io: Registration::with_loop(&lp, fd)?,
        })
    }

    /// Takes a listening socket from std, registering it with the running
    /// loop.
    ///
    /// ```
    /// use tulip::net::UnixListener;
    /// use tulip::transport::UnixAddr;
    ///
    /// tulip::run(async {
    ///     let dir = tempfile::tempdir()?;
    ///     let std_listener = std::os::unix::net::UnixListener::bind(dir.path().join("s"))?;
    ///     let listener = UnixListener::from_std(std_listener)?;
    ///     assert!(matches!(listener.local_addr()?, UnixAddr::Path(_)));
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> Result<UnixListener> {
        Ok(UnixListener {
            io: Registration::new(OwnedFd::from(listener))?,
        })
    }

    /// Hands the socket back to std, out of the loop.
    ///
    /// ```
    /// use tulip::net::UnixListener;
    ///
    /// tulip::run(async {
    ///     let listener = UnixListener::bind("\0tulip-doc-into-std")?;
    ///     let std_listener = listener.into_std()?;
    ///     assert!(std_listener.local_addr().is_ok());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        Ok(std::os::unix::net::UnixListener::from(self.io.into_fd()?))
    }

    /// Accepts a connection once one is there: the new stream and the
    /// peer's address (usually unnamed).
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, it has accepted nothing.
    ///
    /// ```
    /// use tulip::net::{UnixListener, UnixStream};
    /// use tulip::transport::UnixAddr;
    ///
    /// tulip::run(async {
    ///     let listener = UnixListener::bind("\0tulip-doc-accept")?;
    ///     let _client = UnixStream::connect("\0tulip-doc-accept").await?;
    ///     let (_stream, peer) = listener.accept().await?;
    ///     assert_eq!(peer, UnixAddr::Unnamed);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, UnixAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// The poll form of [`accept`](UnixListener::accept).
    ///
    /// ```
    /// use tulip::net::{UnixListener, UnixStream};
    ///
    /// tulip::run(async {
    ///     let listener = UnixListener::bind("\0tulip-doc-poll-accept")?;
    ///     let _client = UnixStream::connect("\0tulip-doc-poll-accept").await?;
    ///     let (_stream, _) = std::future::poll_fn(|cx| listener.poll_accept(cx)).await?;
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, UnixAddr)>> {
        let (fd, addr) = ready!(self.io.poll_io(Interest::READ, cx, |fd| {
            Ok(rustix::net::acceptfrom_with(
                fd,
                SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            )?)
        }))?;
        let addr = unix_addr(addr);
        let io = Registration::with_loop(self.io.get_loop(), fd).map_err(io::Error::from)?;
        Poll::Ready(Ok((UnixStream { io }, addr)))
    }

    /// The address the listener is bound to.
    ///
    /// ```
    /// use tulip::net::UnixListener;
    /// use tulip::transport::UnixAddr;
    ///
    /// tulip::run(async {
    ///     let listener = UnixListener::bind("\0tulip-doc-local")?;
    ///     assert_eq!(listener.local_addr()?, UnixAddr::Abstract(b"tulip-doc-local".to_vec()));
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<UnixAddr> {
        Ok(unix_addr(Some(rustix::net::getsockname(self.io.fd())?)))
    }

    /// The loop the listener is registered with.
    ///
    /// ```
    /// use tulip::net::UnixListener;
    ///
    /// tulip::run(async {
    ///     let listener = UnixListener::bind("\0tulip-doc-get-loop")?;
    ///     assert!(listener.get_loop().is_running());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_loop(&self) -> Loop {
        self.io.get_loop().clone()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.fd()
    }
}

impl std::os::fd::AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.io.fd())
    }
}

/// A connected Unix-domain stream socket of the running loop; everything
/// [`TcpStream`](crate::net::TcpStream) says of reading, writing and
/// splitting holds for it.
///
/// ```
/// use tulip::net::UnixStream;
///
/// tulip::run(async {
///     let (a, b) = UnixStream::pair()?;
///     a.write_all(b"over the pair").await?;
///     let mut buf = [0; 13];
///     b.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"over the pair");
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct UnixStream {
    io: Registration,
}

stream_impl!(
    UnixStream,
    "use tulip::net::UnixStream;
# tulip::run(async {
let (stream, mut peer) = UnixStream::pair()?;"
);

impl UnixStream {
    /// Connects to the socket at `path` (asyncio's spelling: a leading
    /// NUL byte is the abstract namespace). A full backlog is waited out,
    /// as a blocking `connect` would.
    ///
    /// ```
    /// use tulip::net::{UnixListener, UnixStream};
    ///
    /// tulip::run(async {
    ///     let listener = UnixListener::bind("\0tulip-doc-connect")?;
    ///     let stream = UnixStream::connect("\0tulip-doc-connect").await?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     let missing = UnixStream::connect("/nonexistent/app.sock").await.unwrap_err();
    ///     assert_eq!(missing.io_kind(), Some(std::io::ErrorKind::NotFound));
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> Result<UnixStream> {
        let lp = tulip_executor::get_running_loop()?;
        let fd = crate::server::unix::connect(&lp, &UnixAddr::from_asyncio(path)).await?;
        Ok(UnixStream {
            io: Registration::with_loop(&lp, fd)?,
        })
    }

    /// A pair of connected streams (`socketpair(2)`), both on the running
    /// loop.
    ///
    /// ```
    /// use tulip::net::UnixStream;
    ///
    /// tulip::run(async {
    ///     let (a, b) = UnixStream::pair()?;
    ///     b.write_all(b"x").await?;
    ///     let mut buf = [0; 1];
    ///     a.read_exact(&mut buf).await?;
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pair() -> Result<(UnixStream, UnixStream)> {
        let lp = tulip_executor::get_running_loop()?;
        let (a, b) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )?;
        Ok((
            UnixStream {
                io: Registration::with_loop(&lp, a)?,
            },
            UnixStream {
                io: Registration::with_loop(&lp, b)?,
            },
        ))
    }

    /// Takes a connected stream from std, registering it with the running
    /// loop.
    ///
    /// ```
    /// use tulip::net::UnixStream;
    ///
    /// tulip::run(async {
    ///     let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     let (a, b) = (UnixStream::from_std(a)?, UnixStream::from_std(b)?);
    ///     a.write_all(b"y").await?;
    ///     let mut buf = [0; 1];
    ///     b.read_exact(&mut buf).await?;
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> Result<UnixStream> {
        Ok(UnixStream {
            io: Registration::new(OwnedFd::from(stream))?,
        })
    }

    /// Hands the socket back to std, out of the loop (still non-blocking);
    /// see [`TcpStream::into_std`](crate::net::TcpStream::into_std) for
    /// handing it on to a transport or to streams.
    ///
    /// ```
    /// use tulip::net::UnixStream;
    ///
    /// tulip::run(async {
    ///     let (a, _b) = UnixStream::pair()?;
    ///     let std_stream = a.into_std()?;
    ///     assert!(std_stream.peer_addr().is_ok());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        Ok(std::os::unix::net::UnixStream::from(self.io.into_fd()?))
    }

    /// The stream's own address (usually unnamed for a client).
    ///
    /// ```
    /// use tulip::net::UnixStream;
    /// use tulip::transport::UnixAddr;
    ///
    /// tulip::run(async {
    ///     let (a, _b) = UnixStream::pair()?;
    ///     assert_eq!(a.local_addr()?, UnixAddr::Unnamed);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<UnixAddr> {
        Ok(unix_addr(Some(rustix::net::getsockname(self.io.fd())?)))
    }

    /// The peer's address.
    ///
    /// ```
    /// use tulip::net::{UnixListener, UnixStream};
    /// use tulip::transport::UnixAddr;
    ///
    /// tulip::run(async {
    ///     let _listener = UnixListener::bind("\0tulip-doc-peer")?;
    ///     let stream = UnixStream::connect("\0tulip-doc-peer").await?;
    ///     assert!(matches!(stream.peer_addr()?, UnixAddr::Abstract(_)));
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<UnixAddr> {
        match rustix::net::getpeername(self.io.fd())? {
            Some(addr) => Ok(unix_addr(Some(addr))),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

/// The Unix-domain address of `addr` (unnamed when the kernel gives none).
fn unix_addr(addr: Option<rustix::net::SocketAddrAny>) -> UnixAddr {
    match addr.and_then(SockAddr::from_any) {
        Some(SockAddr::Unix(u)) => u,
        _ => UnixAddr::Unnamed,
    }
}
