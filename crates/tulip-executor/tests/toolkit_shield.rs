//! `shield`: the inner task survives the cancellation of the outer await
//! and runs to completion; cancelling the inner itself is seen by the
//! awaiter, and a timeout around the shield leaves the inner running.
//! Virtual clock.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use tulip_executor::{EventLoop, TaskRef, shield, sleep, spawn, yield_now};

#[test]
fn inner_survives_outer_cancellation() {
    let el = EventLoop::builder().paused_clock(true).build().unwrap();
    let finished = Rc::new(Cell::new(false));
    let f = finished.clone();
    el.run_until_complete(async move {
        let inner: Rc<Cell<Option<TaskRef>>> = Rc::new(Cell::new(None));
        let i = inner.clone();
        let outer = spawn(async move {
            let s = shield(async move {
                sleep(Duration::from_secs(5)).await;
                f.set(true);
                42
            });
            i.set(Some(s.task().task_ref()));
            s.await
        });
        sleep(Duration::from_secs(1)).await;
        outer.cancel();
        assert!(outer.await.unwrap_err().is_cancelled());
        let inner = inner.take().unwrap();
        assert!(!inner.done() && !inner.cancelled());
        sleep(Duration::from_secs(10)).await;
        assert!(inner.done() && !inner.cancelled());
    })
    .unwrap();
    assert!(finished.get());
}

#[test]
fn value_and_inner_cancellation() {
    let el = EventLoop::builder().paused_clock(true).build().unwrap();
    el.run_until_complete(async {
        assert_eq!(shield(async { 1 }).await.unwrap(), 1);
        let s = shield(sleep(Duration::from_secs(5)));
        s.task().cancel();
        yield_now().await;
        assert!(s.await.unwrap_err().is_cancelled());
    })
    .unwrap();
}

#[test]
fn a_panic_of_the_inner_after_the_outer_was_cancelled_is_not_reported() {
    // asyncio's shield marks the inner's exception retrieved once the
    // outer is cancelled.
    let el = EventLoop::builder().paused_clock(true).build().unwrap();
    let seen = common::capture_exceptions(&el.handle());
    el.run_until_complete(async {
        let outer = spawn(shield(async {
            sleep(Duration::from_secs(5)).await;
            if true {
                panic!("inner fails after the outer is gone");
            }
        }));
        sleep(Duration::from_secs(1)).await;
        outer.cancel();
        assert!(outer.await.unwrap_err().is_cancelled());
        sleep(Duration::from_secs(10)).await;
    })
    .unwrap();
    assert!(seen.borrow().is_empty());
}

#[test]
fn inner_survives_a_timeout_around_the_shield() {
    // wait_for cancels a task it awaits, but not through a shield: the
    // shield's inner runs on, as asyncio's `wait_for(shield(t), d)`.
    let el = EventLoop::builder().paused_clock(true).build().unwrap();
    el.run_until_complete(async {
        let shielded = shield(async {
            sleep(Duration::from_secs(5)).await;
            "kept"
        });
        let probe = shielded.task().task_ref();
        let r = tulip_executor::wait_for(shielded, Duration::from_secs(1)).await;
        assert!(r.unwrap_err().is_timeout());
        assert!(!probe.done(), "the shielded task was not cancelled");
        sleep(Duration::from_secs(5)).await;
        assert!(probe.done() && !probe.cancelled());
    })
    .unwrap();
}
