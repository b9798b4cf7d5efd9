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
///
/// A UDP echo endpoint and a client, both on loopback:
///
/// ```
/// use std::net::SocketAddr;
/// use tulip::prelude::*;
/// use tulip::transport::{DatagramOptions, Error, SockAddr};
///
/// /// Sends every datagram back where it came from.
/// #[derive(Default)]
/// struct Echo(Option<DatagramTransport>);
/// impl BaseProtocol for Echo {}
/// impl DatagramProtocol for Echo {
///     fn connection_made(&mut self, t: DatagramTransport) {
///         self.0 = Some(t);
///     }
///     fn datagram_received(&mut self, data: &[u8], addr: Option<SockAddr>) {
///         if let (Some(t), Some(addr)) = (&self.0, addr) {
///             let _ = t.sendto(data, Some(&addr));
///         }
///     }
/// }
///
/// /// Resolves `reply` with the first datagram (or error) received.
/// struct Client {
///     reply: LoopFuture<Result<Vec<u8>, Error>>,
/// }
/// impl BaseProtocol for Client {}
/// impl DatagramProtocol for Client {
///     fn datagram_received(&mut self, data: &[u8], _addr: Option<SockAddr>) {
///         let _ = self.reply.set_result(Ok(data.to_vec()));
///     }
///     fn error_received(&mut self, exc: Error) {
///         let _ = self.reply.set_result(Err(exc));
///     }
/// }
///
/// let reply = tulip::run(async {
///     let lp = get_running_loop()?;
///     let any_port: SocketAddr = "127.0.0.1:0".parse().unwrap();
///     let (server, _) = lp
///         .create_datagram_endpoint(Echo::default, DatagramOptions::new().local_addr(any_port))
///         .await?;
///     let server_addr = server.local_addr().unwrap();
///
///     let reply = lp.create_future();
///     let factory = {
///         let reply = reply.clone();
///         move || Client { reply: reply.clone() }
///     };
///     let options = DatagramOptions::new().remote_addr(server_addr);
///     let (client, _) = lp.create_datagram_endpoint(factory, options).await?;
///     client.sendto(b"ping", None)?;
///     let got = reply.await??;
///     client.close();
///     server.close();
///     Ok::<_, Error>(got)
/// })??;
/// assert_eq!(reply, b"ping");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
///
/// ```
/// use tulip::prelude::*;
/// use tulip::transport::{DatagramProtocolFactory, Error};
///
/// #[derive(Debug, Default)]
/// struct Counter(u32);
/// impl BaseProtocol for Counter {}
/// impl DatagramProtocol for Counter {}
///
/// let mut plain = Counter::default;
/// assert_eq!(plain.build()?.borrow().0, 0);
///
/// // A factory that refuses: its error comes back as `Error::ProtocolFactory`.
/// let mut refusing = Fallible(|| Err::<Counter, _>("no more endpoints"));
/// let err = refusing.build().unwrap_err();
/// assert!(matches!(err, Error::ProtocolFactory(_)));
/// # Ok::<(), Error>(())
/// ```
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
