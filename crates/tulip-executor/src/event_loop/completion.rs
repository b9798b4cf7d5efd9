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
