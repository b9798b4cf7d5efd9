//! Helpers shared by the reactor integration tests: running a test on every
//! backend, polling and sorting out what a poll reported, a watchdog
//! against hangs, and filling and draining real sockets. The counting
//! waker comes from `tulip-test`. The completion tests' helpers are in `ops`.

// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::task::Waker;
use std::thread;
use std::time::Duration;

use tulip_reactor::{BackendKind, Dispatch, Reactor};

pub mod ops;

/// Every backend, in the order every test runs them.
pub const BACKENDS: [BackendKind; 3] =
    [BackendKind::Epoll, BackendKind::Polling, BackendKind::Uring];

/// How long a poll that expects an event may wait before the test gives up
/// (it returns as soon as the event is there).
pub const PATIENCE: Duration = Duration::from_secs(5);

/// Runs `test` once per backend, naming the backend if it panics.
pub fn each_backend(mut test: impl FnMut(BackendKind)) {
    for kind in BACKENDS {
        eprintln!("-- backend {kind:?}");
        test(kind);
    }
}

/// Opens a reactor of `kind` and checks that it is the backend asked for (on
/// Linux all three are available, so there is no fallback).
pub fn reactor<C: Clone>(kind: BackendKind) -> Reactor<C> {
    let reactor = Reactor::new(kind).expect("open reactor");
    if std::env::consts::OS == "linux" {
        assert_eq!(
            reactor.backend_kind(),
            kind,
            "the backend asked for is the one in use"
        );
    }
    reactor
}

/// The callbacks of a poll's output, in order; panics on a waker.
pub fn callbacks<C: std::fmt::Debug>(out: Vec<Dispatch<C>>) -> Vec<C> {
    out.into_iter()
        .map(|d| match d {
            Dispatch::Callback(c) => c,
            Dispatch::Waker(w) => panic!("unexpected waker {w:?}"),
            Dispatch::Completion(_, c) => panic!("unexpected completion {c:?}"),
        })
        .collect()
}

/// The wakers of a poll's output, in order; panics on a callback.
pub fn wakers<C: std::fmt::Debug>(out: Vec<Dispatch<C>>) -> Vec<Waker> {
    out.into_iter()
        .map(|d| match d {
            Dispatch::Waker(w) => w,
            Dispatch::Callback(c) => panic!("unexpected callback {c:?}"),
            Dispatch::Completion(_, c) => panic!("unexpected completion {c:?}"),
        })
        .collect()
}

/// Polls without waiting and returns the callbacks reported.
pub fn poll_now<C: Clone + std::fmt::Debug>(reactor: &mut Reactor<C>) -> Vec<C> {
    let mut out = Vec::new();
    reactor.poll(Some(Duration::ZERO), &mut out).expect("poll");
    callbacks(out)
}

/// Polls until something is reported (at most [`PATIENCE`]) and returns the
/// callbacks reported; panics if the poll timed out.
pub fn poll_some<C: Clone + std::fmt::Debug>(reactor: &mut Reactor<C>) -> Vec<C> {
    let mut out = Vec::new();
    reactor.poll(Some(PATIENCE), &mut out).expect("poll");
    assert!(!out.is_empty(), "nothing became ready within {PATIENCE:?}");
    callbacks(out)
}

/// Aborts the test process if it is still alive after a deadline, so that a
/// lost wake-up fails the run instead of hanging it. Disarmed when dropped.
pub struct Watchdog {
    _disarm: mpsc::Sender<()>,
}

impl Watchdog {
    /// Arms a watchdog for `limit`, naming `what` if it fires.
    pub fn arm(limit: Duration, what: &'static str) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("watchdog: `{what}` still blocked after {limit:?}; aborting");
                std::process::abort();
            }
        });
        Watchdog { _disarm: tx }
    }
}

/// Writes into the non-blocking `stream` until the kernel refuses more;
/// returns how many bytes went in.
pub fn fill(stream: &mut UnixStream) -> usize {
    stream.set_nonblocking(true).expect("set_nonblocking");
    let chunk = [0x5au8; 64 * 1024];
    let mut total = 0;
    loop {
        match stream.write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return total,
            Err(e) => panic!("fill: {e}"),
        }
    }
}

/// Reads from the non-blocking `stream` until nothing is left; returns how
/// many bytes came out.
pub fn drain(stream: &mut UnixStream) -> usize {
    stream.set_nonblocking(true).expect("set_nonblocking");
    let mut buf = [0u8; 64 * 1024];
    let mut total = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return total,
            Err(e) => panic!("drain: {e}"),
        }
    }
}
