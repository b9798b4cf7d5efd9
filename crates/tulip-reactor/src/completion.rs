//! The completion interface: operations submitted with the buffers they own
//! ([`Op`]), their identity ([`OpId`]), who receives their results
//! ([`OpHandler`]) and one result ([`Completion`]).
//!
//! Only the `uring` backend runs operations ([`Reactor::has_completions`](crate::Reactor::has_completions));
//! the others report `Unsupported` from [`Reactor::submit`](crate::Reactor::submit).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{OwnedFd, RawFd};

/// Identifies one submitted operation (the kernel's `user_data` of it).
///
/// ```
/// use tulip::reactor::OpId;
/// fn same(a: OpId, b: OpId) -> bool {
///     a == b // Copy, Eq, Hash, Debug
/// }
/// # let _ = same;
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct OpId(pub(crate) u64);

/// An operation to run on the kernel's side. Buffers are owned by the
/// operation while it is in flight (the reactor keeps them in its table, so
/// the kernel never writes into freed memory) and handed back in the final
/// [`Completion`] ([`Completion::take_buffer`]).
///
/// ```no_run
/// use std::rc::Rc;
/// use std::os::fd::AsRawFd;
/// use std::net::TcpStream;
/// use tulip::reactor::{BackendKind, Completion, Op, OpHandler, Reactor};
///
/// struct Print;
/// impl OpHandler for Print {
///     fn complete(&self, c: Completion) {
///         println!("{:?}: {:?} {:?}", c.id(), c.result(), c.data());
///     }
/// }
/// let stream = TcpStream::connect("127.0.0.1:7")?;
/// let mut reactor: Reactor<()> = Reactor::new(BackendKind::Uring)?;
/// if reactor.has_completions() {
///     let op = Op::Send { fd: stream.as_raw_fd(), buf: b"hello".to_vec(), offset: 0 };
///     reactor.submit(op, Rc::new(Print))?;
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug)]
pub enum Op {
    /// Multishot receive into the reactor's provided-buffer ring (stream
    /// sockets). One completion per chunk, its bytes in
    /// [`Completion::data`]. It never ends with `ENOBUFS`: when the ring runs
    /// dry the reactor re-arms it itself once buffers come back. It ends
    /// (`more() == false`) on end of file (`Ok(0)`), on an error, or when
    /// cancelled (`Err` with `ECANCELED`).
    RecvMulti {
        /// The socket.
        fd: RawFd,
    },
    /// One receive into the spare capacity of `buf` (`buf.len()..buf.capacity()`):
    /// the bytes received are appended to what `buf` holds. A buffer with no
    /// spare capacity is refused (`InvalidInput`).
    Recv {
        /// The socket or pipe.
        fd: RawFd,
        /// Receives into its spare capacity.
        buf: Vec<u8>,
    },
    /// One send of `buf[offset..]` (with `MSG_NOSIGNAL`). The result is the
    /// number of bytes sent, which may be fewer than asked.
    Send {
        /// The socket.
        fd: RawFd,
        /// What to send (from `offset` on).
        buf: Vec<u8>,
        /// Where in `buf` to start; past `buf.len()` is refused (`InvalidInput`).
        offset: usize,
    },
    /// `shutdown(2)` (asyncio's `write_eof` with `Write`).
    Shutdown {
        /// The socket.
        fd: RawFd,
        /// Which direction(s) to shut.
        how: std::net::Shutdown,
    },
    /// Multishot accept: each completion carries one accepted socket
    /// ([`Completion::take_fd`], `CLOEXEC` and `NONBLOCK` set). Ends on an
    /// error or a cancel; re-armed by the reactor if the kernel ends it early
    /// without an error.
    AcceptMulti {
        /// The listening socket.
        fd: RawFd,
    },
    /// `recvmsg(2)` into the spare capacity of `buf` (as [`Op::Recv`]); the
    /// completion carries the sender ([`Completion::source_addr`]).
    RecvMsg {
        /// The datagram socket.
        fd: RawFd,
        /// Receives into its spare capacity.
        buf: Vec<u8>,
    },
    /// `sendmsg(2)` of all of `buf` to `addr` (`None`: the connected peer),
    /// with `MSG_NOSIGNAL`.
    SendMsg {
        /// The datagram socket.
        fd: RawFd,
        /// The datagram.
        buf: Vec<u8>,
        /// The destination, or `None` for a connected socket.
        addr: Option<SocketAddr>,
    },
}

/// Receives the completions of an operation. The event loop calls it in its
/// ready phase (never from inside the reactor's poll), in the order the
/// kernel posted them, once per completion; the last one has
/// [`more`](Completion::more) `== false`.
///
/// ```
/// use std::cell::RefCell;
/// use tulip::reactor::{Completion, OpHandler};
///
/// #[derive(Default)]
/// struct Collect(RefCell<Vec<u8>>);
/// impl OpHandler for Collect {
///     fn complete(&self, c: Completion) {
///         self.0.borrow_mut().extend_from_slice(c.data());
///         // `c` dropped here: a ring buffer goes back to the ring.
///     }
/// }
/// ```
pub trait OpHandler {
    /// One completion of the operation.
    fn complete(&self, completion: Completion);
}

/// Where a completion's bytes are.
pub(crate) enum Payload {
    None,
    /// An owned buffer with the received bytes at `start..end`.
    Owned {
        buf: Vec<u8>,
        start: usize,
        end: usize,
    },
    /// A buffer of the provided-buffer ring, back to the ring on drop.
    Ring(crate::sys::RingLease),
    /// An accepted socket (closed on drop if not taken).
    Fd(OwnedFd),
}

/// One completion of an operation: its result, whether more follow, and
/// what it carries (received bytes, the buffer back, an accepted socket, a
/// sender's address). A ring buffer it holds goes back to the ring when it
/// is dropped, so keep it no longer than needed.
///
/// ```
/// use tulip::reactor::{Completion, OpHandler};
/// struct Echo;
/// impl OpHandler for Echo {
///     fn complete(&self, mut c: Completion) {
///         match c.result() {
///             Ok(0) if !c.more() => println!("end of file"),
///             Ok(n) => println!("{n} bytes: {:?}", c.data()),
///             Err(e) => println!("failed: {e}"),
///         }
///         let _reuse = c.take_buffer(); // an owned buffer back
///         let _socket = c.take_fd(); // an accepted connection
///     }
/// }
/// ```
pub struct Completion {
    id: OpId,
    result: io::Result<usize>,
    more: bool,
    payload: Payload,
    addr: Option<SocketAddr>,
}

impl fmt::Debug for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completion")
            .field("id", &self.id)
            .field("result", &self.result)
            .field("more", &self.more)
            .field("len", &self.data().len())
            .finish_non_exhaustive()
    }
}

impl Completion {
    pub(crate) fn new(
        id: OpId,
        result: io::Result<usize>,
        more: bool,
        payload: Payload,
        addr: Option<SocketAddr>,
    ) -> Completion {
        Completion {
            id,
            result,
            more,
            payload,
            addr,
        }
    }

    /// A final completion saying the operation was cancelled.
    pub(crate) fn cancelled(id: OpId, payload: Payload) -> Completion {
        Completion::new(
            id,
            Err(io::Error::from_raw_os_error(libc::ECANCELED)),
            false,
            payload,
            None,
        )
    }

    /// The operation this completes.
    ///
    /// ```
    /// use tulip::reactor::{Completion, OpHandler, OpId};
    /// struct Log;
    /// impl OpHandler for Log {
    ///     fn complete(&self, c: Completion) {
    ///         let id: OpId = c.id();
    ///         println!("{id:?} done: {:?}", c.result());
    ///     }
    /// }
    /// ```
    pub fn id(&self) -> OpId {
        self.id
    }

    /// Bytes moved (received or sent); for [`Op::AcceptMulti`] the new
    /// socket's number (take it with [`take_fd`](Completion::take_fd)); the
    /// OS error otherwise (`ECANCELED` after a cancel).
    ///
    /// ```
    /// use tulip::reactor::{Completion, OpHandler};
    /// struct Check;
    /// impl OpHandler for Check {
    ///     fn complete(&self, c: Completion) {
    ///         if let Err(e) = c.result() {
    ///             eprintln!("operation failed: {e}");
    ///         }
    ///     }
    /// }
    /// ```
    pub fn result(&self) -> &io::Result<usize> {
        &self.result
    }

    /// Whether more completions of this operation follow (multishot
    /// operations); `false` on the operation's last one.
    ///
    /// ```
    /// use tulip::reactor::{Completion, OpHandler};
    /// struct Done;
    /// impl OpHandler for Done {
    ///     fn complete(&self, c: Completion) {
    ///         if !c.more() {
    ///             println!("{:?} finished", c.id());
    ///         }
    ///     }
    /// }
    /// ```
    pub fn more(&self) -> bool {
        self.more
    }

    /// The bytes received (a slice of a ring buffer, or of the owned buffer
    /// of [`Op::Recv`]/[`Op::RecvMsg`]); empty for other operations and after
    /// [`take_buffer`](Completion::take_buffer).
    ///
    /// ```
    /// use tulip::reactor::{Completion, OpHandler};
    /// struct Count(std::cell::Cell<usize>);
    /// impl OpHandler for Count {
    ///     fn complete(&self, c: Completion) {
    ///         self.0.set(self.0.get() + c.data().len());
    ///     }
    /// }
    /// ```
    pub fn data(&self) -> &[u8] {
        match &self.payload {
            Payload::Owned { buf, start, end } => &buf[*start..*end],
            Payload::Ring(lease) => lease.data(),
            Payload::None | Payload::Fd(_) => &[],
        }
    }

    /// The owned buffer of [`Op::Recv`], [`Op::Send`], [`Op::RecvMsg`] or
    /// [`Op::SendMsg`] back, for reuse (a receive's buffer has the bytes
    /// received appended). `None` for other operations or once taken.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use tulip::reactor::{Completion, OpHandler};
    /// struct Reuse(RefCell<Option<Vec<u8>>>);
    /// impl OpHandler for Reuse {
    ///     fn complete(&self, mut c: Completion) {
    ///         if let Some(mut buf) = c.take_buffer() {
    ///             buf.clear();
    ///             *self.0.borrow_mut() = Some(buf);
    ///         }
    ///     }
    /// }
    /// ```
    pub fn take_buffer(&mut self) -> Option<Vec<u8>> {
        match std::mem::replace(&mut self.payload, Payload::None) {
            Payload::Owned { buf, .. } => Some(buf),
            other => {
                self.payload = other;
                None
            }
        }
    }

    /// The socket [`Op::AcceptMulti`] accepted (closed when the completion
    /// drops if not taken). `None` for other operations or once taken.
    ///
    /// ```
    /// use tulip::reactor::{Completion, OpHandler};
    /// struct Accept;
    /// impl OpHandler for Accept {
    ///     fn complete(&self, mut c: Completion) {
    ///         if let Some(fd) = c.take_fd() {
    ///             let stream = std::net::TcpStream::from(fd);
    ///             println!("accepted {:?}", stream.peer_addr());
    ///         }
    ///     }
    /// }
    /// ```
    pub fn take_fd(&mut self) -> Option<OwnedFd> {
        match std::mem::replace(&mut self.payload, Payload::None) {
            Payload::Fd(fd) => Some(fd),
            other => {
                self.payload = other;
                None
            }
        }
    }

    /// The sender of an [`Op::RecvMsg`] datagram (an IPv4 or IPv6 address;
    /// `None` for other operations and for senders without an IP address,
    /// such as unnamed Unix sockets).
    ///
    /// ```
    /// use tulip::reactor::{Completion, OpHandler};
    /// struct From;
    /// impl OpHandler for From {
    ///     fn complete(&self, c: Completion) {
    ///         println!("{} bytes from {:?}", c.data().len(), c.source_addr());
    ///     }
    /// }
    /// ```
    pub fn source_addr(&self) -> Option<SocketAddr> {
        self.addr
    }
}

/// The error of [`Reactor::submit`](crate::Reactor::submit) on a backend
/// without completions.
pub(crate) fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "completion operations need the uring backend",
    )
}
