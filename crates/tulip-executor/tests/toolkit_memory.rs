//! Cancelled combinators leave nothing behind: a gather or task group
//! dropped with pending children (the children finished in place) frees
//! every child task's allocation. A counting global allocator measures
//! the bytes still live after many rounds. Virtual clock.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use tulip_executor::{EventLoop, gather, task_group, timeout, yield_now};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn timed_out_gathers_and_groups_free_their_children() {
    let el = EventLoop::builder().paused_clock(true).build().unwrap();
    el.run_until_complete(async {
        // Warm up: the loop's queues and the registry reach their size.
        for _ in 0..20 {
            round().await;
        }
        let before = LIVE.load(Ordering::Relaxed);
        for _ in 0..200 {
            round().await;
        }
        let grown = LIVE.load(Ordering::Relaxed) - before;
        // 4,000 child tasks: a leak of even one task allocation each
        // would be hundreds of kilobytes.
        assert!(grown < 16 * 1024, "{grown} bytes still live");
    })
    .unwrap();
}

/// A gather and a task group of ten children each that never finish,
/// timed out.
async fn round() {
    let r = timeout(Duration::from_secs(1))
        .run(gather(
            (0..10)
                .map(|_| std::future::pending::<()>())
                .collect::<Vec<_>>(),
        ))
        .await;
    assert!(r.unwrap_err().is_timeout());
    let r = timeout(Duration::from_secs(1))
        .run(task_group(|tg| async move {
            for _ in 0..10 {
                tg.create_task(std::future::pending::<()>())
                    .unwrap()
                    .detach();
            }
            std::future::pending::<()>().await;
        }))
        .await;
    assert!(r.unwrap_err().is_timeout());
    // Let the emptied tasks' runnables release what is left.
    yield_now().await;
    yield_now().await;
}
