//! SCAFFOLD: replaced by the socket-operations work.

use std::os::fd::{BorrowedFd, OwnedFd};

use tulip_executor::Loop;

use crate::address::SockAddr;
use crate::error::{Error, Result};

/// SCAFFOLD.
pub(crate) async fn sock_recv(lp: &Loop, sock: BorrowedFd<'_>, nbytes: usize) -> Result<Vec<u8>> {
    let _ = (lp, sock, nbytes);
    Err(Error::Unsupported("scaffold"))
}
/// SCAFFOLD.
pub(crate) async fn sock_recv_into(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<usize> {
    let _ = (lp, sock, buf);
    Err(Error::Unsupported("scaffold"))
}
/// SCAFFOLD.
pub(crate) async fn sock_recvfrom(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    n: usize,
) -> Result<(Vec<u8>, Option<SockAddr>)> {
    let _ = (lp, sock, n);
    Err(Error::Unsupported("scaffold"))
}
/// SCAFFOLD.
pub(crate) async fn sock_recvfrom_into(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<(usize, Option<SockAddr>)> {
    let _ = (lp, sock, buf);
    Err(Error::Unsupported("scaffold"))
}
/// SCAFFOLD.
pub(crate) async fn sock_sendall(lp: &Loop, sock: BorrowedFd<'_>, data: &[u8]) -> Result<()> {
    let _ = (lp, sock, data);
    Err(Error::Unsupported("scaffold"))
}
/// SCAFFOLD.
pub(crate) async fn sock_sendto(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    data: &[u8],
    addr: &SockAddr,
) -> Result<usize> {
    let _ = (lp, sock, data, addr);
    Err(Error::Unsupported("scaffold"))
}
/// SCAFFOLD.
pub(crate) async fn sock_connect(lp: &Loop, sock: BorrowedFd<'_>, addr: &SockAddr) -> Result<()> {
    let _ = (lp, sock, addr);
    Err(Error::Unsupported("scaffold"))
}
/// SCAFFOLD.
pub(crate) async fn sock_accept(
    lp: &Loop,
    sock: BorrowedFd<'_>,
) -> Result<(OwnedFd, Option<SockAddr>)> {
    let _ = (lp, sock);
    Err(Error::Unsupported("scaffold"))
}
