//! Coroutine displaying the current date, from the asyncio documentation
//! (tasks page, "Example: Coroutine displaying the current date").
//!
//! An `async fn` prints the current date and time every second during 5
//! seconds, sleeping with [`tulip::sleep`]. It prints 5 lines (at 0, 1, 2,
//! 3 and 4 seconds: at 4 s, `time + 1 s >= end_time`), each as Python prints
//! `datetime.datetime.now()`:
//!
//! ```text
//! 2014-02-03 04:05:06.123456
//! 2014-02-03 04:05:07.124587
//! ...
//! ```
//!
//! The Python original:
//!
//! ```python
//! import asyncio
//! import datetime
//!
//! async def display_date():
//!     loop = asyncio.get_running_loop()
//!     end_time = loop.time() + 5.0
//!     while True:
//!         print(datetime.datetime.now())
//!         if (loop.time() + 1.0) >= end_time:
//!             break
//!         await asyncio.sleep(1)
//!
//! asyncio.run(display_date())
//! ```
//!
//! Run it with `cargo run -p tulip-examples --bin display_date_coroutine`.
//! With `TULIP_EXAMPLE_FAST=1` in the environment the loop runs on the
//! virtual clock (`EventLoop::builder().paused_clock(true)`, installed as
//! the loop factory `tulip::run` uses): each `sleep` ends as soon as the
//! loop has nothing else to do, so the example prints the same 5 lines, one
//! virtual second apart, and finishes at once. The tests use it.

use std::time::{Duration, Instant};

use chrono::{DateTime, Local};
use tulip::{EventLoop, Loop, get_running_loop, sleep};

/// Python's `str(datetime.datetime.now())`, read through the loop's clock:
/// the wall-clock time at `start` plus the loop time since (on the virtual
/// clock of fast mode, the dates move with the virtual time).
fn now(lp: &Loop, start: (DateTime<Local>, Instant)) -> String {
    let (wall, at) = start;
    let date = wall + lp.time().saturating_duration_since(at);
    date.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

async fn display_date() -> Result<(), tulip::Error> {
    let lp = get_running_loop()?;
    let start = (Local::now(), lp.time());
    let end_time = lp.time() + Duration::from_secs(5);
    loop {
        println!("{}", now(&lp, start));
        if lp.time() + Duration::from_secs(1) >= end_time {
            break;
        }
        sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

fn main() -> Result<(), tulip::Error> {
    // With TULIP_EXAMPLE_FAST=1 (the tests set it) the loop runs on the
    // virtual clock, which jumps to the next timer: same output, no waiting.
    if std::env::var_os("TULIP_EXAMPLE_FAST").is_some_and(|v| v == "1") {
        tulip::set_event_loop_factory(Some(|| EventLoop::builder().paused_clock(true).build()));
    }
    tulip::run(display_date())?
}
