//! The registry of watched file descriptors and the poll that turns OS
//! readiness into callbacks to run and wakers to wake.
//!
//! Two ways of watching a descriptor, never both at once:
//! - callbacks (asyncio's `add_reader`/`add_writer`): registered
//!   level-triggered with interest in exactly the directions that have a
//!   callback; `epoll_ctl` runs only when a direction is added or removed, and
//!   the callback is reported on every poll while the descriptor is ready;
//! - an [`IoSource`] (async I/O): registered once, edge-triggered, both
//!   directions; readiness is cached in the source and wakers are woken.
//!
//! Descriptors index a table directly (they are small integers), and every
//! registration carries a generation in its token, so an event that was
//! collected for a descriptor just removed (and perhaps reused) is dropped.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use crate::backend::{Backend, BackendKind};
use crate::completion::{Completion, Op, OpHandler, OpId};
use crate::interest::{Interest, Readiness};
use crate::notify::Notifier;
use crate::source::IoSource;

/// What a poll found to do: a callback to schedule or a waker to wake.
///
/// ```
/// use std::io::Write;
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
/// use tulip::reactor::{BackendKind, Dispatch, Reactor};
///
/// let (a, mut b) = UnixStream::pair()?;
/// let (c, _d) = UnixStream::pair()?;
/// let mut reactor = Reactor::new(BackendKind::default_kind())?;
/// reactor.set_reader(a.as_fd(), "a readable")?; // a callback
/// let source = reactor.register(c.as_fd())?; // async I/O
/// b.write_all(b"x")?;
/// let mut out = Vec::new();
/// reactor.poll(Some(std::time::Duration::ZERO), &mut out)?;
/// for dispatch in out {
///     match dispatch {
///         Dispatch::Callback(name) => assert_eq!(name, "a readable"),
///         Dispatch::Waker(waker) => waker.wake(), // a task waiting on a source
///         Dispatch::Completion(handler, c) => handler.complete(c), // uring only
///     }
/// }
/// reactor.deregister(&source)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub enum Dispatch<C> {
    /// A level-triggered callback whose descriptor is ready.
    Callback(C),
    /// The waker of a task waiting on an [`IoSource`].
    Waker(Waker),
    /// A completion of an operation submitted with [`Reactor::submit`],
    /// for its handler (the `uring` backend only).
    Completion(Rc<dyn OpHandler>, Completion),
}

impl<C: std::fmt::Debug> std::fmt::Debug for Dispatch<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dispatch::Callback(c) => f.debug_tuple("Callback").field(c).finish(),
            Dispatch::Waker(w) => f.debug_tuple("Waker").field(w).finish(),
            Dispatch::Completion(_, c) => f.debug_tuple("Completion").field(c).finish(),
        }
    }
}

#[derive(Debug)]
enum Entry<C> {
    Vacant,
    Callbacks {
        reader: Option<C>,
        writer: Option<C>,
    },
    Source(Rc<IoSource>),
}

#[derive(Debug)]
struct Slot<C> {
    generation: u32,
    entry: Entry<C>,
}

/// The reactor: a poller of the chosen [`BackendKind`] plus the table of what
/// waits on each descriptor. Single-threaded; other threads wake it through
/// its [`Notifier`].
///
/// `C` is the callback type the owner schedules (the event loop uses its
/// callback handles); it is cloned once per report.
///
/// ```
/// use std::os::fd::{AsFd, AsRawFd};
/// use std::os::unix::net::UnixStream;
/// use std::io::Write;
/// use tulip::reactor::{BackendKind, Dispatch, Reactor};
///
/// let (a, mut b) = UnixStream::pair()?;
/// let mut reactor = Reactor::new(BackendKind::default_kind())?;
/// reactor.set_reader(a.as_fd(), "a is readable")?;
/// b.write_all(b"x")?;
/// let mut out = Vec::new();
/// reactor.poll(None, &mut out)?;
/// assert!(matches!(out.as_slice(), [Dispatch::Callback("a is readable")]));
/// assert_eq!(reactor.remove_reader(a.as_raw_fd())?, Some("a is readable"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Reactor<C> {
    backend: Backend,
    slots: Vec<Slot<C>>,
    events: Vec<(u64, Readiness)>,
    /// Operation completions of the last poll (uring only), each with the
    /// number of readiness events before it.
    done: crate::sys::Done,
    registered: usize,
}

impl<C> std::fmt::Debug for Reactor<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("backend", &self.backend)
            .field("registered", &self.registered)
            .finish_non_exhaustive()
    }
}

fn token(fd: RawFd, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(fd as u32)
}

fn bad_fd(fd: RawFd) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("invalid file descriptor: {fd}"),
    )
}

/// Borrows a descriptor number for an `epoll_ctl`-style call that only uses
/// the number.
fn borrow(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: the borrowed descriptor is passed only to the poller's
    // deregistration call, which uses the number and touches no memory
    // through it. If the number was already closed the call fails with
    // EBADF/ENOENT, which the callers ignore; if it was reused, the table
    // slot for that number is the one being cleared, so the registration
    // removed is the one this registry owns for that number.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

impl<C: Clone> Reactor<C> {
    /// Opens a reactor on `kind` (falling back to `Polling` where the `epoll`
    /// backend is unavailable).
    ///
    /// ```
    /// use tulip::reactor::{BackendKind, Reactor};
    /// let reactor: Reactor<()> = Reactor::new(BackendKind::Polling)?;
    /// assert_eq!(reactor.backend_kind(), BackendKind::Polling);
    /// assert!(reactor.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(kind: BackendKind) -> io::Result<Reactor<C>> {
        Ok(Reactor {
            backend: Backend::new(kind)?,
            slots: Vec::new(),
            events: Vec::with_capacity(256),
            done: Vec::new(),
            registered: 0,
        })
    }

    /// The backend actually in use.
    ///
    /// ```
    /// use tulip::reactor::{BackendKind, Reactor};
    /// let reactor: Reactor<()> = Reactor::new(BackendKind::default_kind())?;
    /// // `Epoll` falls back to `Polling` where epoll is unavailable.
    /// println!("polling with {:?}", reactor.backend_kind());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn backend_kind(&self) -> BackendKind {
        self.backend.kind()
    }

    /// The handle other threads use to wake this reactor.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use tulip::reactor::{BackendKind, Reactor};
    /// let mut reactor: Reactor<()> = Reactor::new(BackendKind::default_kind())?;
    /// reactor.notifier().notify()?; // from any thread
    /// let start = Instant::now();
    /// reactor.poll(Some(Duration::from_secs(60)), &mut Vec::new())?;
    /// assert!(start.elapsed() < Duration::from_secs(30)); // woken, not timed out
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn notifier(&self) -> Arc<Notifier> {
        self.backend.notifier().clone()
    }

    /// How many descriptors are registered.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    /// use tulip::reactor::{BackendKind, Reactor};
    /// let (a, b) = UnixStream::pair()?;
    /// let mut reactor = Reactor::new(BackendKind::default_kind())?;
    /// reactor.set_reader(a.as_fd(), 1)?;
    /// reactor.set_writer(a.as_fd(), 2)?; // the same descriptor: still one
    /// reactor.set_writer(b.as_fd(), 3)?;
    /// assert_eq!(reactor.len(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.registered
    }

    /// Whether no descriptor is registered.
    ///
    /// ```
    /// use std::os::fd::{AsFd, AsRawFd};
    /// use std::os::unix::net::UnixStream;
    /// use tulip::reactor::{BackendKind, Reactor};
    /// let (a, _b) = UnixStream::pair()?;
    /// let mut reactor = Reactor::new(BackendKind::default_kind())?;
    /// assert!(reactor.is_empty());
    /// reactor.set_reader(a.as_fd(), ())?;
    /// assert!(!reactor.is_empty());
    /// reactor.remove_reader(a.as_raw_fd())?;
    /// assert!(reactor.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.registered == 0 && self.backend.ops_in_flight() == 0
    }

    fn slot_mut(&mut self, fd: RawFd) -> io::Result<&mut Slot<C>> {
        let idx = usize::try_from(fd).map_err(|_| bad_fd(fd))?;
        if idx >= self.slots.len() {
            self.slots.resize_with(idx + 1, || Slot {
                generation: 0,
                entry: Entry::Vacant,
            });
        }
        Ok(&mut self.slots[idx])
    }

    /// Watches `fd` for readability, calling (reporting) `callback` on every
    /// poll while it is readable. Replaces and returns an earlier reader.
    ///
    /// Fails with `AlreadyExists` if the descriptor is registered as an
    /// [`IoSource`], and with the OS error if it cannot be watched (a closed
    /// descriptor, or a regular file under `epoll`).
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::fd::AsFd;
    /// use std::time::Duration;
    /// use std::os::unix::net::UnixStream;
    /// use tulip::reactor::{BackendKind, Dispatch, Reactor};
    ///
    /// let (a, mut b) = UnixStream::pair()?;
    /// let mut reactor = Reactor::new(BackendKind::default_kind())?;
    /// assert_eq!(reactor.set_reader(a.as_fd(), "first")?, None);
    /// assert_eq!(reactor.set_reader(a.as_fd(), "second")?, Some("first")); // replaced
    /// b.write_all(b"x")?;
    /// // Level-triggered: reported on every poll until the data is read.
    /// for _ in 0..2 {
    ///     let mut out = Vec::new();
    ///     reactor.poll(Some(Duration::ZERO), &mut out)?;
    ///     assert!(matches!(out.as_slice(), [Dispatch::Callback("second")]));
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_reader(&mut self, fd: BorrowedFd<'_>, callback: C) -> io::Result<Option<C>> {
        self.set_callback(fd.as_raw_fd(), Interest::READ, callback)
    }

    /// Watches `fd` for writability; as [`set_reader`](Reactor::set_reader).
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::time::Duration;
    /// use std::os::unix::net::UnixStream;
    /// use tulip::reactor::{BackendKind, Dispatch, Reactor};
    ///
    /// let (a, _b) = UnixStream::pair()?;
    /// let mut reactor = Reactor::new(BackendKind::default_kind())?;
    /// reactor.set_writer(a.as_fd(), "a writable")?;
    /// let mut out = Vec::new();
    /// reactor.poll(Some(Duration::ZERO), &mut out)?; // an empty socket buffer
    /// assert!(matches!(out.as_slice(), [Dispatch::Callback("a writable")]));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_writer(&mut self, fd: BorrowedFd<'_>, callback: C) -> io::Result<Option<C>> {
        self.set_callback(fd.as_raw_fd(), Interest::WRITE, callback)
    }

    /// Stops watching `fd` for readability; returns the callback removed.
    /// A descriptor that was already closed is forgotten without error.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::fd::{AsFd, AsRawFd};
    /// use std::time::Duration;
    /// use std::os::unix::net::UnixStream;
    /// use tulip::reactor::{BackendKind, Reactor};
    ///
    /// let (a, mut b) = UnixStream::pair()?;
    /// let mut reactor = Reactor::new(BackendKind::default_kind())?;
    /// reactor.set_reader(a.as_fd(), "reader")?;
    /// assert_eq!(reactor.remove_reader(a.as_raw_fd())?, Some("reader"));
    /// assert_eq!(reactor.remove_reader(a.as_raw_fd())?, None); // nothing left
    /// b.write_all(b"x")?;
    /// let mut out = Vec::new();
    /// reactor.poll(Some(Duration::ZERO), &mut out)?;
    /// assert!(out.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn remove_reader(&mut self, fd: RawFd) -> io::Result<Option<C>> {
        self.remove_callback(fd, Interest::READ)
    }

    /// Stops watching `fd` for writability; returns the callback removed.
    ///
    /// ```
    /// use std::os::fd::{AsFd, AsRawFd};
    /// use std::os::unix::net::UnixStream;
    /// use tulip::reactor::{BackendKind, Reactor};
    /// let (a, _b) = UnixStream::pair()?;
    /// let mut reactor = Reactor::new(BackendKind::default_kind())?;
    /// reactor.set_reader(a.as_fd(), "reader")?;
    /// reactor.set_writer(a.as_fd(), "writer")?;
    /// assert_eq!(reactor.remove_writer(a.as_raw_fd())?, Some("writer"));
    /// assert_eq!(reactor.len(), 1); // still watched for reading
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn remove_writer(&mut self, fd: RawFd) -> io::Result<Option<C>> {
        self.remove_callback(fd, Interest::WRITE)
    }

    fn set_callback(&mut self, fd: RawFd, dir: Interest, callback: C) -> io::Result<Option<C>> {
        let slot = self.slot_mut(fd)?;
        let (old_interest, generation) = match &slot.entry {
            Entry::Vacant => (Interest::NONE, slot.generation),
            Entry::Callbacks { reader, writer } => (interest_of(reader, writer), slot.generation),
            Entry::Source(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("file descriptor {fd} is used by a transport or async I/O object"),
                ));
            }
        };
        let new_interest = old_interest | dir;
        if new_interest != old_interest {
            let tok = token(fd, generation);
            if old_interest.is_empty() {
                self.backend.add(borrow(fd), tok, new_interest, false)?;
                self.registered += 1;
            } else {
                self.backend.modify(borrow(fd), tok, new_interest, false)?;
            }
        }
        let slot = &mut self.slots[fd as usize];
        if let Entry::Vacant = slot.entry {
            slot.entry = Entry::Callbacks {
                reader: None,
                writer: None,
            };
        }
        let Entry::Callbacks { reader, writer } = &mut slot.entry else {
            unreachable!("slot was made a callback entry above")
        };
        let place = if dir == Interest::READ {
            reader
        } else {
            writer
        };
        Ok(place.replace(callback))
    }

    fn remove_callback(&mut self, fd: RawFd, dir: Interest) -> io::Result<Option<C>> {
        let Ok(idx) = usize::try_from(fd) else {
            return Ok(None);
        };
        let Some(slot) = self.slots.get_mut(idx) else {
            return Ok(None);
        };
        let Entry::Callbacks { reader, writer } = &mut slot.entry else {
            return Ok(None);
        };
        let removed = if dir == Interest::READ {
            reader.take()
        } else {
            writer.take()
        };
        let Some(removed) = removed else {
            return Ok(None);
        };
        let remaining = interest_of(reader, writer);
        let tok = token(fd, slot.generation);
        if remaining.is_empty() {
            slot.entry = Entry::Vacant;
            slot.generation = slot.generation.wrapping_add(1);
            self.registered -= 1;
            // A closed descriptor has already left the kernel's set.
            let _ = self.backend.delete(borrow(fd));
        } else if let Err(e) = self.backend.modify(borrow(fd), tok, remaining, false) {
            if e.raw_os_error() != Some(rustix::io::Errno::BADF.raw_os_error()) {
                // The kernel kept the old interest: keep the callback too.
                if let Entry::Callbacks { reader, writer } = &mut slot.entry {
                    let place = if dir == Interest::READ {
                        reader
                    } else {
                        writer
                    };
                    *place = Some(removed);
                }
                return Err(e);
            }
        }
        Ok(Some(removed))
    }

    /// Registers `fd` for async I/O. Fails with `AlreadyExists` if the
    /// descriptor already has callbacks or a source.
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    /// use tulip::reactor::{BackendKind, Interest, Reactor};
    ///
    /// let (mut a, _b) = UnixStream::pair()?;
    /// a.set_nonblocking(true)?;
    /// let mut reactor: Reactor<()> = Reactor::new(BackendKind::default_kind())?;
    /// let source = reactor.register(a.as_fd())?;
    /// // Try the call first; on EWOULDBLOCK clear the cached readiness and wait.
    /// let err = a.read(&mut [0; 16]).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::WouldBlock);
    /// source.clear_ready(Interest::READ);
    /// assert!(!source.readiness().readable);
    /// // A descriptor takes one registration.
    /// assert_eq!(reactor.register(a.as_fd()).unwrap_err().kind(), ErrorKind::AlreadyExists);
    /// reactor.deregister(&source)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn register(&mut self, fd: BorrowedFd<'_>) -> io::Result<Rc<IoSource>> {
        let raw = fd.as_raw_fd();
        let slot = self.slot_mut(raw)?;
        if !matches!(slot.entry, Entry::Vacant) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("file descriptor {raw} is already registered"),
            ));
        }
        let tok = token(raw, slot.generation);
        self.backend.add(fd, tok, Interest::BOTH, true)?;
        let source = Rc::new(IoSource::new(raw, tok));
        self.slots[raw as usize].entry = Entry::Source(source.clone());
        self.registered += 1;
        Ok(source)
    }

    /// Removes a source registered with [`register`](Reactor::register) and
    /// returns the wakers still waiting on it, so the caller can wake them
    /// (they retry and see the descriptor gone). Call it before closing the
    /// descriptor; after, it still forgets the source and returns its wakers.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    /// use tulip::reactor::{BackendKind, Reactor};
    /// let (a, _b) = UnixStream::pair()?;
    /// let mut reactor: Reactor<()> = Reactor::new(BackendKind::default_kind())?;
    /// let source = reactor.register(a.as_fd())?;
    /// let wakers = reactor.deregister(&source)?; // before closing `a`
    /// assert!(wakers.is_empty()); // no task was waiting
    /// assert!(reactor.is_empty());
    /// drop(a);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn deregister(&mut self, source: &IoSource) -> io::Result<Vec<Waker>> {
        let fd = source.fd();
        let Some(slot) = self.slots.get_mut(fd as usize) else {
            return Ok(Vec::new());
        };
        match &slot.entry {
            Entry::Source(s) if s.token() == source.token() => {}
            _ => return Ok(Vec::new()),
        }
        slot.entry = Entry::Vacant;
        slot.generation = slot.generation.wrapping_add(1);
        self.registered -= 1;
        let mut wakers = Vec::new();
        source.wake_all(&mut |w| wakers.push(w));
        // A descriptor closed before this call has left the kernel's set
        // already (EBADF, or ENOENT once its number was reused): either way
        // the registration is gone, and the wakers must still be returned.
        let _ = self.backend.delete(borrow(fd));
        Ok(wakers)
    }

    /// Waits up to `timeout` (`None`: until something happens; zero: just
    /// look) and appends what became ready to `out`: reported callbacks in
    /// event order (reader before writer for one descriptor, as asyncio) and
    /// the wakers of sources that saw an edge. Nothing is called here.
    ///
    /// Returns the number of OS events seen (0 after a timeout or a bare
    /// cross-thread notification).
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::fd::AsFd;
    /// use std::time::Duration;
    /// use std::os::unix::net::UnixStream;
    /// use tulip::reactor::{BackendKind, Dispatch, Reactor};
    ///
    /// let (a, mut b) = UnixStream::pair()?;
    /// let mut reactor = Reactor::new(BackendKind::default_kind())?;
    /// reactor.set_reader(a.as_fd(), 'r')?;
    /// let mut out = Vec::new();
    /// // Nothing to read yet: a zero timeout just looks.
    /// assert_eq!(reactor.poll(Some(Duration::ZERO), &mut out)?, 0);
    /// assert!(out.is_empty());
    /// b.write_all(b"x")?;
    /// assert_eq!(reactor.poll(None, &mut out)?, 1); // returns at once: a is readable
    /// assert!(matches!(out.as_slice(), [Dispatch::Callback('r')]));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<Dispatch<C>>,
    ) -> io::Result<usize> {
        self.events.clear();
        let mask = self.backend.generation_mask();
        let res = self.backend.wait(timeout, &mut self.events, &mut self.done);
        self.backend.notifier().clear();
        res?;
        let seen = self.events.len() + self.done.len();
        // Completions (uring only) go out in kernel order among the
        // readiness events: each before the event it preceded.
        let mut done = self.done.drain(..).peekable();
        let mut next_done = done.peek().map_or(usize::MAX, |d| d.0);
        for (i, &(tok, readiness)) in self.events.iter().enumerate() {
            if i >= next_done {
                while let Some((_, handler, c)) = done.next_if(|d| d.0 <= i) {
                    out.push(Dispatch::Completion(handler, c));
                }
                next_done = done.peek().map_or(usize::MAX, |d| d.0);
            }
            let fd = (tok & 0xffff_ffff) as u32 as usize;
            let generation = (tok >> 32) as u32;
            let Some(slot) = self.slots.get(fd) else {
                continue;
            };
            if slot.generation & mask != generation & mask {
                continue;
            }
            match &slot.entry {
                Entry::Vacant => {}
                Entry::Callbacks { reader, writer } => {
                    if readiness.readable {
                        if let Some(r) = reader {
                            out.push(Dispatch::Callback(r.clone()));
                        }
                    }
                    if readiness.writable {
                        if let Some(w) = writer {
                            out.push(Dispatch::Callback(w.clone()));
                        }
                    }
                }
                Entry::Source(source) => {
                    source.set_ready(readiness, &mut |w| out.push(Dispatch::Waker(w)))
                }
            }
        }
        out.extend(done.map(|(_, handler, c)| Dispatch::Completion(handler, c)));
        Ok(seen)
    }

    /// Forgets every registration (deregistering each from the poller) and
    /// returns the callbacks it held and the wakers still waiting, for the
    /// owner to drop or wake on its own terms.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    /// use tulip::reactor::{BackendKind, Reactor};
    /// let (a, b) = UnixStream::pair()?;
    /// let mut reactor = Reactor::new(BackendKind::default_kind())?;
    /// reactor.set_reader(a.as_fd(), "reader")?;
    /// reactor.set_writer(a.as_fd(), "writer")?;
    /// let _source = reactor.register(b.as_fd())?;
    /// let (callbacks, wakers) = reactor.clear();
    /// assert_eq!(callbacks, ["reader", "writer"]);
    /// assert!(wakers.is_empty());
    /// assert!(reactor.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clear(&mut self) -> (Vec<C>, Vec<Waker>) {
        let mut callbacks = Vec::new();
        let mut wakers = Vec::new();
        for (fd, slot) in self.slots.iter_mut().enumerate() {
            match std::mem::replace(&mut slot.entry, Entry::Vacant) {
                Entry::Vacant => continue,
                Entry::Callbacks { reader, writer } => {
                    callbacks.extend(reader.into_iter().chain(writer))
                }
                Entry::Source(source) => source.wake_all(&mut |w| wakers.push(w)),
            }
            slot.generation = slot.generation.wrapping_add(1);
            let _ = self.backend.delete(borrow(fd as RawFd));
        }
        self.registered = 0;
        (callbacks, wakers)
    }
}

/// The completion interface (the `uring` backend).
impl<C: Clone> Reactor<C> {
    /// Whether this reactor runs completion operations: true on the
    /// `uring` backend only (after a fallback to epoll, false).
    ///
    /// ```
    /// use tulip::reactor::{BackendKind, Reactor};
    /// let reactor: Reactor<()> = Reactor::new(BackendKind::Epoll)?;
    /// assert!(!reactor.has_completions());
    /// let ring: Reactor<()> = Reactor::new(BackendKind::Uring)?;
    /// assert_eq!(ring.has_completions(), ring.backend_kind() == BackendKind::Uring);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn has_completions(&self) -> bool {
        matches!(self.backend_kind(), BackendKind::Uring)
    }

    /// Queues `op` for the kernel (it goes in with the next
    /// [`poll`](Reactor::poll), which submits and waits in one system
    /// call); its completions come out of later polls as
    /// [`Dispatch::Completion`] with `handler`. The operation owns its
    /// buffers until its final completion hands them back.
    ///
    /// Fails with `Unsupported` off the `uring` backend, and with
    /// `InvalidInput` for an operation the kernel could not run (a receive
    /// buffer without spare capacity, a send offset past the buffer).
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use std::rc::Rc;
    /// use tulip::reactor::{BackendKind, Completion, Dispatch, Op, OpHandler, Reactor};
    ///
    /// struct Print;
    /// impl OpHandler for Print {
    ///     fn complete(&self, c: Completion) {
    ///         println!("{:?} {:?}", c.result(), c.data());
    ///     }
    /// }
    /// let (a, mut b) = UnixStream::pair()?;
    /// let mut reactor: Reactor<()> = Reactor::new(BackendKind::Uring)?;
    /// if reactor.has_completions() {
    ///     let id = reactor.submit(Op::Recv { fd: a.as_raw_fd(), buf: Vec::with_capacity(64) }, Rc::new(Print))?;
    ///     b.write_all(b"hi")?;
    ///     let mut out = Vec::new();
    ///     while out.is_empty() {
    ///         reactor.poll(None, &mut out)?;
    ///     }
    ///     let Some(Dispatch::Completion(handler, c)) = out.pop() else { panic!() };
    ///     assert_eq!((c.id(), c.data()), (id, &b"hi"[..]));
    ///     handler.complete(c);
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn submit(&mut self, op: Op, handler: Rc<dyn OpHandler>) -> io::Result<OpId> {
        match self.backend.uring() {
            Some(uring) => uring.submit(op, handler),
            None => Err(crate::completion::unsupported()),
        }
    }

    /// Asks the kernel to cancel operation `id`. The handler still gets the
    /// operation's final completion (`ECANCELED`, or whatever result won the
    /// race with the cancel); cancelling an operation that already ended does
    /// nothing.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use std::rc::Rc;
    /// use tulip::reactor::{BackendKind, Completion, Dispatch, Op, OpHandler, Reactor};
    ///
    /// struct Ignore;
    /// impl OpHandler for Ignore {
    ///     fn complete(&self, _: Completion) {}
    /// }
    /// let (a, _b) = UnixStream::pair()?;
    /// let mut reactor: Reactor<()> = Reactor::new(BackendKind::Uring)?;
    /// if reactor.has_completions() {
    ///     let id = reactor.submit(Op::RecvMulti { fd: a.as_raw_fd() }, Rc::new(Ignore))?;
    ///     reactor.poll(Some(std::time::Duration::ZERO), &mut Vec::new())?; // submitted
    ///     reactor.cancel(id)?;
    ///     let mut out = Vec::new();
    ///     while out.is_empty() {
    ///         reactor.poll(None, &mut out)?;
    ///     }
    ///     let Some(Dispatch::Completion(_, c)) = out.pop() else { panic!() };
    ///     assert!(!c.more());
    ///     assert_eq!(c.result().as_ref().unwrap_err().raw_os_error(), Some(libc::ECANCELED));
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancel(&mut self, id: OpId) -> io::Result<()> {
        match self.backend.uring() {
            Some(uring) => uring.cancel(id),
            None => Ok(()),
        }
    }

    /// Cancels every operation in flight and waits (a bounded time) for
    /// their final completions, returned for the owner to drop (or run) on
    /// its own terms: after this, the kernel writes into none of their
    /// buffers. The event loop calls it when it closes.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use std::rc::Rc;
    /// use tulip::reactor::{BackendKind, Completion, Op, OpHandler, Reactor};
    ///
    /// struct Ignore;
    /// impl OpHandler for Ignore {
    ///     fn complete(&self, _: Completion) {}
    /// }
    /// let (a, _b) = UnixStream::pair()?;
    /// let mut reactor: Reactor<()> = Reactor::new(BackendKind::Uring)?;
    /// if reactor.has_completions() {
    ///     reactor.submit(Op::RecvMulti { fd: a.as_raw_fd() }, Rc::new(Ignore))?;
    ///     let finals = reactor.cancel_all();
    ///     assert_eq!(finals.len(), 1);
    ///     assert!(reactor.is_empty());
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancel_all(&mut self) -> Vec<Dispatch<C>> {
        let mut done = Vec::new();
        if let Some(uring) = self.backend.uring() {
            uring.cancel_all(&mut done);
        }
        done.into_iter()
            .map(|(_, handler, c)| Dispatch::Completion(handler, c))
            .collect()
    }
}

fn interest_of<C>(reader: &Option<C>, writer: &Option<C>) -> Interest {
    let mut i = Interest::NONE;
    if reader.is_some() {
        i |= Interest::READ;
    }
    if writer.is_some() {
        i |= Interest::WRITE;
    }
    i
}
