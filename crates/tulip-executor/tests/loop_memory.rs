//! Memory comes back after a burst: an idle loop that just ran 1,000,000
//! `call_soon` callbacks, 2,000,000 `call_soon_threadsafe` callbacks or
//! 300,000 tasks holds about the heap it held before (the ready queues and
//! the task registry shrink; the cross-thread queue is taken in slices, so
//! the ready queue never holds a flood whole); and 1,000,000 far-away timers
//! armed and then cancelled on a loop that is never idle are freed. Heap figures come from glibc's
//! `mallinfo2`; elsewhere the test has nothing to measure and passes.
//!
//! One test: the heap is shared by every thread of the process, so no other
//! test may run beside it. `--nocapture` prints the figures.

use std::time::Duration;

use tulip_executor::{EventLoop, get_running_loop, sleep, yield_now};
use tulip_test::heap_in_use;

const MB: f64 = 1024.0 * 1024.0;

/// What a burst may leave behind: allocator slack, not the burst's size.
const SLACK: usize = 4 << 20;

/// A few idle passes: the loop settles (queues swap and shrink).
fn settle(el: &EventLoop) {
    el.run_until_complete(async {
        for _ in 0..4 {
            yield_now().await;
        }
        sleep(Duration::from_millis(1)).await;
    })
    .unwrap();
}

fn report(what: &str, before: usize, peak: usize, after: usize) {
    eprintln!(
        "{what}: before {:.1} MB, peak {:.1} MB, after {:.1} MB",
        before as f64 / MB,
        peak as f64 / MB,
        after as f64 / MB
    );
    assert!(
        peak > before + SLACK,
        "{what}: the burst was measured at its peak"
    );
    assert!(
        after < before + SLACK,
        "{what}: {:.1} MB still held by an idle loop",
        (after - before) as f64 / MB
    );
}

#[test]
fn an_idle_loop_gives_a_burst_back() {
    let Some(_) = heap_in_use() else { return };
    let el = EventLoop::new().unwrap();
    settle(&el);

    // 1,000,000 call_soon from one callback.
    let before = heap_in_use().unwrap();
    let peak = el
        .run_until_complete(async {
            let lp = get_running_loop().unwrap();
            for i in 0..1_000_000u64 {
                lp.call_soon(move || {
                    std::hint::black_box(i);
                })
                .unwrap();
            }
            let peak = heap_in_use().unwrap();
            yield_now().await;
            peak
        })
        .unwrap();
    settle(&el);
    report("1M call_soon", before, peak, heap_in_use().unwrap());

    // 2,000,000 call_soon_threadsafe from another thread, queued before
    // the loop runs.
    let before = heap_in_use().unwrap();
    let remote = el.handle().remote();
    std::thread::spawn(move || {
        for i in 0..2_000_000u64 {
            remote
                .call_soon_threadsafe(move || {
                    std::hint::black_box(i);
                })
                .unwrap();
        }
        remote.stop().unwrap();
    })
    .join()
    .unwrap();
    let peak = heap_in_use().unwrap();
    el.run_forever().unwrap();
    settle(&el);
    report(
        "2M call_soon_threadsafe",
        before,
        peak,
        heap_in_use().unwrap(),
    );

    // 300,000 tasks, each yielding once.
    let before = heap_in_use().unwrap();
    let peak = el
        .run_until_complete(async {
            let lp = get_running_loop().unwrap();
            for _ in 0..300_000 {
                lp.create_task(async { yield_now().await }).detach();
            }
            let peak = heap_in_use().unwrap();
            while lp.all_tasks().len() > 1 {
                sleep(Duration::from_millis(1)).await;
            }
            peak
        })
        .unwrap();
    settle(&el);
    report("300k tasks", before, peak, heap_in_use().unwrap());

    // 1,000,000 timers an hour away, armed, then cancelled while a task
    // keeps the loop busy (no pass is idle).
    let before = heap_in_use().unwrap();
    let peak = el
        .run_until_complete(async {
            let lp = get_running_loop().unwrap();
            let handles: Vec<_> = (0..1_000_000u64)
                .map(|i| {
                    lp.call_later(Duration::from_secs(3600), move || {
                        std::hint::black_box(i);
                    })
                    .unwrap()
                })
                .collect();
            yield_now().await;
            let peak = heap_in_use().unwrap();
            for h in handles {
                h.cancel();
            }
            for _ in 0..4 {
                yield_now().await;
            }
            peak
        })
        .unwrap();
    report("1M timers cancelled", before, peak, heap_in_use().unwrap());
}
