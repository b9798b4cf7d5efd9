//! The process-wide half of UNIX signal handling: the C signal handler, the
//! signals' dispositions (`sigaction`), and the table through which the
//! handler reaches the self-pipe of every loop that handles a signal.
//!
//! Signals belong to the process, loops to threads. Each loop that handles
//! signals owns a [`SignalSlot`]: the write end of its self-pipe (a Unix
//! socket pair, as asyncio's) and two bit sets, the signals the loop wants
//! and the signals caught for it and not taken yet. For a signal `n`, the C
//! handler sets bit `n` in the pending set of every slot that wants `n` and
//! writes one byte to that slot's pipe; nothing else. The loop's reader
//! drains the pipe, then takes the pending bits and queues the callbacks. A
//! bit is set before its byte is written and taken after the bytes are
//! read, so a signal is never lost: at worst it is coalesced with others of
//! the same number that arrive before the loop gets to them.
//!
//! Dispositions are counted per signal. The first registration (in any
//! loop) saves the disposition in place and installs the handler; the last
//! removal puts the saved one back (`SIG_DFL`, unless something had set the
//! signal before tulip). While every registration of a signal is a
//! [`Delivery::First`] one, the handler is installed with `SA_RESETHAND`:
//! the kernel restores the default disposition as the signal arrives, so a
//! second one acts as if tulip were not there, even while the loop is stuck.

use std::io;
use std::mem;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::Error;

/// Handled signal numbers are below this: every system's largest signal
/// number (64 on Linux, 31 on macOS, 126 on FreeBSD) is.
pub(crate) const SIGNAL_LIMIT: i32 = 128;

/// How many loops can handle signals at the same time.
pub(crate) const MAX_LOOPS: usize = 256;

const WORD_BITS: usize = usize::BITS as usize;
const WORDS: usize = SIGNAL_LIMIT as usize / WORD_BITS;

/// Signals no handler can be set for. SIGKILL and SIGSTOP cannot be caught.
/// SIGSEGV, SIGBUS, SIGFPE and SIGILL come from the faulting instruction
/// itself: returning from the handler runs it again, forever, before any
/// loop callback could (asyncio would accept them and hang on a real fault).
const FORBIDDEN: [i32; 6] = [
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
];

/// A set of signal numbers, one bit each, readable from the handler.
type SignalSet = [AtomicUsize; WORDS];

/// What the handler knows of one loop.
struct Slot {
    /// The write end of the loop's self-pipe; -1 while the slot is free.
    fd: AtomicI32,
    /// The signals the loop handles.
    wanted: SignalSet,
    /// The signals caught for the loop and not taken yet.
    pending: SignalSet,
}

impl Slot {
    const fn free() -> Slot {
        Slot {
            fd: AtomicI32::new(-1),
            wanted: [const { AtomicUsize::new(0) }; WORDS],
            pending: [const { AtomicUsize::new(0) }; WORDS],
        }
    }
}

static SLOTS: [Slot; MAX_LOOPS] = [const { Slot::free() }; MAX_LOOPS];

/// Slots ever taken: the handler looks at no slot past this many.
static SLOTS_USED: AtomicUsize = AtomicUsize::new(0);

/// Signal handlers running now, on any thread.
static IN_HANDLER: AtomicUsize = AtomicUsize::new(0);

/// The word and bit of `signum` in a [`SignalSet`]; `None` out of range.
fn locate(signum: i32) -> Option<(usize, usize)> {
    if (1..SIGNAL_LIMIT).contains(&signum) {
        let n = signum as usize;
        Some((n / WORD_BITS, 1 << (n % WORD_BITS)))
    } else {
        None
    }
}

/// How a registration wants its signal delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Every time the signal arrives, until the handler is removed.
    Every,
    /// Once: the default disposition comes back as the signal arrives (the
    /// runners' Ctrl-C handling), unless another registration wants more.
    First,
}

/// The bookkeeping of one signal, behind [`REGISTRY`]'s lock.
struct Disposition {
    /// Registrations with [`Delivery::Every`], over all loops.
    every: usize,
    /// Registrations with [`Delivery::First`], over all loops.
    first: usize,
    /// The disposition found when tulip installed its handler.
    saved: Option<libc::sigaction>,
}

impl Disposition {
    const NONE: Disposition = Disposition {
        every: 0,
        first: 0,
        saved: None,
    };

    fn count(&mut self, delivery: Option<Delivery>, add: bool) {
        let n = match delivery {
            Some(Delivery::Every) => &mut self.every,
            Some(Delivery::First) => &mut self.first,
            None => return,
        };
        *n = if add { *n + 1 } else { n.saturating_sub(1) };
    }
}

/// Everything the handler does not read: taken slots and dispositions.
struct Registry {
    signals: [Disposition; SIGNAL_LIMIT as usize],
    taken: [bool; MAX_LOOPS],
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    signals: [const { Disposition::NONE }; SIGNAL_LIMIT as usize],
    taken: [false; MAX_LOOPS],
});

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The C signal handler. Async-signal-safe: atomics and `write(2)` only,
/// and `errno` is left as it was found.
extern "C" fn on_signal(signum: libc::c_int) {
    let errno = errno::errno();
    // Counted in before any descriptor is read: see `SignalSlot::drop`.
    IN_HANDLER.fetch_add(1, SeqCst);
    if let Some((word, bit)) = locate(signum) {
        let used = SLOTS_USED.load(SeqCst);
        for slot in SLOTS.iter().take(used) {
            if slot.wanted[word].load(SeqCst) & bit == 0 {
                continue;
            }
            slot.pending[word].fetch_or(bit, SeqCst);
            let fd = slot.fd.load(SeqCst);
            if fd >= 0 {
                let byte = signum as u8;
                // SAFETY: `fd` is the write end of a live socket pair: its
                // `SignalSlot` unpublishes it and then waits for every
                // running handler before closing it. One byte is read from
                // a local. A full pipe (EAGAIN) is fine: the loop has bytes
                // to wake it already.
                unsafe { libc::write(fd, ptr::from_ref(&byte).cast(), 1) };
            }
        }
    }
    IN_HANDLER.fetch_sub(1, SeqCst);
    errno::set_errno(errno);
}

fn handler_address() -> libc::sighandler_t {
    on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t
}

/// A `sigaction` with `handler`, no flags and an empty mask.
fn new_action(handler: libc::sighandler_t) -> libc::sigaction {
    // SAFETY: `sigaction` is a C struct of integers, a signal set and, on
    // some systems, an optional function pointer: all zeros is a valid
    // value of each (no handler, no flags, `None`).
    let mut act: libc::sigaction = unsafe { mem::zeroed() };
    act.sa_sigaction = handler;
    // SAFETY: `sa_mask` is a valid, writable signal set.
    unsafe { libc::sigemptyset(&mut act.sa_mask) };
    act
}

/// tulip's handler; with `SA_RESETHAND` when `reset`. `SA_RESTART` spares
/// other threads' blocking calls an `EINTR`; `SA_ONSTACK` runs it on the
/// alternate stack where one is set (Rust sets one on each thread).
fn our_action(reset: bool) -> libc::sigaction {
    let mut act = new_action(handler_address());
    act.sa_flags = libc::SA_RESTART | libc::SA_ONSTACK;
    if reset {
        act.sa_flags |= libc::SA_RESETHAND;
    }
    act
}

/// The current disposition of `signum`.
fn query(signum: i32) -> io::Result<libc::sigaction> {
    let mut old = new_action(libc::SIG_DFL);
    // SAFETY: a null new action only reads the current one into `old`, a
    // valid and writable `sigaction`.
    if unsafe { libc::sigaction(signum, ptr::null(), &mut old) } == 0 {
        Ok(old)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets the disposition of `signum`.
fn set(signum: i32, act: &libc::sigaction) -> io::Result<()> {
    // SAFETY: `act` is a complete `sigaction`: tulip's own (an
    // async-signal-safe handler that lives as long as the program), the
    // default, or one the system gave back earlier and that was in force
    // then.
    if unsafe { libc::sigaction(signum, act, ptr::null_mut()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn invalid_or_io(signum: i32, e: io::Error) -> Error {
    if e.raw_os_error() == Some(libc::EINVAL) {
        Error::InvalidSignal(signum)
    } else {
        Error::from(e)
    }
}

/// Checks that a handler can be set for `signum`: in range, catchable, not
/// a fault signal, and accepted by the system (glibc keeps 32 and 33 for
/// itself, for instance). [`Error::InvalidSignal`] otherwise.
pub(crate) fn check(signum: i32) -> Result<(), Error> {
    if locate(signum).is_none() || FORBIDDEN.contains(&signum) {
        return Err(Error::InvalidSignal(signum));
    }
    query(signum)
        .map(drop)
        .map_err(|e| invalid_or_io(signum, e))
}

/// Whether `signum`'s disposition is the default one: no handler anywhere
/// in the process, not ignored.
pub(crate) fn is_default(signum: i32) -> bool {
    query(signum).is_ok_and(|act| act.sa_sigaction == libc::SIG_DFL)
}

/// Brings the disposition of `signum` in line with its registrations.
fn sync(signum: i32, d: &mut Disposition) -> io::Result<()> {
    let current = query(signum)?;
    let ours = current.sa_sigaction == handler_address();
    if d.every + d.first == 0 {
        let saved = d.saved.take();
        // Not ours any more (reset by the kernel, or replaced by other
        // code): leave it as it is.
        if ours {
            let restore = saved.unwrap_or_else(|| new_action(libc::SIG_DFL));
            if let Err(e) = set(signum, &restore) {
                d.saved = saved;
                return Err(e);
            }
        }
        return Ok(());
    }
    let reset = d.every == 0;
    if ours && (current.sa_flags & libc::SA_RESETHAND != 0) == reset {
        return Ok(());
    }
    if !ours && d.saved.is_none() {
        d.saved = Some(current);
    }
    set(signum, &our_action(reset))
}

/// One loop's place in the handler's table, holding the write end of the
/// loop's self-pipe. Dropping it frees the place and closes the pipe, once
/// no handler can be writing to it.
pub(crate) struct SignalSlot {
    index: usize,
    pipe: UnixStream,
}

impl SignalSlot {
    /// Takes a free place for the loop whose self-pipe's (non-blocking)
    /// write end is `pipe`. An error when [`MAX_LOOPS`] loops already
    /// handle signals.
    pub(crate) fn acquire(pipe: UnixStream) -> Result<SignalSlot, Error> {
        let mut reg = registry();
        let index = reg.taken.iter().position(|taken| !taken).ok_or_else(|| {
            io::Error::other(format!("more than {MAX_LOOPS} event loops handle signals"))
        })?;
        reg.taken[index] = true;
        let slot = &SLOTS[index];
        for word in &slot.pending {
            word.store(0, SeqCst);
        }
        slot.fd.store(pipe.as_raw_fd(), SeqCst);
        SLOTS_USED.fetch_max(index + 1, SeqCst);
        Ok(SignalSlot { index, pipe })
    }

    fn slot(&self) -> &'static Slot {
        &SLOTS[self.index]
    }

    /// Changes what this loop wants of `signum`, from `old` to `new` (`None`:
    /// not handled), and the signal's disposition with it. On an error
    /// nothing changed.
    pub(crate) fn change(
        &self,
        signum: i32,
        old: Option<Delivery>,
        new: Option<Delivery>,
    ) -> Result<(), Error> {
        let (word, bit) = locate(signum).ok_or(Error::InvalidSignal(signum))?;
        let wanted = &self.slot().wanted[word];
        let mut reg = registry();
        let d = &mut reg.signals[signum as usize];
        d.count(old, false);
        d.count(new, true);
        // Wanted before the handler goes in: a signal arriving right after
        // reaches this loop.
        let want = |on: bool| {
            if on {
                wanted.fetch_or(bit, SeqCst)
            } else {
                wanted.fetch_and(!bit, SeqCst)
            }
        };
        want(new.is_some());
        sync(signum, d).map_err(|e| {
            d.count(new, false);
            d.count(old, true);
            want(old.is_some());
            let _ = sync(signum, d);
            invalid_or_io(signum, e)
        })
    }

    /// Takes `signum`'s pending bit: whether the signal was caught since.
    pub(crate) fn take(&self, signum: i32) -> bool {
        locate(signum)
            .is_some_and(|(word, bit)| self.slot().pending[word].fetch_and(!bit, SeqCst) & bit != 0)
    }

    /// Takes every pending bit: the signals caught since, by number.
    pub(crate) fn take_all(&self) -> Vec<i32> {
        let mut caught = Vec::new();
        for (w, word) in self.slot().pending.iter().enumerate() {
            let mut bits = word.swap(0, SeqCst);
            while bits != 0 {
                caught.push((w * WORD_BITS) as i32 + bits.trailing_zeros() as i32);
                bits &= bits - 1;
            }
        }
        caught
    }
}

impl Drop for SignalSlot {
    fn drop(&mut self) {
        let slot = self.slot();
        for word in &slot.wanted {
            word.store(0, SeqCst);
        }
        slot.fd.store(-1, SeqCst);
        // A handler that read the old descriptor had counted itself in
        // before reading it. Once none runs, none can still write to it.
        // (A handler interrupting this very thread finishes before the
        // wait resumes.)
        while IN_HANDLER.load(SeqCst) != 0 {
            std::thread::yield_now();
        }
        registry().taken[self.index] = false;
        // `self.pipe` is closed when the fields drop, after this.
    }
}

impl std::fmt::Debug for SignalSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalSlot")
            .field("index", &self.index)
            .field("pipe", &self.pipe)
            .finish()
    }
}
