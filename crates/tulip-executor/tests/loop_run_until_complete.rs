//! `EventLoop::run_until_complete`: returns the future's output; works on a
//! future or task that is already done; a panic inside is resumed in the
//! caller (and not also reported as never retrieved); it is an error while
//! this or another loop runs on the thread; a loop stopped first yields
//! `StoppedBeforeComplete` and can be run again.

mod common;

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::Duration;

use common::{capture_exceptions, run_once};
use tulip_executor::{Error, EventLoop, current_task, get_running_loop, sleep, yield_now};

#[test]
fn returns_the_output() {
    let el = EventLoop::new().unwrap();
    assert_eq!(el.run_until_complete(async { 40 + 2 }).unwrap(), 42);
    let s = el
        .run_until_complete(async {
            sleep(Duration::from_millis(1)).await;
            String::from("slept")
        })
        .unwrap();
    assert_eq!(s, "slept");
    assert!(!el.is_running());
}

#[test]
fn on_a_future_that_is_already_done() {
    let el = EventLoop::new().unwrap();
    let fut = el.create_future::<u8>();
    fut.set_result(5).unwrap();
    assert_eq!(el.run_until_complete(fut.clone()).unwrap().unwrap(), 5);
    // Twice, even.
    assert_eq!(el.run_until_complete(fut).unwrap().unwrap(), 5);
}

#[test]
fn on_a_task_that_is_already_done() {
    let el = EventLoop::new().unwrap();
    let task = el.create_task(async { "early" });
    run_once(&el);
    assert!(task.done());
    assert_eq!(el.run_until_complete(task).unwrap().unwrap(), "early");
}

#[test]
fn a_panic_inside_is_resumed_in_the_caller() {
    let el = EventLoop::new().unwrap();
    let seen = capture_exceptions(&el);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        el.run_until_complete(async {
            yield_now().await;
            panic!("resumed here");
        })
    }));
    let payload = caught.expect_err("the panic reaches the caller");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"resumed here"));
    let code = std::hint::black_box(7);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        el.run_until_complete(async move { panic!("code {code}") })
    }));
    let payload = caught.expect_err("the panic reaches the caller");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("code 7")
    );
    // The loop is usable afterwards, and nothing was reported.
    assert!(!el.is_running());
    assert_eq!(el.run_until_complete(async { 1 }).unwrap(), 1);
    assert!(get_running_loop().is_err());
    run_once(&el);
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
}

#[test]
fn while_this_loop_runs_it_is_an_error() {
    let el = Rc::new(EventLoop::new().unwrap());
    let result = Rc::new(Cell::new(None));
    let (e, r) = (el.clone(), result.clone());
    el.call_soon(move || {
        r.set(Some(e.run_until_complete(async {}).map(|_| ())));
        e.stop();
    })
    .unwrap();
    el.run_forever().unwrap();
    assert!(matches!(result.take(), Some(Err(Error::LoopRunning))));
    // From inside a task, too (the Rc is dropped with the task).
    let e = el.clone();
    let inner = el
        .run_until_complete(async move {
            let r = e.run_until_complete(async {}).map(|_| ());
            let f = e.run_forever();
            (r, f)
        })
        .unwrap();
    assert!(matches!(inner.0, Err(Error::LoopRunning)));
    assert!(matches!(inner.1, Err(Error::LoopRunning)));
}

#[test]
fn while_another_loop_runs_on_this_thread_it_is_an_error() {
    let outer = EventLoop::new().unwrap();
    let other = Rc::new(EventLoop::new().unwrap());
    let o = other.clone();
    let (a, b) = outer
        .run_until_complete(
            async move { (o.run_until_complete(async {}).map(|_| ()), o.run_forever()) },
        )
        .unwrap();
    assert!(matches!(a, Err(Error::LoopRunning)));
    assert!(matches!(b, Err(Error::LoopRunning)));
    assert_eq!(other.run_until_complete(async { 3 }).unwrap(), 3);
}

#[test]
fn stopped_before_complete() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let go = el.create_future::<()>();
    let g = go.clone();
    let res = el.run_until_complete(async move {
        get_running_loop().unwrap().stop();
        g.await.unwrap();
        "eventually"
    });
    assert!(matches!(res, Err(Error::StoppedBeforeComplete)));
    assert!(!el.is_running());
    // The task stays scheduled; completing it later works.
    assert_eq!(lp.all_tasks().len(), 1);
    go.set_result(()).unwrap();
    let t = lp.all_tasks().pop().unwrap();
    let done = el.create_future::<()>();
    let d = done.clone();
    t.add_done_callback(move |_| d.set_result(()).unwrap());
    el.run_until_complete(done).unwrap().unwrap();
    assert!(t.done() && !t.cancelled());
}

#[test]
fn a_main_that_cancels_itself_yields_cancelled() {
    let el = EventLoop::new().unwrap();
    let res = el.run_until_complete(async {
        current_task().unwrap().cancel();
        yield_now().await;
    });
    assert!(matches!(res, Err(Error::Cancelled)));
}
