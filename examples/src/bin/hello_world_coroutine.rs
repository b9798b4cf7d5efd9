//! Hello World coroutine, from the asyncio documentation (tasks page,
//! "Example: Hello World coroutine").
//!
//! An `async fn` printing `Hello World!`, run by [`tulip::run`] as the
//! original is by `asyncio.run`. Output:
//!
//! ```text
//! Hello World!
//! ```
//!
//! The Python original (3.7 version of the docs; the 3.4 one ran the same
//! coroutine with `loop.run_until_complete(hello_world())`):
//!
//! ```python
//! import asyncio
//!
//! async def hello_world():
//!     print("Hello World!")
//!
//! asyncio.run(hello_world())
//! ```
//!
//! Run it with `cargo run -p tulip-examples --bin hello_world_coroutine`.

async fn hello_world() {
    println!("Hello World!");
}

fn main() -> Result<(), tulip::Error> {
    tulip::run(hello_world())
}
