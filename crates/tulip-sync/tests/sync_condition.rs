//! `Condition`: FIFO notification, `notify(n)`/`notify_all`, `wait_for`,
//! misuse with another lock's guard as a typed error, a shared lock, and
//! cancellation at wake-up passing the notification on.

mod common;

use common::{pending, poll_once, ready};
use std::cell::{Cell, RefCell};
use std::pin::pin;
use std::rc::Rc;
use tulip_sync::{Condition, Error, Lock};

#[test]
fn notify_wakes_waiters_in_fifo_order() {
    tulip_executor::run(async {
        let cond = Condition::new();
        let order = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let (cond, order) = (cond.clone(), order.clone());
                tulip_executor::spawn(async move {
                    let g = cond.acquire().await;
                    let _g = cond.wait(g).await.unwrap();
                    order.borrow_mut().push(i);
                })
            })
            .collect();
        tulip_executor::yield_now().await;
        tulip_executor::yield_now().await;
        for _ in 0..10 {
            let g = cond.acquire().await;
            assert_eq!(cond.notify(&g, 1), Ok(1));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.borrow(), (0..10).collect::<Vec<_>>());
    })
    .unwrap();
}

#[test]
fn wait_releases_and_reacquires_the_lock() {
    let cond = Condition::new();
    let g = cond.lock().try_acquire().unwrap();
    let mut w = cond.wait(g);
    pending(&mut w);
    assert!(!cond.locked(), "waiting releases the lock");
    let g2 = cond.lock().try_acquire().unwrap();
    assert_eq!(cond.notify(&g2, 5), Ok(1));
    pending(&mut w); // notified, but the lock is held
    drop(g2);
    let g = ready(&mut w).unwrap();
    assert!(cond.locked());
    drop(g);
    assert!(!cond.locked());
}

#[test]
fn notify_n_and_notify_all_count() {
    let cond = Condition::new();
    let mut waiters = Vec::new();
    for _ in 0..5 {
        let g = cond.lock().try_acquire().unwrap();
        let mut w = cond.wait(g);
        pending(&mut w);
        waiters.push(w);
    }
    let g = cond.lock().try_acquire().unwrap();
    assert_eq!(cond.notify(&g, 2), Ok(2));
    assert_eq!(cond.notify(&g, 0), Ok(0));
    assert_eq!(cond.notify_all(&g), Ok(3));
    assert_eq!(cond.notify_all(&g), Ok(0));
    drop(g);
    for w in &mut waiters {
        drop(ready(w).unwrap());
    }
}

#[test]
fn another_locks_guard_is_a_typed_error() {
    let cond = Condition::new();
    let other = Lock::new();
    let g = other.try_acquire().unwrap();
    assert_eq!(cond.notify(&g, 1), Err(Error::NotOwner));
    assert_eq!(cond.notify_all(&g), Err(Error::NotOwner));
    assert!(matches!(ready(&mut cond.wait(g)), Err(Error::NotOwner)));
    // The condition's own lock was never touched.
    assert!(!cond.locked());
    let g = other.try_acquire().unwrap();
    let mut wf = pin!(cond.wait_for(g, || true));
    assert!(matches!(
        poll_once(&mut wf),
        std::task::Poll::Ready(Err(Error::NotOwner))
    ));
    assert_eq!(
        Error::NotOwner.to_string(),
        "lock is not acquired by the caller"
    );
}

#[test]
fn a_condition_over_a_shared_lock() {
    let lock = Lock::new();
    let cond = Condition::with_lock(lock.clone());
    let g = lock.try_acquire().unwrap();
    assert!(cond.locked());
    assert_eq!(cond.notify(&g, 1), Ok(0));
    let mut w = cond.wait(g);
    pending(&mut w);
    assert!(!lock.locked());
}

#[test]
fn wait_for_checks_the_predicate_after_each_wake_up() {
    tulip_executor::run(async {
        let cond = Condition::new();
        let value = Rc::new(Cell::new(0));
        let waiter = tulip_executor::spawn({
            let (cond, value) = (cond.clone(), value.clone());
            async move {
                let g = cond.acquire().await;
                let _g = cond.wait_for(g, || value.get() >= 3).await.unwrap();
                value.get()
            }
        });
        for _ in 0..3 {
            tulip_executor::yield_now().await;
            let g = cond.acquire().await;
            value.set(value.get() + 1);
            cond.notify_all(&g).unwrap();
        }
        assert_eq!(waiter.await.unwrap(), 3);
    })
    .unwrap();
}

#[test]
fn cancel_at_wake_up_passes_the_notification_on_10000_times() {
    let cond = Condition::new();
    for round in 0..10_000 {
        let mut first = cond.wait(cond.lock().try_acquire().unwrap());
        pending(&mut first);
        let mut second = cond.wait(cond.lock().try_acquire().unwrap());
        pending(&mut second);
        let g = cond.lock().try_acquire().unwrap();
        assert_eq!(cond.notify(&g, 1), Ok(1));
        if round % 2 == 1 {
            // Notified, now queued for the lock `g` holds: dropped while
            // re-acquiring, the wake-up still passes on.
            pending(&mut first);
        }
        drop(first);
        drop(g);
        drop(ready(&mut second).unwrap());
        assert!(!cond.locked(), "round {round}");
    }
}
