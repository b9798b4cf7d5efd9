//! `Event`: set/clear/is_set/wait, wake-ups surviving a clear, dropped
//! waiters, and 100,000 waiters released by one set without quadratic cost.

mod common;

use common::{pending, poll_with, ready};
use tulip_sync::Event;
use tulip_test::Counter;

#[test]
fn set_clear_is_set() {
    let event = Event::new();
    assert!(!event.is_set());
    let mut w = event.wait();
    pending(&mut w);
    event.set();
    assert!(event.is_set());
    ready(&mut w);
    // Already set: ready at once.
    ready(&mut event.wait());
    event.clear();
    assert!(!event.is_set());
    pending(&mut event.wait());
}

#[test]
fn a_waiter_woken_by_set_returns_even_after_clear() {
    let event = Event::new();
    let mut w = event.wait();
    pending(&mut w);
    event.set();
    event.clear();
    ready(&mut w);
    let mut later = event.wait();
    pending(&mut later);
}

#[test]
fn dropped_waiters_leave_and_are_not_woken() {
    let event = Event::new();
    let (counter, waker) = Counter::waker();
    let mut waiters: Vec<_> = (0..10).map(|_| event.wait()).collect();
    for w in &mut waiters {
        assert!(poll_with(w, &waker).is_pending());
    }
    waiters.drain(2..7);
    event.set();
    assert_eq!(counter.count(), 5);
    for w in &mut waiters {
        ready(w);
    }
}

#[test]
fn one_hundred_thousand_waiters_released_by_one_set() {
    const N: usize = 100_000;
    let event = Event::new();
    let (counter, waker) = Counter::waker();
    let mut waiters: Vec<_> = (0..N).map(|_| event.wait()).collect();
    for w in &mut waiters {
        assert!(poll_with(w, &waker).is_pending());
    }
    // Every other waiter is dropped first: each removal must be O(1).
    let mut kept: Vec<_> = waiters
        .into_iter()
        .enumerate()
        .filter_map(|(i, w)| (i % 2 == 0).then_some(w))
        .collect();
    event.set();
    assert_eq!(counter.count(), N / 2, "every remaining waiter woken once");
    for w in &mut kept {
        assert!(poll_with(w, &waker).is_ready());
    }
}

#[test]
fn ten_thousand_tasks_wait_on_one_event() {
    tulip_executor::run(async {
        let event = Event::new();
        let tasks: Vec<_> = (0..10_000)
            .map(|i| {
                let event = event.clone();
                tulip_executor::spawn(async move {
                    event.wait().await;
                    i
                })
            })
            .collect();
        tulip_executor::yield_now().await;
        event.set();
        let mut sum = 0;
        for t in tasks {
            sum += t.await.unwrap();
        }
        assert_eq!(sum, (0..10_000).sum::<usize>());
    })
    .unwrap();
}
