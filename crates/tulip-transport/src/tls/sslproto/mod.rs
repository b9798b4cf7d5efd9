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
use crate::lifecycle::guard_connection_lost;
use crate::protocols::{BaseProtocol, Protocol, ProtocolRef};
use crate::stream::readbuf::{BufferedRead as Buffered, read_buffered};
use crate::stream::socket::SocketTransport;
use crate::tls::error::{HandshakeFailure, TlsError};
use crate::tls::options::tls_error;
use crate::transports::{Notice, NoticeOwner, Notices, Transport};

mod read;
mod write;

/// Ciphertext kept while the application has paused reading; past this
/// the socket transport is paused too.
pub(crate) const PENDING_LIMIT: usize = 64 * 1024;

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

    /// What a rustls error becomes: during a client's handshake it names
    /// the server (the name verified, the peer's address), so a refused
    /// certificate says whose it was.
    pub(crate) fn handshake_error(&self, error: rustls::Error) -> Error {
        match &self.server_hostname {
            Some(name) if self.state.get() == State::Handshake => {
                Error::Tls(TlsError::ClientHandshake(Box::new(HandshakeFailure {
                    server_name: name.clone(),
                    addr: self.socket().and_then(|s| s.peer_addr()),
                    error,
                })))
            }
            _ => tls_error(error),
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
            guard_connection_lost(&self.lp, || {
                app.try_base(|p| p.connection_lost(exc));
            });
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
