//! SCAFFOLD: replaced by the sendfile work.

use std::fs::File;
use std::os::fd::BorrowedFd;

use tulip_executor::Loop;

use crate::error::{Error, Result};
use crate::transports::Transport;

/// SCAFFOLD.
pub(crate) async fn sock_sendfile(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    file: &File,
    offset: u64,
    count: Option<u64>,
    fallback: bool,
) -> Result<u64> {
    let _ = (lp, sock, file, offset, count, fallback);
    Err(Error::Unsupported("scaffold"))
}
/// SCAFFOLD.
pub(crate) async fn sendfile(
    lp: &Loop,
    transport: &Transport,
    file: &File,
    offset: u64,
    count: Option<u64>,
    fallback: bool,
) -> Result<u64> {
    let _ = (lp, transport, file, offset, count, fallback);
    Err(Error::Unsupported("scaffold"))
}
