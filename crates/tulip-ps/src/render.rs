//! The two views: asyncio's `ps` table (one row per task: thread, task id,
//! name, what it waits on, who awaits it) and its `pstree` tree (each task
//! under the task awaiting it; a cycle listed apart).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use crate::snapshot::{Snapshot, TaskRow};

const HEADERS: [&str; 9] = [
    "tid",
    "task id",
    "task name",
    "state",
    "waiting on",
    "created at",
    "awaiter name",
    "awaiter id",
    "via",
];

/// The `ps` table of every loop's tasks.
pub(crate) fn table(snapshots: &[Snapshot]) -> String {
    let mut rows: Vec<[String; 9]> = Vec::new();
    for s in snapshots {
        for t in &s.tasks {
            let awaiter = t.awaited_by.and_then(|id| s.task(id));
            rows.push([
                s.tid.to_string(),
                t.id.to_string(),
                t.name.clone(),
                t.state.clone(),
                t.waiting(),
                t.created_at.clone(),
                awaiter.map_or_else(|| String::from("-"), |a| a.name.clone()),
                t.awaited_by
                    .map_or_else(|| String::from("-"), |id| id.to_string()),
                t.via.clone().unwrap_or_else(|| String::from("-")),
            ]);
        }
    }
    let mut widths = HEADERS.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut out, &HEADERS);
    let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
    out.push_str(&"-".repeat(total));
    out.push('\n');
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        line(&mut out, &cells);
    }
    out
}

fn label(t: &TaskRow) -> String {
    let mut l = format!("(T) {} #{}", t.name, t.id);
    if let Some(via) = &t.via {
        let _ = write!(l, " via {via}");
    }
    if t.state != "pending" {
        let _ = write!(l, " [{}]", t.state);
    }
    if t.waiting_on.is_some() {
        let _ = write!(l, "  waiting on {}", t.waiting());
    }
    let _ = write!(l, "  @ {}", t.created_at);
    l
}

/// The `pstree` tree of every loop: each task under the task awaiting it.
pub(crate) fn tree(snapshots: &[Snapshot]) -> String {
    let mut out = String::new();
    for s in snapshots {
        let _ = writeln!(
            out,
            "Thread {}{}, loop {}",
            s.tid,
            s.thread
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default(),
            s.loop_no
        );
        let by_id: HashMap<u64, &TaskRow> = s.tasks.iter().map(|t| (t.id, t)).collect();
        let mut children: HashMap<u64, Vec<&TaskRow>> = HashMap::new();
        let mut roots = Vec::new();
        for t in &s.tasks {
            match t.awaited_by.filter(|p| by_id.contains_key(p)) {
                Some(p) => children.entry(p).or_default().push(t),
                None => roots.push(t),
            }
        }
        let mut seen = HashSet::new();
        for (i, root) in roots.iter().enumerate() {
            branch(
                &mut out,
                root,
                "",
                i + 1 == roots.len(),
                &children,
                &mut seen,
            );
        }
        // What no root reaches awaits in a circle (or hangs from one).
        let mut cycles: Vec<Vec<&TaskRow>> = Vec::new();
        let mut in_cycle = HashSet::new();
        for t in &s.tasks {
            if seen.contains(&t.id) || in_cycle.contains(&t.id) {
                continue;
            }
            let mut chain = Vec::new();
            let mut on_chain = HashSet::new();
            let mut cur: &TaskRow = t;
            while on_chain.insert(cur.id) {
                chain.push(cur);
                match cur.awaited_by.and_then(|p| by_id.get(&p)) {
                    Some(p) => cur = p,
                    None => break,
                }
            }
            if in_cycle.contains(&cur.id) {
                continue;
            }
            let start = chain.iter().position(|c| c.id == cur.id).unwrap_or(0);
            let cycle = chain[start..].to_vec();
            in_cycle.extend(cycle.iter().map(|c| c.id));
            cycles.push(cycle);
        }
        for cycle in cycles {
            let mut names: Vec<String> = cycle
                .iter()
                .map(|c| format!("{} #{}", c.name, c.id))
                .collect();
            names.push(names[0].clone());
            let _ = writeln!(
                out,
                "cycle (each task awaited by the next): {}",
                names.join(" -> ")
            );
            for c in &cycle {
                seen.insert(c.id);
            }
            for c in &cycle {
                let _ = writeln!(out, "    {}", label(c));
                let kids: Vec<&TaskRow> = children
                    .get(&c.id)
                    .map(|k| {
                        k.iter()
                            .copied()
                            .filter(|k| !in_cycle.contains(&k.id))
                            .collect()
                    })
                    .unwrap_or_default();
                for (i, k) in kids.iter().enumerate() {
                    branch(
                        &mut out,
                        k,
                        "    ",
                        i + 1 == kids.len(),
                        &children,
                        &mut seen,
                    );
                }
            }
        }
    }
    out
}

fn branch(
    out: &mut String,
    t: &TaskRow,
    prefix: &str,
    last: bool,
    children: &HashMap<u64, Vec<&TaskRow>>,
    seen: &mut HashSet<u64>,
) {
    let _ = writeln!(
        out,
        "{prefix}{}{}",
        if last { "└── " } else { "├── " },
        label(t)
    );
    if !seen.insert(t.id) {
        return;
    }
    let kids = children.get(&t.id).map_or(&[][..], Vec::as_slice);
    let next = format!("{prefix}{}", if last { "    " } else { "│   " });
    for (i, k) in kids.iter().enumerate() {
        branch(out, k, &next, i + 1 == kids.len(), children, seen);
    }
}
