//! Accepting a server's connections (asyncio's `_accept_connection`).
//!
//! A readiness of a listening socket accepts up to `backlog` connections
//! (on a loop with completions, each completion of the multishot accept
//! of `accept_ops.rs` brings one), never awaiting: each accepted socket gets its protocol from the
//! server's factory and a transport started at once, whose
//! `connection_made` runs on the next loop pass.
//!
//! Running out of descriptors or kernel memory (`EMFILE`, `ENFILE`,
//! `ENOBUFS`, `ENOMEM`) is reported once per episode through the loop's
//! exception handler; accepting then pauses (the readers are removed, so
//! the loop never spins on a socket it cannot accept from) and resumes
//! when one of the server's connections closes, or after
//! [`ACCEPT_RETRY_DELAY`], whichever comes first. The episode ends with an
//! accept pass that meets no shortage.

use std::os::fd::OwnedFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::Duration;

use rustix::io::Errno;
use rustix::net::SocketFlags;
use tulip_executor::{Error as LoopError, PanicError};

use crate::address::SockAddr;
use crate::error::Error;
use crate::server::balance::LiveGuard;
use crate::server::base::ServerInner;
use crate::stream::socket::SocketTransport;

/// How long accepting pauses after a shortage of resources (asyncio's
/// `ACCEPT_RETRY_DELAY`).
pub(crate) const ACCEPT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// What one `accept` gave.
pub(crate) enum Accepted {
    /// A new connection and its peer's address.
    Conn(OwnedFd, Option<SockAddr>),
    /// Nothing (more) to accept now.
    Empty,
    /// A connection failed before it was accepted: go on with the next.
    Skip,
    /// Out of descriptors or memory.
    Starved(Errno),
    /// Any other error.
    Failed(Errno),
    /// The server closed meanwhile.
    Closed,
}

/// What an `accept` error means (Linux passes pending network errors of
/// the new connection on to accept(); they concern that connection only).
pub(crate) fn classify(e: Errno) -> Accepted {
    match e {
        Errno::AGAIN => Accepted::Empty,
        Errno::INTR
        | Errno::CONNABORTED
        | Errno::PROTO
        | Errno::PERM
        | Errno::NETDOWN
        | Errno::NOPROTOOPT
        | Errno::HOSTDOWN
        | Errno::NONET
        | Errno::HOSTUNREACH
        | Errno::OPNOTSUPP
        | Errno::NETUNREACH => Accepted::Skip,
        Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM => Accepted::Starved(e),
        e => Accepted::Failed(e),
    }
}

impl ServerInner {
    /// A listening socket is readable: accept what is pending.
    pub(crate) fn accept_ready(self: &Rc<Self>, idx: usize) {
        for _ in 0..self.backlog.max(1) {
            match self.accept_one(idx) {
                Accepted::Conn(fd, peer) => self.accepted(fd, peer),
                Accepted::Skip => {}
                Accepted::Empty => break,
                Accepted::Closed => return,
                Accepted::Starved(errno) => {
                    self.accept_failed(idx, errno, true);
                    return;
                }
                Accepted::Failed(errno) => {
                    self.accept_failed(idx, errno, false);
                    return;
                }
            }
        }
        self.starved.set(false);
    }

    /// A connection was accepted: it starts here, or goes to the balanced
    /// acceptor's pick.
    pub(crate) fn accepted(self: &Rc<Self>, fd: OwnedFd, peer: Option<SockAddr>) {
        match &self.balance {
            None => self.start_connection(fd, peer, None),
            Some(hook) => hook.route(self, fd, peer),
        }
    }

    /// An accept failed for want of resources (`starved`: reported once
    /// per episode) or otherwise: reports it and pauses accepting.
    pub(crate) fn accept_failed(self: &Rc<Self>, idx: usize, errno: Errno, starved: bool) {
        if starved {
            if !self.starved.replace(true) {
                self.report(
                    "socket.accept() out of system resource",
                    Error::from(errno),
                    Some(idx),
                );
            }
        } else {
            self.report(
                "Error accepting a connection",
                Error::from(errno),
                Some(idx),
            );
        }
        // Whatever it is, do not retry it in a busy loop.
        self.pause_accepting();
    }

    fn accept_one(&self, idx: usize) -> Accepted {
        let listeners = self.listeners.borrow();
        let Some(l) = listeners.as_ref().and_then(|ls| ls.get(idx)) else {
            return Accepted::Closed;
        };
        match rustix::net::acceptfrom_with(&l.fd, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) {
            Ok((fd, peer)) => Accepted::Conn(fd, peer.and_then(SockAddr::from_any)),
            Err(e) => classify(e),
        }
    }

    /// Wraps an accepted socket in a transport; `connection_made` runs on
    /// the next loop pass. A failing protocol factory (a panic, or a
    /// [`Fallible`](crate::Fallible) one's error) is reported and the
    /// socket closed; the server goes on. `live` counts the connection on
    /// its balanced acceptor's target until it ends.
    pub(crate) fn start_connection(
        self: &Rc<Self>,
        fd: OwnedFd,
        peer: Option<SockAddr>,
        live: Option<LiveGuard>,
    ) {
        let made = match self.factory.try_borrow_mut() {
            Ok(mut factory) => catch_unwind(AssertUnwindSafe(&mut *factory)),
            // The factory is running (it drove the loop from inside
            // itself): refuse this connection rather than re-enter it.
            Err(_) => {
                self.report(
                    "Error on transport creation for incoming connection",
                    Error::Unsupported("re-entering the protocol factory"),
                    None,
                );
                return;
            }
        };
        // A panic, or a fallible factory's error; `fd` closes on return.
        let made = made.unwrap_or_else(|payload| {
            Err(Error::Loop(LoopError::Panicked(PanicError::new(payload))))
        });
        let protocol = match made {
            Ok(p) => p,
            Err(e) => {
                self.report(
                    "Error on transport creation for incoming connection",
                    e,
                    None,
                );
                return;
            }
        };
        if self.is_closed() {
            // The factory closed the server: this connection goes too.
            return;
        }
        let transport = SocketTransport::new_accepted(&self.lp, fd, protocol, peer);
        if let Err(e) = transport.start() {
            // The loop is closed: nothing will run any more.
            transport.force_close(Some(e));
            return;
        }
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.accepted.set(self.accepted.get() + 1);
        if let Some(live) = &live {
            live.started();
        }
        self.clients.borrow_mut().insert(id, transport.clone());
        let server = Rc::downgrade(self);
        transport.set_on_lost(Box::new(move || {
            // Uncounted on the acceptor once the connection is gone.
            drop(live);
            if let Some(server) = server.upgrade() {
                server.detach(id);
            }
        }));
    }

    /// Stops accepting until a connection closes or the back-off delay
    /// passes.
    pub(crate) fn pause_accepting(self: &Rc<Self>) {
        self.unwatch_listeners();
        self.accept_paused.set(true);
        if self.retry.borrow().is_some() {
            return;
        }
        let server = Rc::downgrade(self);
        let timer = self.lp.call_later(ACCEPT_RETRY_DELAY, move || {
            if let Some(server) = server.upgrade() {
                server.retry.borrow_mut().take();
                server.resume_accepting();
            }
        });
        // On a closed loop there is nothing to resume.
        if let Ok(t) = timer {
            *self.retry.borrow_mut() = Some(t);
        }
    }

    /// Accepts again after a pause (descriptors may be free now).
    pub(crate) fn resume_accepting(self: &Rc<Self>) {
        if !self.accept_paused.replace(false) {
            return;
        }
        if let Some(timer) = self.retry.borrow_mut().take() {
            timer.cancel();
        }
        if self.is_serving() {
            if let Err(e) = self.watch_listeners() {
                self.report("Error resuming accepting connections", e, None);
            }
        }
    }
}
