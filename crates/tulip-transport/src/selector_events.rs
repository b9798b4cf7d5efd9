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
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::{Rc, Weak};
use std::time::Duration;

use tulip_executor::{Error as LoopError, Loop, LoopFuture, PanicError};
use tulip_reactor::without_sigpipe;

use crate::address::SockAddr;
use crate::error::{Error, Result};
use crate::protocols::ProtocolRef;
use crate::readbuf::{READ_SIZE, with_read_buffer};
use crate::sock;
use crate::transports::{ExtraInfo, FlowControl, Notice, Notices, Transport, TransportImpl};

/// After this many writes to a lost connection, one warning is logged
/// (asyncio's `LOG_THRESHOLD_FOR_CONNLOST_WRITES`).
const LOG_THRESHOLD_FOR_CONNLOST_WRITES: u32 = 5;

/// At most this many buffers go into one vectored send.
const MAX_IOV: usize = 64;

/// Small writes are appended to the last buffered chunk up to this size.
const COALESCE_LIMIT: usize = 16 * 1024;

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

/// Data waiting to be sent: chunks, the first one partly sent.
#[derive(Default)]
struct WriteBuffer {
    chunks: VecDeque<Vec<u8>>,
    head: usize,
    size: usize,
}

impl WriteBuffer {
    fn push(&mut self, data: &[u8]) {
        self.size += data.len();
        if let Some(last) = self.chunks.back_mut() {
            if last.len() + data.len() <= COALESCE_LIMIT {
                last.extend_from_slice(data);
                return;
            }
        }
        self.chunks.push_back(data.to_vec());
    }

    fn consume(&mut self, mut n: usize) {
        self.size -= n;
        while n > 0 {
            let Some(front) = self.chunks.front() else {
                break;
            };
            let left = front.len() - self.head;
            if n >= left {
                n -= left;
                self.head = 0;
                self.chunks.pop_front();
            } else {
                self.head += n;
                n = 0;
            }
        }
    }

    fn clear(&mut self) {
        self.chunks.clear();
        self.head = 0;
        self.size = 0;
    }
}

/// A stream transport over a socket or pipe descriptor. Users see it as a
/// [`Transport`].
pub(crate) struct SocketTransport {
    lp: Loop,
    kind: Kind,
    this: Weak<SocketTransport>,
    fd: RefCell<Option<OwnedFd>>,
    raw: RawFd,
    protocol: RefCell<Option<ProtocolRef>>,
    notices: Notices,
    flow: FlowControl,
    buffer: RefCell<WriteBuffer>,
    closing: Cell<bool>,
    eof: Cell<bool>,
    paused: Cell<bool>,
    /// The peer's EOF was seen (reading never resumes after it).
    read_eof: Cell<bool>,
    conn_lost: Cell<u32>,
    connected: Cell<bool>,
    lost: Cell<bool>,
    reader_on: Cell<bool>,
    writer_on: Cell<bool>,
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
        let raw = fd.as_raw_fd();
        Rc::new_cyclic(|this| SocketTransport {
            lp: lp.clone(),
            kind,
            this: this.clone(),
            fd: RefCell::new(Some(fd)),
            raw,
            protocol: RefCell::new(Some(protocol)),
            notices: Notices::default(),
            flow: FlowControl::default(),
            buffer: RefCell::new(WriteBuffer::default()),
            closing: Cell::new(false),
            eof: Cell::new(false),
            paused: Cell::new(kind == Kind::WritePipe),
            read_eof: Cell::new(false),
            conn_lost: Cell::new(0),
            connected: Cell::new(false),
            lost: Cell::new(false),
            reader_on: Cell::new(false),
            writer_on: Cell::new(false),
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
        if self.lost.get() {
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
                self.connected.set(true);
                self.notices.flush(&proto);
                if self.kind == Kind::WritePipe {
                    // A write pipe's descriptor turns readable (error/hang
                    // up) when the reading end closes.
                    self.watch_peer_close();
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

    /// A shared borrow of the descriptor, while it is open. The borrow is
    /// only ever taken mutably in [`release`](SocketTransport::release),
    /// which tolerates an outstanding shared borrow.
    fn fd(&self) -> Option<std::cell::Ref<'_, OwnedFd>> {
        std::cell::Ref::filter_map(self.fd.borrow(), Option::as_ref).ok()
    }

    fn add_reader(self: &Rc<Self>) {
        if self.reader_on.get() || self.paused.get() || self.closing.get() || self.read_eof.get() {
            return;
        }
        let Some(fd) = self.fd() else { return };
        let t = self.clone();
        match self.lp.add_reader(&*fd, move || t.read_ready()) {
            Ok(_) => self.reader_on.set(true),
            Err(e) => self.fatal_error(Error::from(e), "Fatal error adding a reader"),
        }
    }

    fn remove_reader(&self) {
        if self.reader_on.replace(false) {
            self.lp.remove_reader(self.raw);
        }
    }

    fn add_writer(self: &Rc<Self>) {
        if self.writer_on.get() {
            return;
        }
        let Some(fd) = self.fd() else { return };
        let t = self.clone();
        match self.lp.add_writer(&*fd, move || t.write_ready()) {
            Ok(_) => self.writer_on.set(true),
            Err(e) => self.fatal_error(Error::from(e), "Fatal error adding a writer"),
        }
    }

    fn remove_writer(&self) {
        if self.writer_on.replace(false) {
            self.lp.remove_writer(self.raw);
        }
    }

    fn watch_peer_close(self: &Rc<Self>) {
        let Some(fd) = self.fd() else { return };
        let t = self.clone();
        let added = self.lp.add_reader(&*fd, move || {
            t.remove_reader();
            if t.buffer.borrow().size > 0 {
                t.force_close(Some(Error::io(io::ErrorKind::BrokenPipe.into())));
            } else {
                t.close();
            }
        });
        if added.is_ok() {
            self.reader_on.set(true);
        }
    }

    /// The descriptor is readable.
    fn read_ready(self: &Rc<Self>) {
        if self.closing.get() {
            return;
        }
        let Some(proto) = self.protocol.borrow().clone() else {
            return;
        };
        if !self.notices.is_empty() && self.notices.flush(&proto) {
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
                match catch_unwind(AssertUnwindSafe(|| p.get_buffer(READ_SIZE).len())) {
                    Err(payload) => Read::Data(Err(payload)),
                    Ok(0) => Read::EmptyBuffer,
                    Ok(_) => {
                        let res = self.recv(fd.as_fd(), p.get_buffer(READ_SIZE));
                        match res {
                            Ok(0) => Read::Eof(catch_unwind(AssertUnwindSafe(|| p.eof_received()))),
                            Ok(n) => {
                                Read::Data(catch_unwind(AssertUnwindSafe(|| p.buffer_updated(n))))
                            }
                            Err(e) => Read::Failed(e),
                        }
                    }
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
        if !self.notices.is_empty() {
            self.flush_notices(&proto);
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

    fn flush_notices(self: &Rc<Self>, proto: &ProtocolRef) {
        if self.notices.flush(proto) && self.notices.mark_scheduled() {
            let t = self.clone();
            let _ = self.lp.call_soon(move || {
                t.notices.unmark_scheduled();
                if let Some(p) = t.protocol.borrow().clone() {
                    t.flush_notices(&p);
                }
            });
        }
    }

    fn notify(self: &Rc<Self>, notice: Notice) {
        if !self.connected.get() || self.lost.get() {
            return;
        }
        let Some(proto) = self.protocol.borrow().clone() else {
            return;
        };
        if self.notices.push(notice, &proto) && self.notices.mark_scheduled() {
            let t = self.clone();
            let _ = self.lp.call_soon(move || {
                t.notices.unmark_scheduled();
                if let Some(p) = t.protocol.borrow().clone() {
                    t.flush_notices(&p);
                }
            });
        }
    }

    fn maybe_pause_protocol(self: &Rc<Self>) {
        if self.flow.should_pause(self.buffer.borrow().size) {
            self.notify(Notice::PauseWriting);
        }
    }

    fn maybe_resume_protocol(self: &Rc<Self>) {
        if self.flow.should_resume(self.buffer.borrow().size) {
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
        if self.conn_lost.get() > 0 {
            let n = self.conn_lost.get() + 1;
            self.conn_lost.set(n);
            if n == LOG_THRESHOLD_FOR_CONNLOST_WRITES {
                log::warn!("socket.send() raised exception: writing to a closed transport");
            }
            return Ok(());
        }
        let mut sent = 0;
        if self.buffer.borrow().size == 0 {
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
        if self.lost.get() {
            return;
        }
        let Some(fd) = self.fd() else { return };
        let res = {
            let buffer = self.buffer.borrow();
            if buffer.size == 0 {
                Ok(0)
            } else {
                let mut slices: [IoSlice<'_>; MAX_IOV] = [IoSlice::new(&[]); MAX_IOV];
                let mut n = 0;
                for (i, chunk) in buffer.chunks.iter().take(MAX_IOV).enumerate() {
                    let start = if i == 0 { buffer.head } else { 0 };
                    slices[i] = IoSlice::new(&chunk[start..]);
                    n += 1;
                }
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
        if self.buffer.borrow().size == 0 {
            self.remove_writer();
            self.wake_empty_waiters(None);
            if self.closing.get() {
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
        if self.closing.get() {
            return;
        }
        self.closing.set(true);
        self.remove_reader();
        if self.buffer.borrow().size == 0 {
            self.conn_lost.set(self.conn_lost.get() + 1);
            self.schedule_connection_lost(None);
        }
    }

    /// Closes at once, dropping the buffer; `connection_lost(exc)` follows.
    pub(crate) fn force_close(self: &Rc<Self>, exc: Option<Error>) {
        if self.conn_lost.get() > 0 {
            return;
        }
        if self.buffer.borrow().size > 0 {
            self.buffer.borrow_mut().clear();
            self.remove_writer();
        }
        if !self.closing.get() {
            self.closing.set(true);
            self.remove_reader();
        }
        self.conn_lost.set(self.conn_lost.get() + 1);
        self.schedule_connection_lost(exc);
    }

    fn schedule_connection_lost(self: &Rc<Self>, exc: Option<Error>) {
        let t = self.clone();
        if self
            .lp
            .call_soon(move || t.call_connection_lost(exc))
            .is_err()
        {
            // The loop is closed: nothing will run again; release now.
            self.release();
        }
    }

    fn call_connection_lost(self: &Rc<Self>, exc: Option<Error>) {
        if self.lost.get() {
            return;
        }
        let proto = self.protocol.borrow().clone();
        if let Some(p) = &proto {
            if self.connected.get() && !p.is_free() {
                // The protocol is inside one of its callbacks: try again on
                // the next pass.
                let t = self.clone();
                if self
                    .lp
                    .call_soon(move || t.call_connection_lost(exc))
                    .is_ok()
                {
                    return;
                }
                self.release();
                return;
            }
        }
        self.lost.set(true);
        self.notices.clear();
        if self.connected.get() {
            if let Some(p) = &proto {
                let res = catch_unwind(AssertUnwindSafe(|| {
                    p.try_base(|p| p.connection_lost(exc.clone()));
                }));
                if let Err(payload) = res {
                    self.report(
                        "Exception in connection_lost",
                        LoopError::Panicked(PanicError::new(payload)),
                    );
                }
            }
        }
        self.release();
        self.wake_empty_waiters(Some(exc.unwrap_or(Error::Closed)));
        if let Some(f) = self.on_lost.borrow_mut().take() {
            f();
        }
    }

    /// Stops watching and closes the descriptor; drops the protocol (which
    /// usually holds this transport: the cycle ends here).
    fn release(&self) {
        self.lost.set(true);
        self.remove_reader();
        self.remove_writer();
        self.buffer.borrow_mut().clear();
        if let Ok(mut fd) = self.fd.try_borrow_mut() {
            drop(fd.take());
        }
        drop(self.protocol.borrow_mut().take());
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
        if self.lost.get() {
            let _ = fut.set_exception(LoopError::from(Error::Closed));
        } else if self.buffer.borrow().size == 0 {
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
        if !active && self.lost.get() {
            if let Ok(mut fd) = self.fd.try_borrow_mut() {
                drop(fd.take());
            }
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
        if self.lost.get() {
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
        self.closing.get()
    }

    fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        match name {
            "peername" => self.peer.clone().map(ExtraInfo::Addr),
            "sockname" => self.local.clone().map(ExtraInfo::Addr),
            "socket" if self.kind == Kind::Socket && !self.lost.get() => {
                Some(ExtraInfo::Fd(self.raw))
            }
            "pipe" if self.kind != Kind::Socket && !self.lost.get() => {
                Some(ExtraInfo::Fd(self.raw))
            }
            _ => None,
        }
    }

    fn set_protocol(&self, protocol: ProtocolRef) {
        if !self.lost.get() {
            *self.protocol.borrow_mut() = Some(protocol);
        }
    }

    fn get_protocol(&self) -> Option<ProtocolRef> {
        self.protocol.borrow().clone()
    }

    fn is_reading(&self) -> bool {
        self.kind != Kind::WritePipe && !self.paused.get() && !self.closing.get()
    }

    fn pause_reading(&self) {
        if self.kind == Kind::WritePipe || self.closing.get() || self.paused.get() {
            return;
        }
        self.paused.set(true);
        self.remove_reader();
    }

    fn resume_reading(&self) {
        if self.kind == Kind::WritePipe || self.closing.get() || !self.paused.get() {
            return;
        }
        self.paused.set(false);
        if self.connected.get() {
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
        if self.closing.get() || self.eof.get() {
            return Ok(());
        }
        self.eof.set(true);
        if self.buffer.borrow().size == 0 {
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
        self.buffer.borrow().size
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

impl Drop for SocketTransport {
    fn drop(&mut self) {
        if self.fd.get_mut().is_some() && !self.lp.is_closed() {
            log::debug!("unclosed transport (fd {}) dropped", self.raw);
        }
    }
}
