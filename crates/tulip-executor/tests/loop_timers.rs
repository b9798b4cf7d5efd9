//! Timers (`call_later`, `call_at`, `TimerHandle`) on the real clock:
//! deadline order, FIFO among equal deadlines, deadlines in the past run on
//! the next pass, an absurd delay neither panics nor fires, a timer never
//! fires early, cancellation releases the callback at once, and a heap that
//! is mostly cancelled (10,000 scheduled, 9,000 cancelled) still runs the
//! rest in order, and a busy pass costs about the same beside 100,000
//! sleeping tasks as beside none.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{drop_flag, new_log, run_once, stop_after, watchdog};
use tulip_executor::{EventLoop, sleep, spawn, yield_now};

#[test]
fn timers_run_in_deadline_order() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let log = new_log();
    for ms in [30u64, 10, 25, 0, 5, 20, 15] {
        let log = log.clone();
        lp.call_later(Duration::from_millis(ms), move || log.borrow_mut().push(ms))
            .unwrap();
    }
    stop_after(&lp, Duration::from_millis(40));
    el.run_forever().unwrap();
    assert_eq!(*log.borrow(), [0, 5, 10, 15, 20, 25, 30]);
}

#[test]
fn equal_deadlines_run_in_scheduling_order() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let log = new_log();
    let when = lp.time() + Duration::from_millis(5);
    for i in 0..200 {
        let log = log.clone();
        lp.call_at(when, move || log.borrow_mut().push(i)).unwrap();
    }
    let l = lp.clone();
    lp.call_at(when, move || l.stop()).unwrap();
    el.run_forever().unwrap();
    assert_eq!(*log.borrow(), (0..200).collect::<Vec<_>>());
}

#[test]
fn a_deadline_in_the_past_runs_on_the_next_pass() {
    let before_the_loop = Instant::now();
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let log = new_log();
    let l1 = log.clone();
    lp.call_at(before_the_loop, move || {
        l1.borrow_mut().push("before the loop")
    })
    .unwrap();
    let past = lp.time();
    std::thread::sleep(Duration::from_millis(2));
    let l2 = log.clone();
    lp.call_at(past, move || l2.borrow_mut().push("past"))
        .unwrap();
    let l3 = log.clone();
    lp.call_later(Duration::ZERO, move || l3.borrow_mut().push("zero delay"))
        .unwrap();
    run_once(&el);
    assert_eq!(*log.borrow(), ["before the loop", "past", "zero delay"]);
}

#[test]
fn a_timer_never_fires_before_its_deadline() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let checked = Rc::new(Cell::new(0));
    for ms in [1u64, 3, 7, 12] {
        let slot = Rc::new(Cell::new(None));
        let (s, l, c) = (slot.clone(), lp.clone(), checked.clone());
        let handle = lp
            .call_later(Duration::from_millis(ms), move || {
                let when: Instant = s.take().unwrap();
                assert!(l.time() >= when, "fired early");
                assert!(Instant::now() >= when, "fired early");
                c.set(c.get() + 1);
            })
            .unwrap();
        slot.set(Some(handle.when()));
    }
    stop_after(&lp, Duration::from_millis(20));
    el.run_forever().unwrap();
    assert_eq!(checked.get(), 4);
}

#[test]
fn timer_handle_when() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let at = lp.time() + Duration::from_secs(10);
    assert_eq!(lp.call_at(at, || {}).unwrap().when(), at);

    let delay = Duration::from_secs(5);
    let t0 = lp.time();
    let handle = lp.call_later(delay, || {}).unwrap();
    let t1 = lp.time();
    assert!(handle.when() >= t0 + delay && handle.when() <= t1 + delay);
    assert!(format!("{handle:?}").contains("loop_timers.rs"));
}

#[test]
fn duration_max_neither_panics_nor_fires() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    let handle = lp.call_later(Duration::MAX, move || f.set(true)).unwrap();
    let now = lp.time();
    assert!(handle.when() > now + Duration::from_secs(100 * 365 * 24 * 3600));
    // The loop waits for the nearer timer and never for the absurd one.
    stop_after(&lp, Duration::from_millis(10));
    el.run_forever().unwrap();
    run_once(&el);
    assert!(!fired.get());
    assert!(lp.time() >= now);
    assert!(handle.cancel());
    run_once(&el);
    assert!(!fired.get());
}

#[test]
fn a_far_timer_alone_does_not_block_a_stop_from_a_callback() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    lp.call_later(Duration::from_secs(3600), || {}).unwrap();
    let l = lp.clone();
    lp.call_soon(move || l.stop()).unwrap();
    let started = Instant::now();
    el.run_forever().unwrap();
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn cancel_before_run_never_runs_and_drops_the_captures_at_once() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (flag, dropped) = drop_flag();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let handle = lp
        .call_later(Duration::from_millis(1), move || {
            let _keep = &flag;
            r.set(true);
        })
        .unwrap();
    assert!(!handle.cancelled());
    assert!(handle.cancel());
    assert!(dropped.get(), "the closure is released by cancel()");
    assert!(handle.cancelled());
    assert!(!handle.cancel());
    stop_after(&lp, Duration::from_millis(10));
    el.run_forever().unwrap();
    assert!(!ran.get());
}

#[test]
fn a_timer_cancelled_by_an_earlier_timer_due_in_the_same_pass_does_not_run() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let when = lp.time() + Duration::from_millis(2);
    let victim = Rc::new(Cell::new(None));
    let v = victim.clone();
    lp.call_at(when, move || {
        let h: Option<tulip_executor::TimerHandle> = v.take();
        h.unwrap().cancel();
    })
    .unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    victim.set(Some(lp.call_at(when, move || r.set(true)).unwrap()));
    stop_after(&lp, Duration::from_millis(10));
    el.run_forever().unwrap();
    assert!(!ran.get());
}

#[test]
fn a_mostly_cancelled_heap_still_runs_the_rest_in_order() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let log = new_log();
    let token = Rc::new(());
    let mut handles = Vec::with_capacity(10_000);
    for i in 0..10_000u32 {
        let (log, token) = (log.clone(), token.clone());
        let h = lp
            .call_later(Duration::from_micros(u64::from(i)), move || {
                let _keep = &token;
                log.borrow_mut().push(i);
            })
            .unwrap();
        handles.push(h);
    }
    for (i, h) in handles.iter().enumerate() {
        if i % 10 != 0 {
            assert!(h.cancel());
        }
    }
    // 9,000 closures were released at cancel time.
    assert_eq!(Rc::strong_count(&token), 1 + 1000);
    let (dog, fired) = watchdog(&lp, Duration::from_secs(20));
    // Scheduled last with the longest delay: due after every timer above.
    stop_after(&lp, Duration::from_millis(11));
    el.run_forever().unwrap();
    assert!(!fired.get(), "watchdog fired");
    dog.cancel();
    assert_eq!(*log.borrow(), (0..10_000).step_by(10).collect::<Vec<_>>());
    // The heap keeps working after being compacted.
    let again = Rc::new(Cell::new(0));
    for i in 0..300 {
        let a = again.clone();
        let h = lp
            .call_later(Duration::from_micros(i), move || a.set(a.get() + 1))
            .unwrap();
        if i % 3 != 0 {
            h.cancel();
        }
    }
    stop_after(&lp, Duration::from_millis(5));
    el.run_forever().unwrap();
    assert_eq!(again.get(), 100);
    drop(handles);
    assert_eq!(Rc::strong_count(&token), 1);
}

#[test]
fn a_timer_scheduled_by_a_callback_runs_on_a_later_pass() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let log = new_log();
    let (l, lg) = (lp.clone(), log.clone());
    lp.call_soon(move || {
        let lg2 = lg.clone();
        l.call_later(Duration::ZERO, move || lg2.borrow_mut().push("timer"))
            .unwrap();
        lg.borrow_mut().push("callback");
    })
    .unwrap();
    run_once(&el);
    assert_eq!(*log.borrow(), ["callback"]);
    run_once(&el);
    assert_eq!(*log.borrow(), ["callback", "timer"]);
}

/// The fastest of three runs of 500 busy passes (one task yielding).
fn busy_pass_time(el: &EventLoop) -> Duration {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            el.run_until_complete(async {
                for _ in 0..500 {
                    yield_now().await;
                }
            })
            .unwrap();
            start.elapsed()
        })
        .min()
        .unwrap()
}

/// A pass must not cost time per pending timer: beside 100,000 tasks
/// sleeping an hour, 500 busy passes take about as long as beside none.
/// The bound is generous (10x, fastest of three runs, against a cost that
/// used to grow ~200x at this size); the criterion row
/// `pass_with_sleepers` gives the figures.
#[test]
fn a_busy_pass_costs_the_same_beside_100k_sleepers() {
    let el = EventLoop::new().unwrap();
    let alone = busy_pass_time(&el);
    el.run_until_complete(async {
        let armed = Rc::new(Cell::new(0));
        for _ in 0..100_000 {
            let armed = armed.clone();
            spawn(async move {
                armed.set(armed.get() + 1);
                sleep(Duration::from_secs(3600)).await;
            })
            .detach();
        }
        while armed.get() < 100_000 {
            yield_now().await;
        }
    })
    .unwrap();
    let beside = busy_pass_time(&el);
    assert!(
        beside < alone * 10 + Duration::from_millis(5),
        "500 passes: {alone:?} alone, {beside:?} beside 100,000 sleepers"
    );
}
