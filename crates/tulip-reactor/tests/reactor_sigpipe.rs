//! [`without_sigpipe`] with `SIGPIPE` at `SIG_DFL` (this binary sets it:
//! a bug kills the test run): a write to a pipe whose reader is gone is
//! `EPIPE` and nothing else; the thread's mask is as it was; a `SIGPIPE`
//! pending before is left pending; with the user's own mask blocking
//! `SIGPIPE`, the one the call raised is taken and the mask stays.

use std::mem::MaybeUninit;
use std::ptr;
use std::sync::Once;

use rustix::io::Errno;
use tulip_reactor::without_sigpipe;

fn sigpipe_default() {
    static SET: Once = Once::new();
    SET.call_once(|| {
        // SAFETY: `signal` with `SIG_DFL` installs no handler.
        let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        assert_ne!(old, libc::SIG_ERR);
    });
}

fn sigpipe_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `sigemptyset` initialises the set, `sigaddset` adds a valid
    // signal to it.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE);
        set.assume_init()
    }
}

/// Whether this thread's mask blocks `SIGPIPE`.
fn blocked() -> bool {
    let mut old = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: a null new set only reads the mask into `old`.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, ptr::null(), old.as_mut_ptr()) };
    assert_eq!(rc, 0);
    // SAFETY: filled by the successful call above.
    unsafe { libc::sigismember(old.as_ptr(), libc::SIGPIPE) == 1 }
}

/// Whether a `SIGPIPE` is pending for this thread.
fn pending() -> bool {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `sigpending` fills the set.
    let rc = unsafe { libc::sigpending(set.as_mut_ptr()) };
    assert_eq!(rc, 0);
    // SAFETY: filled by the successful call above.
    unsafe { libc::sigismember(set.as_ptr(), libc::SIGPIPE) == 1 }
}

/// Blocks (`true`) or unblocks `SIGPIPE` on this thread.
fn set_blocked(on: bool) {
    let how = if on {
        libc::SIG_BLOCK
    } else {
        libc::SIG_UNBLOCK
    };
    // SAFETY: a valid set; the old mask is not wanted.
    let rc = unsafe { libc::pthread_sigmask(how, &sigpipe_set(), ptr::null_mut()) };
    assert_eq!(rc, 0);
}

/// Takes a pending `SIGPIPE` (it must be pending and blocked).
fn take_pending() {
    let mut sig = 0;
    // SAFETY: SIGPIPE is blocked and pending: `sigwait` returns at once.
    let rc = unsafe { libc::sigwait(&sigpipe_set(), &mut sig) };
    assert_eq!(rc, 0);
    assert_eq!(sig, libc::SIGPIPE);
}

/// One write to a pipe whose reader is gone, through the guard.
fn write_to_broken_pipe() -> rustix::io::Result<usize> {
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    drop(reader);
    without_sigpipe(|| rustix::io::write(&writer, b"x"))
}

#[test]
fn a_write_to_a_gone_reader_is_epipe_and_the_mask_is_restored() {
    sigpipe_default();
    assert!(!blocked());
    assert_eq!(write_to_broken_pipe(), Err(Errno::PIPE));
    assert!(!blocked(), "the mask is as it was");
    // A successful call goes through too.
    let (_reader, writer) = rustix::pipe::pipe().unwrap();
    assert_eq!(without_sigpipe(|| rustix::io::write(&writer, b"x")), Ok(1));
}

#[test]
fn a_sigpipe_pending_before_is_left_pending() {
    sigpipe_default();
    set_blocked(true);
    // SAFETY: sends SIGPIPE to this very thread, where it is blocked.
    let rc = unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGPIPE) };
    assert_eq!(rc, 0);
    assert!(pending());
    assert_eq!(write_to_broken_pipe(), Err(Errno::PIPE));
    assert!(pending(), "somebody else's SIGPIPE is not ours to take");
    assert!(blocked());
    take_pending();
    set_blocked(false);
}

#[test]
fn with_sigpipe_blocked_by_the_user_the_one_raised_is_taken() {
    sigpipe_default();
    set_blocked(true);
    assert!(!pending());
    assert_eq!(write_to_broken_pipe(), Err(Errno::PIPE));
    assert!(!pending(), "the call's SIGPIPE was taken");
    assert!(blocked(), "the user's mask stays");
    set_blocked(false);
}
