//! Descriptors closed while registered, on both backends: removing their
//! callbacks returns them without error; a new descriptor that gets the same
//! number registers and works; and an event the OS still reports for the old
//! registration (its file kept open by a `dup`) is collected but never
//! reported, because its token carries an older generation.
//!
//! The tests hold one lock, so that no other test thread takes the
//! descriptor number being reused.

mod common;

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::task::{Context, Waker};
use std::time::Duration;

use common::{each_backend, poll_now, poll_some, reactor};
use tulip_reactor::{BackendKind, Interest, Reactor};
use tulip_test::Counter;

/// Serializes the tests of this file (they reuse descriptor numbers).
static SERIAL: Mutex<()> = Mutex::new(());

/// A fresh socket pair whose first end has the descriptor number `fd`, which
/// must be free.
fn pair_at(fd: RawFd) -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    // The lowest free number goes to the next descriptor opened, so the pair
    // itself usually takes `fd`; the two ends of a pair are alike.
    if a.as_raw_fd() == fd {
        return (a, b);
    }
    if b.as_raw_fd() == fd {
        return (b, a);
    }
    let moved = rustix::io::fcntl_dupfd_cloexec(&a, fd).unwrap();
    assert_eq!(moved.as_raw_fd(), fd, "descriptor {fd} was not free");
    (UnixStream::from(moved), b)
}

/// Polls without waiting; returns the number of OS events and the callbacks.
fn poll_count(r: &mut Reactor<&'static str>) -> (usize, Vec<&'static str>) {
    let mut out = Vec::new();
    let n = r.poll(Some(Duration::ZERO), &mut out).unwrap();
    (n, common::callbacks(out))
}

fn closed_then_removed_then_reused(kind: BackendKind) {
    let mut r = reactor(kind);
    let (a, mut a_peer) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    r.set_reader(a.as_fd(), "old reader").unwrap();
    a_peer.write_all(b"x").unwrap();
    assert_eq!(poll_some(&mut r), ["old reader"]);

    // Closed before its reader was removed (the kernel forgets it): the
    // removal still hands the callback back, without error.
    drop(a);
    assert_eq!(r.remove_reader(fd).unwrap(), Some("old reader"));
    assert!(r.is_empty());
    assert_eq!(r.remove_reader(fd).unwrap(), None);
    let mut out = Vec::new();
    assert_eq!(
        r.poll(Some(Duration::from_millis(10)), &mut out).unwrap(),
        0
    );
    assert!(out.is_empty());

    // A new descriptor with the same number registers afresh and works.
    let (c, mut c_peer) = pair_at(fd);
    assert_eq!(
        r.set_reader(c.as_fd(), "new reader").unwrap(),
        None,
        "nothing left over"
    );
    assert!(
        poll_now(&mut r).is_empty(),
        "the new socket has nothing to read"
    );
    c_peer.write_all(b"y").unwrap();
    assert_eq!(poll_some(&mut r), ["new reader"]);
    assert_eq!(r.remove_reader(fd).unwrap(), Some("new reader"));
    assert!(r.is_empty());
}

fn closed_with_both_directions(kind: BackendKind) {
    let mut r = reactor(kind);
    let (a, _a_peer) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    r.set_reader(a.as_fd(), "old reader").unwrap();
    r.set_writer(a.as_fd(), "old writer").unwrap();
    assert_eq!(poll_some(&mut r), ["old writer"]);
    drop(a);
    // Removing one direction of a closed descriptor (an interest change the
    // kernel refuses with EBADF) is not an error either.
    assert_eq!(r.remove_reader(fd).unwrap(), Some("old reader"));
    assert_eq!(r.len(), 1);
    assert_eq!(r.remove_writer(fd).unwrap(), Some("old writer"));
    assert!(r.is_empty());

    let (c, mut c_peer) = pair_at(fd);
    assert_eq!(r.set_writer(c.as_fd(), "new writer").unwrap(), None);
    assert_eq!(poll_some(&mut r), ["new writer"]);
    assert_eq!(r.set_reader(c.as_fd(), "new reader").unwrap(), None);
    c_peer.write_all(b"z").unwrap();
    assert_eq!(poll_some(&mut r), ["new reader", "new writer"]);
    r.clear();
}

fn stale_event_of_a_dup_is_never_reported(kind: BackendKind) {
    let mut r = reactor(kind);
    let (a, mut a_peer) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    r.set_reader(a.as_fd(), "old reader").unwrap();
    // A duplicate keeps the socket open after `a` closes, so the kernel keeps
    // the registration (made under the number `fd`) and goes on reporting it.
    let keep = a.try_clone().unwrap();
    a_peer.write_all(b"x").unwrap();
    drop(a);
    assert_eq!(r.remove_reader(fd).unwrap(), Some("old reader"));
    assert!(r.is_empty());

    // epoll: the event is collected, and dropped (its generation is gone).
    // io_uring: the old poll was removed by its own user_data, so the
    // kernel reports nothing at all.
    let stale = usize::from(kind != BackendKind::Uring);
    let (n, reported) = poll_count(&mut r);
    assert_eq!(n, stale, "the kernel still reports the old registration");
    assert!(
        reported.is_empty(),
        "but it is never reported: {reported:?}"
    );

    // The number, reused, reports only the new registration's callback.
    let (c, mut c_peer) = pair_at(fd);
    r.set_reader(c.as_fd(), "new reader").unwrap();
    let (n, reported) = poll_count(&mut r);
    assert_eq!(n, stale, "still only the stale event");
    assert!(reported.is_empty(), "{reported:?}");
    c_peer.write_all(b"y").unwrap();
    let (n, reported) = poll_count(&mut r);
    assert_eq!(n, stale + 1, "the stale event and the new one");
    assert_eq!(reported, ["new reader"]);

    // Once the last duplicate closes the kernel drops the stale registration.
    drop(keep);
    let (n, reported) = poll_count(&mut r);
    assert_eq!(n, 1);
    assert_eq!(reported, ["new reader"]);
    assert_eq!(r.remove_reader(fd).unwrap(), Some("new reader"));
    let (n, reported) = poll_count(&mut r);
    assert_eq!((n, reported.len()), (0, 0));
}

fn stale_source_event_is_never_reported(kind: BackendKind) {
    let mut r = reactor(kind);
    let (a, mut a_peer) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let old = r.register(a.as_fd()).unwrap();
    let keep = a.try_clone().unwrap();
    drop(a);
    assert!(r.deregister(&old).unwrap().is_empty(), "nobody was waiting");
    assert!(r.is_empty());

    // The same number as a callback descriptor: the old edge-triggered
    // registration's events (a_peer writing) reach nobody.
    let (c, _c_peer) = pair_at(fd);
    r.set_reader(c.as_fd(), "new reader").unwrap();
    a_peer.write_all(b"x").unwrap();
    let mut out = Vec::new();
    let n = r.poll(Some(Duration::ZERO), &mut out).unwrap();
    let stale = usize::from(kind != BackendKind::Uring);
    assert_eq!(n, stale, "the stale source's edge (io_uring: removed)");
    assert!(out.is_empty(), "{out:?}");
    assert!(
        r.deregister(&old).unwrap().is_empty(),
        "a stale source deregisters to nothing"
    );
    assert_eq!(r.len(), 1, "and leaves the new registration alone");
    drop(keep);
    assert_eq!(r.remove_reader(fd).unwrap(), Some("new reader"));
}

#[test]
fn closed_and_reused_descriptors() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    each_backend(|kind| {
        closed_then_removed_then_reused(kind);
        closed_with_both_directions(kind);
        stale_event_of_a_dup_is_never_reported(kind);
        stale_source_event_is_never_reported(kind);
    });
}

/// A source whose descriptor was closed and whose number was reused before
/// `deregister`: the kernel answers the deletion with ENOENT (not EBADF);
/// `deregister` must still forget the source and hand back its wakers, or
/// the waiting task would never be woken.
#[test]
fn deregister_after_close_and_reuse_hands_back_the_wakers() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    each_backend(|kind| {
        let mut r: Reactor<&'static str> = reactor(kind);
        let (a, _a_peer) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let source = r.register(a.as_fd()).unwrap();
        let (count, waker) = Counter::waker();
        source.clear_ready(Interest::READ);
        assert!(
            source
                .poll_ready(Interest::READ, &mut Context::from_waker(&waker))
                .is_pending()
        );
        drop(a);
        let (_c, _c_peer) = pair_at(fd);
        let woken = r
            .deregister(&source)
            .expect("deregister after close is not an error");
        assert_eq!(woken.len(), 1, "the waiting task must be handed back");
        woken.into_iter().for_each(Waker::wake);
        assert_eq!(count.count(), 1);
        assert!(r.is_empty());
    });
}
