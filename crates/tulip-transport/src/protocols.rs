//! Protocols: the callbacks a transport calls (asyncio's `protocols`
//! module).
//!
//! Every method has an empty default, as in asyncio, except the two a
//! [`BufferedProtocol`] cannot do without. A transport holds its protocol
//! as `Rc<RefCell<P>>` and never calls into it while it is already inside
//! one of its callbacks: a notification raised meanwhile (a `pause_writing`
//! caused by a `write()` made inside `data_received`, say) is delivered, in
//! order, right after the running callback returns.
//!
//! The state machine every transport keeps:
//!
//! ```text
//! connection_made  data_received*  eof_received?  connection_lost
//! ```
//!
//! `connection_made` once; `connection_lost` exactly once, and nothing after
//! it. `pause_writing` and `resume_writing` alternate, starting with a pause.

use std::cell::RefCell;
use std::rc::Rc;

use crate::error::{Error, FactoryError, Result};
use crate::transports::Transport;

/// What every protocol can be told (asyncio's `BaseProtocol`). The
/// `connection_made` of each kind of protocol lives in its own trait, as it
/// receives that kind's transport.
///
/// Here a client that writes faster than its peer reads is paused by its
/// transport, and told when the connection is gone:
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use tulip::prelude::*;
/// use tulip::transport::{ConnectOptions, Error, ServerOptions};
///
/// #[derive(Default)]
/// struct Writer {
///     paused: bool,
///     lost: Option<Option<Error>>,
/// }
/// impl BaseProtocol for Writer {
///     fn pause_writing(&mut self) {
///         self.paused = true;
///     }
///     fn resume_writing(&mut self) {
///         self.paused = false;
///     }
///     fn connection_lost(&mut self, exc: Option<Error>) {
///         self.lost = Some(exc);
///     }
/// }
/// impl Protocol for Writer {}
///
/// /// A peer that never reads.
/// #[derive(Default)]
/// struct Deaf;
/// impl BaseProtocol for Deaf {}
/// impl Protocol for Deaf {
///     fn connection_made(&mut self, t: Transport) {
///         t.pause_reading();
///     }
/// }
///
/// tulip::run(async {
///     let lp = get_running_loop()?;
///     let server = lp
///         .create_server(Deaf::default, "127.0.0.1", 0, ServerOptions::new())
///         .await?;
///     let port = server.sockets()[0].inet_addr().unwrap().port();
///     let (transport, writer): (Transport, Rc<RefCell<Writer>>) = lp
///         .create_connection(Writer::default, "127.0.0.1", port, ConnectOptions::new())
///         .await?;
///     // More than the kernel's socket buffers hold: the rest is buffered,
///     // and the protocol paused once it is over the high-water mark.
///     transport.write(&vec![0u8; 64 << 20])?;
///     assert!(writer.borrow().paused);
///
///     transport.abort();
///     while writer.borrow().lost.is_none() {
///         yield_now().await;
///     }
///     assert!(matches!(writer.borrow().lost, Some(None)));
///     server.close();
///     Ok::<_, Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait BaseProtocol: 'static {
    /// The connection is gone: `None` for a regular close or EOF, the error
    /// otherwise. Called exactly once, and last.
    fn connection_lost(&mut self, exc: Option<Error>) {
        let _ = exc;
    }

    /// The transport's write buffer went over its high-water mark.
    fn pause_writing(&mut self) {}

    /// The transport's write buffer drained to its low-water mark (or
    /// below) after a [`pause_writing`](BaseProtocol::pause_writing).
    fn resume_writing(&mut self) {}
}

/// A streaming protocol: TCP, Unix sockets, pipes (asyncio's `Protocol`).
///
/// ```
/// use tulip::transport::{BaseProtocol, Protocol, Transport};
///
/// /// Echoes everything back.
/// #[derive(Default)]
/// struct Echo {
///     transport: Option<Transport>,
/// }
///
/// impl BaseProtocol for Echo {}
///
/// impl Protocol for Echo {
///     fn connection_made(&mut self, transport: Transport) {
///         self.transport = Some(transport);
///     }
///     fn data_received(&mut self, data: &[u8]) {
///         if let Some(t) = &self.transport {
///             let _ = t.write(data);
///         }
///     }
/// }
/// ```
pub trait Protocol: BaseProtocol {
    /// The connection is made; `transport` is this connection's transport
    /// (a cheap, clonable handle).
    fn connection_made(&mut self, transport: Transport) {
        let _ = transport;
    }

    /// Some bytes arrived. The slice is only valid during the call.
    fn data_received(&mut self, data: &[u8]) {
        let _ = data;
    }

    /// The peer sent EOF. Return `true` to keep the transport open for
    /// writing (a half-closed connection); `false` (the default) closes it.
    fn eof_received(&mut self) -> bool {
        false
    }
}

/// A streaming protocol that lends the transport its own buffer, so bytes
/// land there straight from the socket (asyncio's `BufferedProtocol`).
/// Its factory is wrapped in [`Buffered`].
///
/// ```
/// use tulip::prelude::*;
/// use tulip::transport::{ConnectOptions, Error, ServerOptions};
///
/// /// Reads into one fixed buffer; resolves `done` with what came at EOF.
/// struct Collect {
///     buf: Vec<u8>,
///     len: usize,
///     done: LoopFuture<Vec<u8>>,
/// }
/// impl BaseProtocol for Collect {}
/// impl BufferedProtocol for Collect {
///     fn get_buffer(&mut self, _sizehint: usize) -> &mut [u8] {
///         if self.len == self.buf.len() {
///             self.buf.resize(self.buf.len() * 2, 0);
///         }
///         &mut self.buf[self.len..]
///     }
///     fn buffer_updated(&mut self, nbytes: usize) {
///         self.len += nbytes;
///     }
///     fn eof_received(&mut self) -> bool {
///         let _ = self.done.set_result(self.buf[..self.len].to_vec());
///         false
///     }
/// }
///
/// /// Sends a greeting and closes.
/// #[derive(Default)]
/// struct Greeter;
/// impl BaseProtocol for Greeter {}
/// impl Protocol for Greeter {
///     fn connection_made(&mut self, t: Transport) {
///         let _ = t.write(b"hello, buffered world");
///         t.close();
///     }
/// }
///
/// let got = tulip::run(async {
///     let lp = get_running_loop()?;
///     let server = lp
///         .create_server(Greeter::default, "127.0.0.1", 0, ServerOptions::new())
///         .await?;
///     let port = server.sockets()[0].inet_addr().unwrap().port();
///     let done = lp.create_future();
///     let factory = {
///         let done = done.clone();
///         // A small buffer on purpose: `get_buffer` grows it.
///         Buffered(move || Collect { buf: vec![0; 4], len: 0, done: done.clone() })
///     };
///     lp.create_connection(factory, "127.0.0.1", port, ConnectOptions::new())
///         .await?;
///     let got = done.await?;
///     server.close();
///     Ok::<_, Error>(got)
/// })??;
/// assert_eq!(got, b"hello, buffered world");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait BufferedProtocol: BaseProtocol {
    /// The connection is made, as [`Protocol::connection_made`].
    fn connection_made(&mut self, transport: Transport) {
        let _ = transport;
    }

    /// The buffer to read into next; `sizehint` is the size the transport
    /// would like (a hint only). Must not be empty: an empty buffer is a
    /// fatal error of the connection, as in asyncio.
    fn get_buffer(&mut self, sizehint: usize) -> &mut [u8];

    /// `nbytes` bytes were written at the start of the last buffer.
    fn buffer_updated(&mut self, nbytes: usize);

    /// The peer sent EOF; as [`Protocol::eof_received`].
    fn eof_received(&mut self) -> bool {
        false
    }
}

/// A stream transport's protocol: either kind, shared. What
/// [`Transport::set_protocol`](crate::Transport::set_protocol) takes, to
/// hand a connection over to another protocol (asyncio's
/// `set_protocol`), and [`get_protocol`](crate::Transport::get_protocol)
/// gives back.
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use tulip::prelude::*;
/// use tulip::transport::{ConnectOptions, Error, ProtocolRef, ServerOptions};
///
/// #[derive(Default)]
/// struct Handshake;
/// impl BaseProtocol for Handshake {}
/// impl Protocol for Handshake {}
///
/// /// Takes over once the handshake is done.
/// #[derive(Default)]
/// struct Session;
/// impl BaseProtocol for Session {}
/// impl Protocol for Session {}
///
/// tulip::run(async {
///     let lp = get_running_loop()?;
///     let server = lp
///         .create_server(Handshake::default, "127.0.0.1", 0, ServerOptions::new())
///         .await?;
///     let port = server.sockets()[0].inet_addr().unwrap().port();
///     let (transport, first) = lp
///         .create_connection(Handshake::default, "127.0.0.1", port, ConnectOptions::new())
///         .await?;
///     let current = transport.get_protocol().unwrap();
///     assert!(current.ptr_eq(&ProtocolRef::plain(first)));
///
///     let session = Rc::new(RefCell::new(Session));
///     transport.set_protocol(ProtocolRef::plain(session.clone()));
///     // From now on the transport calls `session`.
///     assert!(transport.get_protocol().unwrap().ptr_eq(&ProtocolRef::plain(session)));
///     transport.close();
///     server.close();
///     Ok::<_, Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub enum ProtocolRef {
    /// A [`Protocol`]: the transport reads into the loop's shared buffer.
    Plain(Rc<RefCell<dyn Protocol>>),
    /// A [`BufferedProtocol`]: the transport reads into the protocol's
    /// buffer.
    Buffered(Rc<RefCell<dyn BufferedProtocol>>),
}

impl ProtocolRef {
    /// Wraps a [`Protocol`].
    pub fn plain<P: Protocol>(protocol: Rc<RefCell<P>>) -> ProtocolRef {
        ProtocolRef::Plain(protocol)
    }

    /// Wraps a [`BufferedProtocol`].
    pub fn buffered<P: BufferedProtocol>(protocol: Rc<RefCell<P>>) -> ProtocolRef {
        ProtocolRef::Buffered(protocol)
    }

    /// Whether both refer to the same protocol object.
    pub fn ptr_eq(&self, other: &ProtocolRef) -> bool {
        match (self, other) {
            (ProtocolRef::Plain(a), ProtocolRef::Plain(b)) => {
                std::ptr::addr_eq(Rc::as_ptr(a), Rc::as_ptr(b))
            }
            (ProtocolRef::Buffered(a), ProtocolRef::Buffered(b)) => {
                std::ptr::addr_eq(Rc::as_ptr(a), Rc::as_ptr(b))
            }
            _ => false,
        }
    }

    /// Runs `f` on the protocol's [`BaseProtocol`] side, unless the
    /// protocol is borrowed (inside one of its callbacks): then returns
    /// `None` and runs nothing.
    pub(crate) fn try_base<R>(&self, f: impl FnOnce(&mut dyn BaseProtocol) -> R) -> Option<R> {
        match self {
            ProtocolRef::Plain(p) => p.try_borrow_mut().ok().map(|mut p| f(&mut *p)),
            ProtocolRef::Buffered(p) => p.try_borrow_mut().ok().map(|mut p| f(&mut *p)),
        }
    }

    /// Whether the protocol can be called now.
    pub(crate) fn is_free(&self) -> bool {
        match self {
            ProtocolRef::Plain(p) => p.try_borrow_mut().is_ok(),
            ProtocolRef::Buffered(p) => p.try_borrow_mut().is_ok(),
        }
    }
}

/// Makes the protocol of each new connection (asyncio's
/// `protocol_factory`). Implemented by every `FnMut() -> P` where `P` is a
/// [`Protocol`]; wrap the closure in [`Buffered`] for a
/// [`BufferedProtocol`], in [`Fallible`] for one that can fail.
///
/// The loop calls [`build`](ProtocolFactory::build) once per connection;
/// calling it by hand shows what each kind makes:
///
/// ```
/// use tulip::prelude::*;
/// use tulip::transport::{Buffered, ProtocolFactory, ProtocolRef};
///
/// #[derive(Default)]
/// struct Plain;
/// impl BaseProtocol for Plain {}
/// impl Protocol for Plain {}
///
/// struct Lender(Vec<u8>);
/// impl BaseProtocol for Lender {}
/// impl BufferedProtocol for Lender {
///     fn get_buffer(&mut self, _sizehint: usize) -> &mut [u8] {
///         &mut self.0
///     }
///     fn buffer_updated(&mut self, _nbytes: usize) {}
/// }
///
/// let mut plain = Plain::default;
/// let (typed, shared) = plain.build()?;
/// // One object: the caller's typed handle and the transport's handle.
/// assert!(shared.ptr_eq(&ProtocolRef::plain(typed)));
///
/// let mut buffered = Buffered(|| Lender(vec![0; 4096]));
/// let (_typed, shared) = buffered.build()?;
/// assert!(matches!(shared, ProtocolRef::Buffered(_)));
/// # Ok::<(), tulip::transport::Error>(())
/// ```
pub trait ProtocolFactory: 'static {
    /// The protocol type made.
    type Protocol: 'static;

    /// Makes one protocol: the typed handle for the caller and the shared
    /// handle for the transport (the same object).
    ///
    /// Errors: the factory's own failure, as
    /// [`Error::ProtocolFactory`]; the connection is then not made and
    /// its descriptor closed.
    fn build(&mut self) -> Result<(Rc<RefCell<Self::Protocol>>, ProtocolRef)>;
}

impl<F, P> ProtocolFactory for F
where
    F: FnMut() -> P + 'static,
    P: Protocol,
{
    type Protocol = P;

    fn build(&mut self) -> Result<(Rc<RefCell<P>>, ProtocolRef)> {
        let p = Rc::new(RefCell::new(self()));
        Ok((p.clone(), ProtocolRef::Plain(p)))
    }
}

/// Marks a factory of [`BufferedProtocol`]s:
/// `lp.create_connection(Buffered(|| MyProto::new()), ...)`; a fallible
/// one is `Buffered(Fallible(...))`. The whole round trip is in
/// [`BufferedProtocol`]'s example.
///
/// ```
/// use tulip::prelude::*;
/// use tulip::transport::{ProtocolFactory, ProtocolRef};
///
/// struct Lender([u8; 512]);
/// impl BaseProtocol for Lender {}
/// impl BufferedProtocol for Lender {
///     fn get_buffer(&mut self, _sizehint: usize) -> &mut [u8] {
///         &mut self.0
///     }
///     fn buffer_updated(&mut self, _nbytes: usize) {}
/// }
///
/// let mut fallible = Buffered(Fallible(|| Ok::<_, String>(Lender([0; 512]))));
/// let (_typed, shared) = fallible.build()?;
/// assert!(matches!(shared, ProtocolRef::Buffered(_)));
/// # Ok::<(), tulip::transport::Error>(())
/// ```
pub struct Buffered<F>(pub F);

impl<F, P> ProtocolFactory for Buffered<F>
where
    F: FnMut() -> P + 'static,
    P: BufferedProtocol,
{
    type Protocol = P;

    fn build(&mut self) -> Result<(Rc<RefCell<P>>, ProtocolRef)> {
        let p = Rc::new(RefCell::new((self.0)()));
        Ok((p.clone(), ProtocolRef::Buffered(p)))
    }
}

/// Marks a factory that can fail: a closure returning `Result<P, E>`
/// (asyncio's `protocol_factory` raising). Its error comes back as
/// [`Error::ProtocolFactory`] from `create_connection`,
/// `create_datagram_endpoint`, the pipe and subprocess methods, with the
/// socket, pipe or child never made or closed; a server's factory
/// failing for an accepted connection is reported to the loop's
/// exception handler and that connection closed, and the server goes on.
/// Any error type converts (`String` and `&str` too).
///
/// ```
/// use tulip::prelude::*;
/// use tulip::transport::{ConnectOptions, ServerOptions};
///
/// #[derive(Default)]
/// struct Client;
/// impl BaseProtocol for Client {}
/// impl Protocol for Client {}
///
/// let err = tulip::run(async {
///     let lp = get_running_loop()?;
///     let server = lp
///         .create_server(Client::default, "127.0.0.1", 0, ServerOptions::new())
///         .await?;
///     let port = server.sockets()[0].inet_addr().unwrap().port();
///     let quota_left = false;
///     let factory = Fallible(move || {
///         if quota_left { Ok(Client) } else { Err("no connection quota left") }
///     });
///     let res = lp
///         .create_connection(factory, "127.0.0.1", port, ConnectOptions::new())
///         .await;
///     server.close();
///     Ok::<_, tulip::transport::Error>(res.err())
/// })??;
/// let err = err.expect("the factory refused");
/// assert!(err.as_protocol_factory().is_some());
/// assert_eq!(err.to_string(), "the protocol factory failed: no connection quota left");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Fallible<F>(pub F);

impl<F> Fallible<F> {
    /// Calls the closure, turning its error into [`Error::ProtocolFactory`]
    /// (what every factory trait's `build` does with it).
    ///
    /// ```
    /// use tulip::transport::Fallible;
    ///
    /// let mut factory = Fallible(|| Err::<(), _>("out of slots"));
    /// let err = factory.make().unwrap_err();
    /// assert_eq!(err.to_string(), "the protocol factory failed: out of slots");
    /// ```
    pub fn make<P, E>(&mut self) -> Result<P>
    where
        F: FnMut() -> std::result::Result<P, E>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        (self.0)().map_err(|e| Error::ProtocolFactory(FactoryError::new(e)))
    }
}

impl<F, P, E> ProtocolFactory for Fallible<F>
where
    F: FnMut() -> std::result::Result<P, E> + 'static,
    P: Protocol,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Protocol = P;

    fn build(&mut self) -> Result<(Rc<RefCell<P>>, ProtocolRef)> {
        let p = Rc::new(RefCell::new(self.make()?));
        Ok((p.clone(), ProtocolRef::Plain(p)))
    }
}

impl<F, P, E> ProtocolFactory for Buffered<Fallible<F>>
where
    F: FnMut() -> std::result::Result<P, E> + 'static,
    P: BufferedProtocol,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Protocol = P;

    fn build(&mut self) -> Result<(Rc<RefCell<P>>, ProtocolRef)> {
        let p = Rc::new(RefCell::new(self.0.make()?));
        Ok((p.clone(), ProtocolRef::Buffered(p)))
    }
}
