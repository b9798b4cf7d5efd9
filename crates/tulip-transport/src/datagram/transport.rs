//! Datagram endpoints: UDP and Unix datagram sockets (asyncio's
//! `create_datagram_endpoint` and `_SelectorDatagramTransport`).
//!
//! This file is the endpoint's lifecycle; how datagrams move is its I/O
//! driver's: readiness (`readiness.rs`, described here) or, on a loop with
//! completions (io_uring) and an IP socket, completions (`completion.rs`:
//! one `recvmsg` in flight into the endpoint's own 64 KiB buffer, and the
//! queue sent with one `sendmsg` in flight at a time). Both deliver the
//! same calls, errors and flow control to the protocol.
//!
//! Read path: while the endpoint is open, a level-triggered reader watch
//! calls `recvfrom` into the thread's shared read buffer and hands each
//! datagram to the protocol's `datagram_received`, up to
//! [`MAX_DATAGRAMS_PER_READY`] datagrams per readiness so that a flooded
//! socket cannot starve the other callbacks. A receive error (an ICMP "port
//! unreachable" reported as `ECONNREFUSED`, say) goes to `error_received`
//! and the endpoint stays open. A datagram longer than the read buffer
//! (256 KiB, possible only on Unix sockets) is truncated to it.
//!
//! Write path: [`DatagramTransport::sendto`] sends at once when nothing is
//! buffered; a datagram the socket cannot take now is buffered whole, and a
//! writer watch sends the buffer in order as the socket drains. A send
//! error goes to `error_received` (the datagram is dropped). Sends use
//! `MSG_NOSIGNAL`.
//!
//! ICMP errors: Linux reports them only on *connected* sockets (an endpoint
//! with [`remote_addr`](DatagramOptions::remote_addr)), as a pending
//! `ECONNREFUSED` on the next receive or send. An unconnected endpoint
//! would need `IP_RECVERR`/`IPV6_RECVERR` and the error queue, which rustix
//! does not expose and asyncio does not use either: it sees no ICMP errors.

use std::cell::{Cell, Ref, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::{Rc, Weak};

use rustix::net::SocketAddrAny;
use tulip_executor::{Error as LoopError, Loop, LoopFuture, PanicError};

use crate::address::SockAddr;
use crate::datagram::protocol::{DatagramProtocol, DatagramProtocolFactory};
use crate::error::{Error, Result};
use crate::lifecycle::{Lifecycle, TransportLifecycle};
use crate::sock;
use crate::transports::{ExtraInfo, FlowControl, Notice, NoticeOwner, Notices};

use crate::datagram::completion::DatagramIo;
use crate::datagram::options::DatagramOptions;

/// At most this many datagrams are received per readiness of the socket.
pub(crate) const MAX_DATAGRAMS_PER_READY: usize = 16;

/// What each buffered datagram adds to the write-buffer size besides its
/// payload (asyncio counts a UDP header's 8 bytes, so that empty datagrams
/// count too).
pub(super) const DATAGRAM_OVERHEAD: usize = 8;

/// A datagram endpoint's protocol, shared with its owner.
type SharedProtocol = Rc<RefCell<dyn DatagramProtocol>>;

/// A datagram waiting to be sent, and where: `None` on a connected socket.
pub(super) struct Queued {
    pub(super) data: Vec<u8>,
    pub(super) dest: Option<SocketAddrAny>,
}

/// The transport of a datagram endpoint (asyncio's `DatagramTransport`):
/// a cheap, clonable handle; clones refer to the same endpoint.
///
/// The protocol is called as on a stream transport: `connection_made` once
/// (from a loop callback), then `datagram_received` and `error_received`
/// any number of times, `connection_lost` exactly once and nothing after
/// it. A protocol callback that panics is reported to the loop's exception
/// handler and closes the endpoint (`connection_lost` gets the panic).
///
/// ```no_run
/// use std::net::SocketAddr;
/// use tulip::transport::{
///     BaseProtocol, DatagramOptions, DatagramProtocol, DatagramTransport, LoopNetExt, SockAddr,
/// };
///
/// /// Sends every datagram back where it came from.
/// #[derive(Default)]
/// struct Echo {
///     transport: Option<DatagramTransport>,
/// }
///
/// impl BaseProtocol for Echo {}
///
/// impl DatagramProtocol for Echo {
///     fn connection_made(&mut self, transport: DatagramTransport) {
///         self.transport = Some(transport);
///     }
///     fn datagram_received(&mut self, data: &[u8], addr: Option<SockAddr>) {
///         if let (Some(t), Some(addr)) = (&self.transport, addr) {
///             let _ = t.sendto(data, Some(&addr));
///         }
///     }
/// }
///
/// let event_loop = tulip::EventLoop::new()?;
/// let lp = event_loop.handle();
/// event_loop.run_until_complete(async move {
///     let addr: SocketAddr = "127.0.0.1:9999".parse().unwrap();
///     let (transport, _protocol) = lp
///         .create_datagram_endpoint(Echo::default, DatagramOptions::new().local_addr(addr))
///         .await?;
///     tulip::sleep(std::time::Duration::from_secs(60)).await;
///     transport.close();
///     Ok::<(), tulip::transport::Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// An endpoint belongs to its loop's thread:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<tulip::transport::DatagramTransport>();
/// ```
#[derive(Clone)]
pub struct DatagramTransport {
    inner: Rc<Endpoint>,
}

impl DatagramTransport {
    /// Sends `data` as one datagram to `addr` (asyncio's `sendto`): at once
    /// when nothing is buffered, else after the datagrams buffered before
    /// it. Never blocks. A send the kernel refuses (`ECONNREFUSED`,
    /// `EMSGSIZE`, an address of the wrong family...) is reported to the
    /// protocol's `error_received`, not here. Sending on a closed endpoint
    /// is ignored (a warning is logged after a few).
    ///
    /// On an endpoint with a remote address, `addr` must be `None` or that
    /// address; on one without, it must be given.
    ///
    /// Errors: [`Error::InvalidInput`] for a missing or not allowed
    /// address, or an unnamed Unix address.
    pub fn sendto(&self, data: &[u8], addr: Option<&SockAddr>) -> Result<()> {
        self.inner.sendto(data, addr)
    }

    /// Closes the endpoint: stops receiving at once, sends what is
    /// buffered, then calls the protocol's `connection_lost(None)`.
    /// Idempotent.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Closes at once, dropping buffered datagrams; the protocol's
    /// `connection_lost(None)` follows.
    pub fn abort(&self) {
        self.inner.force_close(None);
    }

    /// Whether the endpoint is closing or closed.
    pub fn is_closing(&self) -> bool {
        self.inner.lc.is_closing()
    }

    /// asyncio's `get_extra_info(name)`: `"peername"` (a connected
    /// endpoint's peer), `"sockname"`, `"socket"` (the descriptor, while
    /// open); `None` when unknown or absent. The typed accessors
    /// ([`peer_addr`](DatagramTransport::peer_addr),
    /// [`local_addr`](DatagramTransport::local_addr),
    /// [`fd`](DatagramTransport::fd)) say the same.
    pub fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        match name {
            "peername" => self.peer_addr().map(ExtraInfo::Addr),
            "sockname" => self.local_addr().map(ExtraInfo::Addr),
            "socket" => self.fd().map(ExtraInfo::Fd),
            _ => None,
        }
    }

    /// The peer of a connected endpoint (`peername`).
    pub fn peer_addr(&self) -> Option<SockAddr> {
        self.inner.peer.clone()
    }

    /// The endpoint's own address (`sockname`): read from the socket while
    /// it is open (so an unbound socket shows the port the kernel gave it
    /// on its first send), the last known one afterwards.
    pub fn local_addr(&self) -> Option<SockAddr> {
        if let Some(fd) = self.inner.fd() {
            if let Some(addr) = sock::local_addr(fd.as_fd()) {
                *self.inner.local.borrow_mut() = Some(addr);
            }
        }
        self.inner.local.borrow().clone()
    }

    /// The default destination of [`sendto`](DatagramTransport::sendto):
    /// the remote address the endpoint was opened with (or the peer of a
    /// connected socket given as `sock`).
    pub fn remote_addr(&self) -> Option<SockAddr> {
        self.inner.address.clone()
    }

    /// The socket's descriptor, while open.
    pub fn fd(&self) -> Option<RawFd> {
        self.inner.fd().map(|_| self.inner.lc.raw())
    }

    /// Bytes buffered for sending: each datagram's payload plus 8 bytes,
    /// as asyncio counts.
    pub fn get_write_buffer_size(&self) -> usize {
        self.inner.buffer_size.get()
    }

    /// The `(low, high)` water marks, in asyncio's order.
    pub fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.inner.flow.limits()
    }

    /// Sets the write-buffer water marks, as
    /// [`Transport::set_write_buffer_limits`](crate::Transport::set_write_buffer_limits):
    /// `pause_writing` when the buffer grows strictly over `high`,
    /// `resume_writing` when it drains to `low` or below.
    ///
    /// Errors: [`Error::InvalidInput`] unless `high >= low`.
    pub fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()> {
        self.inner.flow.set_limits(high, low)?;
        self.inner.maybe_pause_protocol();
        Ok(())
    }

    /// The current protocol (`None` once the endpoint is lost).
    pub fn get_protocol(&self) -> Option<Rc<RefCell<dyn DatagramProtocol>>> {
        self.inner.protocol()
    }

    /// Replaces the protocol; later callbacks go to the new one (which is
    /// not sent `connection_made`). Ignored once the endpoint is lost.
    pub fn set_protocol(&self, protocol: Rc<RefCell<dyn DatagramProtocol>>) {
        if !self.inner.lc.is_lost() {
            // The old protocol is dropped after the cell is released: its
            // Drop may use this transport.
            let old = self.inner.protocol.replace(Some(protocol));
            drop(old);
        }
    }

    /// Whether both handles refer to the same endpoint.
    pub fn ptr_eq(&self, other: &DatagramTransport) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl fmt::Debug for DatagramTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatagramTransport")
            .field("fd", &self.fd())
            .field("peer", &self.inner.peer)
            .field("closing", &self.is_closing())
            .finish()
    }
}

/// The state of one endpoint, shared by its handles, its loop callbacks
/// and (through the handle it holds) its protocol.
pub(super) struct Endpoint {
    pub(super) lc: Lifecycle,
    pub(super) lp: Loop,
    this: Weak<Endpoint>,
    protocol: RefCell<Option<SharedProtocol>>,
    /// The completion driver (the loop's io_uring, IP sockets); `None`:
    /// readiness (`readiness.rs`).
    pub(super) io: Option<DatagramIo>,
    /// Errors for `error_received` waiting for a busy protocol.
    errors: RefCell<VecDeque<Error>>,
    flow: FlowControl,
    pub(super) buffer: RefCell<VecDeque<Queued>>,
    pub(super) buffer_size: Cell<usize>,
    /// The default destination (asyncio's `_address`).
    address: Option<SockAddr>,
    /// Where an unconnected socket sends `address`'s datagrams.
    address_any: Option<SocketAddrAny>,
    peer: Option<SockAddr>,
    local: RefCell<Option<SockAddr>>,
}

impl Endpoint {
    fn new(
        lp: &Loop,
        fd: OwnedFd,
        remote: Option<SockAddr>,
        protocol: SharedProtocol,
    ) -> Result<Rc<Endpoint>> {
        let peer = sock::peer_addr(fd.as_fd());
        let local = sock::local_addr(fd.as_fd());
        let address = remote.or_else(|| peer.clone());
        let address_any = match (&peer, &address) {
            (None, Some(a)) => Some(a.to_any()?),
            _ => None,
        };
        // Completions for IP sockets; a Unix datagram socket's addresses
        // are paths, which the completion operations do not carry.
        let io = (lp.has_completions() && matches!(local, Some(SockAddr::Inet(_))))
            .then(DatagramIo::default);
        Ok(Rc::new_cyclic(|this| Endpoint {
            lc: Lifecycle::new(lp, fd),
            io,
            lp: lp.clone(),
            this: this.clone(),
            protocol: RefCell::new(Some(protocol)),
            errors: RefCell::new(VecDeque::new()),
            flow: FlowControl::default(),
            buffer: RefCell::new(VecDeque::new()),
            buffer_size: Cell::new(0),
            address,
            address_any,
            peer,
            local: RefCell::new(local),
        }))
    }

    pub(super) fn rc(&self) -> Option<Rc<Endpoint>> {
        self.this.upgrade()
    }

    fn handle(self: &Rc<Self>) -> DatagramTransport {
        DatagramTransport {
            inner: self.clone(),
        }
    }

    pub(super) fn protocol(&self) -> Option<SharedProtocol> {
        self.protocol.borrow().clone()
    }

    /// A shared borrow of the descriptor, while it is open.
    pub(super) fn fd(&self) -> Option<Ref<'_, OwnedFd>> {
        self.lc.fd()
    }

    /// Schedules `connection_made` and then the start of reading (both
    /// through `call_soon`, as asyncio). The future completes once
    /// `connection_made` has run, or holds its panic.
    fn start(self: &Rc<Self>) -> Result<LoopFuture<()>> {
        let waiter = self.lp.create_future::<()>();
        let t = self.clone();
        let w = waiter.clone();
        self.lp.call_soon(move || t.make_connection(&w))?;
        Ok(waiter)
    }

    fn make_connection(self: &Rc<Self>, waiter: &LoopFuture<()>) {
        if self.lc.is_conn_lost() || self.lc.is_lost() {
            let _ = waiter.set_exception(LoopError::from(Error::Closed));
            return;
        }
        let Some(proto) = self.protocol() else {
            return;
        };
        let handle = self.handle();
        let made = catch_unwind(AssertUnwindSafe(|| {
            proto.borrow_mut().connection_made(handle)
        }));
        match made {
            Ok(()) => {
                self.lc.set_connected();
                self.deliver_pending();
                self.add_reader();
                let _ = waiter.set_result(());
            }
            Err(payload) => {
                let err = LoopError::Panicked(PanicError::new(payload));
                self.report("Exception in connection_made", err.clone());
                self.force_close(Some(Error::Loop(err.clone())));
                let _ = waiter.set_exception(err);
            }
        }
    }

    /// Starts receiving: a reader watch, or the receive operation.
    fn add_reader(self: &Rc<Self>) {
        if self.lc.is_reader_on() || self.lc.is_closing() {
            return;
        }
        if let Some(io) = &self.io {
            io.start_receiving(self);
            return;
        }
        let t = self.clone();
        if let Err(e) = self.lc.add_reader(move || t.read_ready()) {
            self.fatal_error(Error::from(e), "Fatal error watching a datagram socket");
        }
    }

    fn sendto(&self, data: &[u8], addr: Option<&SockAddr>) -> Result<()> {
        let dest = self.destination(addr)?;
        if self
            .lc
            .drop_lost_write("socket.sendto() raised exception: sending on a closed endpoint")
        {
            return Ok(());
        }
        let Some(this) = self.rc() else { return Ok(()) };
        let queued = match &self.io {
            None => this.send_now_or_queue(data, dest),
            Some(io) => {
                io.queue(&this, data, dest);
                true
            }
        };
        if queued {
            this.maybe_pause_protocol();
        }
        Ok(())
    }

    /// Queues a datagram the socket could not take now.
    pub(super) fn push_queued(&self, data: &[u8], dest: Option<SocketAddrAny>) {
        self.buffer.borrow_mut().push_back(Queued {
            data: data.to_vec(),
            dest,
        });
        self.buffer_size
            .set(self.buffer_size.get() + data.len() + DATAGRAM_OVERHEAD);
    }

    /// Whether nothing waits to be sent (none queued, none in flight).
    pub(super) fn nothing_to_send(&self) -> bool {
        self.buffer.borrow().is_empty() && self.io.as_ref().is_none_or(|io| !io.is_sending())
    }

    /// Where a datagram for `addr` goes: `None` on a connected socket.
    fn destination(&self, addr: Option<&SockAddr>) -> Result<Option<SocketAddrAny>> {
        match (&self.address, addr) {
            (Some(default), Some(a)) if a != default => Err(Error::InvalidInput(format!(
                "invalid address: must be None or {default}"
            ))),
            (Some(_), _) => Ok(self.address_any.clone()),
            (None, Some(a)) => Ok(Some(a.to_any()?)),
            (None, None) => Err(Error::InvalidInput(String::from(
                "a destination address is needed: the endpoint has no remote address",
            ))),
        }
    }

    /// Whether `close()` is waiting for the buffer to drain.
    pub(super) fn closing_flushes(&self) -> bool {
        self.lc.is_closing() && !self.lc.is_conn_lost()
    }

    fn maybe_pause_protocol(self: &Rc<Self>) {
        if self.flow.should_pause(self.buffer_size.get()) {
            self.notify(Notice::PauseWriting);
        }
    }

    pub(super) fn maybe_resume_protocol(self: &Rc<Self>) {
        if self.flow.should_resume(self.buffer_size.get()) {
            self.notify(Notice::ResumeWriting);
        }
    }

    fn notify(self: &Rc<Self>, notice: Notice) {
        if self.lc.is_lost() {
            return;
        }
        let Some(proto) = self.protocol() else { return };
        if !self.lc.is_connected() && proto.try_borrow_mut().is_ok() {
            // Not inside connection_made (which queues its notices for
            // right after it returns): connection_made failed.
            return;
        }
        let waiting = catch_unwind(AssertUnwindSafe(|| self.lc.notices().push(notice, &proto)));
        self.after_delivery(waiting, "pause_writing/resume_writing");
    }

    /// Reports `err` to `error_received`: now if the protocol is free,
    /// else as soon as it is.
    pub(super) fn push_error(self: &Rc<Self>, err: Error) {
        // Nothing after an abort; while close() flushes, errors still come.
        // An error raised inside connection_made waits for it to return.
        if self.lc.is_lost() || self.lc.is_conn_lost() {
            return;
        }
        self.errors.borrow_mut().push_back(err);
        self.deliver_pending();
    }

    pub(super) fn has_pending(&self) -> bool {
        !self.lc.notices().is_empty() || !self.errors.borrow().is_empty()
    }

    /// Delivers waiting notices, then waiting errors, while the protocol is
    /// free. Returns true when some still wait (a retry is scheduled).
    pub(super) fn deliver_pending(self: &Rc<Self>) -> bool {
        if self.lc.is_lost() || !self.lc.is_connected() {
            return false;
        }
        let Some(proto) = self.protocol() else {
            return false;
        };
        let notices = self.lc.notices();
        if !notices.is_empty() {
            let waiting = catch_unwind(AssertUnwindSafe(|| notices.flush(&proto)));
            if self.after_delivery(waiting, "pause_writing/resume_writing") {
                return true;
            }
        }
        loop {
            if self.lc.is_lost() {
                return false;
            }
            let Ok(mut p) = proto.try_borrow_mut() else {
                let waiting = !self.errors.borrow().is_empty();
                if waiting {
                    self.schedule_notice_flush();
                }
                return waiting;
            };
            let Some(err) = self.errors.borrow_mut().pop_front() else {
                return false;
            };
            let res = catch_unwind(AssertUnwindSafe(|| p.error_received(err)));
            drop(p);
            if let Err(payload) = res {
                self.protocol_panicked("error_received", payload);
                return false;
            }
        }
    }

    /// After a delivery of notices: reports a panic (and closes), or
    /// schedules a retry when some wait. Returns whether some wait.
    fn after_delivery(self: &Rc<Self>, outcome: std::thread::Result<bool>, what: &str) -> bool {
        match outcome {
            Ok(true) => {
                self.schedule_notice_flush();
                true
            }
            Ok(false) => false,
            Err(payload) => {
                self.protocol_panicked(what, payload);
                false
            }
        }
    }

    pub(super) fn protocol_panicked(
        self: &Rc<Self>,
        what: &str,
        payload: Box<dyn std::any::Any + Send>,
    ) {
        self.force_close(Some(crate::transports::protocol_panic(
            &self.lp, what, payload,
        )));
    }

    fn report(&self, message: &str, err: LoopError) {
        crate::transports::report(&self.lp, message, err);
    }

    pub(super) fn fatal_error(self: &Rc<Self>, err: Error, message: &str) {
        self.report(message, LoopError::from(err.clone()));
        self.force_close(Some(err));
    }

    fn close(&self) {
        if self.lc.is_closing() {
            return;
        }
        let Some(this) = self.rc() else { return };
        self.lc.begin_close();
        if let Some(io) = &self.io {
            io.stop_receiving(&self.lp);
        }
        if self.nothing_to_send() {
            self.lc.mark_conn_lost();
            this.schedule_connection_lost(None);
        }
    }

    /// Closes at once, dropping the buffer; `connection_lost(exc)` follows.
    fn force_close(&self, exc: Option<Error>) {
        if self.lc.is_conn_lost() {
            return;
        }
        let Some(this) = self.rc() else { return };
        self.lc.begin_force_close();
        if let Some(io) = &self.io {
            io.cancel_all(&self.lp);
        }
        self.buffer.borrow_mut().clear();
        self.buffer_size.set(0);
        self.errors.borrow_mut().clear();
        this.schedule_connection_lost(exc);
    }
}

impl NoticeOwner for Endpoint {
    fn notices(&self) -> &Notices {
        self.lc.notices()
    }

    fn notice_loop(&self) -> &Loop {
        &self.lp
    }

    /// Delivers the notices, then the errors, that wait.
    fn flush_notices(self: &Rc<Self>) {
        self.deliver_pending();
    }
}

impl TransportLifecycle for Endpoint {
    fn lifecycle(&self) -> &Lifecycle {
        &self.lc
    }

    fn protocol_busy(&self) -> bool {
        self.protocol().is_some_and(|p| p.try_borrow_mut().is_err())
    }

    fn deliver_connection_lost(&self, exc: Option<Error>) {
        if let Some(p) = self.protocol() {
            p.borrow_mut().connection_lost(exc);
        }
    }

    fn drop_pending(&self) {
        self.errors.borrow_mut().clear();
    }

    /// Stops watching and closes the descriptor; drops the protocol (which
    /// usually holds this endpoint's handle: the cycle ends here).
    fn release(&self) {
        if let Some(io) = &self.io {
            io.cancel_all(&self.lp);
        }
        self.buffer.borrow_mut().clear();
        self.buffer_size.set(0);
        if let Some(fd) = self.fd() {
            if let Some(addr) = sock::local_addr(fd.as_fd()) {
                *self.local.borrow_mut() = Some(addr);
            }
        }
        self.lc.release_fd();
        // Dropped after the cell is released: the protocol's Drop may use
        // this transport.
        let protocol = self.protocol.take();
        drop(protocol);
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if self.lc.holds_fd() && !self.lp.is_closed() {
            log::debug!("unclosed datagram transport (fd {}) dropped", self.lc.raw());
        }
    }
}

/// `create_datagram_endpoint`: opens the socket, makes the protocol, and
/// waits for `connection_made` to have run. If the factory fails, or this
/// future is dropped first, or `connection_made` panics, the endpoint is
/// closed: nothing leaks.
pub(crate) async fn create_datagram_endpoint<F: DatagramProtocolFactory>(
    lp: &Loop,
    mut factory: F,
    options: DatagramOptions,
) -> Result<(DatagramTransport, Rc<RefCell<F::Protocol>>)> {
    let opened = crate::datagram::options::open_socket(options)?;
    let protocol = factory.build()?;
    let shared: SharedProtocol = protocol.clone();
    let endpoint = Endpoint::new(lp, opened.fd, opened.remote, shared)?;
    let waiter = endpoint.start()?;
    let guard = AbortOnDrop(Some(endpoint));
    waiter.await.map_err(Error::from)?;
    let endpoint = guard.disarm();
    Ok((endpoint.handle(), protocol))
}

/// Aborts an endpoint unless disarmed (a cancelled setup).
struct AbortOnDrop(Option<Rc<Endpoint>>);

impl AbortOnDrop {
    fn disarm(mut self) -> Rc<Endpoint> {
        self.0.take().expect("armed until disarmed")
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(e) = self.0.take() {
            e.force_close(Some(Error::Loop(LoopError::Cancelled)));
        }
    }
}
