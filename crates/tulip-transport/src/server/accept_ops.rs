//! Accepting on completions (the loop's io_uring): one multishot accept
//! per listening socket, each completion one connection, started as the
//! readiness path starts them (`accept.rs`).
//!
//! The accept ends (its final completion) on an error, on a cancel, or when
//! the kernel stops it: a connection's own error (`ECONNABORTED`, ...)
//! re-arms it at once; running out of descriptors or memory (`EMFILE`,
//! `ENFILE`, `ENOBUFS`, `ENOMEM`) is reported once per episode and accepting
//! pauses with the same back-off as on readiness (re-armed when one of the
//! server's connections closes or after the retry delay); any other error
//! is reported and pauses it too. Closing the server cancels the accepts;
//! a listening socket whose accept is still in flight is closed at that
//! accept's final completion, so its number is not reused while the kernel
//! may still act on it.

use std::cell::{Cell, RefCell};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::rc::Rc;

use rustix::io::Errno;
use tulip_executor::Loop;
use tulip_reactor::{Completion, Op, OpHandler, OpId};

use crate::error::Result;
use crate::server::accept::{Accepted, classify};
use crate::server::base::ServerInner;
use crate::sock;

/// The multishot accept on one listening socket; its handler.
pub(crate) struct AcceptOp {
    /// A serving server lives while it accepts (as its readers keep it
    /// alive on readiness).
    server: Rc<ServerInner>,
    idx: usize,
    id: Cell<Option<OpId>>,
    cancelled: Cell<bool>,
    /// The listening socket, once its listener closed with this accept in
    /// flight: closed at the final completion.
    orphan: RefCell<Option<OwnedFd>>,
}

impl AcceptOp {
    /// Asks the kernel to cancel the accept, once.
    pub(crate) fn cancel(&self, lp: &Loop) {
        if let Some(id) = self.id.get() {
            if !self.cancelled.replace(true) {
                lp.cancel_op(id);
            }
        }
    }

    /// The listener closes with this accept in flight: cancel it and keep
    /// the socket open until its final completion.
    pub(crate) fn close_with(&self, lp: &Loop, fd: OwnedFd) {
        self.cancel(lp);
        *self.orphan.borrow_mut() = Some(fd);
    }
}

impl ServerInner {
    /// Arms a multishot accept on every listener without one.
    pub(crate) fn arm_accepts(self: &Rc<Self>) -> Result<()> {
        let listeners = self.listeners.borrow();
        for (idx, l) in listeners.iter().flatten().enumerate() {
            // A cancelled accept still finishing does not count.
            let busy = l
                .accept
                .borrow()
                .as_ref()
                .and_then(std::rc::Weak::upgrade)
                .is_some_and(|op| !op.cancelled.get());
            if busy {
                continue;
            }
            let op = Rc::new(AcceptOp {
                server: self.clone(),
                idx,
                id: Cell::new(None),
                cancelled: Cell::new(false),
                orphan: RefCell::new(None),
            });
            let handler: Rc<dyn OpHandler> = op.clone();
            let id = self.lp.submit_op(
                Op::AcceptMulti {
                    fd: l.fd.as_raw_fd(),
                },
                handler,
            )?;
            op.id.set(Some(id));
            *l.accept.borrow_mut() = Some(Rc::downgrade(&op));
        }
        Ok(())
    }

    /// The accept `op` on listener `idx` ended: the listener has none now
    /// (unless a newer one was armed meanwhile).
    fn forget_accept(&self, idx: usize, op: &AcceptOp) {
        let listeners = self.listeners.borrow();
        let Some(l) = listeners.as_ref().and_then(|ls| ls.get(idx)) else {
            return;
        };
        let mut slot = l.accept.borrow_mut();
        if slot
            .as_ref()
            .is_some_and(|w| std::ptr::eq(w.as_ptr(), op as *const AcceptOp))
        {
            *slot = None;
        }
    }
}

impl OpHandler for AcceptOp {
    fn complete(&self, mut completion: Completion) {
        let server = &self.server;
        let last = !completion.more();
        if last {
            self.id.set(None);
            // A closed listener's socket closes now that the kernel is done.
            drop(self.orphan.borrow_mut().take());
            server.forget_accept(self.idx, self);
        }
        let outcome = match completion.result() {
            Ok(_) => completion.take_fd().map(|fd| {
                let peer = sock::peer_addr(fd.as_fd());
                Accepted::Conn(fd, peer)
            }),
            Err(e) => e
                .raw_os_error()
                .map(|code| classify(Errno::from_raw_os_error(code))),
        };
        let serving = server.is_serving() && !server.is_closed();
        match outcome {
            // A connection of a server that stopped closes here.
            Some(Accepted::Conn(fd, peer)) if serving => {
                server.starved.set(false);
                server.accepted(fd, peer);
            }
            Some(Accepted::Starved(errno)) if serving => {
                server.accept_failed(self.idx, errno, true);
                return;
            }
            Some(Accepted::Failed(errno)) if serving && errno != Errno::CANCELED => {
                server.accept_failed(self.idx, errno, false);
                return;
            }
            _ => {}
        }
        // Ended without an error of its own (or a connection's error):
        // accept on, unless the server stopped.
        if last && serving && !server.accept_paused.get() {
            if let Err(e) = server.arm_accepts() {
                server.report("Error resuming accepting connections", e, Some(self.idx));
                server.pause_accepting();
            }
        }
    }
}
