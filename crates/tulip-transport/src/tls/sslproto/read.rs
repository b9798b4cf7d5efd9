//! The read side of the TLS layer: ciphertext from the socket into
//! rustls, plaintext out to the application (a `Protocol` through a
//! per-thread scratch buffer, a `BufferedProtocol` into its own buffer),
//! pausing and resuming, the peer's close_notify and EOF.

use super::*;

/// The scratch buffer a `Protocol` gets its plaintext in.
const SCRATCH_SIZE: usize = 64 * 1024;

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

impl SslProtocol {
    pub(super) fn data_received(self: &Rc<Self>, data: &[u8]) {
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
                    let err = self.handshake_error(e);
                    self.fatal(err, message, true);
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

    pub(super) fn eof_received(self: &Rc<Self>) -> bool {
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
}
