//! TLS as a layer between a stream transport and the application's
//! protocol, as asyncio's `sslproto` does it.
//!
//! ```text
//! socket transport  ──data_received──▶  SslProtocol  ──data_received──▶  app protocol
//!                   ◀──────write──────  (rustls)     ◀──────write──────  (its Transport)
//! ```
//!
//! [`SslProtocol`] is the socket transport's [`Protocol`] (through the
//! small [`SocketSide`] adapter) and, at the same time, the application's
//! transport: it implements [`TransportImpl`], so every protocol and the
//! streams work unchanged over TLS.
//!
//! - **Reading.** Ciphertext from the socket goes into rustls
//!   (`read_tls`, `process_new_packets`), and the plaintext it yields to
//!   the application (copied from rustls into a per-thread scratch buffer
//!   for a `Protocol`, into the protocol's own buffer for a
//!   `BufferedProtocol`). While the application has paused reading, the
//!   ciphertext waits undecrypted; past [`PENDING_LIMIT`] the socket stops
//!   reading too. Nothing is lost or repeated at record boundaries: rustls
//!   is only fed after the plaintext it holds was delivered.
//! - **Writing.** Plaintext goes through rustls and the records straight
//!   into the socket transport (vectored), whose buffer and water marks
//!   are the application's: its `pause_writing` and `resume_writing`
//!   reach the application protocol.
//! - **Re-entrancy.** No borrow of the rustls connection is held while
//!   the application runs; a write made while it is borrowed (from a
//!   `pause_writing` raised inside a send) waits in a small backlog that
//!   the running operation sends next.
//! - **States.** handshake (with `ssl_handshake_timeout`) → wrapped →
//!   shutdown (our close_notify sent, waiting for the peer's, with
//!   `ssl_shutdown_timeout`) → closed. A TCP EOF without the peer's
//!   close_notify is [`TlsError::Truncated`], never a clean EOF.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::io::{self, BufRead, IoSlice, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::{Rc, Weak};
use std::time::Duration;

use tulip_executor::{Error as LoopError, Loop, LoopFuture, PanicError, TimerHandle};

use crate::error::{Error, Result};
use crate::protocols::{BaseProtocol, Protocol, ProtocolRef};
use crate::stream::readbuf::{BufferedRead as Buffered, read_buffered};
use crate::stream::socket::SocketTransport;
use crate::tls::error::TlsError;
use crate::tls::options::tls_error;
use crate::transports::{Notice, NoticeOwner, Notices, Transport};

/// Ciphertext kept while the application has paused reading; past this
/// the socket transport is paused too.
pub(crate) const PENDING_LIMIT: usize = 64 * 1024;

/// The scratch buffer a `Protocol` gets its plaintext in.
const SCRATCH_SIZE: usize = 64 * 1024;

/// After this many writes to a closed TLS transport, one warning is
/// logged (as the socket transport does).
const LOG_THRESHOLD_FOR_CONNLOST_WRITES: u32 = 5;

thread_local! {
    static SCRATCH: Cell<Option<Box<[u8]>>> = const { Cell::new(None) };
}

/// Runs `f` with the thread's plaintext scratch buffer.
fn with_scratch<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    let mut buf = SCRATCH
        .with(Cell::take)
        .unwrap_or_else(|| vec![0u8; SCRATCH_SIZE].into_boxed_slice());
    let out = f(&mut buf);
    SCRATCH.with(|s| s.set(Some(buf)));
    out
}

/// Where the TLS session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// The handshake runs.
    Handshake,
    /// Application data flows.
    Wrapped,
    /// The application closed: our close_notify is sent, the peer's is
    /// awaited; what arrives meanwhile is discarded.
    Shutdown,
    /// The socket transport is closing or gone.
    Closed,
}

/// What delivering plaintext to the application ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    /// rustls holds no more plaintext.
    Drained,
    /// The application paused reading (or is busy): plaintext may remain.
    Stopped,
    /// The peer's close_notify, after the last plaintext.
    Eof,
}

/// What one read from rustls gave a `Protocol`.
enum PlainRead {
    Data(std::thread::Result<()>),
    Drained,
    Eof,
    Busy,
}

/// What one read from rustls gave a `BufferedProtocol`.
enum BufferedRead {
    Data,
    Drained,
    Eof,
    Busy,
    EmptyBuffer,
    Panicked(Box<dyn Any + Send>),
}

/// How a TLS session starts.
pub(crate) struct TlsSetup {
    /// The rustls session (client or server).
    pub(crate) conn: rustls::Connection,
    /// `ssl_handshake_timeout`.
    pub(crate) handshake_timeout: Duration,
    /// `ssl_shutdown_timeout`.
    pub(crate) shutdown_timeout: Duration,
    /// The name a client verifies and sends as SNI.
    pub(crate) server_hostname: Option<String>,
}

/// The TLS layer: the socket transport's protocol and the application's
/// transport (asyncio's `SSLProtocol` and `_SSLProtocolTransport`).
pub(crate) struct SslProtocol {
    pub(crate) lp: Loop,
    pub(crate) this: Weak<SslProtocol>,
    pub(crate) conn: RefCell<rustls::Connection>,
    pub(crate) state: Cell<State>,
    /// The transport underneath (kept after the loss, for its addresses).
    pub(crate) socket: RefCell<Option<Transport>>,
    pub(crate) app: RefCell<Option<ProtocolRef>>,
    /// The name a client verifies and sends as SNI.
    pub(crate) server_hostname: Option<String>,
    /// The application protocol is connected: it gets data, flow control
    /// and `connection_lost` (from the start with `start_tls`).
    app_connected: Cell<bool>,
    /// Call the application's `connection_made` after the handshake
    /// (false for `start_tls`, whose protocol is connected already).
    call_connection_made: bool,
    handshake_timeout: Duration,
    shutdown_timeout: Duration,
    timer: RefCell<Option<TimerHandle>>,
    /// The handshake's outcome, once known; `waiter` completes then.
    outcome: RefCell<Option<Result<()>>>,
    waiter: LoopFuture<()>,
    /// The application closed (or aborted) its transport.
    pub(crate) closing: Cell<bool>,
    /// Our close_notify goes out with the next flush.
    close_notify_queued: Cell<bool>,
    /// The application paused reading.
    pub(crate) app_paused: Cell<bool>,
    /// This layer paused the socket's reading.
    socket_read_paused: Cell<bool>,
    /// The socket's write buffer is over its high-water mark.
    socket_write_paused: Cell<bool>,
    /// Ciphertext not yet given to rustls (while the application is
    /// paused).
    pending: RefCell<Vec<u8>>,
    /// The socket's EOF arrived while data was still pending.
    eof_pending: Cell<bool>,
    resume_scheduled: Cell<bool>,
    /// Plaintext written while the rustls session was borrowed.
    backlog: RefCell<Vec<u8>>,
    /// The error the application's `connection_lost` gets (a truncation,
    /// a TLS failure, a timeout), when the socket's own says less.
    exc: RefCell<Option<Error>>,
    notices: Notices,
    conn_lost_writes: Cell<u32>,
    pub(crate) lost: Cell<bool>,
}

/// The socket transport's protocol: forwards to the [`SslProtocol`].
pub(crate) struct SocketSide(Rc<SslProtocol>);

impl BaseProtocol for SocketSide {
    fn connection_lost(&mut self, exc: Option<Error>) {
        self.0.socket_lost(exc);
    }

    fn pause_writing(&mut self) {
        self.0.socket_write_paused.set(true);
        if self.0.app_connected.get() {
            self.0.notify(Notice::PauseWriting);
        }
    }

    fn resume_writing(&mut self) {
        self.0.socket_write_paused.set(false);
        if self.0.app_connected.get() {
            self.0.notify(Notice::ResumeWriting);
        }
    }
}

impl Protocol for SocketSide {
    fn connection_made(&mut self, transport: Transport) {
        self.0.socket_made(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.0.data_received(data);
    }

    fn eof_received(&mut self) -> bool {
        self.0.eof_received()
    }
}

/// Sends rustls' records through the socket transport.
struct SocketSink<'a>(&'a Transport);

impl Write for SocketSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(io::Error::from)?;
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        // rustls hands over at most 64 records at once.
        let mut slices: [&[u8]; 64] = [&[]; 64];
        let n = bufs.len().min(slices.len());
        for (slot, b) in slices.iter_mut().zip(bufs) {
            *slot = b;
        }
        self.0.writelines(&slices[..n]).map_err(io::Error::from)?;
        Ok(slices[..n].iter().map(|b| b.len()).sum())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SslProtocol {
    /// A TLS layer for `app`; nothing runs until the socket transport's
    /// `connection_made` (or [`start`](SslProtocol::start)).
    pub(crate) fn new(
        lp: &Loop,
        setup: TlsSetup,
        app: ProtocolRef,
        call_connection_made: bool,
    ) -> Rc<SslProtocol> {
        let mut conn = setup.conn;
        // The socket transport's buffer and water marks bound the writes.
        conn.set_buffer_limit(None);
        Rc::new_cyclic(|this| SslProtocol {
            lp: lp.clone(),
            this: this.clone(),
            conn: RefCell::new(conn),
            state: Cell::new(State::Handshake),
            socket: RefCell::new(None),
            app: RefCell::new(Some(app)),
            server_hostname: setup.server_hostname,
            app_connected: Cell::new(!call_connection_made),
            call_connection_made,
            handshake_timeout: setup.handshake_timeout,
            shutdown_timeout: setup.shutdown_timeout,
            timer: RefCell::new(None),
            outcome: RefCell::new(None),
            waiter: lp.create_future(),
            closing: Cell::new(false),
            close_notify_queued: Cell::new(false),
            app_paused: Cell::new(false),
            socket_read_paused: Cell::new(false),
            socket_write_paused: Cell::new(false),
            pending: RefCell::new(Vec::new()),
            eof_pending: Cell::new(false),
            resume_scheduled: Cell::new(false),
            backlog: RefCell::new(Vec::new()),
            exc: RefCell::new(None),
            notices: Notices::default(),
            conn_lost_writes: Cell::new(0),
            lost: Cell::new(false),
        })
    }

    /// The protocol to give the socket transport.
    pub(crate) fn socket_protocol(self: &Rc<Self>) -> ProtocolRef {
        ProtocolRef::plain(Rc::new(RefCell::new(SocketSide(self.clone()))))
    }

    /// The application's transport.
    pub(crate) fn app_transport(self: &Rc<Self>) -> Transport {
        Transport::new(self.clone())
    }

    /// Starts over a socket transport that is connected already
    /// (`start_tls`).
    pub(crate) fn start(self: &Rc<Self>, socket: Transport) {
        self.socket_made(socket);
    }

    /// Waits for the handshake (and the application's `connection_made`).
    pub(crate) async fn wait_handshake(&self) -> Result<()> {
        self.waiter.wait().await;
        self.outcome.borrow().clone().unwrap_or(Err(Error::Closed))
    }

    fn socket(&self) -> Option<Transport> {
        self.socket.borrow().clone()
    }

    fn socket_made(self: &Rc<Self>, socket: Transport) {
        if let Some(st) = socket.inner().as_any().downcast_ref::<SocketTransport>() {
            // `Server::close_clients` closes through this layer.
            let this = self.this.clone();
            st.set_layer_close(Rc::new(move || {
                if let Some(s) = this.upgrade() {
                    s.app_close();
                }
            }));
        }
        *self.socket.borrow_mut() = Some(socket);
        let this = self.this.clone();
        let timeout = self.handshake_timeout;
        let timer = self.lp.call_later(timeout, move || {
            if let Some(s) = this.upgrade() {
                if s.state.get() == State::Handshake {
                    s.fatal(
                        Error::Tls(TlsError::HandshakeTimeout(timeout)),
                        "SSL handshake timed out",
                        false,
                    );
                }
            }
        });
        *self.timer.borrow_mut() = timer.ok();
        // A client's hello is queued already.
        self.flush_tls();
    }

    fn cancel_timer(&self) {
        if let Some(t) = self.timer.borrow_mut().take() {
            t.cancel();
        }
    }

    fn finish_handshake(&self, outcome: Result<()>) {
        let mut slot = self.outcome.borrow_mut();
        if slot.is_none() {
            *slot = Some(outcome);
            let _ = self.waiter.set_result(());
        }
    }

    // ----- reading -------------------------------------------------------

    fn data_received(self: &Rc<Self>, data: &[u8]) {
        if self.state.get() == State::Closed {
            return;
        }
        if !self.pending.borrow().is_empty() {
            // Older ciphertext waits: keep the order.
            self.stash(data);
            return;
        }
        self.feed(data);
    }

    /// Gives `data` to rustls, record by record, delivering the plaintext
    /// before each read so rustls never holds more than one read's worth.
    /// Returns false when it stopped for the application (the rest of
    /// `data` is stashed).
    fn feed(self: &Rc<Self>, mut data: &[u8]) -> bool {
        loop {
            match self.deliver() {
                Delivery::Stopped => {
                    self.stash(data);
                    return false;
                }
                Delivery::Eof => {
                    // Anything after the close_notify is ignored.
                    self.on_close_notify();
                    return true;
                }
                Delivery::Drained => {}
            }
            if data.is_empty() || self.state.get() == State::Closed {
                return true;
            }
            let step = {
                let Ok(mut conn) = self.conn.try_borrow_mut() else {
                    self.stash(data);
                    self.schedule_resume();
                    return false;
                };
                let was_handshaking = conn.is_handshaking();
                match conn.read_tls(&mut data) {
                    Ok(0) => data = &[],
                    Ok(_) => {}
                    Err(e) => {
                        drop(conn);
                        self.fatal(Error::io(e), "Fatal error on SSL protocol", true);
                        return true;
                    }
                }
                match conn.process_new_packets() {
                    Ok(_) => Ok(was_handshaking && !conn.is_handshaking()),
                    Err(e) => Err(e),
                }
            };
            // Handshake messages and alerts go out at once.
            self.flush_tls();
            match step {
                Err(e) => {
                    let message = if matches!(e, rustls::Error::InvalidCertificate(_)) {
                        "SSL handshake failed on verifying the certificate"
                    } else if self.state.get() == State::Handshake {
                        "SSL handshake failed"
                    } else {
                        "Fatal error on SSL protocol"
                    };
                    self.fatal(tls_error(e), message, true);
                    return true;
                }
                Ok(true) => self.handshake_complete(),
                Ok(false) => {}
            }
        }
    }

    /// Keeps ciphertext for later; pauses the socket past the limit.
    fn stash(&self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let len = {
            let mut pending = self.pending.borrow_mut();
            pending.extend_from_slice(data);
            pending.len()
        };
        if len > PENDING_LIMIT && !self.socket_read_paused.replace(true) {
            if let Some(s) = self.socket() {
                s.pause_reading();
            }
        }
    }

    /// Hands rustls' plaintext to the application (or discards it once
    /// the application closed).
    fn deliver(self: &Rc<Self>) -> Delivery {
        loop {
            let state = self.state.get();
            if state == State::Handshake {
                return Delivery::Drained;
            }
            let discard = state != State::Wrapped || self.closing.get();
            if !discard && self.app_paused.get() {
                return Delivery::Stopped;
            }
            let app = if discard {
                None
            } else {
                self.app.borrow().clone()
            };
            match app {
                None => {
                    let Ok(mut conn) = self.conn.try_borrow_mut() else {
                        self.schedule_resume();
                        return Delivery::Stopped;
                    };
                    let r = with_scratch(|buf| conn.reader().read(buf));
                    match r {
                        Ok(0) => return Delivery::Eof,
                        Ok(_) => {}
                        Err(_) => return Delivery::Drained,
                    }
                }
                Some(ProtocolRef::Plain(p)) => match self.deliver_plain(&p) {
                    PlainRead::Data(Ok(())) => self.flush_notices(),
                    PlainRead::Data(Err(payload)) => {
                        self.app_panicked("data_received", payload);
                        return Delivery::Drained;
                    }
                    PlainRead::Drained => return Delivery::Drained,
                    PlainRead::Eof => return Delivery::Eof,
                    PlainRead::Busy => {
                        self.schedule_resume();
                        return Delivery::Stopped;
                    }
                },
                Some(ProtocolRef::Buffered(p)) => match self.deliver_buffered(&p) {
                    BufferedRead::Data => self.flush_notices(),
                    BufferedRead::Drained => return Delivery::Drained,
                    BufferedRead::Eof => return Delivery::Eof,
                    BufferedRead::Busy => {
                        self.schedule_resume();
                        return Delivery::Stopped;
                    }
                    BufferedRead::EmptyBuffer => {
                        self.fatal(
                            Error::InvalidInput(String::from(
                                "get_buffer() returned an empty buffer",
                            )),
                            "Fatal error: protocol.get_buffer() call failed",
                            false,
                        );
                        return Delivery::Drained;
                    }
                    BufferedRead::Panicked(payload) => {
                        self.app_panicked("buffer_updated", payload);
                        return Delivery::Drained;
                    }
                },
            }
        }
    }

    fn deliver_plain(&self, p: &Rc<RefCell<dyn Protocol>>) -> PlainRead {
        let Ok(mut p) = p.try_borrow_mut() else {
            return PlainRead::Busy;
        };
        with_scratch(|buf| {
            let n = match self.conn.try_borrow_mut() {
                Ok(mut conn) => conn.reader().read(buf),
                Err(_) => return PlainRead::Busy,
            };
            match n {
                Ok(0) => PlainRead::Eof,
                Ok(n) => PlainRead::Data(catch_unwind(AssertUnwindSafe(|| {
                    p.data_received(&buf[..n])
                }))),
                Err(_) => PlainRead::Drained,
            }
        })
    }

    fn deliver_buffered(
        &self,
        p: &Rc<RefCell<dyn crate::protocols::BufferedProtocol>>,
    ) -> BufferedRead {
        // Ask for a buffer only when there is plaintext to put in it (a
        // stream's buffer is taken from a pool for each read).
        let available = match self.conn.try_borrow_mut() {
            Ok(mut conn) => match conn.reader().fill_buf() {
                Ok([]) => return BufferedRead::Eof,
                Ok(chunk) => chunk.len(),
                Err(_) => return BufferedRead::Drained,
            },
            Err(_) => return BufferedRead::Busy,
        };
        let Ok(mut p) = p.try_borrow_mut() else {
            return BufferedRead::Busy;
        };
        let read = read_buffered(&mut *p, available, |buf| match self.conn.try_borrow_mut() {
            Ok(mut conn) => conn.reader().read(buf).map_err(|_| BufferedRead::Drained),
            Err(_) => Err(BufferedRead::Busy),
        });
        match read {
            Buffered::Data(_) => BufferedRead::Data,
            Buffered::Eof => BufferedRead::Eof,
            Buffered::EmptyBuffer => BufferedRead::EmptyBuffer,
            Buffered::Failed(why) => why,
            Buffered::Panicked(payload) => BufferedRead::Panicked(payload),
        }
    }

    fn handshake_complete(self: &Rc<Self>) {
        self.cancel_timer();
        self.state.set(State::Wrapped);
        if self.call_connection_made {
            let Some(app) = self.app.borrow().clone() else {
                return;
            };
            let transport = self.app_transport();
            let made = catch_unwind(AssertUnwindSafe(|| match &app {
                ProtocolRef::Plain(p) => p.borrow_mut().connection_made(transport),
                ProtocolRef::Buffered(p) => p.borrow_mut().connection_made(transport),
            }));
            if let Err(payload) = made {
                let err = Error::Loop(LoopError::Panicked(PanicError::new(payload)));
                self.finish_handshake(Err(err.clone()));
                self.fatal(err, "Exception in connection_made", false);
                return;
            }
            self.app_connected.set(true);
            if self.socket_write_paused.get() {
                self.notify(Notice::PauseWriting);
            }
        }
        self.flush_notices();
        self.finish_handshake(Ok(()));
        if self.closing.get() {
            // connection_made closed the transport.
            self.flush_tls();
        }
    }

    /// The peer's close_notify arrived and every byte before it was
    /// delivered.
    fn on_close_notify(self: &Rc<Self>) {
        match self.state.get() {
            State::Wrapped => {
                if self.app_connected.get() {
                    if let Some(app) = self.app.borrow().clone() {
                        // As asyncio: keeping the write side open has no
                        // meaning over TLS; the answer is ignored.
                        let res = catch_unwind(AssertUnwindSafe(|| match &app {
                            ProtocolRef::Plain(p) => {
                                p.try_borrow_mut().map(|mut p| p.eof_received()).ok()
                            }
                            ProtocolRef::Buffered(p) => {
                                p.try_borrow_mut().map(|mut p| p.eof_received()).ok()
                            }
                        }));
                        if let Err(payload) = res {
                            self.app_panicked("eof_received", payload);
                            return;
                        }
                    }
                }
                self.close_notify_queued.set(true);
                self.flush_tls();
                self.close_socket();
            }
            State::Shutdown => self.close_socket(),
            State::Handshake | State::Closed => {}
        }
    }

    /// Closes the socket transport (after sending what it holds).
    fn close_socket(&self) {
        self.state.set(State::Closed);
        self.cancel_timer();
        if let Some(s) = self.socket() {
            s.close();
        }
    }

    fn eof_received(self: &Rc<Self>) -> bool {
        match self.state.get() {
            State::Handshake => {
                self.fatal(
                    Error::io(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        "the peer closed the connection during the TLS handshake",
                    )),
                    "SSL handshake failed",
                    false,
                );
                false
            }
            State::Wrapped => {
                if !self.pending.borrow().is_empty()
                    || self.app_paused.get()
                    || self.resume_scheduled.get()
                {
                    // Deliver what is here first; the EOF is handled then.
                    self.eof_pending.set(true);
                    return true;
                }
                self.truncated();
                false
            }
            State::Shutdown => {
                // We closed: a peer that just closes TCP is fine then.
                self.state.set(State::Closed);
                self.cancel_timer();
                false
            }
            State::Closed => false,
        }
    }

    /// The peer closed TCP without its close_notify.
    fn truncated(&self) {
        self.exc
            .borrow_mut()
            .get_or_insert(Error::Tls(TlsError::Truncated));
        self.state.set(State::Closed);
        self.cancel_timer();
    }

    pub(crate) fn schedule_resume(self: &Rc<Self>) {
        if self.resume_scheduled.replace(true) {
            return;
        }
        let this = self.this.clone();
        let scheduled = self.lp.call_soon(move || {
            if let Some(s) = this.upgrade() {
                s.resume();
            }
        });
        if scheduled.is_err() {
            self.resume_scheduled.set(false);
        }
    }

    /// Delivers what waits (plaintext in rustls, stashed ciphertext), then
    /// lets the socket read again.
    fn resume(self: &Rc<Self>) {
        self.resume_scheduled.set(false);
        if self.lost.get() || self.state.get() == State::Closed {
            return;
        }
        let data = std::mem::take(&mut *self.pending.borrow_mut());
        let done = self.feed(&data);
        if !done || !self.pending.borrow().is_empty() || self.resume_scheduled.get() {
            return;
        }
        if self.eof_pending.replace(false) {
            match self.state.get() {
                State::Wrapped => {
                    self.truncated();
                    self.close_socket();
                }
                State::Shutdown => self.close_socket(),
                State::Handshake | State::Closed => {}
            }
        } else if self.socket_read_paused.replace(false) {
            if let Some(s) = self.socket() {
                s.resume_reading();
            }
        }
    }

    // ----- writing -------------------------------------------------------

    pub(crate) fn app_write(self: &Rc<Self>, bufs: &[&[u8]]) -> Result<()> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Ok(());
        }
        if self.closing.get() || self.state.get() == State::Closed {
            let n = self.conn_lost_writes.get() + 1;
            self.conn_lost_writes.set(n);
            if n == LOG_THRESHOLD_FOR_CONNLOST_WRITES {
                log::warn!("SSL transport: writing to a closed transport");
            }
            return Ok(());
        }
        match self.conn.try_borrow_mut() {
            Ok(mut conn) => {
                let mut writer = conn.writer();
                for b in bufs {
                    writer.write_all(b)?;
                }
            }
            Err(_) => {
                // Inside a send (a pause_writing raised by it): the
                // running flush sends this next.
                let mut backlog = self.backlog.borrow_mut();
                for b in bufs {
                    backlog.extend_from_slice(b);
                }
                return Ok(());
            }
        }
        self.flush_tls();
        Ok(())
    }

    /// Sends every record rustls has (and the backlog, and a queued
    /// close_notify) through the socket transport.
    pub(crate) fn flush_tls(&self) {
        let Some(socket) = self.socket() else { return };
        loop {
            let Ok(mut conn) = self.conn.try_borrow_mut() else {
                return;
            };
            let backlog = std::mem::take(&mut *self.backlog.borrow_mut());
            if !backlog.is_empty() {
                let _ = conn.writer().write_all(&backlog);
            }
            if self.close_notify_queued.replace(false) {
                conn.send_close_notify();
            }
            if !conn.wants_write() {
                return;
            }
            match conn.write_tls(&mut SocketSink(&socket)) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    // ----- closing -------------------------------------------------------

    pub(crate) fn app_close(self: &Rc<Self>) {
        if self.closing.replace(true) {
            return;
        }
        match self.state.get() {
            State::Handshake => {
                self.state.set(State::Closed);
                self.cancel_timer();
                self.finish_handshake(Err(Error::Closed));
                if let Some(s) = self.socket() {
                    s.abort();
                }
            }
            State::Wrapped => {
                self.state.set(State::Shutdown);
                self.close_notify_queued.set(true);
                self.flush_tls();
                self.cancel_timer();
                let this = self.this.clone();
                let timeout = self.shutdown_timeout;
                let timer = self.lp.call_later(timeout, move || {
                    if let Some(s) = this.upgrade() {
                        if s.state.get() == State::Shutdown {
                            s.exc
                                .borrow_mut()
                                .get_or_insert(Error::Tls(TlsError::ShutdownTimeout(timeout)));
                            s.state.set(State::Closed);
                            if let Some(sock) = s.socket() {
                                sock.abort();
                            }
                        }
                    }
                });
                *self.timer.borrow_mut() = timer.ok();
                // Read on (discarding) until the peer's close_notify.
                if self.socket_read_paused.get() || !self.pending.borrow().is_empty() {
                    self.schedule_resume();
                }
            }
            State::Shutdown | State::Closed => {}
        }
    }

    pub(crate) fn app_abort(self: &Rc<Self>) {
        self.closing.set(true);
        if self.state.get() == State::Handshake {
            self.finish_handshake(Err(Error::Closed));
        }
        self.state.set(State::Closed);
        self.cancel_timer();
        if let Some(s) = self.socket() {
            s.abort();
        }
    }

    /// A fatal error: the handshake fails with it, the application's
    /// `connection_lost` gets it, and the socket is closed (`graceful`:
    /// after sending what rustls queued, an alert say) or aborted.
    fn fatal(self: &Rc<Self>, err: Error, message: &str, graceful: bool) {
        if self.lost.get() {
            return;
        }
        if self.state.get() == State::Handshake {
            self.finish_handshake(Err(err.clone()));
        }
        self.state.set(State::Closed);
        self.cancel_timer();
        self.exc.borrow_mut().get_or_insert(err.clone());
        // TLS and I/O failures are the peer's doing: reported in debug
        // mode only, as asyncio does with OSError.
        let quiet = matches!(err, Error::Tls(_) | Error::Io(_));
        if !quiet || self.lp.get_debug() {
            self.report(message, LoopError::from(err));
        } else {
            log::debug!("{message}: {err}");
        }
        if let Some(s) = self.socket() {
            if graceful {
                s.close();
            } else {
                s.abort();
            }
        }
    }

    fn app_panicked(self: &Rc<Self>, what: &str, payload: Box<dyn Any + Send>) {
        let err = LoopError::Panicked(PanicError::new(payload));
        let message = format!("Fatal error: protocol.{what}() call failed");
        self.fatal(Error::Loop(err), &message, false);
    }

    fn report(&self, message: &str, err: LoopError) {
        crate::transports::report(&self.lp, message, err);
    }

    /// The socket transport is gone: the application learns it, with the
    /// TLS layer's error if it has one.
    fn socket_lost(self: &Rc<Self>, exc: Option<Error>) {
        if self.lost.get() {
            return;
        }
        let exc = self.exc.borrow_mut().take().or(exc);
        if self.app_connected.get() {
            if let Some(app) = self.app.borrow().clone() {
                if !app.is_free() {
                    // The protocol is inside a callback: try again later.
                    *self.exc.borrow_mut() = exc.clone();
                    let this = self.this.clone();
                    let retry = self.lp.call_soon(move || {
                        if let Some(s) = this.upgrade() {
                            s.socket_lost(None);
                        }
                    });
                    if retry.is_ok() {
                        return;
                    }
                }
            }
        }
        self.lost.set(true);
        self.state.set(State::Closed);
        self.cancel_timer();
        self.finish_handshake(Err(exc.clone().unwrap_or_else(|| {
            Error::io(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "the connection was lost during the TLS handshake",
            ))
        })));
        self.notices.clear();
        self.pending.borrow_mut().clear();
        self.backlog.borrow_mut().clear();
        let app = self.app.borrow_mut().take();
        if let (true, Some(app)) = (self.app_connected.get(), app) {
            let res = catch_unwind(AssertUnwindSafe(|| {
                app.try_base(|p| p.connection_lost(exc.clone()));
            }));
            if let Err(payload) = res {
                self.report(
                    "Exception in connection_lost",
                    LoopError::Panicked(PanicError::new(payload)),
                );
            }
        }
    }

    // ----- flow control toward the application ---------------------------

    fn notify(self: &Rc<Self>, notice: Notice) {
        if self.lost.get() {
            return;
        }
        let Some(app) = self.app.borrow().clone() else {
            return;
        };
        if self.notices.push(notice, &app) {
            self.schedule_notice_flush();
        }
    }

    /// Whether the application reads.
    pub(crate) fn app_is_reading(&self) -> bool {
        !self.app_paused.get() && !self.closing.get() && self.state.get() != State::Closed
    }

    /// Bytes waiting to be sent, plaintext and records.
    pub(crate) fn write_buffer_size(&self) -> usize {
        self.backlog.borrow().len() + self.socket().map_or(0, |s| s.get_write_buffer_size())
    }
}

impl NoticeOwner for SslProtocol {
    fn notices(&self) -> &Notices {
        &self.notices
    }

    fn notice_loop(&self) -> &Loop {
        &self.lp
    }

    fn flush_notices(self: &Rc<Self>) {
        if self.notices.is_empty() {
            return;
        }
        let Some(app) = self.app.borrow().clone() else {
            return;
        };
        if self.notices.flush(&app) {
            self.schedule_notice_flush();
        }
    }
}
