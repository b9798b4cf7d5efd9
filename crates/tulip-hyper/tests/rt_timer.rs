//! `TulipTimer` and `TulipSleep` on real loops: firing, resets, cancellation
//! on drop (the loop keeps no timer per dropped sleep), and the documented
//! panic when a sleep is polled or reset off its loop's thread.

use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};
use tulip::hyper::rt::{TulipSleep, TulipTimer};
use tulip::prelude::*;
use tulip_test::{heap_in_use, paused_loop, run, send_sync};

#[test]
fn the_runtime_types_are_send_and_sync() {
    // hyper's bounds: `Timer + Send + Sync`, `Sleep: Send + Sync`.
    send_sync!(TulipTimer, TulipSleep);
}

/// Polls `sleep` once from the current task: true if it is ready.
async fn poll_once(sleep: &mut Pin<Box<dyn Sleep>>) -> bool {
    poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx).is_ready())).await
}

/// Runs `body` on a fresh loop with a paused (virtual) clock.
fn on_paused_loop<F: Future<Output = ()> + 'static>(body: impl FnOnce(Loop) -> F) {
    let ev = paused_loop();
    ev.run_until_complete(body(ev.handle())).unwrap();
    ev.close().unwrap();
}

#[test]
fn a_sleep_fires_after_its_deadline_on_a_real_loop() {
    run(async {
        let lp = get_running_loop().unwrap();
        let timer = TulipTimer::new();
        let start = lp.time();
        timer.sleep(Duration::from_millis(30)).await;
        assert!(lp.time() - start >= Duration::from_millis(30));

        let deadline = lp.time() + Duration::from_millis(20);
        timer.sleep_until(deadline).await;
        assert!(lp.time() >= deadline);
    });
}

#[test]
fn now_is_the_loop_clock_and_a_paused_clock_moves_sleeps_exactly() {
    on_paused_loop(|lp| async move {
        let timer = TulipTimer;
        let start = timer.now();
        assert_eq!(start, lp.time());
        timer.sleep(Duration::from_secs(3600)).await;
        // Virtual time: exactly the hour, at once.
        assert_eq!(timer.now() - start, Duration::from_secs(3600));
    });
}

#[test]
fn a_sleep_already_due_is_ready_at_its_first_poll_without_a_timer() {
    run(async {
        let before = TulipTimer::pending_timers();
        let mut past = TulipTimer.sleep_until(Instant::now() - Duration::from_millis(1));
        assert!(poll_once(&mut past).await);
        assert_eq!(TulipTimer::pending_timers(), before);
        // Done stays done.
        assert!(poll_once(&mut past).await);
    });
}

#[test]
fn reset_earlier_and_later_reschedules_in_place() {
    on_paused_loop(|lp| async move {
        let timer = TulipTimer;
        let start = lp.time();

        // Earlier: an hour becomes 10 ms.
        let mut sleep = timer.sleep(Duration::from_secs(3600));
        assert!(!poll_once(&mut sleep).await);
        let armed = TulipTimer::pending_timers();
        timer.reset(&mut sleep, start + Duration::from_millis(10));
        assert!(
            sleep.is::<TulipSleep>(),
            "reset kept our sleep, not a new one"
        );
        assert_eq!(TulipTimer::pending_timers(), armed, "one timer, moved");
        (&mut sleep).await;
        assert_eq!(lp.time() - start, Duration::from_millis(10));

        // Later: 10 ms becomes 50 ms; at 20 ms it is still pending.
        let start = lp.time();
        let mut sleep = timer.sleep(Duration::from_millis(10));
        assert!(!poll_once(&mut sleep).await);
        timer.reset(&mut sleep, start + Duration::from_millis(50));
        tulip::sleep(Duration::from_millis(20)).await;
        assert!(!poll_once(&mut sleep).await);
        (&mut sleep).await;
        assert_eq!(lp.time() - start, Duration::from_millis(50));

        // A fired sleep waits again after a reset.
        let start = lp.time();
        timer.reset(&mut sleep, start + Duration::from_millis(5));
        assert!(!poll_once(&mut sleep).await);
        (&mut sleep).await;
        assert_eq!(lp.time() - start, Duration::from_millis(5));
    });
}

#[test]
fn reset_keeps_the_waiting_task_registered() {
    run(async {
        let lp = get_running_loop().unwrap();
        let start = lp.time();
        let mut sleep = TulipTimer.sleep(Duration::from_secs(3600));
        assert!(!poll_once(&mut sleep).await);
        // The task waits on the sleep; it is reset under it from a callback.
        let handle = std::rc::Rc::new(std::cell::RefCell::new(None::<Pin<Box<dyn Sleep>>>));
        let task = {
            let handle = handle.clone();
            spawn(poll_fn(move |cx| {
                let mut slot = handle.borrow_mut();
                let sleep = slot.as_mut().expect("the sleep is in place");
                sleep.as_mut().poll(cx)
            }))
        };
        *handle.borrow_mut() = Some(sleep);
        yield_now().await; // the task polls the sleep: pending
        let h = handle.clone();
        lp.call_soon(move || {
            let mut slot = h.borrow_mut();
            TulipTimer.reset(
                slot.as_mut().unwrap(),
                Instant::now() + Duration::from_millis(10),
            );
        })
        .unwrap();
        wait_for(task, Duration::from_secs(20))
            .await
            .expect("the reset sleep woke its task")
            .unwrap();
        assert!(lp.time() - start < Duration::from_secs(3600));
    });
}

/// A sleep of some other timer, to check that `reset` replaces what it
/// cannot reschedule.
struct Foreign;

impl Future for Foreign {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Sleep for Foreign {}

#[test]
fn reset_replaces_a_sleep_of_another_timer() {
    run(async {
        let lp = get_running_loop().unwrap();
        let mut sleep: Pin<Box<dyn Sleep>> = Box::pin(Foreign);
        TulipTimer.reset(&mut sleep, lp.time() + Duration::from_millis(5));
        assert!(sleep.is::<TulipSleep>());
        (&mut sleep).await;
    });
}

#[test]
fn a_dropped_sleep_cancels_its_loop_timer() {
    run(async {
        let before = TulipTimer::pending_timers();
        let mut sleeps = Vec::new();
        for _ in 0..100 {
            let mut s = TulipTimer.sleep(Duration::from_secs(3600));
            assert!(!poll_once(&mut s).await);
            sleeps.push(s);
        }
        assert_eq!(TulipTimer::pending_timers(), before + 100);
        drop(sleeps);
        assert_eq!(TulipTimer::pending_timers(), before);

        // A sleep never polled never had a timer.
        drop(TulipTimer.sleep(Duration::from_secs(3600)));
        assert_eq!(TulipTimer::pending_timers(), before);

        // A fired sleep freed its entry when it fired.
        let mut s = TulipTimer.sleep(Duration::from_millis(1));
        assert!(!poll_once(&mut s).await);
        assert_eq!(TulipTimer::pending_timers(), before + 1);
        (&mut s).await;
        assert_eq!(TulipTimer::pending_timers(), before);
    });
}

/// hyper's header-read timeout makes, resets and drops a sleep per
/// request: 10,000 of them leave neither timers nor memory behind.
#[test]
fn ten_thousand_resets_and_drops_keep_timers_and_memory_flat() {
    run(async {
        let lp = get_running_loop().unwrap();
        let timer = TulipTimer;
        let round = |n: usize| {
            let lp = lp.clone();
            async move {
                for _ in 0..n {
                    let mut s = timer.sleep(Duration::from_secs(30));
                    assert!(!poll_once(&mut s).await);
                    timer.reset(&mut s, lp.time() + Duration::from_secs(60));
                    timer.reset(&mut s, lp.time() + Duration::from_secs(30));
                    drop(s);
                }
                // Let the loop purge the cancelled entries of its heap.
                tulip::sleep(Duration::from_millis(1)).await;
            }
        };
        let timers_before = TulipTimer::pending_timers();
        round(1_000).await; // warm up: the tables reach their working size
        let heap_before = heap_in_use();
        round(10_000).await;
        assert_eq!(TulipTimer::pending_timers(), timers_before);
        if let (Some(before), Some(after)) = (heap_before, heap_in_use()) {
            // 10,000 leaked timers would be well over 1 MiB.
            assert!(
                after < before + 256 * 1024,
                "the heap grew from {before} to {after} bytes over 10,000 sleeps"
            );
        }
    });
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Moves an armed sleep to another thread, runs `f` on it there under
/// `catch_unwind`, and brings the sleep back with the panic message, if any.
fn on_other_thread(
    mut sleep: Pin<Box<dyn Sleep>>,
    f: fn(&mut Pin<Box<dyn Sleep>>),
) -> (Pin<Box<dyn Sleep>>, Option<String>) {
    std::thread::spawn(move || {
        let out = catch_unwind(AssertUnwindSafe(|| f(&mut sleep)));
        let message = out.err().map(|payload| panic_message(&*payload));
        (sleep, message)
    })
    .join()
    .expect("the thread itself does not panic")
}

#[test]
fn polling_or_resetting_off_the_loop_thread_panics_with_the_documented_message() {
    run(async {
        let before = TulipTimer::pending_timers();
        let mut sleep = TulipTimer.sleep(Duration::from_secs(3600));
        assert!(!poll_once(&mut sleep).await);

        let (sleep, message) = on_other_thread(sleep, |s| {
            let _ = s.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        });
        let message = message.expect("polling on another thread panics");
        assert!(
            message.contains("TulipSleep polled on a thread other than its loop's"),
            "{message}"
        );

        let (mut sleep, message) = on_other_thread(sleep, |s| {
            TulipTimer.reset(s, Instant::now() + Duration::from_secs(1));
        });
        let message = message.expect("resetting on another thread panics");
        assert!(
            message.contains("TulipSleep reset on a thread other than its loop's"),
            "{message}"
        );

        // Back on its thread it still works, and dropping it cancels it.
        assert!(!poll_once(&mut sleep).await);
        drop(sleep);
        assert_eq!(TulipTimer::pending_timers(), before);
    });
}

#[test]
fn a_sleep_dropped_on_another_thread_frees_its_timer_when_it_fires() {
    run(async {
        let before = TulipTimer::pending_timers();
        let mut sleep = TulipTimer.sleep(Duration::from_millis(20));
        assert!(!poll_once(&mut sleep).await);
        std::thread::spawn(move || drop(sleep))
            .join()
            .expect("dropping on another thread does not panic");
        assert_eq!(TulipTimer::pending_timers(), before + 1);
        tulip::sleep(Duration::from_millis(40)).await;
        assert_eq!(TulipTimer::pending_timers(), before);
    });
}

#[test]
fn a_first_poll_outside_a_loop_panics_with_a_clear_message() {
    let mut sleep = TulipTimer.sleep(Duration::from_secs(1));
    let out = catch_unwind(AssertUnwindSafe(|| {
        let _ = sleep.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    }));
    let payload = out.expect_err("no loop to time it");
    let message = panic_message(&*payload);
    assert!(
        message.contains("TulipSleep polled outside a running tulip loop"),
        "{message}"
    );
    // Outside a loop, now() is the system clock.
    let now = TulipTimer.now();
    assert!(now <= Instant::now());
}
