//! SCAFFOLD: replaced by the server work.

use tulip_executor::Loop;

use crate::error::{Error, Result};
use crate::protocols::ProtocolFactory;

/// SCAFFOLD.
#[derive(Clone, Debug, Default)]
pub enum Hosts {
    /// SCAFFOLD.
    #[default]
    All,
}

impl From<&str> for Hosts {
    fn from(_: &str) -> Hosts {
        Hosts::All
    }
}

/// SCAFFOLD.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ServerOptions {}

/// SCAFFOLD.
#[derive(Clone)]
pub struct Server {}

/// SCAFFOLD.
pub(crate) async fn create_server<F: ProtocolFactory>(
    lp: &Loop,
    factory: F,
    hosts: Hosts,
    port: u16,
    options: ServerOptions,
) -> Result<Server> {
    let _ = (lp, hosts, port, options);
    drop(factory);
    Err(Error::Unsupported("scaffold"))
}
