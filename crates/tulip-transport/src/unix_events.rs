//! SCAFFOLD: replaced by the Unix socket work.

use std::path::Path;

use tulip_executor::Loop;

use crate::error::{Error, Result};
use crate::loop_ext::Connection;
use crate::protocols::ProtocolFactory;
use crate::server::Server;

/// SCAFFOLD.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct UnixConnectOptions {}

/// SCAFFOLD.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct UnixServerOptions {}

/// SCAFFOLD.
pub(crate) async fn create_unix_connection<F: ProtocolFactory>(
    lp: &Loop,
    factory: F,
    path: Option<&Path>,
    options: UnixConnectOptions,
) -> Result<Connection<F::Protocol>> {
    let _ = (lp, path, options);
    drop(factory);
    Err(Error::Unsupported("scaffold"))
}

/// SCAFFOLD.
pub(crate) async fn create_unix_server<F: ProtocolFactory>(
    lp: &Loop,
    factory: F,
    path: Option<&Path>,
    options: UnixServerOptions,
) -> Result<Server> {
    let _ = (lp, path, options);
    drop(factory);
    Err(Error::Unsupported("scaffold"))
}
