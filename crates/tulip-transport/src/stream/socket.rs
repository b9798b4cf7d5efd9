//! The stream transport over a non-blocking descriptor: TCP and Unix
//! sockets and pipe ends (asyncio's `_SelectorSocketTransport` and the
//! Unix pipe transports of `unix_events`).
//!
//! This file is the transport's one lifecycle: construction,
//! `connection_made`, flow control, closing, aborting, `connection_lost`,
//! and the [`Transport`] methods. How bytes move is the I/O driver's
//! business ([`Driver`]): the readiness driver (`readiness.rs`: watches and
//! non-blocking system calls, on epoll and polling) or the completion
//! driver (`completion/`: operations submitted to the loop's io_uring).
//! The lifecycle asks the driver to start and stop reading, queue a write,
//! shut the write side down and cancel what is in flight; the protocol
//! never sees which driver runs.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::{Rc, Weak};
use std::time::Duration;

use tulip_executor::{Error as LoopError, Loop, LoopFuture, PanicError};

use crate::address::SockAddr;
use crate::error::{Error, Result};
use crate::lifecycle::{Lifecycle, TransportLifecycle};
use crate::protocols::ProtocolRef;
use crate::sock;
use crate::stream::driver::Driver;
use crate::transports::{
    ExtraInfo, FlowControl, Notice, NoticeOwner, Notices, Transport, TransportImpl,
};

/// What the descriptor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A connected stream socket: `recv`/`send`, half-close with `shutdown`.
    Socket,
    /// The read end of a pipe (or a character device): `read` only.
    ReadPipe,
    /// The write end of a pipe: `write` only; closing it is its EOF.
    WritePipe,
}

/// A stream transport over a socket or pipe descriptor. Users see it as a
/// [`Transport`].
pub(crate) struct SocketTransport {
    pub(super) lc: Lifecycle,
    pub(super) lp: Loop,
    pub(super) kind: Kind,
    pub(super) this: Weak<SocketTransport>,
    pub(super) protocol: RefCell<Option<ProtocolRef>>,
    flow: FlowControl,
    /// How bytes move: readiness or completions.
    pub(super) io: Driver,
    /// `write_eof()` was called.
    pub(super) eof: Cell<bool>,
    pub(super) paused: Cell<bool>,
    /// The peer's EOF was seen (reading never resumes after it).
    pub(super) read_eof: Cell<bool>,
    sendfile_active: Cell<bool>,
    peer: Option<SockAddr>,
    local: Option<SockAddr>,
    empty_waiters: RefCell<Vec<LoopFuture<()>>>,
    on_lost: RefCell<Option<Box<dyn FnOnce()>>>,
    /// How the layer over this transport (TLS) closes the connection its
    /// own way, for [`close_top`](SocketTransport::close_top).
    layer_close: RefCell<Option<Rc<dyn Fn()>>>,
}

impl SocketTransport {
    /// Wraps a connected descriptor; nothing is called yet. Call
    /// [`start`](SocketTransport::start) next.
    pub(crate) fn new(
        lp: &Loop,
        fd: OwnedFd,
        kind: Kind,
        protocol: ProtocolRef,
    ) -> Result<Rc<SocketTransport>> {
        sock::set_nonblocking(fd.as_fd())?;
        let (peer, local, stream) = if kind == Kind::Socket {
            let local = sock::local_addr(fd.as_fd());
            let stream = rustix::net::sockopt::socket_type(&fd).ok()
                == Some(rustix::net::SocketType::STREAM);
            if stream {
                set_nodelay(&fd, local.as_ref());
            }
            (sock::peer_addr(fd.as_fd()), local, stream)
        } else {
            (None, None, false)
        };
        let io = Driver::choose(lp, kind, stream);
        Ok(Self::build(lp, fd, kind, protocol, (peer, local), io))
    }

    /// Wraps a socket just accepted (non-blocking already) from a stream
    /// listener, whose peer address `accept` gave: fewer system calls than
    /// [`new`](SocketTransport::new), which must find all of that out.
    pub(crate) fn new_accepted(
        lp: &Loop,
        fd: OwnedFd,
        protocol: ProtocolRef,
        peer: Option<SockAddr>,
    ) -> Rc<SocketTransport> {
        let local = sock::local_addr(fd.as_fd());
        set_nodelay(&fd, local.as_ref());
        let io = Driver::choose(lp, Kind::Socket, true);
        Self::build(lp, fd, Kind::Socket, protocol, (peer, local), io)
    }

    fn build(
        lp: &Loop,
        fd: OwnedFd,
        kind: Kind,
        protocol: ProtocolRef,
        (peer, local): (Option<SockAddr>, Option<SockAddr>),
        io: Driver,
    ) -> Rc<SocketTransport> {
        Rc::new_cyclic(|this| SocketTransport {
            lc: Lifecycle::new(lp, fd),
            lp: lp.clone(),
            kind,
            this: this.clone(),
            protocol: RefCell::new(Some(protocol)),
            flow: FlowControl::default(),
            io,
            eof: Cell::new(false),
            paused: Cell::new(kind == Kind::WritePipe),
            read_eof: Cell::new(false),
            sendfile_active: Cell::new(false),
            peer,
            local,
            empty_waiters: RefCell::new(Vec::new()),
            on_lost: RefCell::new(None),
            layer_close: RefCell::new(None),
        })
    }

    /// The user-facing handle.
    pub(crate) fn handle(self: &Rc<Self>) -> Transport {
        Transport::new(self.clone())
    }

    /// Schedules `connection_made` and then the start of reading, as
    /// asyncio does (both through `call_soon`). The returned future
    /// completes once `connection_made` has run (or failed: then the
    /// transport is closed and the future holds the error).
    pub(crate) fn start(self: &Rc<Self>) -> Result<LoopFuture<()>> {
        let waiter = self.lp.create_future::<()>();
        let t = self.clone();
        let w = waiter.clone();
        self.lp.call_soon(move || t.make_connection(&w))?;
        Ok(waiter)
    }

    /// Runs `f` once the connection is lost (after `connection_lost`).
    pub(crate) fn set_on_lost(&self, f: Box<dyn FnOnce()>) {
        *self.on_lost.borrow_mut() = Some(f);
    }

    fn make_connection(self: &Rc<Self>, waiter: &LoopFuture<()>) {
        if self.lc.is_lost() {
            let _ = waiter.set_exception(LoopError::from(Error::Closed));
            return;
        }
        let Some(proto) = self.protocol.borrow().clone() else {
            return;
        };
        let handle = self.handle();
        let made = catch_unwind(AssertUnwindSafe(|| match &proto {
            ProtocolRef::Plain(p) => p.borrow_mut().connection_made(handle),
            ProtocolRef::Buffered(p) => p.borrow_mut().connection_made(handle),
        }));
        match made {
            Ok(()) => {
                self.lc.set_connected();
                self.lc.notices().flush(&proto);
                if self.kind == Kind::WritePipe {
                    // A write pipe's descriptor turns readable (error/hang
                    // up) when the reading end closes. Not a terminal's:
                    // it turns readable when input arrives (asyncio
                    // watches only pipes and sockets too).
                    if !self.is_char_device() {
                        self.watch_peer_close();
                    }
                } else {
                    self.start_reading();
                }
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

    /// A shared borrow of the descriptor, while it is open.
    fn fd(&self) -> Option<std::cell::Ref<'_, OwnedFd>> {
        self.lc.fd()
    }

    /// Starts (or resumes) reading, unless paused, closing or at EOF.
    pub(super) fn start_reading(self: &Rc<Self>) {
        if self.paused.get() || self.lc.is_closing() || self.read_eof.get() {
            return;
        }
        match &self.io {
            Driver::Readiness(_) => self.add_reader(),
            Driver::Completion(io) => io.start_reading(self),
        }
    }

    /// Stops reading (pause, close, EOF kept open).
    pub(super) fn stop_reading(&self) {
        match &self.io {
            Driver::Readiness(_) => self.lc.remove_reader(),
            Driver::Completion(io) => io.stop_reading(self),
        }
    }

    /// Whether the descriptor is a character device (a terminal).
    fn is_char_device(&self) -> bool {
        self.fd().is_some_and(|fd| {
            rustix::fs::fstat(&*fd).is_ok_and(|st| {
                rustix::fs::FileType::from_raw_mode(st.st_mode)
                    == rustix::fs::FileType::CharacterDevice
            })
        })
    }

    fn watch_peer_close(self: &Rc<Self>) {
        let t = self.clone();
        let _ = self.lc.add_reader(move || {
            t.lc.remove_reader();
            if t.write_buffer_size() > 0 {
                t.force_close(Some(Error::io(io::ErrorKind::BrokenPipe.into())));
            } else {
                t.close();
            }
        });
    }

    pub(super) fn protocol_panicked(self: &Rc<Self>, what: &str, payload: Box<dyn Any + Send>) {
        self.force_close(Some(crate::transports::protocol_panic(
            &self.lp, what, payload,
        )));
    }

    fn report(&self, message: &str, err: LoopError) {
        crate::transports::report(&self.lp, message, err);
    }

    pub(super) fn fatal_error(self: &Rc<Self>, err: Error, message: &str) {
        let quiet = matches!(
            err.io_kind(),
            Some(
                io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::TimedOut
            )
        );
        if !quiet || self.lp.get_debug() {
            self.report(message, LoopError::from(err.clone()));
        }
        self.force_close(Some(err));
    }

    fn notify(self: &Rc<Self>, notice: Notice) {
        if !self.lc.is_connected() || self.lc.is_lost() {
            return;
        }
        let Some(proto) = self.protocol.borrow().clone() else {
            return;
        };
        if self.lc.notices().push(notice, &proto) {
            self.schedule_notice_flush();
        }
    }

    /// What is written and not yet sent (on completions: in flight too).
    pub(super) fn write_buffer_size(&self) -> usize {
        match &self.io {
            Driver::Readiness(buffer) => buffer.borrow().size(),
            Driver::Completion(io) => io.write_buffer_size(),
        }
    }

    pub(super) fn maybe_pause_protocol(self: &Rc<Self>) {
        if self.flow.should_pause(self.write_buffer_size()) {
            self.notify(Notice::PauseWriting);
        }
    }

    pub(super) fn maybe_resume_protocol(self: &Rc<Self>) {
        if self.flow.should_resume(self.write_buffer_size()) {
            self.notify(Notice::ResumeWriting);
        }
    }

    fn write_impl(self: &Rc<Self>, bufs: &[&[u8]]) -> Result<()> {
        if self.kind == Kind::ReadPipe {
            return Err(Error::Unsupported("writing to a read pipe"));
        }
        if self.eof.get() {
            return Err(Error::WriteAfterEof);
        }
        if self.sendfile_active.get() {
            return Err(Error::Unsupported("writing while sendfile is in progress"));
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Ok(());
        }
        if self
            .lc
            .drop_lost_write("socket.send() raised exception: writing to a closed transport")
        {
            return Ok(());
        }
        match &self.io {
            Driver::Readiness(_) => self.write_now_or_buffer(bufs, total),
            Driver::Completion(io) => io.queue_write(self, bufs, total),
        }
        self.maybe_pause_protocol();
        Ok(())
    }

    /// The write buffer drained (the last send completed): wakes who
    /// waits for that, then ends a close, or half-closes after
    /// `write_eof`.
    pub(super) fn drained(self: &Rc<Self>) {
        self.wake_empty_waiters(None);
        if self.lc.is_closing() {
            self.call_connection_lost(None);
        } else if self.eof.get() {
            self.shutdown_write();
        }
    }

    fn shutdown_write(self: &Rc<Self>) {
        match self.kind {
            Kind::Socket => match &self.io {
                Driver::Readiness(_) => {
                    if let Some(fd) = self.fd() {
                        let _ = rustix::net::shutdown(&*fd, rustix::net::Shutdown::Write);
                    }
                }
                Driver::Completion(io) => io.shutdown_write(self),
            },
            Kind::WritePipe => self.close(),
            Kind::ReadPipe => {}
        }
    }

    fn close_impl(self: &Rc<Self>) {
        if !self.lc.begin_close() {
            return;
        }
        self.stop_reading();
        if self.write_buffer_size() == 0 {
            self.lc.mark_conn_lost();
            self.schedule_connection_lost(None);
        }
    }

    /// Closes at once, dropping the buffer; `connection_lost(exc)` follows.
    pub(crate) fn force_close(self: &Rc<Self>, exc: Option<Error>) {
        if self.lc.begin_force_close() {
            self.stop_reading();
            self.clear_write_buffer();
            self.schedule_connection_lost(exc);
        }
    }

    /// Drops what is written and not sent; on completions, cancels the
    /// send in flight.
    fn clear_write_buffer(&self) {
        match &self.io {
            Driver::Readiness(buffer) => buffer.borrow_mut().clear(),
            Driver::Completion(io) => io.clear_writes(self),
        }
    }

    fn wake_empty_waiters(&self, err: Option<Error>) {
        let waiters = std::mem::take(&mut *self.empty_waiters.borrow_mut());
        for w in waiters {
            let _ = match &err {
                None => w.set_result(()),
                Some(e) => w.set_exception(LoopError::from(e.clone())),
            };
        }
    }

    /// Completes once everything buffered is sent (at once when nothing
    /// is), or with an error when the connection is lost first.
    pub(crate) fn wait_flushed(&self) -> LoopFuture<()> {
        let fut = self.lp.create_future();
        if self.lc.is_lost() {
            let _ = fut.set_exception(LoopError::from(Error::Closed));
        } else if self.write_buffer_size() == 0 {
            let _ = fut.set_result(());
        } else {
            self.empty_waiters.borrow_mut().push(fut.clone());
        }
        fut
    }

    /// Marks a `sendfile` as running (writes are refused meanwhile). When
    /// it ends after the connection was lost, the descriptor it borrowed
    /// (which [`release`](SocketTransport::release) could not close) is
    /// closed now.
    pub(crate) fn set_sendfile_active(&self, active: bool) {
        self.sendfile_active.set(active);
        if !active && self.lc.is_lost() {
            self.lc.close_fd();
        }
    }

    /// Whether a `sendfile` is running.
    pub(crate) fn is_sendfile_active(&self) -> bool {
        self.sendfile_active.get()
    }

    /// Completes when the buffer next drains or, with the error, when the
    /// connection is lost. While a `sendfile` runs nothing is written, so
    /// only a loss completes it: the sendfile stops waiting on it (and
    /// cancels it when done; cancelled waiters are dropped here).
    pub(crate) fn wait_drained_or_lost(&self) -> LoopFuture<()> {
        let fut = self.lp.create_future();
        if self.lc.is_lost() {
            let _ = fut.set_exception(LoopError::from(Error::Closed));
        } else {
            let mut waiters = self.empty_waiters.borrow_mut();
            waiters.retain(|w| !w.done());
            waiters.push(fut.clone());
        }
        fut
    }

    /// A layer over this transport (TLS) closes the connection with `f`
    /// (close_notify first) when [`close_top`](SocketTransport::close_top)
    /// is asked to close it.
    pub(crate) fn set_layer_close(&self, f: Rc<dyn Fn()>) {
        *self.layer_close.borrow_mut() = Some(f);
    }

    /// Closes the connection as its top layer's `close()` does
    /// (`Server::close_clients`): through the TLS layer when there is one,
    /// so that the peer sees a clean TLS close, not a truncation.
    pub(crate) fn close_top(self: &Rc<Self>) {
        let layer = self.layer_close.borrow().clone();
        match layer {
            Some(f) => f(),
            None => self.close_impl(),
        }
    }

    /// `abort()`: the connection is reset, not closed. On TCP, `SO_LINGER`
    /// zero makes the close send a RST (what the kernel holds is dropped),
    /// so the peer sees `ECONNRESET` and cannot take a cut-short stream for
    /// a complete one, as it could after a FIN. (asyncio only closes; this
    /// is tulip's choice.)
    fn abort_impl(self: &Rc<Self>) {
        if self.kind == Kind::Socket && matches!(self.local, Some(SockAddr::Inet(_))) {
            if let Some(fd) = self.fd() {
                let _ = rustix::net::sockopt::set_socket_linger(&*fd, Some(Duration::ZERO));
            }
        }
        self.force_close(None);
    }

    /// The socket, while open.
    pub(crate) fn socket(&self) -> Option<std::cell::Ref<'_, OwnedFd>> {
        self.fd()
    }

    /// Whether this is a socket transport.
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }
}

/// Latency over batching, as asyncio: TCP_NODELAY on every TCP stream.
fn set_nodelay(fd: &OwnedFd, local: Option<&SockAddr>) {
    if matches!(local, Some(SockAddr::Inet(_))) {
        let _ = rustix::net::sockopt::set_tcp_nodelay(fd, true);
    }
}

impl TransportImpl for SocketTransport {
    fn close(&self) {
        if let Some(t) = self.this.upgrade() {
            t.close_impl();
        }
    }

    fn is_closing(&self) -> bool {
        self.lc.is_closing()
    }

    fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        match name {
            "peername" => self.peer.clone().map(ExtraInfo::Addr),
            "sockname" => self.local.clone().map(ExtraInfo::Addr),
            "socket" if self.kind == Kind::Socket && !self.lc.is_lost() => {
                Some(ExtraInfo::Fd(self.lc.raw()))
            }
            "pipe" if self.kind != Kind::Socket && !self.lc.is_lost() => {
                Some(ExtraInfo::Fd(self.lc.raw()))
            }
            _ => None,
        }
    }

    fn set_protocol(&self, protocol: ProtocolRef) {
        if !self.lc.is_lost() {
            *self.protocol.borrow_mut() = Some(protocol);
        }
    }

    fn get_protocol(&self) -> Option<ProtocolRef> {
        self.protocol.borrow().clone()
    }

    fn is_reading(&self) -> bool {
        self.kind != Kind::WritePipe && !self.paused.get() && !self.lc.is_closing()
    }

    fn pause_reading(&self) {
        if self.kind == Kind::WritePipe || self.lc.is_closing() || self.paused.get() {
            return;
        }
        self.paused.set(true);
        self.stop_reading();
    }

    fn resume_reading(&self) {
        if self.kind == Kind::WritePipe || self.lc.is_closing() || !self.paused.get() {
            return;
        }
        self.paused.set(false);
        if self.lc.is_connected() {
            if let Some(t) = self.this.upgrade() {
                t.start_reading();
            }
        }
    }

    fn write(&self, data: &[u8]) -> Result<()> {
        match self.this.upgrade() {
            Some(t) => t.write_impl(&[data]),
            None => Ok(()),
        }
    }

    fn writelines(&self, bufs: &[&[u8]]) -> Result<()> {
        match self.this.upgrade() {
            Some(t) => t.write_impl(bufs),
            None => Ok(()),
        }
    }

    fn write_eof(&self) -> Result<()> {
        if self.kind == Kind::ReadPipe {
            return Err(Error::Unsupported("write_eof on a read pipe"));
        }
        if self.lc.is_closing() || self.eof.get() {
            return Ok(());
        }
        self.eof.set(true);
        if self.write_buffer_size() == 0 {
            if let Some(t) = self.this.upgrade() {
                t.shutdown_write();
            }
        }
        Ok(())
    }

    fn can_write_eof(&self) -> bool {
        self.kind != Kind::ReadPipe
    }

    fn abort(&self) {
        if let Some(t) = self.this.upgrade() {
            t.abort_impl();
        }
    }

    fn get_write_buffer_size(&self) -> usize {
        self.write_buffer_size()
    }

    fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.flow.limits()
    }

    fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()> {
        self.flow.set_limits(high, low)?;
        if let Some(t) = self.this.upgrade() {
            t.maybe_pause_protocol();
        }
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl NoticeOwner for SocketTransport {
    fn notices(&self) -> &Notices {
        self.lc.notices()
    }

    fn notice_loop(&self) -> &Loop {
        &self.lp
    }

    fn flush_notices(self: &Rc<Self>) {
        let Some(proto) = self.protocol.borrow().clone() else {
            return;
        };
        if self.lc.notices().flush(&proto) {
            self.schedule_notice_flush();
        }
    }
}

impl TransportLifecycle for SocketTransport {
    fn lifecycle(&self) -> &Lifecycle {
        &self.lc
    }

    fn protocol_busy(&self) -> bool {
        self.protocol
            .borrow()
            .as_ref()
            .is_some_and(|p| !p.is_free())
    }

    fn deliver_connection_lost(&self, exc: Option<Error>) {
        let proto = self.protocol.borrow().clone();
        if let Some(p) = proto {
            p.try_base(|p| p.connection_lost(exc));
        }
    }

    /// Stops watching and closes the descriptor; drops the protocol (which
    /// usually holds this transport: the cycle ends here).
    fn release(&self) {
        if let Driver::Completion(io) = &self.io {
            io.cancel_all(self);
        }
        self.lc.release_fd();
        self.clear_write_buffer();
        drop(self.protocol.borrow_mut().take());
    }

    fn after_connection_lost(&self, exc: Option<Error>) {
        self.wake_empty_waiters(Some(exc.unwrap_or(Error::Closed)));
        if let Some(f) = self.on_lost.borrow_mut().take() {
            f();
        }
    }
}

impl Drop for SocketTransport {
    fn drop(&mut self) {
        if self.lc.holds_fd() && !self.lp.is_closed() {
            log::debug!("unclosed transport (fd {}) dropped", self.lc.raw());
        }
    }
}
