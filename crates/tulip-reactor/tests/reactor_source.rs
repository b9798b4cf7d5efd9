//! Edge-triggered async I/O through [`IoSource`] on both backends: cached
//! readiness, `poll_ready`/`clear_ready`, wakers woken on the next edge (and
//! not again without one), the `AlreadyExists` conflicts between sources and
//! callbacks, and `deregister` handing back the wakers still waiting.

mod common;

use std::io::{ErrorKind, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::{PATIENCE, drain, each_backend, fill, reactor, wakers};
use tulip_reactor::{Interest, IoSource, Reactor, Readiness};
use tulip_test::Counter;

type R = Reactor<&'static str>;

/// Polls without waiting and returns the wakers reported.
fn wakers_now(r: &mut R) -> Vec<Waker> {
    let mut out = Vec::new();
    r.poll(Some(Duration::ZERO), &mut out).unwrap();
    wakers(out)
}

/// Polls until something is reported and returns the wakers.
fn wakers_some(r: &mut R) -> Vec<Waker> {
    let mut out = Vec::new();
    r.poll(Some(PATIENCE), &mut out).unwrap();
    assert!(!out.is_empty(), "no edge within {PATIENCE:?}");
    wakers(out)
}

fn poll_ready(source: &IoSource, interest: Interest, waker: &Waker) -> Poll<()> {
    source.poll_ready(interest, &mut Context::from_waker(waker))
}

/// Registers `fd` and swallows the edge the registration itself reports.
fn registered(r: &mut R, fd: std::os::fd::BorrowedFd<'_>) -> Rc<IoSource> {
    let source = r.register(fd).unwrap();
    assert!(wakers_now(r).is_empty(), "nobody waits yet");
    source
}

#[test]
fn a_new_source_assumes_readiness() {
    each_backend(|kind| {
        let (a, _b) = UnixStream::pair().unwrap();
        let mut r: R = reactor(kind);
        let source = r.register(a.as_fd()).unwrap();
        assert_eq!(source.fd(), a.as_raw_fd());
        assert_eq!(r.len(), 1);
        assert_eq!(
            source.readiness(),
            Readiness {
                readable: true,
                writable: true,
                read_closed: false
            }
        );
        let (count, waker) = Counter::waker();
        assert!(poll_ready(&source, Interest::BOTH, &waker).is_ready());
        source.clear_ready(Interest::READ);
        assert_eq!(
            source.readiness(),
            Readiness {
                readable: false,
                writable: true,
                read_closed: false
            }
        );
        assert!(poll_ready(&source, Interest::WRITE, &waker).is_ready());
        assert!(poll_ready(&source, Interest::BOTH, &waker).is_pending());
        assert_eq!(count.count(), 0);
        r.deregister(&source).unwrap();
    });
}

#[test]
fn read_waker_is_woken_on_the_next_edge_only() {
    each_backend(|kind| {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let mut r: R = reactor(kind);
        let source = registered(&mut r, a.as_fd());
        let (count, waker) = Counter::waker();

        source.clear_ready(Interest::READ);
        assert!(poll_ready(&source, Interest::READ, &waker).is_pending());
        // Polling the same task again stores the waker once.
        assert!(poll_ready(&source, Interest::READ, &waker).is_pending());
        assert!(wakers_now(&mut r).is_empty(), "no edge yet");
        assert!(!source.readiness().readable);

        b.write_all(b"one").unwrap();
        let woken = wakers_some(&mut r);
        assert_eq!(woken.len(), 1);
        assert!(source.readiness().readable, "readiness cached by the poll");
        assert_eq!(count.count(), 0, "the poll only hands the waker out");
        woken.into_iter().for_each(Waker::wake);
        assert_eq!(count.count(), 1);
        assert!(poll_ready(&source, Interest::READ, &waker).is_ready());

        // Edge-triggered: the data is still there, but after `clear_ready`
        // (as if a read had hit EWOULDBLOCK) nothing wakes until a new edge.
        source.clear_ready(Interest::READ);
        assert!(poll_ready(&source, Interest::READ, &waker).is_pending());
        assert!(wakers_now(&mut r).is_empty(), "no new edge");
        let mut out = Vec::new();
        r.poll(Some(Duration::from_millis(20)), &mut out).unwrap();
        assert!(out.is_empty(), "no new edge: {out:?}");

        b.write_all(b"two").unwrap();
        wakers_some(&mut r).into_iter().for_each(Waker::wake);
        assert_eq!(count.count(), 2);
        assert_eq!(drain(&mut a), 6);

        // An edge with nobody waiting wakes nothing but is cached.
        source.clear_ready(Interest::READ);
        b.write_all(b"three").unwrap();
        assert!(wakers_some_or_none(&mut r).is_empty());
        assert!(source.readiness().readable);
        assert_eq!(count.count(), 2);
        r.deregister(&source).unwrap();
    });
}

/// Polls briefly; returns the wakers, if any.
fn wakers_some_or_none(r: &mut R) -> Vec<Waker> {
    let mut out = Vec::new();
    r.poll(Some(Duration::from_millis(20)), &mut out).unwrap();
    wakers(out)
}

#[test]
fn write_waker_is_woken_when_the_buffer_drains() {
    each_backend(|kind| {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let mut r: R = reactor(kind);
        let source = registered(&mut r, a.as_fd());
        let (read_count, read_waker) = Counter::waker();
        let (write_count, write_waker) = Counter::waker();

        fill(&mut a);
        source.clear_ready(Interest::WRITE);
        assert!(poll_ready(&source, Interest::WRITE, &write_waker).is_pending());
        source.clear_ready(Interest::READ);
        assert!(poll_ready(&source, Interest::READ, &read_waker).is_pending());
        assert!(wakers_now(&mut r).is_empty());

        drain(&mut b);
        let woken = wakers_some(&mut r);
        assert_eq!(woken.len(), 1, "only the writer");
        woken.into_iter().for_each(Waker::wake);
        assert_eq!((read_count.count(), write_count.count()), (0, 1));
        assert!(source.readiness().writable);
        assert!(!source.readiness().readable);

        // The reader's waker is still stored, and is woken by data.
        b.write_all(b"x").unwrap();
        let woken = wakers_some(&mut r);
        assert_eq!(woken.len(), 1, "only the reader");
        woken.into_iter().for_each(Waker::wake);
        assert_eq!((read_count.count(), write_count.count()), (1, 1));
        r.deregister(&source).unwrap();
    });
}

#[test]
fn the_peer_closing_is_an_edge_in_both_directions() {
    each_backend(|kind| {
        let (a, b) = UnixStream::pair().unwrap();
        let mut r: R = reactor(kind);
        let source = registered(&mut r, a.as_fd());
        let (read_count, read_waker) = Counter::waker();
        let (write_count, write_waker) = Counter::waker();
        source.clear_ready(Interest::BOTH);
        assert!(poll_ready(&source, Interest::READ, &read_waker).is_pending());
        assert!(poll_ready(&source, Interest::WRITE, &write_waker).is_pending());
        drop(b);
        // A hang-up is readiness both ways: each waiter retries and learns
        // of it from its own system call.
        let woken = wakers_some(&mut r);
        assert_eq!(woken.len(), 2);
        woken.into_iter().for_each(Waker::wake);
        assert_eq!((read_count.count(), write_count.count()), (1, 1));
        // The close is remembered: a short read will not clear readability.
        assert_eq!(
            source.readiness(),
            Readiness {
                readable: true,
                writable: true,
                read_closed: true
            }
        );
        r.deregister(&source).unwrap();
    });
}

#[test]
fn sources_and_callbacks_exclude_each_other() {
    each_backend(|kind| {
        let (a, _b) = UnixStream::pair().unwrap();
        let (c, _d) = UnixStream::pair().unwrap();
        let mut r: R = reactor(kind);
        let source = r.register(a.as_fd()).unwrap();

        let err = r.set_reader(a.as_fd(), "reader").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
        let err = r.set_writer(a.as_fd(), "writer").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
        let err = r.register(a.as_fd()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
        assert_eq!(
            r.remove_reader(a.as_raw_fd()).unwrap(),
            None,
            "a source has no callbacks"
        );
        assert_eq!(r.len(), 1);

        r.set_reader(c.as_fd(), "reader").unwrap();
        let err = r.register(c.as_fd()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
        r.remove_reader(c.as_raw_fd()).unwrap();
        r.set_writer(c.as_fd(), "writer").unwrap();
        let err = r.register(c.as_fd()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
        r.remove_writer(c.as_raw_fd()).unwrap();
        let c_source = r.register(c.as_fd()).unwrap();
        assert_eq!(r.len(), 2);

        // Once deregistered, the descriptor takes callbacks again.
        r.deregister(&source).unwrap();
        assert_eq!(r.set_reader(a.as_fd(), "reader").unwrap(), None);
        assert_eq!(r.len(), 2);
        r.deregister(&c_source).unwrap();
        r.remove_reader(a.as_raw_fd()).unwrap();
        assert!(r.is_empty());
    });
}

#[test]
fn deregister_returns_the_waiting_wakers_and_stops_reporting() {
    each_backend(|kind| {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut r: R = reactor(kind);
        let source = registered(&mut r, a.as_fd());
        let (read_count, read_waker) = Counter::waker();
        let (write_count, write_waker) = Counter::waker();
        source.clear_ready(Interest::BOTH);
        assert!(poll_ready(&source, Interest::READ, &read_waker).is_pending());
        assert!(poll_ready(&source, Interest::WRITE, &write_waker).is_pending());

        let woken = r.deregister(&source).unwrap();
        assert_eq!(woken.len(), 2);
        assert_eq!(
            (read_count.count(), write_count.count()),
            (0, 0),
            "handed back, not woken"
        );
        woken.into_iter().for_each(Waker::wake);
        assert_eq!((read_count.count(), write_count.count()), (1, 1));
        assert!(r.is_empty());
        assert_eq!(
            source.readiness(),
            Readiness {
                readable: true,
                writable: true,
                read_closed: true
            },
            "waiters retry"
        );

        assert!(r.deregister(&source).unwrap().is_empty(), "twice: nothing");
        assert!(r.is_empty());

        // No longer watched.
        b.write_all(b"x").unwrap();
        let mut out = Vec::new();
        assert_eq!(
            r.poll(Some(Duration::from_millis(20)), &mut out).unwrap(),
            0
        );
        assert!(out.is_empty());

        // Nobody waiting: nothing to hand back.
        let again = r.register(a.as_fd()).unwrap();
        assert!(r.deregister(&again).unwrap().is_empty());

        // Registering again gives a new source; the old one is stale and
        // deregistering it leaves the new one alone.
        let fresh = registered(&mut r, a.as_fd());
        assert!(r.deregister(&source).unwrap().is_empty());
        assert_eq!(r.len(), 1);
        let (count, waker) = Counter::waker();
        drain_unix(&a);
        fresh.clear_ready(Interest::READ);
        assert!(poll_ready(&fresh, Interest::READ, &waker).is_pending());
        b.write_all(b"y").unwrap();
        wakers_some(&mut r).into_iter().for_each(Waker::wake);
        assert_eq!(count.count(), 1);
        r.deregister(&fresh).unwrap();
    });
}

/// Drains a shared socket.
fn drain_unix(a: &UnixStream) {
    let mut a = a.try_clone().unwrap();
    drain(&mut a);
}

/// Whether `peer` sees its other end closed within [`PATIENCE`] (a plain
/// `poll(2)`, outside the reactor).
fn sees_hang_up(peer: &UnixStream) -> bool {
    let mut pfd = libc::pollfd {
        fd: peer.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, PATIENCE.as_millis() as i32) };
    n == 1 && pfd.revents & (libc::POLLHUP | libc::POLLIN) != 0
}

/// A descriptor registered, deregistered and closed before the reactor
/// polls at all (io_uring: the multishot poll and its cancel go to the
/// kernel together, while the poll's first report is pending) is closed for
/// real: the peer sees the hang-up, no poll of the reactor needed. Likewise
/// for a level-triggered reader removed at once.
#[test]
fn a_watch_removed_before_any_poll_lets_the_socket_close() {
    each_backend(|kind| {
        let mut r: R = reactor(kind);
        let (a, peer) = UnixStream::pair().unwrap();
        let source = r.register(a.as_fd()).unwrap();
        r.deregister(&source).unwrap();
        drop(a);
        assert!(sees_hang_up(&peer), "{kind:?}: the socket stayed open");

        let (b, peer) = UnixStream::pair().unwrap();
        (&peer).write_all(b"x").unwrap();
        r.set_reader(b.as_fd(), "b reader").unwrap();
        r.poll(Some(PATIENCE), &mut Vec::new()).unwrap();
        r.remove_reader(b.as_raw_fd()).unwrap();
        drop(b);
        assert!(sees_hang_up(&peer), "{kind:?}: the socket stayed open");
        assert!(r.is_empty());
    });
}
