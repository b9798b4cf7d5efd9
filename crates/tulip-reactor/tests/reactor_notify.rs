//! The cross-thread `tulip::reactor::Notifier` on both backends: a
//! notification wakes a poll blocked with no timeout, a notification made
//! before the poll makes it return at once, a burst of notifications from
//! many threads (coalesced into at most one pending wake-up) leaves the
//! reactor able to block again, and the notifier outlives its reactor.
//!
//! A watchdog aborts the run if a wake-up is lost, instead of hanging it.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::{PATIENCE, Watchdog, each_backend, reactor};
use tulip_reactor::Reactor;

type R = Reactor<&'static str>;

/// Polls once with `timeout`; returns how long it took, checking nothing was
/// reported (a bare notification reports nothing and counts no event).
fn timed_poll(r: &mut R, timeout: Option<Duration>) -> Duration {
    let mut out = Vec::new();
    let start = Instant::now();
    let n = r.poll(timeout, &mut out).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(n, 0, "a notification is not an event");
    assert!(out.is_empty());
    elapsed
}

/// Checks that a poll with `timeout` sleeps its full time: no notification
/// is left pending and nothing makes the poll spin.
fn assert_blocks(r: &mut R, timeout: Duration) {
    let elapsed = timed_poll(r, Some(timeout));
    assert!(
        elapsed >= timeout,
        "{:?}: expected to block {timeout:?}, returned after {elapsed:?}",
        r.backend_kind()
    );
}

/// Checks that a long poll returns promptly (a notification is pending).
fn assert_prompt(r: &mut R) {
    let elapsed = timed_poll(r, Some(PATIENCE * 4));
    assert!(
        elapsed < PATIENCE,
        "{:?}: a pending notification took {elapsed:?}",
        r.backend_kind()
    );
}

#[test]
fn notify_from_another_thread_wakes_a_blocked_poll() {
    each_backend(|kind| {
        let _watchdog = Watchdog::arm(
            Duration::from_secs(30),
            "poll(None) waiting for a notification",
        );
        let mut r: R = reactor(kind);
        let notifier = r.notifier();
        let delay = Duration::from_millis(50);
        let start = Instant::now();
        let thread = thread::spawn(move || {
            thread::sleep(delay);
            notifier.notify()
        });
        let elapsed_total = {
            timed_poll(&mut r, None);
            start.elapsed()
        };
        thread.join().unwrap().unwrap();
        assert!(
            elapsed_total >= delay,
            "{kind:?}: woke after {elapsed_total:?}, before the notification"
        );
        assert!(
            elapsed_total < PATIENCE,
            "{kind:?}: woke after {elapsed_total:?}"
        );
        // The notification was consumed.
        assert_blocks(&mut r, Duration::from_millis(20));
    });
}

#[test]
fn notify_before_poll_makes_it_return_at_once() {
    each_backend(|kind| {
        let _watchdog = Watchdog::arm(Duration::from_secs(30), "notify before poll");
        let mut r: R = reactor(kind);
        let notifier = r.notifier();
        notifier.notify().unwrap();
        assert_prompt(&mut r);
        assert_blocks(&mut r, Duration::from_millis(20));

        // Several notifications before one poll: one prompt return.
        for _ in 0..5 {
            notifier.notify().unwrap();
        }
        assert_prompt(&mut r);
        assert_blocks(&mut r, Duration::from_millis(20));

        // And the same through poll(None).
        notifier.notify().unwrap();
        timed_poll(&mut r, None);
        assert_blocks(&mut r, Duration::from_millis(20));
    });
}

#[test]
fn a_burst_from_many_threads_leaves_the_reactor_able_to_block() {
    each_backend(|kind| {
        let _watchdog = Watchdog::arm(Duration::from_secs(60), "notification burst");
        let mut r: R = reactor(kind);
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let notifier = r.notifier();
                let barrier = barrier.clone();
                thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..1000 {
                        notifier.notify().unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        // Pending: the next poll returns at once ...
        assert_prompt(&mut r);
        // ... and the one after it waits its full timeout: no busy loop.
        assert_blocks(&mut r, Duration::from_millis(50));
        // A later notification is not swallowed by the burst's coalescing.
        let notifier = r.notifier();
        thread::spawn(move || notifier.notify())
            .join()
            .unwrap()
            .unwrap();
        assert_prompt(&mut r);
        assert_blocks(&mut r, Duration::from_millis(20));
    });
}

#[test]
fn a_burst_while_the_reactor_polls_loses_no_wake_up() {
    each_backend(|kind| {
        let _watchdog = Watchdog::arm(Duration::from_secs(60), "notifications racing polls");
        let mut r: R = reactor(kind);
        let done = Arc::new(AtomicBool::new(false));
        let barrier = Arc::new(Barrier::new(9));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let notifier = r.notifier();
                let barrier = barrier.clone();
                thread::spawn(move || {
                    barrier.wait();
                    for j in 0..1000 {
                        notifier.notify().unwrap();
                        if (i + j) % 64 == 0 {
                            thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let waiter = {
            let done = done.clone();
            thread::spawn(move || {
                threads.into_iter().for_each(|t| t.join().unwrap());
                done.store(true, Ordering::SeqCst);
            })
        };
        barrier.wait();
        let mut polls = 0usize;
        while !done.load(Ordering::SeqCst) {
            let mut out = Vec::new();
            r.poll(Some(Duration::from_millis(5)), &mut out).unwrap();
            assert!(out.is_empty());
            polls += 1;
        }
        waiter.join().unwrap();
        assert!(polls > 0);

        // Take whatever the last notifications left pending, then block.
        timed_poll(&mut r, Some(Duration::ZERO));
        assert_blocks(&mut r, Duration::from_millis(50));
        // A notification from a thread after all that still wakes poll(None).
        let notifier = r.notifier();
        let thread = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            notifier.notify()
        });
        timed_poll(&mut r, None);
        thread.join().unwrap().unwrap();
        assert_blocks(&mut r, Duration::from_millis(20));
    });
}

#[test]
fn the_notifier_outlives_its_reactor() {
    each_backend(|kind| {
        let r: R = reactor(kind);
        let notifier = r.notifier();
        drop(r);
        notifier.notify().unwrap();
        notifier.notify().unwrap();
    });
}

#[test]
fn the_notifier_is_shared_by_one_reactor() {
    each_backend(|kind| {
        let _watchdog = Watchdog::arm(Duration::from_secs(30), "shared notifier");
        let mut r: R = reactor(kind);
        let first = r.notifier();
        let second = r.notifier();
        assert!(Arc::ptr_eq(&first, &second), "one notifier per reactor");
        second.notify().unwrap();
        assert_prompt(&mut r);
        first.notify().unwrap();
        assert_prompt(&mut r);
    });
}
