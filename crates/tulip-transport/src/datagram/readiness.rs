//! The readiness driver of a datagram endpoint (epoll, polling): a
//! level-triggered reader watch receives into the thread's shared read
//! buffer; `sendto` sends at once when nothing is queued, and a writer
//! watch sends the queue as the socket drains.

use std::io;
use std::os::fd::AsFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use rustix::net::{RecvFlags, SendFlags, SocketAddrAny};

use crate::address::{SockAddr, UnixAddr};
use crate::datagram::transport::{DATAGRAM_OVERHEAD, Endpoint, MAX_DATAGRAMS_PER_READY};
use crate::error::Error;
use crate::lifecycle::TransportLifecycle;
use crate::sock;
use crate::stream::readbuf::with_read_buffer;

impl Endpoint {
    /// `sendto` on readiness: sends at once when nothing is queued; queues
    /// what the socket cannot take now. Returns whether it queued.
    pub(super) fn send_now_or_queue(
        self: &Rc<Self>,
        data: &[u8],
        dest: Option<SocketAddrAny>,
    ) -> bool {
        if self.buffer.borrow().is_empty() {
            match self.send_one(data, dest.as_ref()) {
                Ok(()) => return false,
                Err(e) if sock::would_block(&e) => {
                    self.add_writer();
                    if self.lc.is_conn_lost() {
                        return false;
                    }
                }
                Err(e) => {
                    self.push_error(Error::io(e));
                    return false;
                }
            }
        }
        self.push_queued(data, dest);
        true
    }

    fn add_writer(self: &Rc<Self>) {
        if self.lc.is_writer_on() {
            return;
        }
        let t = self.clone();
        if let Err(e) = self.lc.add_writer(move || t.write_ready()) {
            self.fatal_error(Error::from(e), "Fatal error watching a datagram socket");
        }
    }

    fn remove_writer(&self) {
        self.lc.remove_writer();
    }

    /// The socket is readable: receive up to [`MAX_DATAGRAMS_PER_READY`]
    /// datagrams.
    pub(super) fn read_ready(self: &Rc<Self>) {
        for _ in 0..MAX_DATAGRAMS_PER_READY {
            if self.lc.is_closing() || self.lc.is_lost() {
                break;
            }
            if self.has_pending() && self.deliver_pending() {
                // The protocol is busy: the level-triggered watch brings
                // us back.
                break;
            }
            let Some(proto) = self.protocol() else { break };
            let Ok(mut p) = proto.try_borrow_mut() else {
                break;
            };
            let outcome = with_read_buffer(|buf| {
                let received = {
                    let Some(fd) = self.fd() else {
                        return Received::Closed;
                    };
                    rustix::net::recvfrom(&*fd, &mut *buf, RecvFlags::empty())
                };
                match received {
                    Ok((n, _, from)) => {
                        let from = from
                            .and_then(SockAddr::from_any)
                            .filter(|a| !matches!(a, SockAddr::Unix(UnixAddr::Unnamed)));
                        let data = &buf[..n];
                        Received::Delivered(catch_unwind(AssertUnwindSafe(|| {
                            p.datagram_received(data, from)
                        })))
                    }
                    Err(e) => Received::Failed(io::Error::from(e)),
                }
            });
            drop(p);
            match outcome {
                Received::Delivered(Ok(())) => {}
                Received::Delivered(Err(payload)) => {
                    self.protocol_panicked("datagram_received", payload);
                    break;
                }
                Received::Failed(e) if sock::would_block(&e) => break,
                Received::Failed(e) => {
                    self.push_error(Error::io(e));
                    break;
                }
                Received::Closed => break,
            }
        }
        if self.has_pending() {
            self.deliver_pending();
        }
    }

    /// One send; `Ok` only when the whole datagram went.
    fn send_one(&self, data: &[u8], dest: Option<&SocketAddrAny>) -> io::Result<()> {
        let Some(fd) = self.fd() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        match dest {
            None => sock::send(fd.as_fd(), data)?,
            Some(to) => rustix::net::sendto(&*fd, data, SendFlags::NOSIGNAL, to)?,
        };
        Ok(())
    }

    /// The socket is writable: send the buffer in order.
    fn write_ready(self: &Rc<Self>) {
        if self.lc.is_lost() {
            return;
        }
        loop {
            let Some(q) = self.buffer.borrow_mut().pop_front() else {
                break;
            };
            let size = q.data.len() + DATAGRAM_OVERHEAD;
            match self.send_one(&q.data, q.dest.as_ref()) {
                Ok(()) => self.buffer_size.set(self.buffer_size.get() - size),
                Err(e) if sock::would_block(&e) => {
                    self.buffer.borrow_mut().push_front(q);
                    break;
                }
                Err(e) => {
                    self.buffer_size.set(self.buffer_size.get() - size);
                    self.push_error(Error::io(e));
                    if self.lc.is_conn_lost() {
                        // error_received aborted, or closed with nothing
                        // left to send: connection_lost is on its way.
                        self.remove_writer();
                        return;
                    }
                }
            }
        }
        self.maybe_resume_protocol();
        if self.buffer.borrow().is_empty() {
            self.remove_writer();
            if self.closing_flushes() {
                self.lc.mark_conn_lost();
                self.call_connection_lost(None);
            }
        }
    }
}

/// What one receive produced.
enum Received {
    Delivered(std::thread::Result<()>),
    Failed(io::Error),
    Closed,
}
