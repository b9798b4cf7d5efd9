//! The loop's low-level socket operations (asyncio's `loop.sock_recv`,
//! `sock_recv_into`, `sock_recvfrom`, `sock_recvfrom_into`,
//! `sock_sendall`, `sock_sendto`, `sock_connect` and `sock_accept`), on
//! sockets the caller owns.
//!
//! Every operation, as asyncio's selector loop:
//!
//! - needs a non-blocking socket: a blocking one is
//!   [`Error::InvalidInput`] (asyncio's `ValueError`), checked before any
//!   I/O, because one blocking call would stall the whole loop;
//! - tries the system call at once and waits for readiness only when the
//!   socket says "not now" (`EAGAIN`), with a one-shot watch
//!   ([`wait_fd`](crate::sock::wait_fd)) that is removed when the
//!   operation's future is dropped.
//!
//! The socket must not be a transport's (a transport watches its own
//! descriptor; a second watch of the same kind would replace it), and one
//! reading and one writing operation at a time may wait on a socket: a
//! second `sock_recv` waiting on the same socket replaces the first one's
//! watch, as in asyncio.
//!
//! # Cancel safety
//!
//! Dropping an operation's future (a timeout, a cancelled task) stops its
//! watch at once. What happened to the data before then:
//!
//! - `sock_recv`, `sock_recv_into`, `sock_recvfrom`, `sock_recvfrom_into`
//!   and `sock_accept` consume nothing unless they complete: a dropped
//!   receive leaves the bytes (a dropped accept, the connection) for the
//!   next call.
//! - `sock_sendto` sends its datagram whole or not at all.
//! - `sock_sendall` may have sent a prefix of `data` when it is dropped:
//!   nothing reports it, and the peer may receive those bytes (asyncio's
//!   behaviour too). Treat the connection's byte stream as unknown after a
//!   cancelled `sock_sendall`.
//! - `sock_connect` leaves the socket connecting (or connected): close it
//!   or try `sock_connect` again (which reports `EALREADY` or `EISCONN`).

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::fs::OFlags;
use rustix::net::{RecvFlags, SendFlags, SocketFlags};
use tulip_executor::Loop;

use crate::address::SockAddr;
use crate::error::{Error, Result};
use crate::sock::{self, wait_fd};

/// Fails with [`Error::InvalidInput`] unless `sock` is in non-blocking
/// mode (asyncio's "the socket must be non-blocking").
pub(crate) fn check_nonblocking(sock: BorrowedFd<'_>) -> Result<()> {
    if rustix::fs::fcntl_getfl(sock)?.contains(OFlags::NONBLOCK) {
        Ok(())
    } else {
        Err(Error::InvalidInput(String::from(
            "the socket must be non-blocking",
        )))
    }
}

/// Runs `op` until it stops saying "not now" (`EAGAIN`, `EINTR`), waiting
/// for `fd` to be readable (`reader`) or writable in between.
pub(crate) async fn retry<T>(
    lp: &Loop,
    fd: BorrowedFd<'_>,
    reader: bool,
    mut op: impl FnMut() -> io::Result<T>,
) -> Result<T> {
    loop {
        match op() {
            Err(e) if sock::would_block(&e) => wait_fd(lp, fd, reader).await?,
            res => return Ok(res?),
        }
    }
}

/// Receives up to `nbytes` bytes (asyncio's `sock_recv`). An empty vector
/// means the peer closed its side (or `nbytes` is 0).
///
/// # Cancel safety
///
/// Dropped before it completes, it has received nothing: the data stays
/// for the next receive.
pub(crate) async fn sock_recv(lp: &Loop, sock: BorrowedFd<'_>, nbytes: usize) -> Result<Vec<u8>> {
    check_nonblocking(sock)?;
    let mut buf = Vec::with_capacity(nbytes);
    if nbytes > 0 {
        retry(lp, sock, true, || {
            Ok(rustix::net::recv(
                sock,
                rustix::buffer::spare_capacity(&mut buf),
                RecvFlags::empty(),
            )?
            .0)
        })
        .await?;
    }
    Ok(buf)
}

/// Receives into `buf` (asyncio's `sock_recv_into`): the number of bytes
/// received, 0 when the peer closed its side.
///
/// # Cancel safety
///
/// As [`sock_recv`]: nothing is received unless it completes.
pub(crate) async fn sock_recv_into(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<usize> {
    check_nonblocking(sock)?;
    retry(lp, sock, true, || {
        Ok(rustix::net::recv(sock, &mut *buf, RecvFlags::empty())?.0)
    })
    .await
}

/// Receives one datagram of up to `bufsize` bytes (the rest of a longer
/// one is discarded) and its sender (asyncio's `sock_recvfrom`). The
/// sender is `None` when the kernel gives no address (a connected stream
/// socket).
///
/// # Cancel safety
///
/// As [`sock_recv`]: no datagram is consumed unless it completes.
pub(crate) async fn sock_recvfrom(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    bufsize: usize,
) -> Result<(Vec<u8>, Option<SockAddr>)> {
    check_nonblocking(sock)?;
    let mut buf = Vec::with_capacity(bufsize);
    let addr = if bufsize > 0 {
        retry(lp, sock, true, || {
            Ok(rustix::net::recvfrom(
                sock,
                rustix::buffer::spare_capacity(&mut buf),
                RecvFlags::empty(),
            )?
            .2)
        })
        .await?
    } else {
        // A zero-length receive still consumes one datagram.
        retry(lp, sock, true, || {
            Ok(rustix::net::recvfrom(sock, &mut [0u8; 0], RecvFlags::empty())?.2)
        })
        .await?
    };
    Ok((buf, addr.and_then(SockAddr::from_any)))
}

/// Receives one datagram into `buf` (asyncio's `sock_recvfrom_into`): the
/// number of bytes stored (a longer datagram is truncated to `buf`) and
/// the sender.
///
/// # Cancel safety
///
/// As [`sock_recv`]: no datagram is consumed unless it completes.
pub(crate) async fn sock_recvfrom_into(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<(usize, Option<SockAddr>)> {
    check_nonblocking(sock)?;
    let (n, addr) = retry(lp, sock, true, || {
        let (n, _, addr) = rustix::net::recvfrom(sock, &mut *buf, RecvFlags::empty())?;
        Ok((n, addr))
    })
    .await?;
    Ok((n, addr.and_then(SockAddr::from_any)))
}

/// Sends all of `data` (asyncio's `sock_sendall`), without raising
/// `SIGPIPE`: a closed peer is an `EPIPE` error.
///
/// # Cancel safety
///
/// Not cancel-safe for the byte stream: dropped midway, a prefix of
/// `data` may have been sent (and may reach the peer), and nothing
/// reports how much. The watch on the socket is removed.
pub(crate) async fn sock_sendall(lp: &Loop, sock: BorrowedFd<'_>, data: &[u8]) -> Result<()> {
    check_nonblocking(sock)?;
    send_all(lp, sock, data).await
}

/// [`sock_sendall`] without the non-blocking check, for callers that made
/// it already.
pub(crate) async fn send_all(lp: &Loop, sock: BorrowedFd<'_>, data: &[u8]) -> Result<()> {
    let mut sent = 0;
    while sent < data.len() {
        match sock::send(sock, &data[sent..]) {
            // A short send means the socket's buffer is full: wait for room
            // rather than try again at once.
            Ok(n) => {
                sent += n;
                if sent < data.len() {
                    wait_fd(lp, sock, false).await?;
                }
            }
            Err(e) if sock::would_block(&e) => wait_fd(lp, sock, false).await?,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Sends one datagram to `addr` (asyncio's `sock_sendto`): the number of
/// bytes sent.
///
/// # Cancel safety
///
/// A datagram is sent whole or not at all: dropped before it completes,
/// nothing was sent.
pub(crate) async fn sock_sendto(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    data: &[u8],
    addr: &SockAddr,
) -> Result<usize> {
    check_nonblocking(sock)?;
    let addr = addr.to_any()?;
    retry(lp, sock, false, || {
        Ok(rustix::net::sendto(sock, data, SendFlags::NOSIGNAL, &addr)?)
    })
    .await
}

/// Connects the socket to `addr` (asyncio's `sock_connect`): a
/// non-blocking `connect`, then (when it is in progress) a wait until the
/// socket is writable and its `SO_ERROR`.
///
/// # Cancel safety
///
/// Dropped midway, the socket stays in whatever state the kernel has it
/// (connecting, then connected or failed); the caller owns it.
pub(crate) async fn sock_connect(lp: &Loop, sock: BorrowedFd<'_>, addr: &SockAddr) -> Result<()> {
    check_nonblocking(sock)?;
    sock::connect(lp, sock, &addr.to_any()?).await
}

/// Accepts a connection (asyncio's `sock_accept`): the new socket, in
/// non-blocking mode and close-on-exec, and the peer's address.
///
/// # Cancel safety
///
/// Dropped before it completes, it has accepted nothing: the connection
/// waits for the next accept.
pub(crate) async fn sock_accept(
    lp: &Loop,
    sock: BorrowedFd<'_>,
) -> Result<(OwnedFd, Option<SockAddr>)> {
    check_nonblocking(sock)?;
    let (fd, addr) = retry(lp, sock, true, || {
        Ok(rustix::net::acceptfrom_with(
            sock,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        )?)
    })
    .await?;
    Ok((fd, addr.and_then(SockAddr::from_any)))
}
