//! The one place where a connected descriptor becomes a running stream
//! transport: the protocol is made, `connection_made` has run, and a
//! cancelled or failed setup leaks nothing.

use std::os::fd::OwnedFd;
use std::rc::Rc;

use tulip_executor::Loop;

use crate::error::{Error, Result};
use crate::protocols::ProtocolFactory;
use crate::stream::socket::{Kind, SocketTransport};
use crate::transports::Connection;

/// Makes the protocol, wraps `fd` in a transport, and waits for
/// `connection_made` to have run. If the factory fails, `fd` is closed;
/// if this future is dropped first, or `connection_made` fails, the
/// transport is aborted (the descriptor is closed): nothing leaks.
pub(crate) async fn start_transport<F: ProtocolFactory>(
    lp: &Loop,
    fd: OwnedFd,
    kind: Kind,
    factory: &mut F,
) -> Result<(Rc<SocketTransport>, Connection<F::Protocol>)> {
    let (protocol, shared) = factory.build()?;
    let transport = SocketTransport::new(lp, fd, kind, shared)?;
    let waiter = transport.start()?;
    let guard = AbortOnDrop(Some(transport.clone()));
    waiter.await.map_err(Error::from)?;
    let transport = guard.disarm();
    let handle = transport.handle();
    Ok((transport, (handle, protocol)))
}

/// Aborts a transport unless disarmed (a cancelled connection setup).
struct AbortOnDrop(Option<Rc<SocketTransport>>);

impl AbortOnDrop {
    fn disarm(mut self) -> Rc<SocketTransport> {
        self.0.take().expect("armed until disarmed")
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            t.force_close(Some(Error::Loop(tulip_executor::Error::Cancelled)));
        }
    }
}
