//! Task cancellation as asyncio's `Task.cancel` with Rust's drop as
//! `finally`: cancelling drops the task's future at its next poll (its
//! destructors run) and awaiting the task yields `Error::Cancelled`; a task
//! cancelled before its first poll never runs its body; `cancelling()` and
//! `uncancel()` count requests, and withdrawing the last one before the next
//! poll withdraws the cancellation; a task that cancels itself completes as
//! cancelled at its next suspension.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::{drop_flag, new_log, run_once};
use tulip_executor::{Error, EventLoop, current_task, sleep, yield_now};

#[test]
fn cancel_drops_the_future_and_awaiting_yields_cancelled() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (flag, dropped) = drop_flag();
    let after = Rc::new(Cell::new(false));
    let a = after.clone();
    let (result, d) = el
        .run_until_complete(async move {
            let task = lp.create_task(async move {
                let _guard = flag;
                sleep(Duration::from_secs(3600)).await;
                a.set(true);
                "finished"
            });
            yield_now().await; // let it start and suspend
            assert!(!dropped.get());
            assert!(task.cancel());
            assert!(
                !task.done(),
                "cancel() asks; the task ends at its next poll"
            );
            (task.await, dropped)
        })
        .unwrap();
    assert!(matches!(result, Err(Error::Cancelled)));
    assert!(d.get(), "the future's destructors ran");
    assert!(!after.get());
}

#[test]
fn a_cancelled_task_reports_its_state() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let task = lp.create_task(sleep(Duration::from_secs(3600)));
    run_once(&el);
    assert!(task.cancel());
    assert!(task.cancel(), "a second request while pending counts too");
    assert_eq!(task.cancelling(), 2);
    run_once(&el);
    assert!(task.done());
    assert!(task.cancelled());
    assert!(!task.panicked());
    assert!(!task.cancel(), "cancel on a done task reports false");
    assert!(format!("{task:?}").contains("cancelled"));
}

#[test]
fn cancel_before_the_first_poll_never_runs_the_body() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let started = Rc::new(Cell::new(false));
    let (flag, dropped) = drop_flag();
    let s = started.clone();
    let mut task = lp.create_task(async move {
        let _guard = flag;
        s.set(true);
    });
    assert!(task.cancel());
    run_once(&el);
    assert!(!started.get());
    assert!(dropped.get(), "the unpolled future is dropped");
    assert!(task.cancelled());
    assert!(matches!(task.result(), Err(Error::Cancelled)));
}

#[test]
fn uncancel_counts_and_withdrawing_every_request_withdraws_the_cancellation() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let out = el
        .run_until_complete(async move {
            let task = lp.create_task(async {
                sleep(Duration::from_millis(5)).await;
                "survived"
            });
            yield_now().await;
            assert_eq!(task.cancelling(), 0);
            task.cancel();
            task.cancel();
            assert_eq!(task.cancelling(), 2);
            assert_eq!(task.uncancel(), 1);
            assert_eq!(task.cancelling(), 1);
            assert_eq!(task.uncancel(), 0);
            assert_eq!(task.uncancel(), 0, "never below zero");
            task.await
        })
        .unwrap();
    assert_eq!(out.unwrap(), "survived");
}

#[test]
fn uncancel_before_the_first_poll_lets_the_body_run() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let mut task = lp.create_task(async { 7 });
    task.cancel();
    assert_eq!(task.uncancel(), 0);
    run_once(&el);
    assert_eq!(task.result().unwrap(), 7);
}

#[test]
fn a_partial_uncancel_still_cancels() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let mut task = lp.create_task(sleep(Duration::from_secs(3600)));
    run_once(&el);
    task.cancel();
    task.cancel();
    assert_eq!(task.uncancel(), 1);
    run_once(&el);
    assert!(matches!(task.result(), Err(Error::Cancelled)));
}

#[test]
fn a_task_cancelling_itself_ends_at_its_next_suspension() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let log = new_log();
    let (flag, dropped) = drop_flag();
    let l = log.clone();
    let task = lp.create_task(async move {
        let _guard = flag;
        l.borrow_mut().push("start");
        let me = current_task().unwrap();
        assert!(me.cancel());
        assert_eq!(me.cancelling(), 1);
        l.borrow_mut().push("still running until the next await");
        yield_now().await;
        l.borrow_mut().push("never");
    });
    let result = el.run_until_complete(task).unwrap();
    assert!(matches!(result, Err(Error::Cancelled)));
    assert_eq!(
        *log.borrow(),
        ["start", "still running until the next await"]
    );
    assert!(dropped.get());
}

#[test]
fn cancelling_through_a_task_ref_from_all_tasks() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (flag, dropped) = drop_flag();
    let task = lp.create_task(async move {
        let _guard = flag;
        sleep(Duration::from_secs(3600)).await;
    });
    run_once(&el);
    let refs = lp.all_tasks();
    assert_eq!(refs.len(), 1);
    assert!(refs[0].same_task(&task.task_ref()));
    assert!(refs[0].cancel());
    run_once(&el);
    assert!(dropped.get());
    assert!(task.cancelled());
    assert!(refs[0].done() && refs[0].cancelled());
    assert!(lp.all_tasks().is_empty());
}

#[test]
fn a_cancelled_task_runs_its_done_callbacks() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let task = lp.create_task(sleep(Duration::from_secs(3600)));
    let seen = Rc::new(Cell::new(None));
    let s = seen.clone();
    task.add_done_callback(move |t| s.set(Some(t.cancelled())));
    run_once(&el);
    task.cancel();
    run_once(&el); // the task completes and schedules its callback
    run_once(&el); // the callback runs
    assert_eq!(seen.get(), Some(true));
}

#[test]
fn run_until_complete_of_a_cancelled_task_returns_cancelled() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let task = lp.create_task(sleep(Duration::from_secs(3600)));
    let r = task.task_ref();
    lp.call_later(Duration::from_millis(1), move || {
        r.cancel();
    })
    .unwrap();
    assert!(matches!(
        el.run_until_complete(task),
        Ok(Err(Error::Cancelled))
    ));
}

#[test]
fn a_task_awaiting_a_cancelled_task_sees_cancelled() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let inner = lp.create_task(sleep(Duration::from_secs(3600)));
    let inner_ref = inner.task_ref();
    let outer = lp.create_task(inner);
    run_once(&el);
    inner_ref.cancel();
    // The outer task completes normally; what it awaited was cancelled.
    let result = el.run_until_complete(outer).unwrap();
    assert!(matches!(result, Ok(Err(Error::Cancelled))));
}

#[test]
fn a_task_that_cancels_itself_and_returns_without_suspending_ends_cancelled() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (flag, dropped) = drop_flag();
    let outcome = el
        .run_until_complete(async move {
            let task = lp.create_task(async move {
                current_task().unwrap().cancel();
                // No await after the cancel: asyncio still ends the task
                // cancelled (its `_must_cancel` is checked at StopIteration).
                flag
            });
            task.await
        })
        .unwrap();
    assert!(matches!(outcome, Err(Error::Cancelled)));
    assert!(dropped.get(), "the value the task returned was dropped");
}
