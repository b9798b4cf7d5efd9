//! SCAFFOLD: replaced by the DNS/connect work.

use std::os::fd::OwnedFd;

use tulip_executor::Loop;

use crate::connection::ConnectOptions;
use crate::error::{Error, Result};

/// SCAFFOLD.
pub(crate) async fn connect(
    lp: &Loop,
    host: &str,
    port: u16,
    options: &ConnectOptions,
) -> Result<OwnedFd> {
    let _ = (lp, host, port, options);
    Err(Error::Unsupported("scaffold"))
}
