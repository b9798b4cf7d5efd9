//! SCAFFOLD: replaced by the datagram work.

use std::cell::RefCell;
use std::rc::Rc;

use tulip_executor::Loop;

use crate::error::{Error, Result};
use crate::protocols::DatagramProtocolFactory;

/// SCAFFOLD.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct DatagramOptions {}

/// SCAFFOLD.
#[derive(Clone)]
pub struct DatagramTransport {}

/// SCAFFOLD.
pub(crate) async fn create_datagram_endpoint<F: DatagramProtocolFactory>(
    lp: &Loop,
    factory: F,
    options: DatagramOptions,
) -> Result<(DatagramTransport, Rc<RefCell<F::Protocol>>)> {
    let _ = (lp, options);
    drop(factory);
    Err(Error::Unsupported("scaffold"))
}
