//! Set signal handlers for SIGINT and SIGTERM, from the asyncio
//! documentation (event loop page, "Set signal handlers for SIGINT and
//! SIGTERM"; Unix only).
//!
//! `main` registers a handler for `SIGINT` and one for `SIGTERM` with
//! [`Loop::add_signal_handler`](tulip::Loop::add_signal_handler), then
//! sleeps for an hour. The first of the two signals to arrive prints which
//! one it was and stops the loop:
//!
//! ```text
//! Event loop running for 1 hour, press Ctrl+C to interrupt.
//! pid 12345: send SIGINT or SIGTERM to exit.
//! got signal SIGINT: exit
//! ```
//!
//! The Python original:
//!
//! ```python
//! import asyncio
//! import functools
//! import os
//! import signal
//!
//! def ask_exit(signame, loop):
//!     print("got signal %s: exit" % signame)
//!     loop.stop()
//!
//! async def main():
//!     loop = asyncio.get_running_loop()
//!
//!     for signame in {'SIGINT', 'SIGTERM'}:
//!         loop.add_signal_handler(
//!             getattr(signal, signame),
//!             functools.partial(ask_exit, signame, loop))
//!
//!     await asyncio.sleep(3600)
//!
//! print("Event loop running for 1 hour, press Ctrl+C to interrupt.")
//! print(f"pid {os.getpid()}: send SIGINT or SIGTERM to exit.")
//!
//! asyncio.run(main())
//! ```
//!
//! Stopping the loop under `asyncio.run` makes it raise `RuntimeError('Event
//! loop stopped before Future completed.')`, with a traceback; `tulip::run`
//! returns [`Error::StoppedBeforeComplete`] instead, which this port takes
//! as the expected way out: it exits with status 0.
//!
//! Run it with `cargo run -p tulip-examples --bin signal_handler`, then
//! press Ctrl+C or run `kill <pid>`.

use std::time::Duration;

use tulip::signal::{SIGINT, SIGTERM};
use tulip::{Error, Loop, get_running_loop, sleep};

fn ask_exit(signame: &str, lp: &Loop) {
    println!("got signal {signame}: exit");
    lp.stop();
}

async fn amain() -> Result<(), Error> {
    let lp = get_running_loop()?;
    for (signame, signum) in [("SIGINT", SIGINT), ("SIGTERM", SIGTERM)] {
        let target = lp.clone();
        lp.add_signal_handler(signum, move || ask_exit(signame, &target))?;
    }
    sleep(Duration::from_secs(3600)).await;
    Ok(())
}

fn main() -> Result<(), Error> {
    println!("Event loop running for 1 hour, press Ctrl+C to interrupt.");
    println!(
        "pid {}: send SIGINT or SIGTERM to exit.",
        std::process::id()
    );
    match tulip::run(amain()) {
        Ok(out) => out,
        // The handler stopped the loop: the way this example ends.
        Err(Error::StoppedBeforeComplete) => Ok(()),
        Err(e) => Err(e),
    }
}
