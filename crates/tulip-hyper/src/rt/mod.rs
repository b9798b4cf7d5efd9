//! hyper's runtime traits on tulip: [`TulipExecutor`] (hyper's
//! [`Executor`](hyper::rt::Executor): spawns on the running loop, `!Send`
//! futures included) and [`TulipTimer`] (hyper's
//! [`Timer`](hyper::rt::Timer): sleeps on the loop's timers). Hand them to
//! any hyper or hyper-util builder; [`serve`](crate::serve) does.
//!
//! ```
//! use tulip::hyper::rt::{TulipExecutor, TulipTimer};
//!
//! let mut builder = hyper_util::server::conn::auto::Builder::new(TulipExecutor::new());
//! builder.http1().timer(TulipTimer::new());
//! builder.http2().timer(TulipTimer::new());
//! ```
//!
//! ## Why `TulipSleep` is `Send + Sync` soundly
//!
//! hyper requires its sleeps to be `Send + Sync` (`hyper::rt::Sleep:
//! Send + Sync + Future`), while a tulip loop's timers are `Rc` cells that
//! must never leave the loop's thread. [`TulipSleep`] meets hyper's bound
//! without any `unsafe`:
//!
//! - **It holds only plain data.** A sleep is its deadline (an `Instant`)
//!   and, once armed, the `ThreadId` of the thread it was armed on and a
//!   `u64` key. These are `Send + Sync`, so the compiler derives
//!   `Send + Sync` for the sleep (no hand-written implementation to
//!   argue), and no `Rc` (nor anything else tied to a thread) is inside it.
//! - **The loop's timer lives in a thread-local table.** Arming a sleep (at
//!   its first poll, on the running loop of the polling thread) schedules a
//!   loop timer with [`Loop::call_at`] and
//!   stores its [`TimerHandle`] and the waker
//!   in a `thread_local!` table of that thread, under the sleep's key. Only
//!   code running on that thread can reach that table, so the `Rc` inside
//!   the handle is created, used and dropped on one thread, which is what
//!   `Rc` requires. A key means something only in the table of the thread
//!   that issued it.
//! - **Other threads are refused, not trusted.** Polling or resetting an
//!   armed sleep compares the current thread with the one it was armed on
//!   and panics with a message naming the mistake if they differ ("TulipSleep
//!   polled on a thread other than its loop's"). Looking the key up in the
//!   wrong thread's table would find nothing, or an unrelated entry: a logic
//!   error, never undefined behaviour, since every access is safe code; the
//!   check turns it into a clear failure. hyper polls its sleeps from the
//!   connection's task, which tulip runs on the loop's thread, so a server
//!   never meets this panic.
//! - **Dropping works anywhere.** Dropped on its loop's thread, a sleep
//!   removes its entry and cancels the loop timer at once: a header-read
//!   timeout that a request beat leaves no timer behind
//!   ([`TulipTimer::pending_timers`] stays flat). Dropped on another thread,
//!   it cannot reach the table and touches nothing: its loop timer fires at
//!   the deadline and frees the entry then (if the loop is closed first,
//!   the entry stays until the thread exits).
//! - **Firing.** The timer's callback runs on the loop's thread, removes the
//!   entry and wakes the waker. A sleep whose key is no longer in the
//!   table has fired. Keys are never reused on a thread (a 64-bit counter),
//!   so a sleep never mistakes another sleep's entry for its own.
//! - **No re-entrancy.** The table is borrowed only for map operations;
//!   the wakers and timer handles taken out of it are woken, cancelled or
//!   dropped after the borrow ends, so no destructor (a task dropped with
//!   its last waker, say) runs while the table is borrowed.
//!
//! [`Timer::reset`](hyper::rt::Timer::reset) reschedules a `TulipSleep` in
//! place (found through hyper's `downcast_mut_pin`): the old loop timer is
//! cancelled and a new one takes its key, with the same waker.
//!
//! The executor needs no such argument: hyper's `Executor<F>` trait puts no
//! `Send` bound on the future or the executor, and [`TulipExecutor`] holds
//! nothing.

mod executor;
mod timer;

#[cfg(doc)]
use tulip_executor::{Loop, TimerHandle};

pub use executor::TulipExecutor;
pub use timer::{TulipSleep, TulipTimer};
