//! `stop`, `run_forever`, `close`, `is_running`, `is_closed`, exactly as
//! asyncio documents them: `stop()` lets the current batch finish and leaves
//! what that batch schedules for the next run; `stop()` before `run_forever`
//! makes it do one pass; a loop runs again after it stopped; `close()` is an
//! error while running, idempotent, releases what was queued and cancels
//! pending tasks; a closed loop refuses new work with `LoopClosed`, on its
//! own thread and from others, without ever running the refused callback.

mod common;

use std::cell::Cell;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{drop_flag, new_log, run_once, stop_after};
use tulip_executor::{Error, EventLoop, sleep};

#[test]
fn stop_lets_the_current_batch_finish_and_defers_what_it_schedules() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let log = new_log();
    let l = log.clone();
    lp.call_soon(move || l.borrow_mut().push("a")).unwrap();
    let l = lp.clone();
    lp.call_soon(move || l.stop()).unwrap();
    let (l, lg) = (lp.clone(), log.clone());
    lp.call_soon(move || {
        lg.borrow_mut().push("b");
        let lg = lg.clone();
        l.call_soon(move || lg.borrow_mut().push("scheduled by b"))
            .unwrap();
    })
    .unwrap();
    el.run_forever().unwrap();
    assert_eq!(*log.borrow(), ["a", "b"]);
    assert!(!el.is_running());
    // The deferred callback runs on the next run_forever.
    run_once(&el);
    assert_eq!(*log.borrow(), ["a", "b", "scheduled by b"]);
}

#[test]
fn stop_before_run_forever_makes_it_do_one_pass() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let log = new_log();
    let (l, lg) = (lp.clone(), log.clone());
    lp.call_soon(move || {
        lg.borrow_mut().push(1);
        let lg = lg.clone();
        l.call_soon(move || lg.borrow_mut().push(2)).unwrap();
    })
    .unwrap();
    // A far timer must not make that single pass wait.
    lp.call_later(Duration::from_secs(3600), || {}).unwrap();
    el.stop();
    el.run_forever().unwrap();
    assert_eq!(*log.borrow(), [1]);
    el.stop();
    el.run_forever().unwrap();
    assert_eq!(*log.borrow(), [1, 2]);
}

#[test]
fn stop_with_nothing_scheduled_returns() {
    let el = EventLoop::new().unwrap();
    el.stop();
    el.run_forever().unwrap();
    assert!(!el.is_running());
}

#[test]
fn run_forever_twice() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let count = Rc::new(Cell::new(0));
    for round in 1..=3 {
        let c = count.clone();
        lp.call_soon(move || c.set(c.get() + 1)).unwrap();
        stop_after(&lp, Duration::from_millis(1));
        el.run_forever().unwrap();
        assert_eq!(count.get(), round);
    }
}

#[test]
fn is_running_only_while_running() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    assert!(!lp.is_running());
    let seen = Rc::new(Cell::new(false));
    let (s, l) = (seen.clone(), lp.clone());
    lp.call_soon(move || s.set(l.is_running())).unwrap();
    run_once(&el);
    assert!(seen.get());
    assert!(!lp.is_running());
}

#[test]
fn close_while_running_is_an_error() {
    let el = Rc::new(EventLoop::new().unwrap());
    let result = Rc::new(Cell::new(None));
    let (e, r) = (el.clone(), result.clone());
    el.call_soon(move || {
        r.set(Some(e.close()));
        e.stop();
    })
    .unwrap();
    el.run_forever().unwrap();
    assert!(matches!(result.take(), Some(Err(Error::LoopRunning))));
    assert!(!el.is_closed());
    // Still usable.
    run_once(&el);
    el.close().unwrap();
    assert!(el.is_closed());
}

#[test]
fn close_is_idempotent() {
    let el = EventLoop::new().unwrap();
    assert!(!el.is_closed());
    el.close().unwrap();
    assert!(el.is_closed());
    el.close().unwrap();
    assert!(el.is_closed());
}

#[test]
fn a_closed_loop_refuses_work() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (a, _b) = UnixStream::pair().unwrap();
    el.close().unwrap();
    assert!(matches!(lp.call_soon(|| {}), Err(Error::LoopClosed)));
    assert!(matches!(
        lp.call_later(Duration::ZERO, || {}),
        Err(Error::LoopClosed)
    ));
    assert!(matches!(
        lp.call_at(lp.time(), || {}),
        Err(Error::LoopClosed)
    ));
    assert!(matches!(lp.add_reader(&a, || {}), Err(Error::LoopClosed)));
    assert!(matches!(lp.add_writer(&a, || {}), Err(Error::LoopClosed)));
    assert!(!lp.remove_reader(a.as_raw_fd()));
    assert!(!lp.remove_writer(a.as_raw_fd()));
    assert!(matches!(el.run_forever(), Err(Error::LoopClosed)));
    assert!(matches!(
        el.run_until_complete(async {}),
        Err(Error::LoopClosed)
    ));
    let mut task = lp.create_task(async { 1 });
    assert!(task.done());
    assert!(matches!(task.result(), Err(Error::LoopClosed)));
}

#[test]
fn close_releases_queued_callbacks_timers_and_readers() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (a, _b) = UnixStream::pair().unwrap();
    let (f1, soon_dropped) = drop_flag();
    let (f2, timer_dropped) = drop_flag();
    let (f3, reader_dropped) = drop_flag();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    lp.call_soon(move || {
        let _keep = &f1;
        r.set(true);
    })
    .unwrap();
    lp.call_later(Duration::from_secs(3600), move || drop(f2))
        .unwrap();
    lp.add_reader(&a, move || {
        let _keep = &f3;
    })
    .unwrap();
    el.close().unwrap();
    assert!(!ran.get(), "close does not run queued callbacks");
    assert!(soon_dropped.get());
    assert!(timer_dropped.get());
    assert!(reader_dropped.get());
}

#[test]
fn close_cancels_pending_tasks_and_runs_their_destructors() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (flag, dropped) = drop_flag();
    let after_sleep = Rc::new(Cell::new(false));
    let a = after_sleep.clone();
    let started = lp.create_task(async move {
        let _keep = flag;
        sleep(Duration::from_secs(3600)).await;
        a.set(true);
    });
    let (flag2, never_polled_dropped) = drop_flag();
    run_once(&el);
    let never_polled = lp.create_task(async move {
        let _keep = flag2;
    });
    el.close().unwrap();
    assert!(dropped.get());
    assert!(never_polled_dropped.get());
    assert!(!after_sleep.get());
    assert!(started.done() && started.cancelled());
    assert!(never_polled.done());
}

#[test]
fn dropping_the_event_loop_closes_it() {
    let el = EventLoop::new().unwrap();
    let remote = el.remote();
    let lp = el.handle();
    assert!(!remote.is_closed());
    drop(el);
    assert!(remote.is_closed());
    assert!(lp.is_closed());
    assert!(matches!(lp.call_soon(|| {}), Err(Error::LoopClosed)));
}

#[test]
fn remote_handles_after_close_report_an_error_and_never_run() {
    let el = EventLoop::new().unwrap();
    let remote = el.remote();
    el.close().unwrap();
    assert!(remote.is_closed());
    let ran = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicBool::new(false));
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let guard = SetOnDrop(dropped.clone());
    let r = ran.clone();
    let res = std::thread::spawn(move || {
        let res = remote.call_soon_threadsafe(move || {
            let _keep = &guard;
            r.store(true, Ordering::SeqCst);
        });
        (res, remote.stop())
    })
    .join()
    .unwrap();
    assert!(matches!(res.0, Err(Error::LoopClosed)));
    assert!(matches!(res.1, Err(Error::LoopClosed)));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the refused callback is dropped"
    );
    assert!(!ran.load(Ordering::SeqCst));
    // Nor does anything run if the loop were asked to run again.
    assert!(matches!(el.run_forever(), Err(Error::LoopClosed)));
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn callbacks_queued_from_other_threads_before_close_are_dropped_unrun() {
    let el = EventLoop::new().unwrap();
    let remote = el.remote();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    std::thread::spawn(move || {
        remote
            .call_soon_threadsafe(move || r.store(true, Ordering::SeqCst))
            .unwrap();
    })
    .join()
    .unwrap();
    el.close().unwrap();
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn close_lets_go_of_a_kept_timer_handles_callback() {
    // A TimerHandle kept past close does not keep what its callback captured.
    let el = EventLoop::new().unwrap();
    let (flag, dropped) = drop_flag();
    let handle = el
        .call_later(Duration::from_secs(3600), move || drop(flag))
        .unwrap();
    el.close().unwrap();
    assert!(dropped.get(), "the timer's callback is dropped by close");
    drop(handle);
}
