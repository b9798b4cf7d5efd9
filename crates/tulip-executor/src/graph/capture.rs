//! Capturing the await graph of a task: [`capture_call_graph`] reads the
//! loop's task registry once, links every live task to the task awaiting
//! it, and walks up and down from the task asked about.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::panic::Location;

use crate::TaskRef;
use crate::event_loop::clock::Nanos;
use crate::graph::{AwaitVia, WaitingOn};
use crate::task::graph_hooks;
use crate::task::header::all_task_refs;
use crate::toolkit::wait::AsTaskRef;

/// A task's state, as a graph shows it.
///
/// ```
/// assert_eq!(tulip::graph::TaskState::Cancelling.to_string(), "cancelling");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskState {
    /// Running or waiting.
    Pending,
    /// Cancellation was requested and is not taken back; it lands at the
    /// task's next poll.
    Cancelling,
    /// Completed with a value.
    Finished,
    /// Completed as cancelled.
    Cancelled,
    /// Completed by a panic.
    Panicked,
}

impl TaskState {
    /// The state of `task`.
    pub(crate) fn of(task: &TaskRef) -> TaskState {
        if task.cancelled() {
            TaskState::Cancelled
        } else if task.panicked() {
            TaskState::Panicked
        } else if task.done() {
            TaskState::Finished
        } else if task.cancelling() > 0 {
            TaskState::Cancelling
        } else {
            TaskState::Pending
        }
    }

    /// The lower-case name (`"pending"`, ...).
    ///
    /// ```
    /// assert_eq!(tulip::graph::TaskState::Pending.as_str(), "pending");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Cancelling => "cancelling",
            TaskState::Finished => "finished",
            TaskState::Cancelled => "cancelled",
            TaskState::Panicked => "panicked",
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One task of a graph: who it is and what it waits on.
///
/// ```
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let t = spawn(async {});
///     let info = tulip::capture_call_graph(&t).task;
///     assert_eq!(info.id, t.id());
///     assert_eq!(info.state, tulip::graph::TaskState::Pending);
///     assert_eq!(info.created_at.line(), line!() - 4);
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskInfo {
    /// The task's id, unique within its loop.
    pub id: u64,
    /// Its name (`Task-<id>` unless set).
    pub name: String,
    /// Its state when captured.
    pub state: TaskState,
    /// Where it was created (`#[track_caller]` of `spawn`, `create_task`, ...).
    pub created_at: &'static Location<'static>,
    /// What its last poll stopped at, if one of tulip's leaf futures (or a
    /// future using [`waiting_on`](crate::graph::waiting_on)) said; `None`
    /// for a task not started or waiting on a foreign future.
    pub waiting_on: Option<WaitingOn>,
}

impl TaskInfo {
    pub(crate) fn of(task: &TaskRef, now: Nanos) -> TaskInfo {
        let state = TaskState::of(task);
        TaskInfo {
            id: task.id(),
            name: task.get_name(),
            state,
            created_at: task.source_location(),
            waiting_on: match state {
                TaskState::Pending | TaskState::Cancelling => {
                    graph_hooks::waiting(task).map(|w| w.resolve(now))
                }
                _ => None,
            },
        }
    }
}

/// The await graph around one task (asyncio's `FutureCallGraph`): the
/// task, the tasks it awaits ([`awaits`](CallGraph::awaits), recursively
/// down) and the tasks awaiting it ([`awaited_by`](CallGraph::awaited_by),
/// recursively up). A node met again on its own path is marked
/// [`cycle`](CallGraph::cycle) and not expanded. Displayed (`{}`) as
/// [`format_call_graph`](crate::format_call_graph) formats it.
///
/// ```
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let kids = gather((std::future::pending::<()>(), std::future::pending::<()>()));
///     let parent = spawn(async move { kids.await });
///     yield_now().await;
///     let graph = tulip::capture_call_graph(&parent);
///     assert_eq!(graph.awaits.len(), 2);
///     assert!(graph.awaits.iter().all(|c| c.via == Some(tulip::graph::AwaitVia::Gather)));
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallGraph {
    /// The task of this node.
    pub task: TaskInfo,
    /// How this node is linked to the node it hangs from (`None` at the
    /// root): how the child is awaited, going down or up.
    pub via: Option<AwaitVia>,
    /// This task is already on the path from the root (a cycle: A awaits B
    /// awaits A); it is not expanded again.
    pub cycle: bool,
    /// The tasks this task awaits, each with what they await.
    pub awaits: Vec<CallGraph>,
    /// The task awaiting this one, with who awaits it in turn (one at most
    /// in tulip: a task handle is not `Clone`; kept a `Vec` as asyncio's).
    pub awaited_by: Vec<CallGraph>,
}

/// The links of every live task of a loop, read once.
pub(crate) struct Links {
    pub(crate) tasks: HashMap<u64, TaskRef>,
    /// Task id -> the tasks it awaits (id, via), in creation order.
    pub(crate) children: HashMap<u64, Vec<(u64, AwaitVia)>>,
    /// Task id -> the task awaiting it, if that one is live.
    pub(crate) parent: HashMap<u64, (u64, AwaitVia)>,
}

impl Links {
    /// The links among `tasks` (plus `extra`, a task asked about that may
    /// be done).
    pub(crate) fn new(mut tasks: Vec<TaskRef>, extra: Option<&TaskRef>) -> Links {
        if let Some(t) = extra {
            if !tasks.iter().any(|x| x.same_task(t)) {
                tasks.push(t.clone());
            }
        }
        tasks.sort_by_key(TaskRef::id);
        let by_id: HashMap<u64, TaskRef> = tasks.iter().map(|t| (t.id(), t.clone())).collect();
        let mut children: HashMap<u64, Vec<(u64, AwaitVia)>> = HashMap::new();
        let mut parent = HashMap::new();
        for t in &tasks {
            if t.done() {
                continue;
            }
            let (p, via) = graph_hooks::awaited_by(t);
            if p != 0 && by_id.get(&p).is_some_and(|p| !p.done()) {
                children.entry(p).or_default().push((t.id(), via));
                parent.insert(t.id(), (p, via));
            }
        }
        Links {
            tasks: by_id,
            children,
            parent,
        }
    }
}

/// The await graph of `task` (asyncio's `capture_call_graph`): what it
/// waits on, the tasks it awaits (through task handles, [`gather`](crate::gather),
/// [`wait`](crate::wait), [`wait_for_task`](crate::wait_for_task),
/// [`shield`](crate::shield), [`TaskGroup`](crate::TaskGroup) children and
/// [`as_completed`](crate::as_completed)) and the tasks awaiting it, each
/// with its name, id, state and creation site. Call it on the task's loop
/// thread (the handles are `!Send`); it costs one pass over the loop's
/// tasks. A finished task's graph is that task alone.
///
/// ```
/// use std::time::Duration;
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let child = spawn(async { sleep(Duration::from_secs(60)).await });
///     let child_ref = child.task_ref();
///     let parent = spawn(async move { child.await });
///     yield_now().await;
///     let up = tulip::capture_call_graph(&child_ref);
///     assert_eq!(up.awaited_by[0].task.id, parent.id());
///     parent.cancel();
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn capture_call_graph(task: impl AsTaskRef) -> CallGraph {
    let task = task.as_task_ref();
    let Some(lp) = task.get_loop() else {
        return leaf(&task, 0, None);
    };
    let now = lp.now_nanos();
    let links = Links::new(all_task_refs(&lp), Some(&task));
    let mut path = HashSet::new();
    let mut root = down(&links, &task, None, now, &mut path);
    path.clear();
    path.insert(task.id());
    root.awaited_by = up(&links, task.id(), now, &mut path);
    root
}

fn leaf(task: &TaskRef, now: Nanos, via: Option<AwaitVia>) -> CallGraph {
    CallGraph {
        task: TaskInfo::of(task, now),
        via,
        cycle: false,
        awaits: Vec::new(),
        awaited_by: Vec::new(),
    }
}

/// `task` and what it awaits, recursively; `path` holds the ids above it.
pub(crate) fn down(
    links: &Links,
    task: &TaskRef,
    via: Option<AwaitVia>,
    now: Nanos,
    path: &mut HashSet<u64>,
) -> CallGraph {
    let mut node = leaf(task, now, via);
    if !path.insert(task.id()) {
        node.cycle = true;
        return node;
    }
    if let Some(kids) = links.children.get(&task.id()) {
        for &(id, via) in kids {
            if let Some(child) = links.tasks.get(&id) {
                node.awaits.push(down(links, child, Some(via), now, path));
            }
        }
    }
    path.remove(&task.id());
    node
}

/// Who awaits the task `id`, recursively up.
fn up(links: &Links, id: u64, now: Nanos, path: &mut HashSet<u64>) -> Vec<CallGraph> {
    let Some(&(pid, via)) = links.parent.get(&id) else {
        return Vec::new();
    };
    let Some(parent) = links.tasks.get(&pid) else {
        return Vec::new();
    };
    let mut node = leaf(parent, now, Some(via));
    if path.insert(pid) {
        node.awaited_by = up(links, pid, now, path);
    } else {
        node.cycle = true;
    }
    vec![node]
}
