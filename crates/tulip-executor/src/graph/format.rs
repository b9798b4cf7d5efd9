//! Text of an await graph, in the spirit of asyncio 3.14's
//! `format_call_graph`: one `* Task(...)` line per task, what it waits on,
//! then the tasks it awaits and the tasks awaiting it, indented.

use std::fmt::{self, Write as _};

use crate::graph::{CallGraph, capture_call_graph};
use crate::toolkit::wait::AsTaskRef;

/// The text of `graph` (what `{graph}` prints): for each task its name, id,
/// state and creation site, what it waits on, the tasks it awaits and the
/// tasks awaiting it; a task met again on its own path is marked as a
/// cycle.
///
/// ```
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let t = spawn(async {});
///     let text = tulip::format_call_graph(&tulip::capture_call_graph(&t));
///     assert!(text.starts_with(&format!("* Task(name='{}', id={}, state=pending", t.get_name(), t.id())));
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn format_call_graph(graph: &CallGraph) -> String {
    let mut out = String::new();
    let _ = render(graph, 0, &mut out);
    out
}

/// Prints the await graph of `task` to standard output (asyncio's
/// `print_call_graph`).
///
/// ```
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let t = spawn(async {});
///     tulip::print_call_graph(&t);
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn print_call_graph(task: impl AsTaskRef) {
    print!("{}", capture_call_graph(task));
}

impl fmt::Display for CallGraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_call_graph(self))
    }
}

fn render(node: &CallGraph, level: usize, out: &mut String) -> fmt::Result {
    let pad = "    ".repeat(level);
    let t = &node.task;
    write!(
        out,
        "{pad}* Task(name='{}', id={}, state={}",
        t.name, t.id, t.state
    )?;
    if let Some(via) = node.via {
        write!(out, ", via={via}")?;
    }
    writeln!(out, ") created at {}", t.created_at)?;
    if node.cycle {
        writeln!(
            out,
            "{pad}  + cycle: this task is already above; not followed"
        )?;
        return Ok(());
    }
    if let Some(w) = &t.waiting_on {
        writeln!(out, "{pad}  + waiting on: {w}")?;
    }
    if !node.awaits.is_empty() {
        writeln!(out, "{pad}  + awaits:")?;
        for child in &node.awaits {
            render(child, level + 1, out)?;
        }
    }
    if !node.awaited_by.is_empty() {
        writeln!(out, "{pad}  + awaited by:")?;
        for parent in &node.awaited_by {
            render(parent, level + 1, out)?;
        }
    }
    Ok(())
}
