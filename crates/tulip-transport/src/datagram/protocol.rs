//! A datagram endpoint's protocol (asyncio's `DatagramProtocol`) and the
//! factories that make it.

use std::cell::RefCell;
use std::rc::Rc;

use crate::address::SockAddr;
use crate::datagram::transport::DatagramTransport;
use crate::error::{Error, Result};
use crate::protocols::{BaseProtocol, Fallible};
use crate::transports::NoticeTarget;

/// A datagram protocol: UDP and Unix datagram sockets (asyncio's
/// `DatagramProtocol`).
pub trait DatagramProtocol: BaseProtocol {
    /// The endpoint is ready.
    fn connection_made(&mut self, transport: DatagramTransport) {
        let _ = transport;
    }

    /// A datagram arrived from `addr` (`None` when the socket is connected
    /// and the kernel gives no address).
    fn datagram_received(&mut self, data: &[u8], addr: Option<SockAddr>) {
        let _ = (data, addr);
    }

    /// A send or receive failed, e.g. an ICMP "port unreachable" reported
    /// for an earlier datagram. The endpoint stays open.
    fn error_received(&mut self, exc: Error) {
        let _ = exc;
    }
}

/// Makes the protocol of a datagram endpoint: every `FnMut() -> P` where
/// `P` is a [`DatagramProtocol`], or a [`Fallible`] one.
pub trait DatagramProtocolFactory: 'static {
    /// The protocol type made.
    type Protocol: DatagramProtocol;

    /// Makes the protocol.
    ///
    /// Errors: the factory's own failure, as [`Error::ProtocolFactory`].
    fn build(&mut self) -> Result<Rc<RefCell<Self::Protocol>>>;
}

impl<F, P> DatagramProtocolFactory for F
where
    F: FnMut() -> P + 'static,
    P: DatagramProtocol,
{
    type Protocol = P;

    fn build(&mut self) -> Result<Rc<RefCell<P>>> {
        Ok(Rc::new(RefCell::new(self())))
    }
}

impl<F, P, E> DatagramProtocolFactory for Fallible<F>
where
    F: FnMut() -> std::result::Result<P, E> + 'static,
    P: DatagramProtocol,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Protocol = P;

    fn build(&mut self) -> Result<Rc<RefCell<P>>> {
        Ok(Rc::new(RefCell::new(self.make()?)))
    }
}

impl NoticeTarget for Rc<RefCell<dyn DatagramProtocol>> {
    fn try_call(&self, f: &mut dyn FnMut(&mut dyn BaseProtocol)) -> bool {
        match self.try_borrow_mut() {
            Ok(mut p) => {
                f(&mut *p);
                true
            }
            Err(_) => false,
        }
    }
}
