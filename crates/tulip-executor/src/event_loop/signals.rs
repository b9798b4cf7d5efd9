//! UNIX signals on the loop: asyncio's `add_signal_handler` and
//! `remove_signal_handler` (asyncio keeps them in its `unix_events`
//! module), and the signal numbers of Python's `signal` module. The calls
//! into the C library live in `sys::signals`.
//!
//! A loop that handles signals has a self-pipe (a non-blocking Unix socket
//! pair, as asyncio's) whose read end it watches with
//! [`add_reader`](Loop::add_reader). The process-wide C handler
//! (`sys::signals`) marks the signal pending for every loop that handles it
//! and writes a byte to each one's pipe; the loop's reader drains the pipe,
//! takes the pending signals and puts their callbacks on the ready queue, as
//! `call_soon` would. User code never runs inside the C handler.
//!
//! The self-pipe exists while the loop has at least one handler: the last
//! removal (or closing the loop) closes it and gives the signals their
//! dispositions back.
//!
//! A signal may also have a fallback handler on a loop (the runners' Ctrl-C
//! handling, see `runners.rs`): a handler that comes back in the same
//! `sigaction` call when the loop's own handler of that signal is removed,
//! so the signal never has its default disposition in between.

use std::cell::RefCell;
use std::io::{ErrorKind, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::panic::Location;
use std::rc::{Rc, Weak};

use crate::error::Error;
use crate::event_loop::base_events::{Loop, LoopInner};
use crate::event_loop::exception_handler::ExceptionContext;
use crate::event_loop::handle::{self, CallbackRc, Handle, Repeat};
use crate::sys::signals::{self, SignalSlot};
pub(crate) use crate::sys::signals::{Delivery, is_default};

/// The signal numbers of this system, named as in Python's `signal`
/// module (`signal.SIGINT` is `tulip::signal::SIGINT`), for
/// [`Loop::add_signal_handler`].
pub mod signal {
    /// Hangup of the controlling terminal; asked by daemons to reload.
    pub const SIGHUP: i32 = libc::SIGHUP;
    /// Interrupt from the keyboard (Ctrl-C).
    pub const SIGINT: i32 = libc::SIGINT;
    /// Quit from the keyboard (Ctrl-\\).
    pub const SIGQUIT: i32 = libc::SIGQUIT;
    /// Illegal instruction (cannot be handled by a loop).
    pub const SIGILL: i32 = libc::SIGILL;
    /// Trace or breakpoint trap.
    pub const SIGTRAP: i32 = libc::SIGTRAP;
    /// Abort, from `abort(3)`.
    pub const SIGABRT: i32 = libc::SIGABRT;
    /// Bus error (cannot be handled by a loop).
    pub const SIGBUS: i32 = libc::SIGBUS;
    /// Arithmetic fault (cannot be handled by a loop).
    pub const SIGFPE: i32 = libc::SIGFPE;
    /// Kill (cannot be caught).
    pub const SIGKILL: i32 = libc::SIGKILL;
    /// User-defined signal 1.
    pub const SIGUSR1: i32 = libc::SIGUSR1;
    /// Invalid memory reference (cannot be handled by a loop).
    pub const SIGSEGV: i32 = libc::SIGSEGV;
    /// User-defined signal 2.
    pub const SIGUSR2: i32 = libc::SIGUSR2;
    /// Write to a pipe with no reader (Rust programs ignore it by default).
    pub const SIGPIPE: i32 = libc::SIGPIPE;
    /// Timer signal from `alarm(2)`.
    pub const SIGALRM: i32 = libc::SIGALRM;
    /// Termination request (what `kill` sends by default).
    pub const SIGTERM: i32 = libc::SIGTERM;
    /// A child process stopped or exited.
    pub const SIGCHLD: i32 = libc::SIGCHLD;
    /// Continue if stopped.
    pub const SIGCONT: i32 = libc::SIGCONT;
    /// Stop (cannot be caught).
    pub const SIGSTOP: i32 = libc::SIGSTOP;
    /// Stop typed at the terminal (Ctrl-Z).
    pub const SIGTSTP: i32 = libc::SIGTSTP;
    /// Terminal input for a background process.
    pub const SIGTTIN: i32 = libc::SIGTTIN;
    /// Terminal output for a background process.
    pub const SIGTTOU: i32 = libc::SIGTTOU;
    /// Urgent condition on a socket.
    pub const SIGURG: i32 = libc::SIGURG;
    /// CPU time limit exceeded.
    pub const SIGXCPU: i32 = libc::SIGXCPU;
    /// File size limit exceeded.
    pub const SIGXFSZ: i32 = libc::SIGXFSZ;
    /// Virtual alarm clock.
    pub const SIGVTALRM: i32 = libc::SIGVTALRM;
    /// Profiling timer expired.
    pub const SIGPROF: i32 = libc::SIGPROF;
    /// Window resize of the controlling terminal.
    pub const SIGWINCH: i32 = libc::SIGWINCH;
    /// I/O now possible.
    pub const SIGIO: i32 = libc::SIGIO;
    /// Bad system call.
    pub const SIGSYS: i32 = libc::SIGSYS;
}

/// One handler of one signal on one loop.
struct Registration {
    signum: i32,
    cb: CallbackRc,
    delivery: Delivery,
    /// Whether it is the loop's fallback handler of `signum`.
    fallback: bool,
}

/// A handler that comes back each time the loop's handler of its signal is
/// removed, until it is removed itself.
struct Fallback {
    signum: i32,
    delivery: Delivery,
    callback: Rc<dyn Fn()>,
    site: &'static Location<'static>,
}

impl Fallback {
    /// A new callback cell running the fallback (a replaced or removed
    /// handler's cell is cancelled for good).
    fn cell(&self) -> CallbackRc {
        let callback = self.callback.clone();
        Repeat::new(move || callback(), -1, true, self.site)
    }
}

/// A loop's signal handling: its handlers and self-pipe. Owned by the
/// reader callback of the pipe, so closing the loop (which drops its
/// readers) drops it too.
struct LoopSignals {
    lp: Weak<LoopInner>,
    handlers: RefCell<Vec<Registration>>,
    /// The fallback handlers, at most one per signal. While a signal has
    /// one, the loop has a handler of that signal (the fallback itself or
    /// the handler that replaced it), so these live as long as they are
    /// wanted.
    fallbacks: RefCell<Vec<Fallback>>,
    /// The handler's way in. Declared before `read` so that it drops (and
    /// waits for running handlers) before the read end closes.
    slot: SignalSlot,
    read: UnixStream,
}

thread_local! {
    /// The loops of this thread that handle signals. Weak both ways: a
    /// loop's entry dies with its reader callback.
    static LOOPS: RefCell<Vec<(Weak<LoopInner>, Weak<LoopSignals>)>> =
        const { RefCell::new(Vec::new()) };
}

/// `lp`'s signal handling, if it has handlers.
fn signals_of(lp: &Loop) -> Option<Rc<LoopSignals>> {
    let me = lp.downgrade();
    LOOPS
        .try_with(|loops| {
            let mut loops = loops.borrow_mut();
            loops.retain(|(_, s)| s.strong_count() > 0);
            loops
                .iter()
                .find(|(l, _)| l.ptr_eq(&me))
                .and_then(|(_, s)| s.upgrade())
        })
        .ok()
        .flatten()
}

impl LoopSignals {
    /// Opens `lp`'s self-pipe, takes a slot for it and watches it.
    fn open(lp: &Loop) -> Result<Rc<LoopSignals>, Error> {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        let signals = Rc::new(LoopSignals {
            lp: lp.downgrade(),
            handlers: RefCell::new(Vec::new()),
            fallbacks: RefCell::new(Vec::new()),
            slot: SignalSlot::acquire(write)?,
            read,
        });
        let reader = signals.clone();
        lp.add_reader(&signals.read, move || reader.on_readable())?;
        let entry = (lp.downgrade(), Rc::downgrade(&signals));
        let _ = LOOPS.try_with(|loops| loops.borrow_mut().push(entry));
        Ok(signals)
    }

    fn get(&self, signum: i32) -> Option<(CallbackRc, Delivery)> {
        self.handlers
            .borrow()
            .iter()
            .find(|r| r.signum == signum)
            .map(|r| (r.cb.clone(), r.delivery))
    }

    /// The pipe is readable: drain it and queue the callbacks of the
    /// signals caught, in the order they came (as far as the bytes tell),
    /// each at most once per wake-up.
    fn on_readable(&self) {
        let Some(inner) = self.lp.upgrade() else {
            return;
        };
        let lp = Loop::from_inner(inner);
        let mut buf = [0u8; 256];
        loop {
            match (&self.read).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    for &byte in &buf[..n] {
                        let signum = i32::from(byte);
                        if self.slot.take(signum) {
                            self.dispatch(&lp, signum);
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => {
                    lp.call_exception_handler(
                        &ExceptionContext::new("error reading the signal self-pipe")
                            .with_error(e.into()),
                    );
                    break;
                }
            }
        }
        // Signals whose byte did not fit in a full pipe.
        for signum in self.slot.take_all() {
            self.dispatch(&lp, signum);
        }
    }

    /// asyncio's `_handle_signal`: a cancelled handler is removed, a live
    /// one goes to the ready queue. The signal that finds a cancelled
    /// handler goes to the fallback handler that comes back, if any.
    fn dispatch(&self, lp: &Loop, signum: i32) {
        match self.get(signum) {
            Some((cb, _)) if handle::is_cancelled(&*cb) => {
                lp.remove_signal_handler(signum);
                // To the fallback, if one came back: its cell is new, never
                // cancelled, so this recurses at most once.
                self.dispatch(lp, signum);
            }
            Some((cb, _)) => lp.inner.push_ready(cb),
            None => {}
        }
    }
}

impl Drop for LoopSignals {
    /// The loop is closed, or its last handler removed: give the signals
    /// still registered their dispositions back, and release the callbacks.
    fn drop(&mut self) {
        self.fallbacks.take();
        for r in self.handlers.take() {
            let _ = self.slot.change(r.signum, Some(r.delivery), None);
            handle::cancel(&*r.cb);
        }
    }
}

impl Loop {
    /// Sets `callback` as the handler of signal `signum` (asyncio's
    /// `add_signal_handler`): each time the signal arrives, the callback is
    /// queued on this loop's ready queue and runs there, as a callback given
    /// to [`call_soon`](Loop::call_soon) would, after the callbacks already
    /// queued. It never runs inside the C signal handler, so it may do
    /// anything a callback does. A signal that arrives again before its
    /// callback ran is coalesced: the callback runs at least once after
    /// the last arrival. A panic in it goes to the exception handler.
    ///
    /// One handler per signal per loop: a new one replaces (and cancels)
    /// the previous one. Cancelling the returned [`Handle`] removes the
    /// handler when the signal next arrives (asyncio's behaviour), or use
    /// [`remove_signal_handler`](Loop::remove_signal_handler).
    ///
    /// Signals belong to the process: when several loops (on several
    /// threads) handle the same signal, each of them runs its handler. The
    /// first handler of a signal in the process saves the signal's
    /// disposition; when the last one is removed, or its loop closed, the
    /// saved disposition comes back (`SIG_DFL`, unless something had set
    /// the signal before), so a Ctrl-C after the last `SIGINT` handler is
    /// gone ends the process again. A child started by
    /// `std::process::Command` starts with the default disposition of every
    /// signal tulip handles.
    ///
    /// Unlike asyncio, any thread's loop may handle signals.
    ///
    /// Errors: [`Error::InvalidSignal`] for a number that is not a signal
    /// of this system, `SIGKILL` and `SIGSTOP` (which cannot be caught), and
    /// `SIGSEGV`, `SIGBUS`, `SIGFPE` and `SIGILL` (raised by a faulting
    /// instruction, which would run again before any callback could);
    /// [`Error::LoopClosed`]; [`Error::Io`] if the self-pipe cannot be made.
    ///
    /// ```no_run
    /// use tulip::signal::{SIGINT, SIGTERM};
    ///
    /// tulip::run(async {
    ///     let lp = tulip::get_running_loop()?;
    ///     for signum in [SIGINT, SIGTERM] {
    ///         let stopper = lp.clone();
    ///         lp.add_signal_handler(signum, move || {
    ///             println!("got signal {signum}: exit");
    ///             stopper.stop();
    ///         })?;
    ///     }
    ///     tulip::sleep(std::time::Duration::from_secs(3600)).await;
    ///     Ok::<(), tulip::Error>(())
    /// })
    /// .ok();
    /// ```
    #[track_caller]
    #[doc(alias = "signal")]
    #[doc(alias = "sigaction")]
    pub fn add_signal_handler<F: FnMut() + 'static>(
        &self,
        signum: i32,
        callback: F,
    ) -> Result<Handle, Error> {
        // Run from the ready queue, never dispatched by the reactor: the
        // descriptor of the `Repeat` cell is never looked at.
        let cb: CallbackRc = Repeat::new(callback, -1, true, Location::caller());
        self.register_signal(signum, Delivery::Every, cb.clone(), false)?;
        Ok(Handle { cb })
    }

    /// Sets `callback` as the fallback handler of `signum` on this loop:
    /// the handler now if the loop has none, and again each time the
    /// loop's handler of `signum` is removed (or its cancelled handle
    /// found), in the same disposition change, so the signal never has its
    /// default disposition in between. It stops coming back when it is
    /// removed itself, by [`remove_signal_handler`](Loop::remove_signal_handler)
    /// while it is the handler, or by
    /// [`remove_fallback_signal_handler`](Loop::remove_fallback_signal_handler).
    /// The runners' Ctrl-C handling (asyncio's `remove_signal_handler`
    /// gives `SIGINT` back to Python's `default_int_handler`, not to
    /// `SIG_DFL`).
    #[track_caller]
    pub(crate) fn set_fallback_signal_handler<F: Fn() + 'static>(
        &self,
        signum: i32,
        delivery: Delivery,
        callback: F,
    ) -> Result<(), Error> {
        let fallback = Fallback {
            signum,
            delivery,
            callback: Rc::new(callback),
            site: Location::caller(),
        };
        if !self.has_signal_handler(signum) {
            self.register_signal(signum, delivery, fallback.cell(), true)?;
        }
        let signals = signals_of(self).ok_or(Error::LoopClosed)?;
        let mut fallbacks = signals.fallbacks.borrow_mut();
        fallbacks.retain(|f| f.signum != signum);
        fallbacks.push(fallback);
        Ok(())
    }

    /// Removes the fallback handler of `signum`, and the handler of
    /// `signum` too if the fallback is it. Returns whether the loop had a
    /// fallback handler of `signum`.
    pub(crate) fn remove_fallback_signal_handler(&self, signum: i32) -> bool {
        let Some(signals) = signals_of(self) else {
            return false;
        };
        let mut fallbacks = signals.fallbacks.borrow_mut();
        let had = fallbacks.iter().any(|f| f.signum == signum);
        fallbacks.retain(|f| f.signum != signum);
        drop(fallbacks);
        self.remove_signal_handler_if(signum, |r| r.fallback);
        had
    }

    /// Makes `cb` this loop's handler of `signum`, replacing (and
    /// cancelling) the one before.
    fn register_signal(
        &self,
        signum: i32,
        delivery: Delivery,
        cb: CallbackRc,
        fallback: bool,
    ) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::LoopClosed);
        }
        signals::check(signum)?;
        let signals = match signals_of(self) {
            Some(s) => s,
            None => LoopSignals::open(self)?,
        };
        let old = signals.get(signum);
        if let Err(e) = signals
            .slot
            .change(signum, old.as_ref().map(|o| o.1), Some(delivery))
        {
            self.release_signals(&signals);
            return Err(e);
        }
        let mut handlers = signals.handlers.borrow_mut();
        handlers.retain(|r| r.signum != signum);
        handlers.push(Registration {
            signum,
            cb,
            delivery,
            fallback,
        });
        drop(handlers);
        if let Some((old, _)) = old {
            handle::cancel(&*old);
        }
        Ok(())
    }

    /// Removes the handler of signal `signum` (asyncio's
    /// `remove_signal_handler`). Returns whether there was one (false also
    /// for a number that is not a signal). The removed callback never runs
    /// again, even if it was already queued. When no loop of the process
    /// handles the signal any more, its disposition from before comes back.
    ///
    /// Inside [`run`](crate::run) and [`Runner::run`](crate::Runner::run),
    /// removing a `SIGINT` handler gives Ctrl-C back to the runner (the
    /// first cancels the main future, a second ends the process), as
    /// asyncio gives it back to `KeyboardInterrupt`.
    ///
    /// ```standalone_crate
    /// use tulip::signal::SIGUSR1;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// event_loop.add_signal_handler(SIGUSR1, || ())?;
    /// assert!(event_loop.remove_signal_handler(SIGUSR1));
    /// assert!(!event_loop.remove_signal_handler(SIGUSR1)); // none left
    /// assert!(!event_loop.remove_signal_handler(-1)); // not a signal
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn remove_signal_handler(&self, signum: i32) -> bool {
        self.remove_signal_handler_if(signum, |_| true)
    }

    /// Whether this loop has a handler for `signum`.
    pub(crate) fn has_signal_handler(&self, signum: i32) -> bool {
        signals_of(self).is_some_and(|s| s.get(signum).is_some())
    }

    /// Removes the handler of `signum` if `which` picks it. The fallback
    /// handler of `signum` takes the place of any other; a fallback that is
    /// removed itself is forgotten.
    fn remove_signal_handler_if(&self, signum: i32, which: impl Fn(&Registration) -> bool) -> bool {
        let Some(signals) = signals_of(self) else {
            return false;
        };
        let mut handlers = signals.handlers.borrow_mut();
        let Some(at) = handlers.iter().position(|r| r.signum == signum && which(r)) else {
            return false;
        };
        let r = handlers.swap_remove(at);
        drop(handlers);
        let mut fallbacks = signals.fallbacks.borrow_mut();
        if r.fallback {
            fallbacks.retain(|f| f.signum != signum);
        }
        let mut next = fallbacks
            .iter()
            .find(|f| f.signum == signum)
            .map(|f| (f.delivery, f.cell()));
        drop(fallbacks);
        let report = |e: Error| {
            self.call_exception_handler(
                &ExceptionContext::new(format!(
                    "error restoring the disposition of signal {signum}"
                ))
                .with_error(e),
            );
        };
        if let Some((delivery, _)) = next {
            if let Err(e) = signals
                .slot
                .change(signum, Some(r.delivery), Some(delivery))
            {
                report(e);
                next = None;
            }
        }
        match next {
            Some((delivery, cb)) => signals.handlers.borrow_mut().push(Registration {
                signum,
                cb,
                delivery,
                fallback: true,
            }),
            None => {
                if let Err(e) = signals.slot.change(signum, Some(r.delivery), None) {
                    report(e);
                }
            }
        }
        handle::cancel(&*r.cb);
        self.release_signals(&signals);
        true
    }

    /// Closes the self-pipe once no handler is left.
    fn release_signals(&self, signals: &Rc<LoopSignals>) {
        if signals.handlers.borrow().is_empty() {
            let _ = LOOPS.try_with(|loops| {
                loops
                    .borrow_mut()
                    .retain(|(_, s)| !std::ptr::eq(s.as_ptr(), Rc::as_ptr(signals)));
            });
            // Drops the reader callback, the pipe's owner.
            self.remove_reader(signals.read.as_raw_fd());
        }
    }
}
