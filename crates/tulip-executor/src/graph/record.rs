//! The recording side of the await graph: what a task waits on
//! ([`WaitingOn`], written by leaf futures through [`waiting_on`]) and how
//! a task is awaited ([`AwaitVia`]). Each is one `Cell` store into the
//! header of the task being polled, on a `Pending` path only.

use std::fmt;
use std::time::Duration;

use crate::event_loop::clock::{Nanos, to_nanos};

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
#[repr(u8)]
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
    const ALL: [AwaitVia; 7] = [
        AwaitVia::Await,
        AwaitVia::Gather,
        AwaitVia::Wait,
        AwaitVia::WaitFor,
        AwaitVia::Shield,
        AwaitVia::TaskGroup,
        AwaitVia::AsCompleted,
    ];

    /// The link as a task's header stores it: the awaiting task's id in
    /// the low 56 bits (ids count a loop's tasks from 1), `self` above.
    pub(crate) fn pack(self, parent: u64) -> u64 {
        (u64::from(self as u8) << 56) | (parent & ((1 << 56) - 1))
    }

    /// The awaiting task's id (0: none) and how, from [`pack`](Self::pack).
    pub(crate) fn unpack(link: u64) -> (u64, AwaitVia) {
        let via = Self::ALL
            .get(usize::from((link >> 56) as u8))
            .copied()
            .unwrap_or(AwaitVia::Await);
        (link & ((1 << 56) - 1), via)
    }

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

/// What a leaf future is, for the await graph: a name in a `static`, so
/// that a task's header keeps one pointer to it (see [`waiting_on`]).
///
/// ```
/// use tulip::graph::WaitKind;
///
/// static HARDWARE: WaitKind = WaitKind::new("hardware interrupt");
/// assert_eq!(HARDWARE.name(), "hardware interrupt");
/// ```
#[derive(Debug)]
pub struct WaitKind {
    name: &'static str,
}

impl WaitKind {
    /// A kind named `name` (`"Queue.get"`, `"socket read"`, ...).
    ///
    /// ```
    /// static DISK: tulip::graph::WaitKind = tulip::graph::WaitKind::new("disk");
    /// assert_eq!(DISK.name(), "disk");
    /// ```
    pub const fn new(name: &'static str) -> WaitKind {
        WaitKind { name }
    }

    /// Its name.
    ///
    /// ```
    /// assert_eq!(tulip::graph::WaitKind::new("disk").name(), "disk");
    /// ```
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

/// The kinds of the executor's own awaits.
pub(crate) static SLEEP: WaitKind = WaitKind::new("sleep");
pub(crate) static TASK: WaitKind = WaitKind::new("Task");
pub(crate) static WAIT: WaitKind = WaitKind::new("wait");
pub(crate) static TASK_GROUP: WaitKind = WaitKind::new("TaskGroup");

// A detail packed in a `u64`: its variant in the top three bits, its value
// in the others (a deadline as nanoseconds of the loop's clock: 73 years).
const SHIFT: u32 = 61;
const VALUE: u64 = (1 << SHIFT) - 1;
const NONE: u64 = 0;
const FD: u64 = 1;
const PID: u64 = 2;
const TASK_ID: u64 = 3;
const COUNT: u64 = 4;
const UNTIL: u64 = 5;

fn pack(tag: u64, value: u64) -> u64 {
    (tag << SHIFT) | value.min(VALUE)
}

/// A packed count (of pending children, ...).
pub(crate) fn count(n: usize) -> u64 {
    pack(COUNT, n as u64)
}

/// A packed task id.
pub(crate) fn task_id(id: u64) -> u64 {
    pack(TASK_ID, id)
}

/// A packed deadline, in nanoseconds of the loop's clock.
pub(crate) fn until(when: Nanos) -> u64 {
    pack(UNTIL, when)
}

/// What a task's header stores (16 bytes): the kind and a packed detail.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawWait {
    pub(crate) kind: &'static WaitKind,
    pub(crate) detail: u64,
}

impl RawWait {
    /// The public form, a deadline as the time left after `now` (loop
    /// nanoseconds).
    pub(crate) fn resolve(self, now: Nanos) -> WaitingOn {
        let value = self.detail & VALUE;
        let detail = match self.detail >> SHIFT {
            FD => WaitDetail::Fd(i32::try_from(value).unwrap_or(-1)),
            PID => WaitDetail::Pid(u32::try_from(value).unwrap_or(u32::MAX)),
            TASK_ID => WaitDetail::Task(value),
            COUNT => WaitDetail::Count(value),
            UNTIL => WaitDetail::Remaining(Duration::from_nanos(value.saturating_sub(now))),
            _ => WaitDetail::None,
        };
        WaitingOn {
            what: self.kind.name,
            detail,
        }
    }
}

/// Records what the task being polled waits on (no effect outside a task).
/// For leaf futures: call it where `poll` returns `Pending`. tulip's own
/// leaf futures do (a sleep, a queue, a lock, a socket, a child process);
/// a future of your own can too, so that [`capture_call_graph`](crate::capture_call_graph)
/// and `tulip-ps` say what your tasks wait on. The record lasts until the
/// task is polled again. It costs a thread-local read and one store of 16
/// bytes into the task.
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
/// use tulip::graph::{WaitDetail, WaitKind, waiting_on};
/// use tulip::prelude::*;
///
/// static HARDWARE: WaitKind = WaitKind::new("hardware interrupt");
///
/// /// Pending forever, and says so.
/// struct Interrupt;
/// impl Future for Interrupt {
///     type Output = ();
///     fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
///         waiting_on(&HARDWARE, WaitDetail::Count(3));
///         Poll::Pending
///     }
/// }
///
/// tulip::run(async {
///     let t = spawn(Interrupt);
///     yield_now().await;
///     let graph = tulip::capture_call_graph(&t);
///     assert_eq!(graph.task.waiting_on.unwrap().what, "hardware interrupt");
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[inline]
pub fn waiting_on(kind: &'static WaitKind, detail: WaitDetail) {
    let packed = match detail {
        WaitDetail::None => pack(NONE, 0),
        WaitDetail::Fd(fd) => pack(FD, u64::try_from(fd).unwrap_or(VALUE)),
        WaitDetail::Pid(p) => pack(PID, u64::from(p)),
        WaitDetail::Task(t) => task_id(t),
        WaitDetail::Count(n) => pack(COUNT, n),
        WaitDetail::Remaining(d) => match crate::get_running_loop() {
            Ok(lp) => until(lp.now_nanos().saturating_add(to_nanos(d))),
            Err(_) => pack(NONE, 0),
        },
    };
    record_raw(kind, packed);
}

/// [`waiting_on`] with a detail already packed.
#[inline]
pub(crate) fn record_raw(kind: &'static WaitKind, detail: u64) {
    with_current_header(|h| graph_hooks::set_waiting(h, RawWait { kind, detail }));
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
