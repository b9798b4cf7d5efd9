//! A panic inside a task becomes the task's outcome (`Error::Panicked` with
//! the panic's message); an outcome nobody retrieves is reported to the
//! exception handler exactly once as "Task exception was never retrieved"
//! (whether the task was detached before or after it panicked); a retrieved
//! one is not; the loop and the other tasks go on.
//!
//! The panics below are expected; the test harness prints them.

mod common;

use std::time::Duration;

use common::{capture_exceptions, drop_flag, ends_with_file, run_once};
use tulip_executor::{Error, EventLoop, TaskOptions, sleep, yield_now};

const NEVER_RETRIEVED: &str = "Task exception was never retrieved";

#[test]
fn a_panic_becomes_the_task_outcome() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let seen = capture_exceptions(&lp);
    let (flag, dropped) = drop_flag();
    let task = lp.create_task(async move {
        let _guard = flag;
        yield_now().await;
        panic!("task went wrong");
    });
    let sibling = lp.create_task(async {
        sleep(Duration::from_millis(1)).await;
        "sibling fine"
    });
    let task_ref = task.task_ref();
    let (outcome, sibling) = el
        .run_until_complete(async move { (task.await, sibling.await) })
        .unwrap();
    match outcome {
        Err(Error::Panicked(p)) => assert_eq!(p.message(), "task went wrong"),
        other => panic!("unexpected outcome {other:?}"),
    }
    assert_eq!(sibling.unwrap(), "sibling fine");
    assert!(dropped.get(), "the future was dropped after the panic");
    assert!(task_ref.done() && task_ref.panicked() && !task_ref.cancelled());
    assert!(format!("{task_ref:?}").contains("panicked"));
    // Retrieved by awaiting: nothing to report, now or when handles go.
    drop(task_ref);
    run_once(&el);
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
}

#[test]
fn a_panic_retrieved_with_result_is_not_reported() {
    let el = EventLoop::new().unwrap();
    let seen = capture_exceptions(&el);
    let mut task = el.create_task(async { panic!("taken with result()") });
    run_once(&el);
    let err = task.result().unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.to_string(), "panicked: taken with result()");
    drop(task);
    run_once(&el);
    assert!(seen.borrow().is_empty());
}

#[test]
fn a_detached_task_panic_is_reported_as_never_retrieved() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let seen = capture_exceptions(&lp);
    let line = line!() + 1;
    let task = lp.create_task_with(
        async {
            yield_now().await;
            panic!("nobody listens");
        },
        TaskOptions::new().name("lonely"),
    );
    task.detach();
    run_once(&el);
    assert!(seen.borrow().is_empty(), "not yet panicked");
    run_once(&el);
    run_once(&el);
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1, "reported exactly once");
    let ctx = &seen[0];
    assert_eq!(ctx.message, NEVER_RETRIEVED);
    match &ctx.error {
        Some(Error::Panicked(p)) => assert_eq!(p.message(), "nobody listens"),
        other => panic!("unexpected error {other:?}"),
    }
    let t = ctx.task.as_ref().expect("the task is in the context");
    assert_eq!(t.get_name(), "lonely");
    assert!(t.panicked());
    let site = ctx.source_location.expect("creation site");
    assert!(ends_with_file(site.file(), "task_panic.rs"));
    assert_eq!(site.line(), line);
}

#[test]
fn a_handle_dropped_after_the_panic_without_retrieving_reports_once() {
    let el = EventLoop::new().unwrap();
    let seen = capture_exceptions(&el);
    let task = el.create_task(async { panic!("dropped unseen") });
    run_once(&el);
    assert!(task.done() && task.panicked());
    assert!(
        seen.borrow().is_empty(),
        "the handle could still retrieve it"
    );
    drop(task);
    run_once(&el);
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].message, NEVER_RETRIEVED);
}

#[test]
fn a_task_ref_does_not_count_as_retrieving() {
    let el = EventLoop::new().unwrap();
    let seen = capture_exceptions(&el);
    let task = el.create_task(async { panic!("only looked at") });
    let r = task.task_ref();
    drop(task);
    run_once(&el);
    assert!(r.panicked());
    assert_eq!(seen.borrow().len(), 1);
}

#[test]
fn a_cancelled_or_successful_detached_task_is_not_reported() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let seen = capture_exceptions(&lp);
    lp.create_task(async { 1 }).detach();
    let t = lp.create_task(sleep(Duration::from_secs(3600)));
    let r = t.task_ref();
    t.detach();
    run_once(&el);
    r.cancel();
    run_once(&el);
    run_once(&el);
    assert!(r.cancelled());
    assert!(seen.borrow().is_empty());
}

#[test]
fn a_panicking_task_under_the_default_handler_does_not_stop_the_loop() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    lp.create_task(async { panic!("default handler, detached") })
        .detach();
    let out = el
        .run_until_complete(async {
            yield_now().await;
            "loop alive"
        })
        .unwrap();
    assert_eq!(out, "loop alive");
}
