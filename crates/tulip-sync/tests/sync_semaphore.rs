//! `Semaphore` and `BoundedSemaphore`: FIFO order, `locked()`, permits and
//! explicit release, over-release errors, and cancellation at wake-up.

mod common;

use common::{pending, ready};
use std::cell::RefCell;
use std::rc::Rc;
use tulip_sync::{BoundedSemaphore, Error, Semaphore};

#[test]
fn waiters_get_permits_in_fifo_order() {
    tulip_executor::run(async {
        let sem = Semaphore::new(2);
        let order = Rc::new(RefCell::new(Vec::new()));
        let held = (sem.acquire().await, sem.acquire().await);
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let (sem, order) = (sem.clone(), order.clone());
                tulip_executor::spawn(async move {
                    let _p = sem.acquire().await;
                    order.borrow_mut().push(i);
                    tulip_executor::yield_now().await;
                })
            })
            .collect();
        tulip_executor::yield_now().await;
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.borrow(), (0..10).collect::<Vec<_>>());
        assert_eq!(sem.value(), 2);
    })
    .unwrap();
}

#[test]
fn locked_means_an_acquire_would_wait() {
    let sem = Semaphore::new(1);
    assert!(!sem.locked());
    let p = sem.try_acquire().unwrap();
    assert!(sem.locked());
    let mut waiter = sem.acquire();
    pending(&mut waiter);
    drop(p);
    // Handed to the waiter: still locked, the counter stays at zero.
    assert!(sem.locked());
    assert_eq!(sem.value(), 0);
    assert!(sem.try_acquire().is_none());
    drop(ready(&mut waiter));
    assert!(!sem.locked());
    assert_eq!(sem.value(), 1);
}

#[test]
fn forget_and_explicit_release() {
    let sem = Semaphore::new(1);
    sem.try_acquire().unwrap().forget();
    assert_eq!(sem.value(), 0);
    sem.release();
    assert_eq!(sem.value(), 1);
    // An unbounded semaphore may grow.
    sem.release();
    assert_eq!(sem.value(), 2);
}

#[test]
fn bounded_semaphore_over_release_is_an_error() {
    let sem = BoundedSemaphore::new(2);
    assert_eq!(sem.release(), Err(Error::ReleasedTooManyTimes));
    sem.try_acquire().unwrap().forget();
    assert_eq!(sem.release(), Ok(()));
    assert_eq!(sem.release(), Err(Error::ReleasedTooManyTimes));
    assert_eq!(sem.value(), 2);
    // A permit's drop never exceeds the bound either.
    let p = sem.try_acquire().unwrap();
    assert_eq!(sem.release(), Ok(()));
    drop(p);
    assert_eq!(sem.value(), 2);
    assert_eq!(
        Error::ReleasedTooManyTimes.to_string(),
        "BoundedSemaphore released too many times"
    );
}

#[test]
fn bounded_release_hands_over_to_waiters() {
    let sem = BoundedSemaphore::new(1);
    sem.try_acquire().unwrap().forget();
    let mut waiter = sem.acquire();
    pending(&mut waiter);
    assert_eq!(sem.release(), Ok(()));
    let p = ready(&mut waiter);
    assert_eq!(sem.value(), 0);
    drop(p);
    assert_eq!(sem.value(), 1);
}

#[test]
fn cancel_at_wake_up_passes_the_permit_on_10000_times() {
    let sem = Semaphore::new(3);
    for round in 0..10_000 {
        let held: Vec<_> = (0..3).map(|_| sem.try_acquire().unwrap()).collect();
        let mut waiters: Vec<_> = (0..5).map(|_| sem.acquire()).collect();
        for w in &mut waiters {
            pending(w);
        }
        drop(held); // grants waiters 0, 1, 2
        // Drop a granted waiter and, on odd rounds, a queued one.
        let granted = waiters.remove(round % 3);
        drop(granted);
        if round % 2 == 1 {
            drop(waiters.pop());
        }
        let permits: Vec<_> = waiters.iter_mut().take(3).map(ready).collect();
        assert_eq!(sem.value(), 0, "round {round}");
        drop(permits);
        drop(waiters);
        assert_eq!(sem.value(), 3, "round {round}");
        assert!(!sem.locked());
    }
}

/// `Semaphore::new(usize::MAX)` is the "unlimited" idiom: releasing more
/// saturates instead of overflowing (no panic, no wrap to zero).
#[test]
fn an_unlimited_semaphore_saturates_on_release() {
    let s = Semaphore::new(usize::MAX);
    s.release();
    assert_eq!(s.value(), usize::MAX);
    assert!(!s.locked());
    let permit = s.try_acquire();
    assert!(permit.is_some());
}
