//! `LoopFuture`, asyncio's settable `Future`: set once (a second set is
//! `InvalidState`, never a panic), awaited by any number of tasks, cancel,
//! `exception()`, `result()` before done, done callbacks (through the loop,
//! also when added late, removable), `take_result` for values that are not
//! `Clone`, and `wait()`.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::{new_log, run_once};
use tulip_executor::{Error, EventLoop};

#[test]
fn several_tasks_await_one_result() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let fut = lp.create_future::<String>();
    let waiters: Vec<_> = (0..5)
        .map(|i| {
            let f = fut.clone();
            lp.create_task(async move { format!("{i}:{}", f.await.unwrap()) })
        })
        .collect();
    let setter = fut.clone();
    lp.call_later(Duration::from_millis(1), move || {
        setter.set_result("ready".into()).unwrap();
    })
    .unwrap();
    let got = el
        .run_until_complete(async move {
            let mut out = Vec::new();
            for w in waiters {
                out.push(w.await.unwrap());
            }
            out
        })
        .unwrap();
    assert_eq!(got, ["0:ready", "1:ready", "2:ready", "3:ready", "4:ready"]);
    assert!(fut.done() && !fut.cancelled());
    assert_eq!(fut.result().unwrap(), "ready");
    assert!(fut.get_loop().unwrap().same_loop(&lp));
}

#[test]
fn a_second_set_is_invalid_state() {
    let el = EventLoop::new().unwrap();
    let fut = el.create_future::<u8>();
    assert!(!fut.done());
    fut.set_result(1).unwrap();
    assert!(matches!(fut.set_result(2), Err(Error::InvalidState(_))));
    assert!(matches!(
        fut.set_exception(Error::Timeout),
        Err(Error::InvalidState(_))
    ));
    assert!(!fut.cancel(), "cancel on a done future reports false");
    assert_eq!(fut.result().unwrap(), 1, "the first outcome stands");
}

#[test]
fn result_and_exception_before_done_are_invalid_state() {
    let el = EventLoop::new().unwrap();
    let fut = el.create_future::<u8>();
    assert!(matches!(fut.result(), Err(Error::InvalidState(_))));
    assert!(matches!(fut.exception(), Err(Error::InvalidState(_))));
    assert!(matches!(fut.take_result(), Err(Error::InvalidState(_))));
    assert!(!fut.done(), "asking does not complete it");
    fut.set_result(3).unwrap();
    assert_eq!(fut.take_result().unwrap(), 3);
}

#[test]
fn exception_reports_how_the_future_completed() {
    let el = EventLoop::new().unwrap();
    let ok = el.create_future::<u8>();
    ok.set_result(1).unwrap();
    assert!(ok.exception().unwrap().is_none());

    let failed = el.create_future::<u8>();
    failed.set_exception(Error::Timeout).unwrap();
    assert!(failed.exception().unwrap().unwrap().is_timeout());
    assert!(failed.result().unwrap_err().is_timeout());
    assert!(!failed.cancelled());

    let custom = el.create_future::<u8>();
    custom
        .set_exception(Error::exception(std::io::Error::other("custom")))
        .unwrap();
    let out = el.run_until_complete(custom).unwrap();
    assert_eq!(out.unwrap_err().to_string(), "custom");

    let cancelled = el.create_future::<u8>();
    cancelled.cancel();
    assert!(matches!(cancelled.exception(), Err(Error::Cancelled)));
}

#[test]
fn cancel_wakes_the_awaiters_with_cancelled() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let fut = lp.create_future::<u8>();
    let f = fut.clone();
    let waiter = lp.create_task(f);
    run_once(&el);
    assert!(fut.cancel());
    assert!(fut.cancelled() && fut.done());
    assert!(!fut.cancel());
    // The waiter task itself completes; what it awaited was cancelled.
    let out = el.run_until_complete(waiter).unwrap();
    assert!(matches!(out, Ok(Err(Error::Cancelled))));
    assert!(format!("{fut:?}").contains("cancelled"));
}

#[test]
fn done_callbacks_run_through_the_loop() {
    let el = EventLoop::new().unwrap();
    let fut = el.create_future::<u32>();
    let log = new_log();
    for i in 0..3 {
        let l = log.clone();
        fut.add_done_callback(move |f| l.borrow_mut().push((i, f.result().unwrap())));
    }
    let l = log.clone();
    let id = fut.add_done_callback(move |_| l.borrow_mut().push((99, 0)));
    assert!(fut.remove_done_callback(id));
    assert!(!fut.remove_done_callback(id));
    fut.set_result(7).unwrap();
    assert!(log.borrow().is_empty(), "not called inside set_result");
    run_once(&el);
    assert_eq!(*log.borrow(), [(0, 7), (1, 7), (2, 7)]);
    let l = log.clone();
    fut.add_done_callback(move |f| l.borrow_mut().push((3, f.result().unwrap())));
    run_once(&el);
    assert_eq!(log.borrow().last(), Some(&(3, 7)));
}

#[test]
fn done_callbacks_see_cancellation() {
    let el = EventLoop::new().unwrap();
    let fut = el.create_future::<u32>();
    let seen = Rc::new(Cell::new(None));
    let s = seen.clone();
    fut.add_done_callback(move |f| s.set(Some(f.cancelled())));
    fut.cancel();
    run_once(&el);
    assert_eq!(seen.get(), Some(true));
}

#[derive(Debug, PartialEq)]
struct NotClone(Vec<u8>);

#[test]
fn take_result_and_wait_for_values_that_are_not_clone() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let fut = lp.create_future::<NotClone>();
    let setter = fut.clone();
    lp.call_later(Duration::from_millis(1), move || {
        setter.set_result(NotClone(vec![1, 2, 3])).unwrap();
    })
    .unwrap();
    let f = fut.clone();
    let value = el
        .run_until_complete(async move {
            f.wait().await;
            assert!(f.done());
            f.take_result()
        })
        .unwrap()
        .unwrap();
    assert_eq!(value, NotClone(vec![1, 2, 3]));
    assert!(fut.done(), "still done after the value was taken");
    assert!(matches!(fut.take_result(), Err(Error::InvalidState(_))));
    assert!(matches!(
        fut.set_result(NotClone(vec![])),
        Err(Error::InvalidState(_))
    ));
}

#[test]
fn wait_returns_at_once_on_a_done_future_and_leaves_the_outcome() {
    let el = EventLoop::new().unwrap();
    let fut = el.create_future::<u8>();
    fut.set_result(9).unwrap();
    let f = fut.clone();
    el.run_until_complete(async move { f.wait().await })
        .unwrap();
    assert_eq!(fut.result().unwrap(), 9);
}

#[test]
fn a_waiter_that_gives_up_does_not_block_the_others() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let fut = lp.create_future::<u8>();
    let f = fut.clone();
    let quitter = lp.create_task(f);
    let f = fut.clone();
    let stayer = lp.create_task(f);
    run_once(&el);
    quitter.cancel();
    run_once(&el);
    let setter = fut.clone();
    lp.call_soon(move || setter.set_result(4).unwrap()).unwrap();
    let out = el.run_until_complete(stayer).unwrap().unwrap();
    assert_eq!(out.unwrap(), 4);
}
