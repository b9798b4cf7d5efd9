//! The client's connections, per [`Origin`]:
//!
//! - **HTTP/1.1**: idle keep-alive connections, most recently used first.
//!   A connection is put back once its response has been read to its end
//!   (hyper's sender is ready again), checked out only while hyper says it
//!   is ready (not closed by the server meanwhile), closed when it has
//!   been idle for the idle timeout (a loop timer per idle connection) or
//!   when the origin already keeps the maximum.
//! - **HTTP/2**: one multiplexed connection per origin, shared by every
//!   request (hyper's sender is cloned), until it closes.
//! - **The first connection** to an origin that may speak HTTP/2 (`https`
//!   before ALPN has answered, or `http` with prior knowledge) is made
//!   once: requests that come meanwhile wait for it, then share it if it is
//!   HTTP/2. An `https` origin that answered `http/1.1` is remembered, and
//!   its requests connect in parallel from then on.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::poll_fn;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use hyper::client::conn::{http1, http2};
use hyper::rt::Executor;
use tulip_executor::{TimerHandle, get_running_loop, timeout_at};
use tulip_sync::Event;

use crate::client::body::RequestBody;
use crate::client::error::ClientError;
use crate::client::origin::Origin;
use crate::rt::TulipExecutor;

/// An idle HTTP/1.1 connection (its sender; the connection itself is a
/// task of the loop, which ends when the sender is dropped).
struct Idle {
    key: u64,
    sender: http1::SendRequest<RequestBody>,
    /// Closes it at the idle timeout.
    expiry: Option<TimerHandle>,
}

/// The connections of one client.
pub(crate) struct Pool {
    idle: RefCell<HashMap<Origin, VecDeque<Idle>>>,
    h2: RefCell<HashMap<Origin, http2::SendRequest<RequestBody>>>,
    /// The origins whose first connection is being made.
    connecting: RefCell<HashMap<Origin, Rc<FirstAttempt>>>,
    /// The `https` origins that chose HTTP/1.1 by ALPN.
    http1_only: RefCell<HashSet<Origin>>,
    next_key: Cell<u64>,
    idle_timeout: Option<Duration>,
    max_idle: usize,
}

impl Pool {
    pub(crate) fn new(idle_timeout: Option<Duration>, max_idle: usize) -> Pool {
        Pool {
            idle: RefCell::default(),
            h2: RefCell::default(),
            connecting: RefCell::default(),
            http1_only: RefCell::default(),
            next_key: Cell::new(0),
            idle_timeout,
            max_idle,
        }
    }

    /// The origin's HTTP/2 connection, if it has one still open.
    pub(crate) fn http2(&self, origin: &Origin) -> Option<http2::SendRequest<RequestBody>> {
        let mut h2 = self.h2.borrow_mut();
        match h2.get(origin) {
            Some(sender) if !sender.is_closed() => Some(sender.clone()),
            Some(_) => {
                let closed = h2.remove(origin);
                drop(h2);
                drop(closed);
                None
            }
            None => None,
        }
    }

    /// Keeps the origin's HTTP/2 connection for the requests to come.
    pub(crate) fn set_http2(&self, origin: &Origin, sender: http2::SendRequest<RequestBody>) {
        let replaced = self.h2.borrow_mut().insert(origin.clone(), sender);
        drop(replaced);
    }

    /// Takes the origin's most recently used idle HTTP/1.1 connection that
    /// is still ready; those the server closed meanwhile are dropped.
    pub(crate) fn checkout_http1(
        &self,
        origin: &Origin,
    ) -> Option<http1::SendRequest<RequestBody>> {
        loop {
            let entry = {
                let mut idle = self.idle.borrow_mut();
                let list = idle.get_mut(origin)?;
                let entry = list.pop_back();
                if list.is_empty() {
                    idle.remove(origin);
                }
                entry
            }?;
            if let Some(timer) = &entry.expiry {
                timer.cancel();
            }
            if entry.sender.is_ready() && !entry.sender.is_closed() {
                return Some(entry.sender);
            }
            log::debug!("dropping a pooled connection to {origin} that the server closed");
        }
    }

    /// Puts an HTTP/1.1 connection whose exchange is over back in the
    /// pool (or closes it: the pool is full, reuse is off, it is closed).
    pub(crate) fn put_http1(
        self: &Rc<Pool>,
        origin: Origin,
        sender: http1::SendRequest<RequestBody>,
    ) {
        if self.max_idle == 0 || sender.is_closed() || !sender.is_ready() {
            return;
        }
        let key = self.next_key.get();
        self.next_key.set(key + 1);
        let expiry = match self.idle_timeout {
            Some(timeout) => {
                let pool = Rc::downgrade(self);
                let expired = origin.clone();
                let timer = get_running_loop()
                    .and_then(|lp| lp.call_later(timeout, move || expire(&pool, &expired, key)));
                match timer {
                    Ok(timer) => Some(timer),
                    // No loop to close it later: it is not kept.
                    Err(_) => return,
                }
            }
            None => None,
        };
        let overflow = {
            let mut idle = self.idle.borrow_mut();
            let list = idle.entry(origin).or_default();
            list.push_back(Idle {
                key,
                sender,
                expiry,
            });
            if list.len() > self.max_idle {
                list.pop_front()
            } else {
                None
            }
        };
        if let Some(oldest) = overflow {
            if let Some(timer) = &oldest.expiry {
                timer.cancel();
            }
        }
    }

    /// How many idle HTTP/1.1 connections the pool holds for `origin`.
    pub(crate) fn idle_count(&self, origin: &Origin) -> usize {
        self.idle.borrow().get(origin).map_or(0, VecDeque::len)
    }

    /// Whether the next connection to `origin` may turn out to be HTTP/2
    /// (so that requests arriving meanwhile wait for it).
    pub(crate) fn may_be_http2(&self, origin: &Origin) -> bool {
        !self.http1_only.borrow().contains(origin)
    }

    /// Remembers that `origin` chose HTTP/1.1.
    pub(crate) fn set_http1_only(&self, origin: &Origin) {
        self.http1_only.borrow_mut().insert(origin.clone());
    }

    /// Either the wait for a first connection to `origin` already being
    /// made, or the right to make it (released when the guard is dropped,
    /// which wakes the waiters).
    pub(crate) fn first_connection(&self, origin: &Origin) -> FirstConnection<'_> {
        let mut connecting = self.connecting.borrow_mut();
        if let Some(attempt) = connecting.get(origin) {
            return FirstConnection::Wait(attempt.clone());
        }
        let attempt = Rc::new(FirstAttempt {
            done: Event::new(),
            failed: RefCell::new(None),
        });
        connecting.insert(origin.clone(), attempt.clone());
        FirstConnection::Make(Connecting {
            pool: self,
            origin: origin.clone(),
            attempt,
        })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for list in self.idle.get_mut().values() {
            for entry in list {
                if let Some(timer) = &entry.expiry {
                    timer.cancel();
                }
            }
        }
    }
}

/// The idle timer of a connection: closes it if it is still idle.
fn expire(pool: &Weak<Pool>, origin: &Origin, key: u64) {
    let Some(pool) = pool.upgrade() else {
        return;
    };
    let expired = {
        let mut idle = pool.idle.borrow_mut();
        let Some(list) = idle.get_mut(origin) else {
            return;
        };
        let expired = list
            .iter()
            .position(|e| e.key == key)
            .and_then(|i| list.remove(i));
        if list.is_empty() {
            idle.remove(origin);
        }
        expired
    };
    if expired.is_some() {
        log::debug!("closing a connection to {origin} idle for the pool's idle timeout");
    }
}

/// See [`Pool::first_connection`].
pub(crate) enum FirstConnection<'a> {
    /// Another request is making the first connection: wait for it.
    Wait(Rc<FirstAttempt>),
    /// Make it; the guard releases the origin.
    Make(Connecting<'a>),
}

/// An origin's first connection being made, as the requests waiting for
/// it see it.
pub(crate) struct FirstAttempt {
    /// Set when the attempt is over.
    done: Event,
    /// Why it failed, when it failed to connect.
    failed: RefCell<Option<ClientError>>,
}

impl FirstAttempt {
    /// Waits for the attempt to end. Its connection error is the waiter's
    /// too (the same origin, at the same time: the waiters do not each
    /// try again in turn, one timeout after the other).
    pub(crate) async fn wait(&self) -> Result<(), ClientError> {
        self.done.wait().await;
        let failed = self.failed.borrow();
        match failed.as_ref().and_then(ClientError::clone_connect_error) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The right to make an origin's first connection.
pub(crate) struct Connecting<'a> {
    pool: &'a Pool,
    origin: Origin,
    attempt: Rc<FirstAttempt>,
}

impl Connecting<'_> {
    /// The attempt failed with `error`, which the waiters get too when it
    /// is a connection error (not one of hyper's handshake).
    pub(crate) fn failed(&self, error: &ClientError) {
        *self.attempt.failed.borrow_mut() = error.clone_connect_error();
    }
}

impl Drop for Connecting<'_> {
    fn drop(&mut self) {
        self.pool.connecting.borrow_mut().remove(&self.origin);
        self.attempt.done.set();
    }
}

/// An HTTP/1.1 connection whose response is being read: it goes back to
/// the pool once hyper is ready for its next request, which is once the
/// response's body has been read to its end (a body dropped unread closes
/// the connection instead).
///
/// [`ClientResponse::bytes`](crate::ClientResponse::bytes) waits for that
/// itself after the body's end ([`Release::when_ready`]), so that the
/// next request of a sequence finds the connection in the pool; dropped
/// otherwise (the response streamed or dropped), the release waits in a
/// small task of the loop.
#[derive(Debug)]
pub(crate) struct Release {
    pool: Weak<Pool>,
    origin: Origin,
    sender: Option<http1::SendRequest<RequestBody>>,
}

impl Release {
    pub(crate) fn new(
        pool: &Rc<Pool>,
        origin: Origin,
        sender: http1::SendRequest<RequestBody>,
    ) -> Release {
        Release {
            pool: Rc::downgrade(pool),
            origin,
            sender: Some(sender),
        }
    }

    /// Waits (until `deadline` at most) for the connection to be ready
    /// again, and puts it in the pool; past the deadline or closed, the
    /// connection is dropped.
    pub(crate) async fn when_ready(mut self, deadline: Option<Instant>) {
        let Some(mut sender) = self.sender.take() else {
            return;
        };
        let ready = poll_fn(|cx| sender.poll_ready(cx));
        let ready = match deadline {
            Some(at) => matches!(timeout_at(at).run(ready).await, Ok(Ok(()))),
            None => ready.await.is_ok(),
        };
        if let (true, Some(pool)) = (ready, self.pool.upgrade()) {
            pool.put_http1(self.origin.clone(), sender);
        }
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        let Some(mut sender) = self.sender.take() else {
            return;
        };
        let Some(pool) = self.pool.upgrade() else {
            return;
        };
        let origin = self.origin.clone();
        if sender.is_ready() {
            pool.put_http1(origin, sender);
            return;
        }
        let pool = Rc::downgrade(&pool);
        TulipExecutor::new().execute(async move {
            if poll_fn(|cx| sender.poll_ready(cx)).await.is_ok() {
                if let Some(pool) = pool.upgrade() {
                    pool.put_http1(origin, sender);
                }
            }
        });
    }
}
