//! Timeouts, from the asyncio documentation (tasks page, "Timeouts"): the
//! examples of `asyncio.timeout()`, of a rescheduled `asyncio.timeout(None)`
//! and of `asyncio.wait_for()`.
//!
//! - A long operation runs under [`timeout`]`(10 s)`
//!   ([`Timeout::run`](tulip::Timeout::run) is `async with`). It takes an
//!   hour, so the deadline passes: the operation is dropped (tulip's
//!   cancellation) and `run` yields [`Error::Timeout`], asyncio's
//!   `TimeoutError`, which is handled.
//! - A timeout created without a deadline ([`Timeout::new`]`(None)`) gets
//!   one from inside its body with
//!   [`reschedule`](tulip::Timeout::reschedule); afterwards
//!   [`expired`](tulip::Timeout::expired) tells that it fired.
//! - [`wait_for`] waits for `eternity()` for at most a second.
//!
//! Output:
//!
//! ```text
//! The long operation timed out, but we've handled it.
//! This statement will run regardless.
//! Looks like we haven't finished on time.
//! timeout!
//! ```
//!
//! The Python originals (`long_running_task` is left undefined by the
//! docs; here it sleeps for an hour):
//!
//! ```python
//! async def main():
//!     try:
//!         async with asyncio.timeout(10):
//!             await long_running_task()
//!     except TimeoutError:
//!         print("The long operation timed out, but we've handled it.")
//!
//!     print("This statement will run regardless.")
//! ```
//!
//! ```python
//! async def main():
//!     try:
//!         # We do not know the timeout when starting, so we pass ``None``.
//!         async with asyncio.timeout(None) as cm:
//!             # We know the timeout now, so we reschedule it.
//!             new_deadline = get_running_loop().time() + 10
//!             cm.reschedule(new_deadline)
//!
//!             await long_running_task()
//!     except TimeoutError:
//!         pass
//!
//!     if cm.expired():
//!         print("Looks like we haven't finished on time.")
//! ```
//!
//! ```python
//! async def eternity():
//!     # Sleep for one hour
//!     await asyncio.sleep(3600)
//!     print('yay!')
//!
//! async def main():
//!     # Wait for at most 1 second
//!     try:
//!         await asyncio.wait_for(eternity(), timeout=1.0)
//!     except TimeoutError:
//!         print('timeout!')
//!
//! asyncio.run(main())
//!
//! # Expected output:
//! #
//! #     timeout!
//! ```
//!
//! Unlike asyncio, the timeouts never cancel the task running `main`: each
//! drops its own body only, so no `cancelling()`/`uncancel()` bookkeeping is
//! involved.
//!
//! Run it with `cargo run -p tulip-examples --bin timeout` (21 seconds:
//! two 10-second timeouts and a 1-second one). With `TULIP_EXAMPLE_FAST=1`
//! in the environment the loop runs on the virtual clock and the example
//! finishes at once, printing the same lines. The tests use it.

use std::time::Duration;

use tulip::{Error, EventLoop, Timeout, get_running_loop, sleep, timeout, wait_for};

async fn long_running_task() {
    sleep(Duration::from_secs(3600)).await;
}

async fn timeout_example() {
    match timeout(Duration::from_secs(10))
        .run(long_running_task())
        .await
    {
        Err(Error::Timeout) => println!("The long operation timed out, but we've handled it."),
        Err(e) => panic!("unexpected error: {e}"),
        Ok(()) => {}
    }

    println!("This statement will run regardless.");
}

async fn reschedule_example() -> Result<(), Error> {
    // We do not know the timeout when starting, so we pass `None`.
    let cm = Timeout::new(None);
    let body = async {
        // We know the timeout now, so we reschedule it.
        let new_deadline = get_running_loop()?.time() + Duration::from_secs(10);
        cm.reschedule(Some(new_deadline))?;

        long_running_task().await;
        Ok::<(), Error>(())
    };
    match cm.run(body).await {
        Ok(result) => result?,
        Err(Error::Timeout) => {}
        Err(e) => return Err(e),
    }

    if cm.expired() {
        println!("Looks like we haven't finished on time.");
    }
    Ok(())
}

async fn eternity() {
    // Sleep for one hour
    sleep(Duration::from_secs(3600)).await;
    println!("yay!");
}

async fn wait_for_example() {
    // Wait for at most 1 second
    if let Err(Error::Timeout) = wait_for(eternity(), Duration::from_secs(1)).await {
        println!("timeout!");
    }
}

async fn main_task() -> Result<(), Error> {
    timeout_example().await;
    reschedule_example().await?;
    wait_for_example().await;
    Ok(())
}

fn main() -> Result<(), Error> {
    // With TULIP_EXAMPLE_FAST=1 (the tests set it) the loop runs on the
    // virtual clock, which jumps to the next timer: same output, no waiting.
    if std::env::var_os("TULIP_EXAMPLE_FAST").is_some_and(|v| v == "1") {
        tulip::set_event_loop_factory(Some(|| EventLoop::builder().paused_clock(true).build()));
    }
    tulip::run(main_task())?
}
