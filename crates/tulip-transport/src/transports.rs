//! Transports: the handle a protocol writes through (asyncio's
//! `transports` module), write-buffer flow control, and the extra
//! information a transport carries.
//!
//! [`Transport`] is a cheap, clonable handle to any stream transport (a TCP
//! or Unix socket, a pipe end, and later TLS and subprocess pipes): each
//! kind implements [`TransportImpl`], and the handle forwards to it.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::os::fd::RawFd;
use std::rc::Rc;

use crate::address::SockAddr;
use crate::error::{Error, Result};
use crate::protocols::{BaseProtocol, ProtocolRef};

/// The default high-water mark of a write buffer: 64 KiB.
pub const DEFAULT_HIGH_WATER: usize = 64 * 1024;

/// A value of `get_extra_info`.
///
/// ```
/// use tulip::prelude::*;
/// use tulip::transport::{ConnectOptions, ExtraInfo, ServerOptions};
/// # #[derive(Default)]
/// # struct Quiet;
/// # impl BaseProtocol for Quiet {}
/// # impl Protocol for Quiet {}
///
/// tulip::run(async {
///     let lp = get_running_loop()?;
///     let server = lp
///         .create_server(Quiet::default, "127.0.0.1", 0, ServerOptions::new())
///         .await?;
///     let port = server.sockets()[0].inet_addr().unwrap().port();
///     let (t, _) = lp
///         .create_connection(Quiet::default, "127.0.0.1", port, ConnectOptions::new())
///         .await?;
///     let peer = t.get_extra_info("peername").unwrap();
///     assert_eq!(peer.as_addr().and_then(|a| a.as_inet()).map(|a| a.port()), Some(port));
///     assert!(matches!(t.get_extra_info("socket"), Some(ExtraInfo::Fd(_))));
///     // A key the transport does not know.
///     assert_eq!(t.get_extra_info("no such key"), None);
///     t.close();
///     server.close();
///     Ok::<_, tulip::transport::Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtraInfo {
    /// An address (`peername`, `sockname`).
    Addr(SockAddr),
    /// A file descriptor (`socket`, `pipe`).
    Fd(RawFd),
    /// A text value.
    Text(String),
    /// A byte value.
    Bytes(Vec<u8>),
    /// A list of byte values (a certificate chain, say).
    List(Vec<Vec<u8>>),
}

impl ExtraInfo {
    /// The address, if this is one.
    pub fn as_addr(&self) -> Option<&SockAddr> {
        match self {
            ExtraInfo::Addr(a) => Some(a),
            _ => None,
        }
    }

    /// The descriptor, if this is one.
    pub fn as_fd(&self) -> Option<RawFd> {
        match self {
            ExtraInfo::Fd(fd) => Some(*fd),
            _ => None,
        }
    }
}

/// What every stream transport does. Implement it to make a new kind of
/// transport (TLS does); use it through [`Transport`].
///
/// Methods take `&self`: a transport is shared between the loop's
/// callbacks, its protocol and its users.
///
/// An in-memory transport that records what is written, e.g. to drive a
/// protocol in a test without a socket:
///
/// ```
/// use std::any::Any;
/// use std::cell::{Cell, RefCell};
/// use std::rc::Rc;
/// use tulip::transport::{Error, ExtraInfo, FlowControl, ProtocolRef, Result, Transport, TransportImpl};
///
/// #[derive(Default)]
/// struct Recorder {
///     written: RefCell<Vec<u8>>,
///     closing: Cell<bool>,
///     eof: Cell<bool>,
///     protocol: RefCell<Option<ProtocolRef>>,
///     flow: FlowControl,
/// }
///
/// impl TransportImpl for Recorder {
///     fn close(&self) { self.closing.set(true) }
///     fn is_closing(&self) -> bool { self.closing.get() }
///     fn get_extra_info(&self, _name: &str) -> Option<ExtraInfo> { None }
///     fn set_protocol(&self, p: ProtocolRef) { *self.protocol.borrow_mut() = Some(p) }
///     fn get_protocol(&self) -> Option<ProtocolRef> { self.protocol.borrow().clone() }
///     fn is_reading(&self) -> bool { false }
///     fn pause_reading(&self) {}
///     fn resume_reading(&self) {}
///     fn write(&self, data: &[u8]) -> Result<()> {
///         if self.eof.get() {
///             return Err(Error::WriteAfterEof);
///         }
///         self.written.borrow_mut().extend_from_slice(data);
///         Ok(())
///     }
///     fn write_eof(&self) -> Result<()> { self.eof.set(true); Ok(()) }
///     fn can_write_eof(&self) -> bool { true }
///     fn abort(&self) { self.closing.set(true) }
///     fn get_write_buffer_size(&self) -> usize { 0 }
///     fn get_write_buffer_limits(&self) -> (usize, usize) { self.flow.limits() }
///     fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()> {
///         self.flow.set_limits(high, low)
///     }
///     fn as_any(&self) -> &dyn Any { self }
/// }
///
/// let recorder = Rc::new(Recorder::default());
/// let transport = Transport::new(recorder.clone());
/// transport.writelines(&[b"a", b"b"])?;
/// transport.write_eof()?;
/// assert!(matches!(transport.write(b"c"), Err(Error::WriteAfterEof)));
/// assert_eq!(*recorder.written.borrow(), b"ab");
/// // The concrete type back from the handle.
/// assert!(transport.inner().as_any().downcast_ref::<Recorder>().is_some());
/// # Ok::<(), Error>(())
/// ```
pub trait TransportImpl: 'static {
    /// See [`Transport::close`].
    fn close(&self);
    /// See [`Transport::is_closing`].
    fn is_closing(&self) -> bool;
    /// See [`Transport::get_extra_info`].
    fn get_extra_info(&self, name: &str) -> Option<ExtraInfo>;
    /// See [`Transport::set_protocol`].
    fn set_protocol(&self, protocol: ProtocolRef);
    /// See [`Transport::get_protocol`].
    fn get_protocol(&self) -> Option<ProtocolRef>;
    /// See [`Transport::is_reading`].
    fn is_reading(&self) -> bool;
    /// See [`Transport::pause_reading`].
    fn pause_reading(&self);
    /// See [`Transport::resume_reading`].
    fn resume_reading(&self);
    /// See [`Transport::write`].
    fn write(&self, data: &[u8]) -> Result<()>;
    /// See [`Transport::writelines`]. The default writes each buffer.
    fn writelines(&self, bufs: &[&[u8]]) -> Result<()> {
        bufs.iter().try_for_each(|b| self.write(b))
    }
    /// See [`Transport::write_eof`].
    fn write_eof(&self) -> Result<()>;
    /// See [`Transport::can_write_eof`].
    fn can_write_eof(&self) -> bool;
    /// See [`Transport::abort`].
    fn abort(&self);
    /// See [`Transport::get_write_buffer_size`].
    fn get_write_buffer_size(&self) -> usize;
    /// See [`Transport::get_write_buffer_limits`].
    fn get_write_buffer_limits(&self) -> (usize, usize);
    /// See [`Transport::set_write_buffer_limits`].
    fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()>;
    /// The concrete transport, for operations that need it (`sendfile`).
    fn as_any(&self) -> &dyn Any;
    /// See [`Transport::tls_info`]. The default: not TLS.
    fn tls_info(&self) -> Option<crate::tls::info::TlsInfo> {
        None
    }
}

/// A connection's transport and its protocol.
pub type Connection<P> = (Transport, Rc<RefCell<P>>);

/// A stream transport: asyncio's `Transport` (`ReadTransport` +
/// `WriteTransport`). A cheap, clonable handle: clones refer to the same
/// connection.
///
/// A read-only transport (a read pipe) answers writes with
/// [`Error::Unsupported`]; a write-only one never reads.
///
/// A protocol gets its transport in `connection_made`; the caller of
/// [`create_connection`](crate::LoopNetExt::create_connection) gets it
/// too. Writing never blocks: what the socket does not take at once is
/// buffered, and the protocol is told to pause over the high-water mark.
///
/// ```
/// use tulip::prelude::*;
/// use tulip::transport::{ConnectOptions, Error, ServerOptions};
///
/// #[derive(Default)]
/// struct Quiet;
/// impl BaseProtocol for Quiet {}
/// impl Protocol for Quiet {}
///
/// tulip::run(async {
///     let lp = get_running_loop()?;
///     let server = lp
///         .create_server(Quiet::default, "127.0.0.1", 0, ServerOptions::new())
///         .await?;
///     let port = server.sockets()[0].inet_addr().unwrap().port();
///     let (transport, _) = lp
///         .create_connection(Quiet::default, "127.0.0.1", port, ConnectOptions::new())
///         .await?;
///
///     // The addresses, as asyncio's `get_extra_info('peername')`.
///     let peer = transport.peer_addr().and_then(|a| a.as_inet()).unwrap();
///     assert_eq!(peer.port(), port);
///     assert!(transport.fd().is_some());
///
///     // Water marks: only `high` given, `low` is a quarter of it.
///     transport.set_write_buffer_limits(Some(1024), None)?;
///     assert_eq!(transport.get_write_buffer_limits(), (256, 1024));
///     assert!(transport.set_write_buffer_limits(Some(1), Some(2)).is_err());
///
///     transport.write(b"GET / HTTP/1.0\r\n")?;
///     transport.writelines(&[b"Host: localhost\r\n", b"\r\n"])?;
///     // Half-close: no more writes, but the peer can still answer.
///     assert!(transport.can_write_eof());
///     transport.write_eof()?;
///     assert!(matches!(transport.write(b"late"), Err(Error::WriteAfterEof)));
///
///     transport.close();
///     assert!(transport.is_closing());
///     server.close();
///     Ok::<_, Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Transport {
    inner: Rc<dyn TransportImpl>,
}

impl Transport {
    /// Wraps a transport implementation.
    pub fn new(inner: Rc<dyn TransportImpl>) -> Transport {
        Transport { inner }
    }

    /// The implementation, e.g. to downcast with `as_any`.
    pub fn inner(&self) -> &Rc<dyn TransportImpl> {
        &self.inner
    }

    /// Whether both handles refer to the same transport.
    pub fn ptr_eq(&self, other: &Transport) -> bool {
        std::ptr::addr_eq(Rc::as_ptr(&self.inner), Rc::as_ptr(&other.inner))
    }

    /// Closes the transport: stops reading at once, sends what is buffered,
    /// then calls the protocol's `connection_lost(None)`. Idempotent.
    pub fn close(&self) {
        self.inner.close()
    }

    /// Whether the transport is closing or closed.
    pub fn is_closing(&self) -> bool {
        self.inner.is_closing()
    }

    /// asyncio's `get_extra_info(name)`: `"peername"`, `"sockname"`,
    /// `"socket"` (the descriptor), `"pipe"`; `None` when unknown or absent.
    /// The typed accessors ([`peer_addr`](Transport::peer_addr),
    /// [`local_addr`](Transport::local_addr), [`fd`](Transport::fd)) say
    /// the same.
    pub fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        self.inner.get_extra_info(name)
    }

    /// The peer's address (`peername`).
    pub fn peer_addr(&self) -> Option<SockAddr> {
        match self.get_extra_info("peername") {
            Some(ExtraInfo::Addr(a)) => Some(a),
            _ => None,
        }
    }

    /// The local address (`sockname`).
    pub fn local_addr(&self) -> Option<SockAddr> {
        match self.get_extra_info("sockname") {
            Some(ExtraInfo::Addr(a)) => Some(a),
            _ => None,
        }
    }

    /// The descriptor of the socket or pipe, while open.
    pub fn fd(&self) -> Option<RawFd> {
        self.get_extra_info("socket")
            .or_else(|| self.get_extra_info("pipe"))
            .and_then(|e| e.as_fd())
    }

    /// What the TLS session negotiated (version, cipher suite, ALPN, SNI
    /// name, the peer's certificates); `None` for a transport without
    /// TLS. Stands for asyncio's `get_extra_info('ssl_object')`.
    pub fn tls_info(&self) -> Option<crate::tls::info::TlsInfo> {
        self.inner.tls_info()
    }

    /// Replaces the protocol; later callbacks go to the new one.
    pub fn set_protocol(&self, protocol: ProtocolRef) {
        self.inner.set_protocol(protocol)
    }

    /// The current protocol (`None` once the connection is lost).
    pub fn get_protocol(&self) -> Option<ProtocolRef> {
        self.inner.get_protocol()
    }

    /// Whether the transport is receiving data.
    pub fn is_reading(&self) -> bool {
        self.inner.is_reading()
    }

    /// Stops calling `data_received` until
    /// [`resume_reading`](Transport::resume_reading). Idempotent.
    pub fn pause_reading(&self) {
        self.inner.pause_reading()
    }

    /// Resumes reading. Idempotent.
    pub fn resume_reading(&self) {
        self.inner.resume_reading()
    }

    /// Sends `data`: at once as far as the socket takes it, the rest is
    /// buffered and sent as the socket drains. Never blocks. Writing after
    /// the connection is lost is ignored (a warning is logged after a few).
    /// On a loop with completions (the uring backend) a socket transport
    /// makes no system call here: what is written during a loop pass goes
    /// out as one send with the pass's other I/O, at the pass's end.
    ///
    /// Errors: [`Error::WriteAfterEof`] after [`write_eof`](Transport::write_eof);
    /// [`Error::Unsupported`] on a read-only transport.
    pub fn write(&self, data: &[u8]) -> Result<()> {
        self.inner.write(data)
    }

    /// Writes several buffers, with one vectored system call where possible.
    pub fn writelines(&self, bufs: &[&[u8]]) -> Result<()> {
        self.inner.writelines(bufs)
    }

    /// Closes the write side once the buffer is flushed (a TCP half-close).
    pub fn write_eof(&self) -> Result<()> {
        self.inner.write_eof()
    }

    /// Whether [`write_eof`](Transport::write_eof) is possible.
    pub fn can_write_eof(&self) -> bool {
        self.inner.can_write_eof()
    }

    /// Closes at once, dropping buffered data; the protocol's
    /// `connection_lost(None)` follows.
    pub fn abort(&self) {
        self.inner.abort()
    }

    /// Bytes buffered for sending (on a loop with completions, the bytes of
    /// the send in flight too, until the kernel has taken them).
    pub fn get_write_buffer_size(&self) -> usize {
        self.inner.get_write_buffer_size()
    }

    /// The `(low, high)` water marks, in asyncio's order.
    pub fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.inner.get_write_buffer_limits()
    }

    /// Sets the write-buffer water marks, as asyncio: with neither given,
    /// high is 64 KiB and low a quarter of it; with only `low`, high is four
    /// times low; with only `high`, low is a quarter of high. The protocol
    /// is paused when the buffer grows strictly over `high`, and resumed
    /// when it drains to `low` or below. `high == 0` pauses whenever
    /// anything is buffered; `low == 0` resumes only when the buffer is
    /// empty.
    ///
    /// Errors: [`Error::InvalidInput`] unless `high >= low`.
    pub fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()> {
        self.inner.set_write_buffer_limits(high, low)
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("fd", &self.fd())
            .field("closing", &self.is_closing())
            .finish()
    }
}

/// Write-buffer water marks and the paused state of a protocol: the flow
/// control every writing transport shares. A transport written outside
/// tulip (a [`TransportImpl`]) keeps one to pause and resume its protocol
/// as tulip's own do.
///
/// ```
/// use tulip::transport::FlowControl;
///
/// let flow = FlowControl::default();
/// flow.set_limits(Some(100), None)?;
/// assert_eq!(flow.limits(), (25, 100));
/// // Over the high-water mark: pause, once.
/// assert!(flow.should_pause(101));
/// assert!(flow.is_paused());
/// assert!(!flow.should_pause(200));
/// // Not yet down to the low-water mark; then resume, once.
/// assert!(!flow.should_resume(26));
/// assert!(flow.should_resume(25));
/// assert!(!flow.is_paused());
/// // `high` under `low` is refused.
/// assert!(flow.set_limits(Some(1), Some(2)).is_err());
/// # Ok::<(), tulip::transport::Error>(())
/// ```
#[derive(Debug)]
pub struct FlowControl {
    high: Cell<usize>,
    low: Cell<usize>,
    paused: Cell<bool>,
}

impl Default for FlowControl {
    fn default() -> FlowControl {
        FlowControl {
            high: Cell::new(DEFAULT_HIGH_WATER),
            low: Cell::new(DEFAULT_HIGH_WATER / 4),
            paused: Cell::new(false),
        }
    }
}

impl FlowControl {
    /// Sets the marks as [`Transport::set_write_buffer_limits`] describes.
    pub fn set_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()> {
        let high = match (high, low) {
            (Some(h), _) => h,
            (None, Some(l)) => l.saturating_mul(4),
            (None, None) => DEFAULT_HIGH_WATER,
        };
        let low = low.unwrap_or(high / 4);
        if high < low {
            return Err(Error::InvalidInput(format!(
                "high ({high}) must be >= low ({low}) must be >= 0"
            )));
        }
        self.high.set(high);
        self.low.set(low);
        Ok(())
    }

    /// `(low, high)`.
    pub fn limits(&self) -> (usize, usize) {
        (self.low.get(), self.high.get())
    }

    /// Whether the protocol is paused.
    pub fn is_paused(&self) -> bool {
        self.paused.get()
    }

    /// With `size` bytes buffered: whether the protocol must be paused now
    /// (the state flips to paused when so).
    pub fn should_pause(&self, size: usize) -> bool {
        if !self.paused.get() && size > self.high.get() {
            self.paused.set(true);
            true
        } else {
            false
        }
    }

    /// With `size` bytes buffered: whether the protocol must be resumed now
    /// (the state flips to running when so).
    pub fn should_resume(&self, size: usize) -> bool {
        if self.paused.get() && size <= self.low.get() {
            self.paused.set(false);
            true
        } else {
            false
        }
    }
}

/// A flow-control notification for a protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Notice {
    PauseWriting,
    ResumeWriting,
}

/// A protocol that [`Notices`] can call when it is free.
pub(crate) trait NoticeTarget {
    /// Calls `f` on the protocol unless it is borrowed; whether it ran.
    fn try_call(&self, f: &mut dyn FnMut(&mut dyn BaseProtocol)) -> bool;
}

impl NoticeTarget for ProtocolRef {
    fn try_call(&self, f: &mut dyn FnMut(&mut dyn BaseProtocol)) -> bool {
        self.try_base(|p| f(p)).is_some()
    }
}

/// The re-entrancy rule, in one place: notifications for a protocol that
/// is inside one of its callbacks wait here, in order, and are delivered
/// as soon as it is free (right after the running callback, or from a
/// loop callback the transport schedules).
#[derive(Default)]
pub(crate) struct Notices {
    queue: RefCell<VecDeque<Notice>>,
    scheduled: Cell<bool>,
}

impl Notices {
    /// Queues `notice` and delivers what it can. Returns true when some
    /// notices still wait (the caller schedules a [`flush`](Notices::flush)
    /// unless [`mark_scheduled`](Notices::mark_scheduled) says one is).
    pub(crate) fn push(&self, notice: Notice, target: &dyn NoticeTarget) -> bool {
        self.queue.borrow_mut().push_back(notice);
        self.flush(target)
    }

    /// Delivers queued notices while the protocol is free. Returns true
    /// when some still wait.
    pub(crate) fn flush(&self, target: &dyn NoticeTarget) -> bool {
        loop {
            let Some(notice) = self.queue.borrow_mut().pop_front() else {
                return false;
            };
            let ran = target.try_call(&mut |p| match notice {
                Notice::PauseWriting => p.pause_writing(),
                Notice::ResumeWriting => p.resume_writing(),
            });
            if !ran {
                self.queue.borrow_mut().push_front(notice);
                return true;
            }
        }
    }

    /// Whether notices wait.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.borrow().is_empty()
    }

    /// Drops every waiting notice (the connection is lost).
    pub(crate) fn clear(&self) {
        self.queue.borrow_mut().clear();
    }

    /// Records that a flush is scheduled; false if one already was.
    pub(crate) fn mark_scheduled(&self) -> bool {
        !self.scheduled.replace(true)
    }

    /// Records that the scheduled flush ran.
    pub(crate) fn unmark_scheduled(&self) {
        self.scheduled.set(false);
    }
}

/// A transport (or layer) that delivers [`Notices`] to its protocol: the
/// retry, "mark scheduled, `call_soon`, flush again", is written once here.
pub(crate) trait NoticeOwner: Sized + 'static {
    /// The notices waiting for the protocol.
    fn notices(&self) -> &Notices;

    /// The loop the retry runs on.
    fn notice_loop(&self) -> &tulip_executor::Loop;

    /// Delivers what waits while the protocol is free, and calls
    /// [`schedule_notice_flush`](NoticeOwner::schedule_notice_flush) when
    /// some still wait.
    fn flush_notices(self: &Rc<Self>);

    /// Schedules one [`flush_notices`](NoticeOwner::flush_notices) for the
    /// next loop pass, unless one is scheduled already.
    fn schedule_notice_flush(self: &Rc<Self>) {
        if !self.notices().mark_scheduled() {
            return;
        }
        let t = self.clone();
        let scheduled = self.notice_loop().call_soon(move || {
            t.notices().unmark_scheduled();
            t.flush_notices();
        });
        if scheduled.is_err() {
            self.notices().unmark_scheduled();
        }
    }
}

/// Reports `err` through the loop's exception handler with `message`: how
/// every transport reports what it cannot hand to its protocol.
pub(crate) fn report(lp: &tulip_executor::Loop, message: &str, err: tulip_executor::Error) {
    lp.call_exception_handler(&tulip_executor::ExceptionContext::new(message).with_error(err));
}

/// Reports a panic raised by the protocol callback `what` (asyncio's
/// "Fatal error: protocol.X() call failed") and returns the error the
/// connection is then closed with.
pub(crate) fn protocol_panic(
    lp: &tulip_executor::Loop,
    what: &str,
    payload: Box<dyn Any + Send>,
) -> Error {
    let err = tulip_executor::Error::Panicked(tulip_executor::PanicError::new(payload));
    report(
        lp,
        &format!("Fatal error: protocol.{what}() call failed"),
        err.clone(),
    );
    Error::Loop(err)
}
