//! Workers sharing a queue, from the asyncio documentation (queues page,
//! "Examples": "Queues can be used to distribute workload between several
//! concurrent tasks").
//!
//! Twenty sleep times go into a [`Queue`]; three worker
//! tasks take them out and sleep for that long, calling
//! [`task_done`](tulip::sync::BaseQueue::task_done) after each.
//! [`join`](tulip::sync::BaseQueue::join) waits until every item is done;
//! then the workers, still waiting in `get`, are cancelled with
//! [`Task::cancel`](tulip::Task::cancel) and waited for with
//! [`gather(..).return_exceptions()`](tulip::Gather::return_exceptions).
//!
//! The original draws its sleep times with `random.uniform(0.05, 1.0)`.
//! Here they come from a fixed pseudo-random sequence (whole milliseconds
//! between 0.05 and 1.0 s), so the output is the same on every run:
//!
//! ```text
//! worker-1 has slept for 0.27 seconds
//! worker-2 has slept for 0.53 seconds
//! worker-0 has slept for 0.83 seconds
//! ...
//! ====
//! 3 workers slept in parallel for 4.28 seconds
//! total expected sleep time: 11.96 seconds
//! ```
//!
//! The Python original:
//!
//! ```python
//! import asyncio
//! import random
//! import time
//!
//!
//! async def worker(name, queue):
//!     while True:
//!         # Get a "work item" out of the queue.
//!         sleep_for = await queue.get()
//!
//!         # Sleep for the "sleep_for" seconds.
//!         await asyncio.sleep(sleep_for)
//!
//!         # Notify the queue that the "work item" has been processed.
//!         queue.task_done()
//!
//!         print(f'{name} has slept for {sleep_for:.2f} seconds')
//!
//!
//! async def main():
//!     # Create a queue that we will use to store our "workload".
//!     queue = asyncio.Queue()
//!
//!     # Generate random timings and put them into the queue.
//!     total_sleep_time = 0
//!     for _ in range(20):
//!         sleep_for = random.uniform(0.05, 1.0)
//!         total_sleep_time += sleep_for
//!         queue.put_nowait(sleep_for)
//!
//!     # Create three worker tasks to process the queue concurrently.
//!     tasks = []
//!     for i in range(3):
//!         task = asyncio.create_task(worker(f'worker-{i}', queue))
//!         tasks.append(task)
//!
//!     # Wait until the queue is fully processed.
//!     started_at = time.monotonic()
//!     await queue.join()
//!     total_slept_for = time.monotonic() - started_at
//!
//!     # Cancel our worker tasks.
//!     for task in tasks:
//!         task.cancel()
//!     # Wait until all worker tasks are cancelled.
//!     await asyncio.gather(*tasks, return_exceptions=True)
//!
//!     print('====')
//!     print(f'3 workers slept in parallel for {total_slept_for:.2f} seconds')
//!     print(f'total expected sleep time: {total_sleep_time:.2f} seconds')
//!
//!
//! asyncio.run(main())
//! ```
//!
//! Run it with `cargo run -p tulip-examples --bin queue_workers` (about 4.3
//! seconds). With `TULIP_EXAMPLE_FAST=1` in the environment the loop runs on
//! the virtual clock: it prints the same lines and finishes at once, and the
//! time measured around `join` is exact. The tests use it.

use std::time::Duration;

use tulip::sync::Queue;
use tulip::{EventLoop, Task, gather, get_running_loop, sleep, spawn};

/// A fixed stand-in for `random.uniform(0.05, 1.0)`: a linear congruential
/// generator (Knuth's MMIX constants) with a fixed seed, giving whole
/// milliseconds from 50 to 1000.
struct Uniform(u64);

impl Uniform {
    fn next_sleep(&mut self) -> Duration {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        Duration::from_millis(50 + (self.0 >> 33) % 951)
    }
}

async fn worker(name: String, queue: Queue<Duration>) {
    loop {
        // Get a "work item" out of the queue.
        let Ok(sleep_for) = queue.get().await else {
            return; // the queue was shut down (it is not, here)
        };

        // Sleep for the "sleep_for" seconds.
        sleep(sleep_for).await;

        // Notify the queue that the "work item" has been processed.
        queue.task_done().expect("one task_done per item");

        println!(
            "{name} has slept for {:.2} seconds",
            sleep_for.as_secs_f64()
        );
    }
}

async fn main_task() -> Result<(), tulip::Error> {
    let lp = get_running_loop()?;

    // Create a queue that we will use to store our "workload".
    let queue = Queue::new(0);

    // Generate random timings and put them into the queue.
    let mut random = Uniform(2014);
    let mut total_sleep_time = Duration::ZERO;
    for _ in 0..20 {
        let sleep_for = random.next_sleep();
        total_sleep_time += sleep_for;
        queue
            .put_nowait(sleep_for)
            .expect("an unbounded queue is never full");
    }

    // Create three worker tasks to process the queue concurrently.
    let tasks: Vec<Task<()>> = (0..3)
        .map(|i| spawn(worker(format!("worker-{i}"), queue.clone())))
        .collect();

    // Wait until the queue is fully processed.
    let started_at = lp.time();
    queue.join().await;
    let total_slept_for = lp.time() - started_at;

    // Cancel our worker tasks.
    for task in &tasks {
        task.cancel();
    }
    // Wait until all worker tasks are cancelled.
    let outcomes = gather(tasks).return_exceptions().await;
    debug_assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Ok(Err(e)) if e.is_cancelled()))
    );

    println!("====");
    println!(
        "3 workers slept in parallel for {:.2} seconds",
        total_slept_for.as_secs_f64()
    );
    println!(
        "total expected sleep time: {:.2} seconds",
        total_sleep_time.as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<(), tulip::Error> {
    // With TULIP_EXAMPLE_FAST=1 (the tests set it) the loop runs on the
    // virtual clock, which jumps to the next timer: same output, no waiting.
    if std::env::var_os("TULIP_EXAMPLE_FAST").is_some_and(|v| v == "1") {
        tulip::set_event_loop_factory(Some(|| EventLoop::builder().paused_clock(true).build()));
    }
    tulip::run(main_task())?
}
