//! The virtual clock (`EventLoopBuilder::paused_clock(true)`): time stands
//! still until `advance()` moves it or the loop has nothing to do but wait
//! for a timer, when it jumps straight there. An hour's sleep takes no real
//! time; `advance()` fires what became due on the next pass; timers keep
//! their order and fire exactly at their deadlines; the clock does not jump
//! past work still running on executor threads; a loop whose only timers
//! never fire sleeps in its poll instead of spinning; `advance()` on a real
//! clock is `InvalidState`.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{new_log, run_once};
use tulip_executor::{Error, EventLoop, get_running_loop, sleep, sleep_until, spawn, to_thread};

fn paused() -> EventLoop {
    EventLoop::builder().paused_clock(true).build().unwrap()
}

#[test]
fn an_hour_of_sleep_takes_no_real_time() {
    let el = paused();
    assert!(el.is_clock_paused());
    let t0 = el.time();
    let wall = Instant::now();
    el.run_until_complete(async {
        sleep(Duration::from_secs(3600)).await;
        let lp = get_running_loop().unwrap();
        let deadline = lp.time() + Duration::from_secs(60);
        sleep_until(deadline).await;
        assert_eq!(lp.time(), deadline);
    })
    .unwrap();
    assert!(wall.elapsed() < Duration::from_secs(1));
    assert!(el.time() - t0 >= Duration::from_secs(3660));
}

#[test]
fn time_stands_still_without_advance() {
    let el = paused();
    let t0 = el.time();
    std::thread::sleep(Duration::from_millis(3));
    run_once(&el);
    assert_eq!(el.time(), t0);
    el.advance(Duration::from_millis(250)).unwrap();
    assert_eq!(el.time() - t0, Duration::from_millis(250));
}

#[test]
fn advance_fires_due_callbacks_on_the_next_pass() {
    let el = paused();
    let log = new_log();
    for secs in [10u64, 20, 30] {
        let l = log.clone();
        el.call_later(Duration::from_secs(secs), move || l.borrow_mut().push(secs))
            .unwrap();
    }
    // A stopping pass does not jump the clock.
    run_once(&el);
    assert!(log.borrow().is_empty());
    el.advance(Duration::from_secs(10)).unwrap();
    assert!(log.borrow().is_empty(), "nothing runs inside advance()");
    run_once(&el);
    assert_eq!(*log.borrow(), [10]);
    el.advance(Duration::from_secs(15)).unwrap();
    run_once(&el);
    assert_eq!(*log.borrow(), [10, 20]);
    el.advance(Duration::from_secs(5)).unwrap();
    run_once(&el);
    assert_eq!(*log.borrow(), [10, 20, 30]);
}

#[test]
fn advance_from_a_callback() {
    let el = paused();
    let lp = el.handle();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    lp.call_later(Duration::from_secs(5), move || f.set(true))
        .unwrap();
    let l = lp.clone();
    lp.call_soon(move || l.advance(Duration::from_secs(5)).unwrap())
        .unwrap();
    run_once(&el);
    assert!(!fired.get());
    run_once(&el);
    assert!(fired.get());
}

#[test]
fn timers_keep_their_order_and_fire_exactly_on_time() {
    let el = paused();
    let lp = el.handle();
    let log = new_log();
    let t0 = lp.time();
    for ms in [500u64, 100, 300, 100, 0, 200, 400] {
        let (l, lp2) = (log.clone(), lp.clone());
        let expected = t0 + Duration::from_millis(ms);
        let h = lp
            .call_later(Duration::from_millis(ms), move || {
                assert_eq!(lp2.time(), expected, "fired at its deadline");
                l.borrow_mut().push(ms);
            })
            .unwrap();
        assert_eq!(h.when(), expected);
    }
    let l = lp.clone();
    lp.call_later(Duration::from_millis(600), move || l.stop())
        .unwrap();
    el.run_forever().unwrap();
    assert_eq!(*log.borrow(), [0, 100, 100, 200, 300, 400, 500]);
    assert_eq!(lp.time() - t0, Duration::from_millis(600));
}

#[test]
fn many_sleeping_tasks_wake_in_order() {
    let el = paused();
    let log = new_log();
    let l = log.clone();
    el.run_until_complete(async move {
        let tasks: Vec<_> = (0..100u64)
            .rev()
            .map(|i| {
                let l = l.clone();
                spawn(async move {
                    sleep(Duration::from_secs(i)).await;
                    l.borrow_mut().push(i);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    })
    .unwrap();
    assert_eq!(*log.borrow(), (0..100).collect::<Vec<_>>());
}

#[test]
fn the_clock_does_not_jump_past_running_executor_jobs() {
    let el = paused();
    let lp = el.handle();
    let job_done = Rc::new(Cell::new(false));
    let timer_saw_job_done = Rc::new(Cell::new(None));
    let (j, t) = (job_done.clone(), timer_saw_job_done.clone());
    lp.call_later(Duration::from_secs(3600), move || t.set(Some(j.get())))
        .unwrap();
    let j = job_done.clone();
    el.run_until_complete(async move {
        to_thread(|| std::thread::sleep(Duration::from_millis(20)))
            .await
            .unwrap();
        j.set(true);
        sleep(Duration::from_secs(7200)).await;
    })
    .unwrap();
    assert_eq!(timer_saw_job_done.get(), Some(true));
}

#[test]
fn advance_on_a_real_clock_is_invalid_state() {
    let el = EventLoop::new().unwrap();
    assert!(!el.is_clock_paused());
    assert!(matches!(
        el.advance(Duration::from_secs(1)),
        Err(Error::InvalidState(_))
    ));
}

#[test]
fn duration_max_does_not_fire_while_other_timers_run() {
    let el = paused();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    let h = el.call_later(Duration::MAX, move || f.set(true)).unwrap();
    el.run_until_complete(sleep(Duration::from_secs(3600)))
        .unwrap();
    assert!(!fired.get());
    assert!(h.when() > el.time());
    h.cancel();
}

#[test]
fn a_saturated_deadline_never_fires_even_on_a_paused_clock() {
    let el = paused();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    el.call_later(Duration::MAX, move || f.set(true)).unwrap();
    // The only timer is "never": the loop must not jump to it. A second
    // timer an hour away runs, and the clock lands there, not at "never".
    let t0 = el.time();
    let l = el.handle();
    el.call_later(Duration::from_secs(3600), move || l.stop())
        .unwrap();
    el.run_forever().unwrap();
    assert!(!fired.get());
    assert_eq!(el.time() - t0, Duration::from_secs(3600));
    el.advance(Duration::MAX).unwrap();
    run_once(&el);
    assert!(!fired.get(), "a Duration::MAX timer fired");
}

/// The CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// A paused loop whose only timers never fire (`Duration::MAX` away) has
/// nothing to jump to: it waits for other threads in the poll, as a real
/// clock's loop does, instead of spinning on zero-timeout polls.
#[test]
fn never_due_timers_leave_a_paused_loop_asleep() {
    for via_sleep in [false, true] {
        let el = paused();
        let lp = el.handle();
        let never = lp.call_later(Duration::MAX, || panic!("fired")).unwrap();
        if via_sleep {
            never.cancel();
            lp.create_task(sleep(Duration::MAX)).detach();
        }
        let remote = lp.remote();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            remote.stop().unwrap();
        });
        let cpu = thread_cpu_time();
        let wall = Instant::now();
        el.run_forever().unwrap();
        let (cpu, wall) = (thread_cpu_time() - cpu, wall.elapsed());
        waker.join().unwrap();
        assert!(
            wall >= Duration::from_millis(250),
            "the loop waited: {wall:?}"
        );
        assert!(
            cpu < Duration::from_millis(30),
            "{cpu:?} of CPU over {wall:?} of waiting (sleep: {via_sleep})"
        );
    }
}
