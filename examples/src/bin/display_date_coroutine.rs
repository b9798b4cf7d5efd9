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

use std::time::Duration;

use tulip::{get_running_loop, sleep};
use tulip_examples::datetime_now;

async fn display_date() -> Result<(), tulip::Error> {
    let lp = get_running_loop()?;
    let end_time = lp.time() + Duration::from_secs(5);
    loop {
        println!("{}", datetime_now());
        if lp.time() + Duration::from_secs(1) >= end_time {
            break;
        }
        sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

fn main() -> Result<(), tulip::Error> {
    // TULIP_EXAMPLE_FAST=1: tulip::run gets a loop on the virtual clock.
    tulip_examples::use_virtual_clock_in_fast_mode();
    tulip::run(display_date())?
}
