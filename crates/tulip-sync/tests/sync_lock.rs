//! `Lock`: FIFO acquisition, no barging, RAII release, and cancellation at
//! the moment of wake-up handing the lock on.

mod common;

use common::{pending, poll_with, ready};
use std::cell::RefCell;
use std::rc::Rc;
use tulip_sync::Lock;
use tulip_test::Counter;

#[test]
fn tasks_acquire_in_fifo_order() {
    tulip_executor::run(async {
        let lock = Lock::new();
        let order = Rc::new(RefCell::new(Vec::new()));
        let guard = lock.acquire().await;
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let (lock, order) = (lock.clone(), order.clone());
                tulip_executor::spawn(async move {
                    let _g = lock.acquire().await;
                    order.borrow_mut().push(i);
                    tulip_executor::yield_now().await;
                })
            })
            .collect();
        // Let every task queue up behind the held lock.
        tulip_executor::yield_now().await;
        drop(guard);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.borrow(), (0..20).collect::<Vec<_>>());
        assert!(!lock.locked());
    })
    .unwrap();
}

#[test]
fn release_hands_over_and_late_arrivals_do_not_barge() {
    let lock = Lock::new();
    let guard = lock.try_acquire().unwrap();
    let mut waiter = lock.acquire();
    pending(&mut waiter);
    drop(guard);
    // The lock went to the waiter: it stays locked, nobody else gets it.
    assert!(lock.locked());
    assert!(lock.try_acquire().is_none());
    let mut late = lock.acquire();
    pending(&mut late);
    let g = ready(&mut waiter);
    drop(g);
    let g = ready(&mut late);
    assert!(lock.locked());
    drop(g);
    assert!(!lock.locked());
}

#[test]
fn waker_is_woken_exactly_once_on_hand_over() {
    let lock = Lock::new();
    let guard = lock.try_acquire().unwrap();
    let (counter, waker) = Counter::waker();
    let mut waiter = lock.acquire();
    assert!(poll_with(&mut waiter, &waker).is_pending());
    drop(guard);
    assert_eq!(counter.count(), 1);
    assert!(poll_with(&mut waiter, &waker).is_ready());
}

#[test]
fn cancel_at_wake_up_passes_the_lock_on_10000_times() {
    let lock = Lock::new();
    for i in 0..10_000 {
        let guard = lock.try_acquire().expect("lock is free between rounds");
        let mut first = lock.acquire();
        let mut second = lock.acquire();
        let mut third = lock.acquire();
        pending(&mut first);
        pending(&mut second);
        pending(&mut third);
        drop(guard); // grants `first`
        if i % 2 == 0 {
            drop(first); // granted and dropped before it ran
            let g = ready(&mut second);
            pending(&mut third);
            drop(g);
        } else {
            drop(second); // a plain queued waiter leaves too
            drop(first);
        }
        let g = ready(&mut third);
        drop(g);
        assert!(!lock.locked(), "round {i}");
    }
}

#[test]
fn dropping_a_waiter_that_never_ran_leaves_the_lock_free() {
    let lock = Lock::new();
    let mut a = lock.acquire();
    drop(ready(&mut a));
    drop(a);
    let never_polled = lock.acquire();
    drop(never_polled);
    assert!(!lock.locked());
    let g = lock.try_acquire().unwrap();
    assert!(g.lock().ptr_eq(&lock));
}

#[test]
fn cancelled_tasks_lose_nothing() {
    tulip_executor::run(async {
        let lock = Lock::new();
        for _ in 0..1_000 {
            let guard = lock.acquire().await;
            let a = tulip_executor::spawn({
                let lock = lock.clone();
                async move { drop(lock.acquire().await) }
            });
            let b = tulip_executor::spawn({
                let lock = lock.clone();
                async move { drop(lock.acquire().await) }
            });
            tulip_executor::yield_now().await;
            // Grant `a` and cancel it in the same pass, before it runs.
            drop(guard);
            a.cancel();
            assert!(b.await.is_ok());
            let _ = a.await;
            assert!(!lock.locked());
        }
    })
    .unwrap();
}
