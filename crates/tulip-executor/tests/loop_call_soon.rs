//! `Loop::call_soon` and `Handle`, against asyncio's documented semantics:
//! callbacks run in FIFO order, exactly once; a pass runs only the batch that
//! was ready when it started; a cancelled callback never runs and what it
//! captured is dropped at cancel time; dropping a handle does not cancel;
//! plain callbacks and task wake-ups share one FIFO queue.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::{drop_flag, ends_with_file, new_log, run_once};
use tulip_executor::{EventLoop, yield_now};

#[test]
fn callbacks_run_in_fifo_order() {
    let el = EventLoop::new().unwrap();
    let log = new_log();
    for i in 0..1000 {
        let log = log.clone();
        el.call_soon(move || log.borrow_mut().push(i)).unwrap();
    }
    run_once(&el);
    assert_eq!(*log.borrow(), (0..1000).collect::<Vec<_>>());
}

#[test]
fn each_callback_runs_exactly_once() {
    let el = EventLoop::new().unwrap();
    let count = Rc::new(Cell::new(0u32));
    for _ in 0..100_000 {
        let c = count.clone();
        el.call_soon(move || c.set(c.get() + 1)).unwrap();
    }
    run_once(&el);
    assert_eq!(count.get(), 100_000);
    run_once(&el);
    assert_eq!(count.get(), 100_000);
}

#[test]
fn callbacks_scheduled_by_callbacks_wait_for_the_next_pass() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let log = new_log();
    let (l1, l2) = (log.clone(), log.clone());
    el.call_soon(move || {
        l1.borrow_mut().push("a");
        let l = l1.clone();
        lp.call_soon(move || l.borrow_mut().push("a2")).unwrap();
    })
    .unwrap();
    el.call_soon(move || l2.borrow_mut().push("b")).unwrap();
    run_once(&el);
    assert_eq!(*log.borrow(), ["a", "b"]);
    run_once(&el);
    assert_eq!(*log.borrow(), ["a", "b", "a2"]);
}

#[test]
fn cancel_before_run_never_runs_and_drops_the_captures_at_once() {
    let el = EventLoop::new().unwrap();
    let (flag, dropped) = drop_flag();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let handle = el
        .call_soon(move || {
            let _keep = &flag;
            r.set(true);
        })
        .unwrap();
    assert!(!handle.cancelled());
    assert!(!dropped.get());
    assert!(handle.cancel());
    assert!(dropped.get(), "the closure is released by cancel()");
    assert!(handle.cancelled());
    assert!(!handle.cancel(), "a second cancel reports false");
    run_once(&el);
    assert!(!ran.get());
}

#[test]
fn a_callback_cancelled_by_an_earlier_one_in_the_same_pass_does_not_run() {
    let el = EventLoop::new().unwrap();
    let victim = Rc::new(Cell::new(None));
    let ran = Rc::new(Cell::new(false));
    let v = victim.clone();
    el.call_soon(move || {
        let h: Option<tulip_executor::Handle> = v.take();
        assert!(h.unwrap().cancel());
    })
    .unwrap();
    let r = ran.clone();
    victim.set(Some(el.call_soon(move || r.set(true)).unwrap()));
    run_once(&el);
    assert!(!ran.get());
}

#[test]
fn dropping_a_handle_does_not_cancel() {
    let el = EventLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    drop(el.call_soon(move || r.set(true)).unwrap());
    run_once(&el);
    assert!(ran.get());
}

#[test]
fn cancelling_after_the_callback_ran_is_harmless() {
    let el = EventLoop::new().unwrap();
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    let handle = el.call_soon(move || c.set(c.get() + 1)).unwrap();
    run_once(&el);
    handle.cancel();
    run_once(&el);
    assert_eq!(count.get(), 1);
}

#[test]
fn a_handle_knows_where_it_was_created() {
    let el = EventLoop::new().unwrap();
    let line = line!() + 1;
    let handle = el.call_soon(|| {}).unwrap();
    let site = handle.source_location();
    assert!(ends_with_file(site.file(), "loop_call_soon.rs"), "{site}");
    assert_eq!(site.line(), line);
    let debug = format!("{handle:?}");
    assert!(debug.contains("loop_call_soon.rs"), "{debug}");
    assert!(debug.contains("cancelled: false"), "{debug}");
}

#[test]
fn callbacks_and_task_wakeups_share_one_fifo_queue() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let log = new_log();
    let l = log.clone();
    el.run_until_complete(async move {
        let l1 = l.clone();
        lp.call_soon(move || l1.borrow_mut().push("callback 1"))
            .unwrap();
        let l2 = l.clone();
        lp.create_task(async move { l2.borrow_mut().push("task") })
            .detach();
        let l3 = l.clone();
        lp.call_soon(move || l3.borrow_mut().push("callback 2"))
            .unwrap();
        // This task is rescheduled behind the three entries above.
        yield_now().await;
        l.borrow_mut().push("main");
    })
    .unwrap();
    assert_eq!(*log.borrow(), ["callback 1", "task", "callback 2", "main"]);
}

#[test]
fn a_callback_sees_its_loop_running() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let seen = Rc::new(Cell::new(None));
    let s = seen.clone();
    el.call_soon(move || {
        let running = tulip_executor::get_running_loop().unwrap();
        s.set(Some(running.same_loop(&lp) && lp.is_running()));
    })
    .unwrap();
    assert!(!el.is_running());
    run_once(&el);
    assert_eq!(seen.get(), Some(true));
    assert!(!el.is_running());
}
