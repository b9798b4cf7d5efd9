//! Poll timeouts on both backends: zero just looks, a sub-millisecond timeout
//! is honoured (never cut short, not rounded up to a scheduler tick of tens of
//! milliseconds), a longer one is never cut short, and an idle poll reports
//! nothing. Lower bounds are exact; upper bounds have generous slack.

mod common;

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::{each_backend, reactor};
use tulip_reactor::Reactor;

/// Polls once with `timeout`; returns how long it took, checking it saw
/// nothing.
fn timed_poll(r: &mut Reactor<&'static str>, timeout: Duration) -> Duration {
    let mut out = Vec::new();
    let start = Instant::now();
    let n = r.poll(Some(timeout), &mut out).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(n, 0, "no event expected");
    assert!(out.is_empty());
    elapsed
}

#[test]
fn zero_timeout_returns_at_once() {
    each_backend(|kind| {
        let mut r = reactor(kind);
        let (a, _b) = UnixStream::pair().unwrap();
        r.set_reader(a.as_fd(), "read a").unwrap();
        for _ in 0..10 {
            let elapsed = timed_poll(&mut r, Duration::ZERO);
            assert!(
                elapsed < Duration::from_millis(50),
                "zero timeout took {elapsed:?}"
            );
        }
    });
}

#[test]
fn zero_timeout_still_reports_what_is_ready() {
    each_backend(|kind| {
        let mut r = reactor(kind);
        let (a, mut b) = UnixStream::pair().unwrap();
        r.set_reader(a.as_fd(), "read a").unwrap();
        b.write_all(b"x").unwrap();
        let mut out = Vec::new();
        assert_eq!(r.poll(Some(Duration::ZERO), &mut out).unwrap(), 1);
        assert_eq!(common::callbacks(out), ["read a"]);
    });
}

#[test]
fn sub_millisecond_timeout_is_honoured() {
    each_backend(|kind| {
        let mut r = reactor(kind);
        let timeout = Duration::from_micros(300);
        for _ in 0..5 {
            let elapsed = timed_poll(&mut r, timeout);
            assert!(
                elapsed >= timeout,
                "{kind:?}: a 300µs poll returned after {elapsed:?}"
            );
            assert!(
                elapsed < Duration::from_millis(50),
                "{kind:?}: a 300µs poll took {elapsed:?}"
            );
        }
    });
}

#[test]
fn millisecond_timeouts_are_never_cut_short() {
    each_backend(|kind| {
        let mut r = reactor(kind);
        for ms in [1, 5, 20] {
            let timeout = Duration::from_millis(ms);
            let elapsed = timed_poll(&mut r, timeout);
            assert!(
                elapsed >= timeout,
                "{kind:?}: a {timeout:?} poll returned after {elapsed:?}"
            );
            assert!(
                elapsed < timeout + Duration::from_secs(1),
                "{kind:?}: took {elapsed:?}"
            );
        }
        // Odd values that do not round to a millisecond.
        let timeout = Duration::from_nanos(2_500_001);
        let elapsed = timed_poll(&mut r, timeout);
        assert!(
            elapsed >= timeout,
            "{kind:?}: a {timeout:?} poll returned after {elapsed:?}"
        );
    });
}

#[test]
fn idle_registrations_do_not_cut_a_timeout_short() {
    each_backend(|kind| {
        let mut r = reactor(kind);
        let (a, _b) = UnixStream::pair().unwrap();
        let (c, _d) = UnixStream::pair().unwrap();
        r.set_reader(a.as_fd(), "read a").unwrap();
        let source = r.register(c.as_fd()).unwrap();
        // Swallow the registration's own edge.
        let mut out = Vec::new();
        r.poll(Some(Duration::ZERO), &mut out).unwrap();
        let timeout = Duration::from_millis(20);
        let elapsed = timed_poll(&mut r, timeout);
        assert!(elapsed >= timeout, "{kind:?}: returned after {elapsed:?}");
        r.deregister(&source).unwrap();
    });
}
