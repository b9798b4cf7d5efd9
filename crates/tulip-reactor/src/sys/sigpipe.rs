//! Writes that never raise `SIGPIPE`, whatever the process's disposition.
//!
//! `send` and `sendmsg` take `MSG_NOSIGNAL`, but `write`, `writev` and
//! `sendfile` have no such flag: on a pipe whose reader is gone, or a
//! socket whose peer reset, they fail with `EPIPE` *and* send the calling
//! thread a `SIGPIPE`. A Rust program ignores the signal, but a C or
//! Python host embedding tulip may have left it at `SIG_DFL`, which kills
//! the process.
//!
//! The guard works on the calling thread only, so the rest of the process
//! is untouched:
//!
//! 1. block `SIGPIPE` on this thread (`pthread_sigmask`), learning whether
//!    it was blocked already and, if so, whether one was pending;
//! 2. make the call;
//! 3. on `EPIPE`, if no `SIGPIPE` was pending before, take the one the call
//!    raised (`sigpending`, then `sigwait`, which returns at once since it
//!    is pending): it is thread-directed, so it is ours;
//! 4. put the thread's mask back as it was.
//!
//! A `SIGPIPE` somebody else had left pending is never consumed, and one a
//! user's mask already blocked stays blocked.
//!
//! Cost: when the disposition is `SIG_IGN` (every Rust program, and
//! Python), the signal is discarded anyway and the guard is one
//! `rt_sigaction` query (about 150 ns on a test machine, against 350 ns
//! for blocking and unblocking). Otherwise two `rt_sigprocmask` calls
//! around the call (two more on `EPIPE`). Only a host changing the disposition from
//! `SIG_IGN` to `SIG_DFL` on another thread at the very moment of the call
//! could slip past the query; such a host races with every write of its
//! own as well.

use std::mem::MaybeUninit;
use std::ptr;

use rustix::io::{Errno, Result};

/// Runs `call` (one `write`, `writev` or `sendfile`) with `SIGPIPE`
/// blocked on this thread, and consumes the `SIGPIPE` it raised if it
/// failed with `EPIPE`.
pub(crate) fn without_sigpipe<T>(call: impl FnOnce() -> Result<T>) -> Result<T> {
    if sigpipe_ignored() {
        // The usual case in a Rust program: the kernel discards the
        // signal, no mask needed.
        return call();
    }
    let guard = Blocked::new();
    let res = call();
    if matches!(res, Err(Errno::PIPE)) {
        guard.consume_ours();
    }
    res
}

/// `SIGPIPE` blocked on this thread until dropped.
struct Blocked {
    /// `{SIGPIPE}`.
    set: libc::sigset_t,
    /// The thread's mask before, to restore; `None` if it had `SIGPIPE`
    /// blocked already (nothing to restore) or blocking failed.
    old: Option<libc::sigset_t>,
    /// A `SIGPIPE` was pending before the call (so an `EPIPE` may not have
    /// added one of ours: leave it).
    pending_before: bool,
}

impl Blocked {
    fn new() -> Blocked {
        let set = sigpipe_set();
        let mut old = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: `set` is an initialised signal set and `old` is writable
        // storage for one, which `pthread_sigmask` fills when it succeeds.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, old.as_mut_ptr()) };
        if rc != 0 {
            // Cannot happen with valid arguments; go on unguarded.
            return Blocked {
                set,
                old: None,
                pending_before: true,
            };
        }
        // SAFETY: `pthread_sigmask` succeeded, so it wrote the old mask.
        let old = unsafe { old.assume_init() };
        if is_member(&old, libc::SIGPIPE) {
            // Blocked already by the user: a SIGPIPE may be pending.
            return Blocked {
                set,
                old: None,
                pending_before: sigpipe_pending(),
            };
        }
        // It was not blocked, so none can have been pending on this
        // thread (it would have been delivered).
        Blocked {
            set,
            old: Some(old),
            pending_before: false,
        }
    }

    /// The guarded call failed with `EPIPE`: take the `SIGPIPE` it raised,
    /// unless one was pending before (then the two merged; it is not ours
    /// to take).
    fn consume_ours(&self) {
        if self.pending_before || !sigpipe_pending() {
            return;
        }
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` is an initialised set holding only SIGPIPE, which
        // is blocked on this thread and pending, so `sigwait` returns at
        // once; `sig` is writable.
        unsafe { libc::sigwait(&self.set, &mut sig) };
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        if let Some(old) = &self.old {
            // SAFETY: `old` is the mask `pthread_sigmask` returned.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, ptr::null_mut()) };
        }
    }
}

/// Whether `SIGPIPE`'s disposition is `SIG_IGN` (one `rt_sigaction`
/// query, half the cost of blocking and unblocking).
fn sigpipe_ignored() -> bool {
    let mut act = MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: a null new action only queries; `act` is writable storage
    // for the current one, filled when the call succeeds.
    if unsafe { libc::sigaction(libc::SIGPIPE, ptr::null(), act.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: `sigaction` succeeded, so it wrote the action.
    let act = unsafe { act.assume_init() };
    act.sa_sigaction == libc::SIG_IGN
}

/// The set `{SIGPIPE}`.
fn sigpipe_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `sigemptyset` initialises the storage it is given, and
    // `sigaddset` adds a valid signal number to that initialised set.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE);
        set.assume_init()
    }
}

/// Whether `signum` is in `set`.
fn is_member(set: &libc::sigset_t, signum: libc::c_int) -> bool {
    // SAFETY: `set` is an initialised signal set; `signum` is valid.
    unsafe { libc::sigismember(set, signum) == 1 }
}

/// Whether a `SIGPIPE` is pending for this thread or the process.
fn sigpipe_pending() -> bool {
    let mut pending = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `sigpending` fills the writable set it is given.
    if unsafe { libc::sigpending(pending.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: `sigpending` succeeded, so the set is initialised.
    let pending = unsafe { pending.assume_init() };
    is_member(&pending, libc::SIGPIPE)
}
