//! SCAFFOLD: replaced by the DNS work.

use std::net::SocketAddr;

use tulip_executor::Loop;

use crate::error::{Error, Result};

/// SCAFFOLD.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct AddrInfoOptions {}

/// SCAFFOLD.
#[derive(Clone, Debug)]
pub struct AddrInfo {}

/// SCAFFOLD.
#[derive(Clone, Copy, Debug, Default)]
pub struct NameInfoFlags {}

/// SCAFFOLD.
pub(crate) async fn getaddrinfo(
    lp: &Loop,
    host: Option<&str>,
    port: Option<&str>,
    options: AddrInfoOptions,
) -> Result<Vec<AddrInfo>> {
    let _ = (lp, host, port, options);
    Err(Error::Unsupported("scaffold"))
}

/// SCAFFOLD.
pub(crate) async fn getnameinfo(
    lp: &Loop,
    addr: SocketAddr,
    flags: NameInfoFlags,
) -> Result<(String, String)> {
    let _ = (lp, addr, flags);
    Err(Error::Unsupported("scaffold"))
}
