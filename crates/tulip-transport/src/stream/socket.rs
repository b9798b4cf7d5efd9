//! The stream transport over a non-blocking descriptor: TCP and Unix
//! sockets and pipe ends (asyncio's `_SelectorSocketTransport` and the
//! Unix pipe transports of `unix_events`).
//!
//! Read path: the loop calls [`SocketTransport::read_ready`] when the
//! descriptor is readable (a level-triggered watch, added and removed only
//! when reading starts, pauses, resumes or stops); one `recv` lands in the
//! thread's shared read buffer (or, for a `BufferedProtocol`, in the
//! protocol's buffer) and goes to the protocol.
//!
//! Write path: `write()` sends at once when nothing is buffered and keeps
//! only what the socket did not take; a writer watch is added while data is
//! buffered and flushes it with vectored sends. Sends use `MSG_NOSIGNAL`.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::{Rc, Weak};
use std::time::Duration;

use tulip_executor::{Error as LoopError, Loop, LoopFuture, PanicError};
use tulip_reactor::without_sigpipe;

use crate::address::SockAddr;
use crate::error::{Error, Result};
use crate::lifecycle::{Lifecycle, TransportLifecycle};
use crate::protocols::ProtocolRef;
use crate::sock;
use crate::stream::readbuf::{BufferedRead, READ_SIZE, read_buffered, with_read_buffer};
use crate::stream::writebuf::WriteBuffer;
use crate::transports::{
    ExtraInfo, FlowControl, Notice, NoticeOwner, Notices, Transport, TransportImpl,
};

/// At most this many buffers go into one vectored send.
const MAX_IOV: usize = 64;

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
    lc: Lifecycle,
    lp: Loop,
    kind: Kind,
    this: Weak<SocketTransport>,
    protocol: RefCell<Option<ProtocolRef>>,
    flow: FlowControl,
    buffer: RefCell<WriteBuffer>,
    eof: Cell<bool>,
    paused: Cell<bool>,
    /// The peer's EOF was seen (reading never resumes after it).
    read_eof: Cell<bool>,
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
        let (peer, local) = if kind == Kind::Socket {
            let local = sock::local_addr(fd.as_fd());
            let stream = rustix::net::sockopt::socket_type(&fd).ok()
                == Some(rustix::net::SocketType::STREAM);
            if stream {
                set_nodelay(&fd, local.as_ref());
            }
            (sock::peer_addr(fd.as_fd()), local)
        } else {
            (None, None)
        };
        Ok(Self::build(lp, fd, kind, protocol, peer, local))
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
        Self::build(lp, fd, Kind::Socket, protocol, peer, local)
    }

    fn build(
        lp: &Loop,
        fd: OwnedFd,
        kind: Kind,
        protocol: ProtocolRef,
        peer: Option<SockAddr>,
        local: Option<SockAddr>,
    ) -> Rc<SocketTransport> {
        Rc::new_cyclic(|this| SocketTransport {
            lc: Lifecycle::new(lp, fd),
            lp: lp.clone(),
            kind,
            this: this.clone(),
            protocol: RefCell::new(Some(protocol)),
            flow: FlowControl::default(),
            buffer: RefCell::new(WriteBuffer::default()),
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
                    self.add_reader();
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

    fn add_reader(self: &Rc<Self>) {
        if self.lc.is_reader_on()
            || self.paused.get()
            || self.lc.is_closing()
            || self.read_eof.get()
        {
            return;
        }
        let t = self.clone();
        if let Err(e) = self.lc.add_reader(move || t.read_ready()) {
            self.fatal_error(Error::from(e), "Fatal error adding a reader");
        }
    }

    fn remove_reader(&self) {
        self.lc.remove_reader();
    }

    fn add_writer(self: &Rc<Self>) {
        if self.lc.is_writer_on() {
            return;
        }
        let t = self.clone();
        if let Err(e) = self.lc.add_writer(move || t.write_ready()) {
            self.fatal_error(Error::from(e), "Fatal error adding a writer");
        }
    }

    fn remove_writer(&self) {
        self.lc.remove_writer();
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
            t.remove_reader();
            if t.buffer.borrow().size() > 0 {
                t.force_close(Some(Error::io(io::ErrorKind::BrokenPipe.into())));
            } else {
                t.close();
            }
        });
    }

    /// The descriptor is readable.
    fn read_ready(self: &Rc<Self>) {
        if self.lc.is_closing() {
            return;
        }
        let Some(proto) = self.protocol.borrow().clone() else {
            return;
        };
        let notices = self.lc.notices();
        if !notices.is_empty() && notices.flush(&proto) {
            return;
        }
        let Some(fd) = self.fd() else { return };
        let outcome = match &proto {
            ProtocolRef::Plain(p) => {
                let Ok(mut p) = p.try_borrow_mut() else {
                    return;
                };
                with_read_buffer(|buf| match self.recv(fd.as_fd(), buf) {
                    Ok(0) => Read::Eof(catch_unwind(AssertUnwindSafe(|| p.eof_received()))),
                    Ok(n) => Read::Data(catch_unwind(AssertUnwindSafe(|| {
                        p.data_received(&buf[..n])
                    }))),
                    Err(e) => Read::Failed(e),
                })
            }
            ProtocolRef::Buffered(p) => {
                let Ok(mut p) = p.try_borrow_mut() else {
                    return;
                };
                match read_buffered(&mut *p, READ_SIZE, |buf| self.recv(fd.as_fd(), buf)) {
                    BufferedRead::Data(_) => Read::Data(Ok(())),
                    BufferedRead::Panicked(payload) => Read::Data(Err(payload)),
                    BufferedRead::EmptyBuffer => Read::EmptyBuffer,
                    BufferedRead::Eof => {
                        Read::Eof(catch_unwind(AssertUnwindSafe(|| p.eof_received())))
                    }
                    BufferedRead::Failed(e) => Read::Failed(e),
                }
            }
        };
        match outcome {
            Read::Data(Ok(())) => {}
            Read::Data(Err(payload)) => self.protocol_panicked("data_received", payload),
            Read::Eof(Ok(keep_open)) => {
                self.read_eof.set(true);
                if keep_open && self.kind == Kind::Socket {
                    self.remove_reader();
                } else {
                    self.close();
                }
            }
            Read::Eof(Err(payload)) => self.protocol_panicked("eof_received", payload),
            Read::Failed(e) if sock::would_block(&e) => {}
            Read::Failed(e) => self.fatal_error(Error::io(e), "Fatal read error on transport"),
            Read::EmptyBuffer => self.fatal_error(
                Error::InvalidInput(String::from("get_buffer() returned an empty buffer")),
                "Fatal error: protocol.get_buffer() call failed",
            ),
        }
        if !self.lc.notices().is_empty() {
            self.flush_notices();
        }
    }

    fn recv(&self, fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
        match self.kind {
            Kind::Socket => Ok(rustix::net::recv(fd, buf, rustix::net::RecvFlags::empty())?.0),
            _ => Ok(rustix::io::read(fd, buf)?),
        }
    }

    fn send(&self, fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
        match self.kind {
            Kind::Socket => sock::send(fd, data),
            // A pipe (or whatever was given as one): no MSG_NOSIGNAL.
            _ => Ok(without_sigpipe(|| rustix::io::write(fd, data))?),
        }
    }

    fn sendv(&self, fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self.kind {
            Kind::Socket => sock::sendv(fd, bufs),
            _ => Ok(without_sigpipe(|| rustix::io::writev(fd, bufs))?),
        }
    }

    fn protocol_panicked(self: &Rc<Self>, what: &str, payload: Box<dyn Any + Send>) {
        self.force_close(Some(crate::transports::protocol_panic(
            &self.lp, what, payload,
        )));
    }

    fn report(&self, message: &str, err: LoopError) {
        crate::transports::report(&self.lp, message, err);
    }

    fn fatal_error(self: &Rc<Self>, err: Error, message: &str) {
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

    fn maybe_pause_protocol(self: &Rc<Self>) {
        if self.flow.should_pause(self.buffer.borrow().size()) {
            self.notify(Notice::PauseWriting);
        }
    }

    fn maybe_resume_protocol(self: &Rc<Self>) {
        if self.flow.should_resume(self.buffer.borrow().size()) {
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
        let mut sent = 0;
        if self.buffer.borrow().size() == 0 {
            let Some(fd) = self.fd() else { return Ok(()) };
            let res = if bufs.len() == 1 {
                self.send(fd.as_fd(), bufs[0])
            } else {
                let mut slices: [IoSlice<'_>; MAX_IOV] = [IoSlice::new(&[]); MAX_IOV];
                let n = bufs.len().min(MAX_IOV);
                for (slot, b) in slices.iter_mut().zip(bufs) {
                    *slot = IoSlice::new(b);
                }
                self.sendv(fd.as_fd(), &slices[..n])
            };
            drop(fd);
            match res {
                Ok(n) => sent = n,
                Err(e) if sock::would_block(&e) => {}
                Err(e) => {
                    self.fatal_error(Error::io(e), "Fatal write error on transport");
                    return Ok(());
                }
            }
            if sent == total {
                return Ok(());
            }
            self.add_writer();
        }
        {
            let mut buffer = self.buffer.borrow_mut();
            let mut skip = sent;
            for b in bufs {
                if skip >= b.len() {
                    skip -= b.len();
                    continue;
                }
                buffer.push(&b[skip..]);
                skip = 0;
            }
        }
        self.maybe_pause_protocol();
        Ok(())
    }

    /// The descriptor is writable: flush the buffer.
    fn write_ready(self: &Rc<Self>) {
        if self.lc.is_lost() {
            return;
        }
        let Some(fd) = self.fd() else { return };
        let res = {
            let buffer = self.buffer.borrow();
            if buffer.size() == 0 {
                Ok(0)
            } else {
                let mut slices: [IoSlice<'_>; MAX_IOV] = [IoSlice::new(&[]); MAX_IOV];
                let n = buffer.fill_slices(&mut slices);
                if n == 1 {
                    self.send(fd.as_fd(), &slices[0])
                } else {
                    self.sendv(fd.as_fd(), &slices[..n])
                }
            }
        };
        drop(fd);
        match res {
            Ok(n) => self.buffer.borrow_mut().consume(n),
            Err(e) if sock::would_block(&e) => return,
            Err(e) => {
                self.remove_writer();
                self.buffer.borrow_mut().clear();
                self.fatal_error(Error::io(e), "Fatal write error on transport");
                return;
            }
        }
        self.maybe_resume_protocol();
        if self.buffer.borrow().size() == 0 {
            self.remove_writer();
            self.wake_empty_waiters(None);
            if self.lc.is_closing() {
                self.call_connection_lost(None);
            } else if self.eof.get() {
                self.shutdown_write();
            }
        }
    }

    fn shutdown_write(self: &Rc<Self>) {
        match self.kind {
            Kind::Socket => {
                if let Some(fd) = self.fd() {
                    let _ = rustix::net::shutdown(&*fd, rustix::net::Shutdown::Write);
                }
            }
            Kind::WritePipe => self.close(),
            Kind::ReadPipe => {}
        }
    }

    fn close_impl(self: &Rc<Self>) {
        if !self.lc.begin_close() {
            return;
        }
        if self.buffer.borrow().size() == 0 {
            self.lc.mark_conn_lost();
            self.schedule_connection_lost(None);
        }
    }

    /// Closes at once, dropping the buffer; `connection_lost(exc)` follows.
    pub(crate) fn force_close(self: &Rc<Self>, exc: Option<Error>) {
        if self.lc.begin_force_close() {
            self.buffer.borrow_mut().clear();
            self.schedule_connection_lost(exc);
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
        } else if self.buffer.borrow().size() == 0 {
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

/// What one read produced.
enum Read {
    Data(std::thread::Result<()>),
    Eof(std::thread::Result<bool>),
    Failed(io::Error),
    EmptyBuffer,
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
        self.remove_reader();
    }

    fn resume_reading(&self) {
        if self.kind == Kind::WritePipe || self.lc.is_closing() || !self.paused.get() {
            return;
        }
        self.paused.set(false);
        if self.lc.is_connected() {
            if let Some(t) = self.this.upgrade() {
                t.add_reader();
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
        if self.buffer.borrow().size() == 0 {
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
        self.buffer.borrow().size()
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
        self.lc.release_fd();
        self.buffer.borrow_mut().clear();
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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    use super::*;
    use crate::protocols::{BaseProtocol, BufferedProtocol};

    /// Counts `get_buffer` calls against the reads that used them.
    #[derive(Default)]
    struct Counting {
        buf: Vec<u8>,
        asked: usize,
        updates: usize,
        got: usize,
    }

    impl BaseProtocol for Counting {}

    impl BufferedProtocol for Counting {
        fn get_buffer(&mut self, _sizehint: usize) -> &mut [u8] {
            self.asked += 1;
            self.buf.resize(7, 0);
            &mut self.buf
        }

        fn buffer_updated(&mut self, nbytes: usize) {
            self.updates += 1;
            self.got += nbytes;
        }
    }

    /// Each read asks the protocol for its buffer once (it was asked twice,
    /// the second time outside the panic guard).
    #[test]
    fn a_buffered_read_asks_for_the_buffer_once() {
        tulip_executor::run(async {
            let lp = tulip_executor::get_running_loop().unwrap();
            let (ours, mut peer) = UnixStream::pair().unwrap();
            let proto = Rc::new(RefCell::new(Counting::default()));
            let t = SocketTransport::new(
                &lp,
                OwnedFd::from(ours),
                Kind::Socket,
                ProtocolRef::Buffered(proto.clone()),
            )
            .unwrap();
            t.start().unwrap().await.unwrap();
            peer.write_all(b"twenty bytes of data").unwrap();
            for _ in 0..200 {
                if proto.borrow().got == 20 {
                    break;
                }
                tulip_executor::sleep(Duration::from_millis(5)).await;
            }
            let p = proto.borrow();
            assert_eq!(p.got, 20);
            assert_eq!(p.asked, p.updates);
            drop(p);
            t.force_close(None);
        })
        .unwrap();
    }
}
