//! Hello World with `call_soon()`, from the asyncio documentation (event
//! loop page, "Event loop examples").
//!
//! A callback scheduled with [`call_soon`](tulip::Loop::call_soon) prints
//! `Hello World` and stops the loop. Output:
//!
//! ```text
//! Hello World
//! ```
//!
//! The Python original:
//!
//! ```python
//! import asyncio
//!
//! def hello_world(loop):
//!     print('Hello World')
//!     loop.stop()
//!
//! loop = asyncio.get_event_loop()
//!
//! # Schedule a call to hello_world()
//! loop.call_soon(hello_world, loop)
//!
//! # Blocking call interrupted by loop.stop()
//! loop.run_forever()
//! loop.close()
//! ```
//!
//! Run it with `cargo run -p tulip-examples --bin hello_world_callback`.

use tulip::Loop;

fn hello_world(lp: &Loop) {
    println!("Hello World");
    lp.stop();
}

fn main() -> Result<(), tulip::Error> {
    // asyncio's get_event_loop() used to create a loop on first use; tulip's
    // never does (as asyncio 3.14), so the loop is made explicitly.
    let event_loop = tulip::new_event_loop()?;

    // Schedule a call to hello_world()
    let lp = event_loop.handle();
    event_loop.call_soon(move || hello_world(&lp))?;

    // Blocking call interrupted by lp.stop()
    event_loop.run_forever()?;
    event_loop.close()?;
    Ok(())
}
