//! The recording side of the await graph: what a task waits on
//! ([`WaitingOn`], written by leaf futures through [`waiting_on`]) and how
//! a task is awaited ([`AwaitVia`]). Each is one `Cell` store into the
//! header of the task being polled, on a `Pending` path only.

use std::fmt;
use std::time::{Duration, Instant};

use crate::task::graph_hooks::{self, with_current_header};

/// How a task is awaited: the link from a task to the task awaiting it.
///
/// ```
/// use tulip::graph::AwaitVia;
///
/// assert_eq!(AwaitVia::Gather.to_string(), "gather");
/// assert_eq!(AwaitVia::Await.as_str(), "await");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AwaitVia {
    /// The awaiting task awaits the [`Task`](crate::Task) handle itself.
    Await,
    /// A child of [`gather`](crate::gather) or [`try_gather`](crate::try_gather).
    Gather,
    /// One of the tasks of [`wait`](crate::wait).
    Wait,
    /// The task of [`wait_for_task`](crate::wait_for_task).
    WaitFor,
    /// The inner task of [`shield`](crate::shield).
    Shield,
    /// A child of a [`TaskGroup`](crate::TaskGroup) (linked to the task
    /// running the group when the child is created, as asyncio does).
    TaskGroup,
    /// One of the tasks of [`as_completed`](crate::as_completed).
    AsCompleted,
}

impl AwaitVia {
    /// The name shown in graphs and by `tulip-ps` (asyncio's function name).
    ///
    /// ```
    /// assert_eq!(tulip::graph::AwaitVia::TaskGroup.as_str(), "TaskGroup");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            AwaitVia::Await => "await",
            AwaitVia::Gather => "gather",
            AwaitVia::Wait => "wait",
            AwaitVia::WaitFor => "wait_for",
            AwaitVia::Shield => "shield",
            AwaitVia::TaskGroup => "TaskGroup",
            AwaitVia::AsCompleted => "as_completed",
        }
    }
}

impl fmt::Display for AwaitVia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The detail a leaf future adds to what it waits on.
///
/// ```
/// use std::time::Duration;
/// use tulip::graph::WaitDetail;
///
/// assert_eq!(WaitDetail::Fd(7).to_string(), "fd 7");
/// assert_eq!(WaitDetail::Remaining(Duration::from_millis(1500)).to_string(), "1.500s left");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitDetail {
    /// Nothing more to say.
    None,
    /// A file descriptor (a socket, a pipe).
    Fd(i32),
    /// A child process id.
    Pid(u32),
    /// A task, by its id.
    Task(u64),
    /// A count (tasks still pending in a gather, items in a queue, ...).
    Count(u64),
    /// Time left until a deadline (a sleep), as of the capture.
    Remaining(Duration),
}

impl fmt::Display for WaitDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitDetail::None => Ok(()),
            WaitDetail::Fd(fd) => write!(f, "fd {fd}"),
            WaitDetail::Pid(pid) => write!(f, "pid {pid}"),
            WaitDetail::Task(id) => write!(f, "task {id}"),
            WaitDetail::Count(n) => write!(f, "{n} pending"),
            WaitDetail::Remaining(d) => write!(f, "{}.{:03}s left", d.as_secs(), d.subsec_millis()),
        }
    }
}

/// What a task's last poll stopped at: the name of one of tulip's leaf
/// futures (or of a user's, see [`waiting_on`]) and its detail.
///
/// ```
/// use tulip::graph::{WaitDetail, WaitingOn};
///
/// let w = WaitingOn { what: "socket read", detail: WaitDetail::Fd(9) };
/// assert_eq!(w.to_string(), "socket read (fd 9)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitingOn {
    /// What is awaited: `"sleep"`, `"Queue.get"`, `"Lock.acquire"`, ...
    pub what: &'static str,
    /// More about it.
    pub detail: WaitDetail,
}

impl fmt::Display for WaitingOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)?;
        if self.detail != WaitDetail::None {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// A detail as stored in a task's header: a deadline stays absolute until
/// a capture turns it into the time left.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RawDetail {
    None,
    Fd(i32),
    Pid(u32),
    Task(u64),
    Count(u64),
    Until(Instant),
}

/// What a task's header stores: see [`WaitingOn`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawWait {
    pub(crate) what: &'static str,
    pub(crate) detail: RawDetail,
}

impl RawWait {
    /// The public form, a deadline as the time left after `now`.
    pub(crate) fn resolve(self, now: Instant) -> WaitingOn {
        let detail = match self.detail {
            RawDetail::None => WaitDetail::None,
            RawDetail::Fd(fd) => WaitDetail::Fd(fd),
            RawDetail::Pid(p) => WaitDetail::Pid(p),
            RawDetail::Task(t) => WaitDetail::Task(t),
            RawDetail::Count(n) => WaitDetail::Count(n),
            RawDetail::Until(when) => WaitDetail::Remaining(when.saturating_duration_since(now)),
        };
        WaitingOn {
            what: self.what,
            detail,
        }
    }
}

/// Records what the task being polled waits on (no effect outside a task).
/// For leaf futures: call it where `poll` returns `Pending`. tulip's own
/// leaf futures do (a sleep, a queue, a lock, a socket, a child process);
/// a future of your own can too, so that [`capture_call_graph`](crate::capture_call_graph)
/// and `tulip-ps` say what your tasks wait on. The record lasts until the
/// task is polled again.
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
/// use tulip::graph::{WaitDetail, waiting_on};
/// use tulip::prelude::*;
///
/// /// Pending forever, and says so.
/// struct Hardware;
/// impl Future for Hardware {
///     type Output = ();
///     fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
///         waiting_on("hardware interrupt", WaitDetail::Count(3));
///         Poll::Pending
///     }
/// }
///
/// tulip::run(async {
///     let t = spawn(Hardware);
///     yield_now().await;
///     let graph = tulip::capture_call_graph(&t);
///     assert_eq!(graph.task.waiting_on.unwrap().what, "hardware interrupt");
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn waiting_on(what: &'static str, detail: WaitDetail) {
    let raw = match detail {
        WaitDetail::None => RawDetail::None,
        WaitDetail::Fd(fd) => RawDetail::Fd(fd),
        WaitDetail::Pid(p) => RawDetail::Pid(p),
        WaitDetail::Task(t) => RawDetail::Task(t),
        WaitDetail::Count(n) => RawDetail::Count(n),
        WaitDetail::Remaining(d) => {
            let now = crate::get_running_loop().map_or_else(|_| Instant::now(), |lp| lp.time());
            RawDetail::Until(now + d)
        }
    };
    record_raw(what, raw);
}

/// [`waiting_on`] with the stored form (a deadline kept absolute).
#[inline]
pub(crate) fn record_raw(what: &'static str, detail: RawDetail) {
    with_current_header(|h| graph_hooks::set_waiting(h, RawWait { what, detail }));
}

/// Links `child` (by its id) to the task awaiting it, `parent_id`, through
/// `via` (a task group at creation; a combinator after polling it).
pub(crate) fn link_awaited(child: &crate::TaskRef, parent_id: u64, via: AwaitVia) {
    if child.id() != parent_id {
        graph_hooks::set_awaited_by(child, parent_id, via);
    }
}

/// Removes `child`'s link if it points at `parent_id` (an awaiter that
/// gave up).
pub(crate) fn unlink(child: &crate::TaskRef, parent_id: u64) {
    graph_hooks::clear_awaited_by_if(child, parent_id);
}
