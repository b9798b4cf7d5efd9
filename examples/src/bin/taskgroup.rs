//! Task groups, from the asyncio documentation (tasks page, "Creating
//! Tasks" and "Task Groups").
//!
//! Two tasks are created in a [`task_group`] (asyncio's
//! `async with asyncio.TaskGroup() as tg:`) with
//! [`TaskGroup::create_task`](tulip::TaskGroup::create_task); leaving the
//! group waits for both, so their [`result`](tulip::Task::result)s are
//! ready right after it. Output:
//!
//! ```text
//! started at 00:00:00
//! hello
//! world
//! finished at 00:00:02
//! Both tasks have completed now: hello, world
//! ```
//!
//! The Python original joins the docs' two TaskGroup snippets: the one
//! printing the time around the group (here `say_after` also returns what
//! it printed) and the one printing the results:
//!
//! ```python
//! import asyncio
//! import time
//!
//! async def say_after(delay, what):
//!     await asyncio.sleep(delay)
//!     print(what)
//!     return what
//!
//! async def main():
//!     async with asyncio.TaskGroup() as tg:
//!         task1 = tg.create_task(
//!             say_after(1, 'hello'))
//!
//!         task2 = tg.create_task(
//!             say_after(2, 'world'))
//!
//!         print(f"started at {time.strftime('%X')}")
//!
//!     # The await is implicit when the context manager exits.
//!
//!     print(f"finished at {time.strftime('%X')}")
//!     print(f"Both tasks have completed now: {task1.result()}, {task2.result()}")
//!
//! asyncio.run(main())
//! ```
//!
//! Python prints the wall-clock time (`17:13:52`, then `17:13:54`). So that
//! the output is the same on every run, this port prints the time elapsed
//! on the loop's clock since the program started, in the same `%X` shape.
//!
//! In tulip the group's body is a closure receiving the [`TaskGroup`]
//! handle; the group yields the body's value (here the two tasks) once every
//! child is done, or a [`TaskGroupError`](tulip::TaskGroupError) listing
//! every failure.
//!
//! Run it with `cargo run -p tulip-examples --bin taskgroup` (2 seconds).
//! With `TULIP_EXAMPLE_FAST=1` in the environment the loop runs on the
//! virtual clock and the example finishes at once, printing the same lines.
//! The tests use it.

use std::time::{Duration, Instant};

use tulip::{EventLoop, TaskGroup, get_running_loop, sleep, task_group};

async fn say_after(delay: Duration, what: &'static str) -> &'static str {
    sleep(delay).await;
    println!("{what}");
    what
}

/// `time.strftime('%X')`, on the loop's clock counted from `start`.
fn strftime_x(start: Instant) -> Result<String, tulip::Error> {
    let secs = (get_running_loop()?.time() - start).as_secs();
    Ok(format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ))
}

async fn main_task() -> Result<(), Box<dyn std::error::Error>> {
    let start = get_running_loop()?.time();
    let (mut task1, mut task2) = task_group(|tg: TaskGroup| async move {
        let task1 = tg.create_task(say_after(Duration::from_secs(1), "hello"))?;

        let task2 = tg.create_task(say_after(Duration::from_secs(2), "world"))?;

        println!("started at {}", strftime_x(start)?);
        Ok::<_, tulip::Error>((task1, task2))
    })
    .await??;

    // The await is implicit when the group exits.

    println!("finished at {}", strftime_x(start)?);
    println!(
        "Both tasks have completed now: {}, {}",
        task1.result()?,
        task2.result()?
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // With TULIP_EXAMPLE_FAST=1 (the tests set it) the loop runs on the
    // virtual clock, which jumps to the next timer: same output, no waiting.
    if std::env::var_os("TULIP_EXAMPLE_FAST").is_some_and(|v| v == "1") {
        tulip::set_event_loop_factory(Some(|| EventLoop::builder().paused_clock(true).build()));
    }
    tulip::run(main_task())?
}
