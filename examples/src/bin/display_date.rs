//! Display the current date with `call_later()`, from the asyncio
//! documentation (event loop page, "Event loop examples").
//!
//! A callback prints the current date and time, then reschedules itself one
//! second later with [`call_later`](tulip::Loop::call_later) for 5 seconds,
//! then stops the loop. It prints 5 lines (at 0, 1, 2, 3 and 4 seconds: at 4 s,
//! `time + 1 s < end_time` no longer holds), each as Python prints
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
//! def display_date(end_time, loop):
//!     print(datetime.datetime.now())
//!     if (loop.time() + 1.0) < end_time:
//!         loop.call_later(1, display_date, end_time, loop)
//!     else:
//!         loop.stop()
//!
//! loop = asyncio.get_event_loop()
//!
//! # Schedule the first call to display_date()
//! end_time = loop.time() + 5.0
//! loop.call_soon(display_date, end_time, loop)
//!
//! # Blocking call interrupted by loop.stop()
//! loop.run_forever()
//! loop.close()
//! ```
//!
//! Run it with `cargo run -p tulip-examples --bin display_date`. With
//! `TULIP_EXAMPLE_FAST=1` in the environment the loop runs on the virtual
//! clock (`EventLoop::builder().paused_clock(true)`, installed as the loop
//! factory): it jumps from timer to timer, so the example prints the same
//! 5 lines, one virtual second apart, and finishes at once. The tests use it.

use std::time::{Duration, Instant};

use chrono::{DateTime, Local};
use tulip::{EventLoop, Loop};

/// Python's `str(datetime.datetime.now())`, read through the loop's clock:
/// the wall-clock time at `start` plus the loop time since (on the virtual
/// clock of fast mode, the dates move with the virtual time).
fn now(lp: &Loop, start: (DateTime<Local>, Instant)) -> String {
    let (wall, at) = start;
    let date = wall + lp.time().saturating_duration_since(at);
    date.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

fn display_date(end_time: Instant, lp: Loop, start: (DateTime<Local>, Instant)) {
    println!("{}", now(&lp, start));
    if lp.time() + Duration::from_secs(1) < end_time {
        let next = lp.clone();
        lp.call_later(Duration::from_secs(1), move || {
            display_date(end_time, next, start)
        })
        .expect("the loop is open while it runs");
    } else {
        lp.stop();
    }
}

fn main() -> Result<(), tulip::Error> {
    // With TULIP_EXAMPLE_FAST=1 (the tests set it) the loop runs on the
    // virtual clock, which jumps to the next timer: same output, no waiting.
    if std::env::var_os("TULIP_EXAMPLE_FAST").is_some_and(|v| v == "1") {
        tulip::set_event_loop_factory(Some(|| EventLoop::builder().paused_clock(true).build()));
    }
    let event_loop = tulip::new_event_loop()?;
    let lp = event_loop.handle();

    // Schedule the first call to display_date()
    let end_time = lp.time() + Duration::from_secs(5);
    let start = (Local::now(), lp.time());
    let first = lp.clone();
    lp.call_soon(move || display_date(end_time, first, start))?;

    // Blocking call interrupted by lp.stop()
    event_loop.run_forever()?;
    event_loop.close()?;
    Ok(())
}
