//! The loop's side of the completion interface (the `uring` backend):
//! submitting operations, cancelling them, and running their completions
//! as ready items.
//!
//! A submission is queued in the reactor's submission queue and goes to
//! the kernel with the loop's next poll, at the end of the current pass: a
//! loop with queued submissions never skips that poll (a busy loop skips
//! most polls otherwise). The poll's completions come back as
//! [`Ready::Completion`](crate::event_loop::base_events::Ready) items, in
//! the kernel's order among the readiness callbacks and wakers of the same
//! poll, and run in the next pass.
//!
//! [`Loop::call_before_poll`] lets the transports gather a pass's writes:
//! the first write of a pass registers a flush there, which submits one
//! send with everything written during the pass, just before the poll that
//! takes it to the kernel.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use tulip_reactor::{Op, OpHandler, OpId};

use crate::error::Error;
use crate::event_loop::base_events::Loop;

impl Loop {
    /// Whether this loop's reactor runs completion operations (the `uring`
    /// backend, when the kernel allowed it).
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::builder().backend(tulip::BackendKind::Uring).build()?;
    /// // False where the kernel refused io_uring and the loop fell back to epoll.
    /// assert_eq!(event_loop.has_completions(), event_loop.backend_kind() == tulip::BackendKind::Uring);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn has_completions(&self) -> bool {
        self.inner.reactor.borrow().has_completions()
    }

    /// Submits `op`; its completions are passed to `handler` in the loop's
    /// ready phase, the last one with `more() == false`. The operation goes
    /// to the kernel with the loop's next poll (the end of the current pass).
    ///
    /// Fails with [`Error::LoopClosed`] on a closed loop, and with the I/O
    /// error ([`Error::Io`]) if the reactor refuses it (`Unsupported` off the
    /// `uring` backend, `InvalidInput` for a buffer the kernel could not use).
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use std::rc::Rc;
    /// use tulip::reactor::{Completion, Op, OpHandler};
    ///
    /// struct Received(tulip::Loop);
    /// impl OpHandler for Received {
    ///     fn complete(&self, c: Completion) {
    ///         assert_eq!(c.data(), b"ping");
    ///         self.0.stop();
    ///     }
    /// }
    /// let event_loop = tulip::EventLoop::builder().backend(tulip::BackendKind::Uring).build()?;
    /// if event_loop.has_completions() {
    ///     let (a, mut b) = UnixStream::pair()?;
    ///     let op = Op::Recv { fd: a.as_raw_fd(), buf: Vec::with_capacity(16) };
    ///     event_loop.submit_op(op, Rc::new(Received(event_loop.handle())))?;
    ///     b.write_all(b"ping")?;
    ///     event_loop.run_forever()?;
    /// }
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn submit_op(&self, op: Op, handler: Rc<dyn OpHandler>) -> Result<OpId, Error> {
        self.check_closed()?;
        let id = self.inner.reactor.borrow_mut().submit(op, handler)?;
        self.inner.poll_soon.set(true);
        Ok(id)
    }

    /// Asks the kernel to cancel operation `id`; its handler still gets the
    /// operation's final completion. Cancelling an operation that already
    /// ended (or on a closed loop) does nothing.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use std::rc::Rc;
    /// use tulip::reactor::{Completion, Op, OpHandler};
    ///
    /// struct Ended(tulip::Loop);
    /// impl OpHandler for Ended {
    ///     fn complete(&self, c: Completion) {
    ///         if !c.more() {
    ///             self.0.stop(); // the final completion: ECANCELED
    ///         }
    ///     }
    /// }
    /// let event_loop = tulip::EventLoop::builder().backend(tulip::BackendKind::Uring).build()?;
    /// if event_loop.has_completions() {
    ///     let (a, _b) = UnixStream::pair()?;
    ///     let id = event_loop.submit_op(
    ///         Op::RecvMulti { fd: a.as_raw_fd() },
    ///         Rc::new(Ended(event_loop.handle())),
    ///     )?;
    ///     event_loop.cancel_op(id);
    ///     event_loop.run_forever()?;
    /// }
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn cancel_op(&self, id: OpId) {
        if self.inner.closed.get() {
            return;
        }
        let res = self.inner.reactor.borrow_mut().cancel(id);
        self.inner.poll_soon.set(true);
        if let Err(e) = res {
            self.call_exception_handler(
                &crate::event_loop::exception_handler::ExceptionContext::new(format!(
                    "error cancelling I/O operation {id:?}"
                ))
                .with_error(Error::from(e)),
            );
        }
    }
}

impl Loop {
    /// Runs `f` once at the end of the current pass, after its ready
    /// callbacks and before the reactor poll that starts the next pass (the
    /// poll that submits the pass's queued operations); added while the loop
    /// is not running, before the first poll of its next run. A hook added
    /// while the hooks run goes in the same phase; a closed loop drops `f`.
    ///
    /// Transports use it to gather the writes of a pass into one send.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// let log = Rc::new(RefCell::new(Vec::new()));
    /// let (l, inner) = (log.clone(), lp.clone());
    /// lp.call_soon(move || {
    ///     // Registered during a pass: runs once the pass's callbacks ran.
    ///     let l2 = l.clone();
    ///     inner.call_before_poll(move || l2.borrow_mut().push("before the poll"));
    ///     l.borrow_mut().push("callback");
    /// })?;
    /// let (l, stop) = (log.clone(), lp.clone());
    /// lp.call_soon(move || {
    ///     l.borrow_mut().push("later callback, same pass");
    ///     stop.stop();
    /// })?;
    /// event_loop.run_forever()?;
    /// assert_eq!(*log.borrow(), ["callback", "later callback, same pass", "before the poll"]);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn call_before_poll(&self, f: impl FnOnce() + 'static) {
        if self.inner.closed.get() {
            return;
        }
        self.inner.before_poll.borrow_mut().push(Box::new(f));
    }

    /// Runs the hooks of [`call_before_poll`](Loop::call_before_poll),
    /// including those they add.
    pub(crate) fn run_before_poll(&self) {
        loop {
            let hooks = std::mem::take(&mut *self.inner.before_poll.borrow_mut());
            if hooks.is_empty() {
                return;
            }
            for hook in hooks {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(hook)) {
                    self.report_callback_panic(payload, None);
                }
            }
        }
    }
}
