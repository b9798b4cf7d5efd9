//! The snapshot a loop sends `tulip-ps`: one line of JSON, taken on the
//! loop's thread.
//!
//! ```text
//! {"version":1,"pid":4242,"tid":4242,"thread":"main","loop":1,"tasks":[
//!   {"id":1,"name":"main","state":"pending","created_at":"src/main.rs:9:5",
//!    "waiting_on":"gather","detail":"2 pending","awaited_by":null,"via":null}, ...]}
//! ```
//!
//! `awaited_by` is the id of the task awaiting this one (a live task of the
//! same loop) and `via` how (`await`, `gather`, `TaskGroup`, ...);
//! `waiting_on`/`detail` are what the task's last poll stopped at.

use std::fmt::Write as _;

use crate::event_loop::base_events::Loop;
use crate::graph::WaitDetail;
use crate::graph::capture::{Links, TaskInfo};
use crate::sys::ids::thread_id;
use crate::task::header::all_task_refs;

/// Appends `s` as a JSON string (quoted, escaped).
pub(super) fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_opt(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.push_str("null"),
    }
}

/// The snapshot of `lp`'s live tasks, as one line of JSON.
pub(super) fn json(lp: &Loop) -> String {
    let now = lp.now_nanos();
    let links = Links::new(all_task_refs(lp), None);
    let mut out = String::with_capacity(128 + 160 * links.tasks.len());
    let _ = write!(
        out,
        "{{\"version\":1,\"pid\":{},\"tid\":{},\"thread\":",
        std::process::id(),
        thread_id()
    );
    push_opt(&mut out, std::thread::current().name());
    let loop_no = super::loop_number(lp);
    let _ = write!(out, ",\"loop\":{loop_no},\"tasks\":[");
    let mut ids: Vec<&u64> = links.tasks.keys().collect();
    ids.sort();
    for (i, id) in ids.into_iter().enumerate() {
        let info = TaskInfo::of(&links.tasks[id], now);
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{{\"id\":{},\"name\":", info.id);
        push_str(&mut out, &info.name);
        out.push_str(",\"state\":");
        push_str(&mut out, info.state.as_str());
        out.push_str(",\"created_at\":");
        push_str(&mut out, &info.created_at.to_string());
        out.push_str(",\"waiting_on\":");
        push_opt(&mut out, info.waiting_on.map(|w| w.what));
        out.push_str(",\"detail\":");
        let detail = info
            .waiting_on
            .filter(|w| w.detail != WaitDetail::None)
            .map(|w| w.detail.to_string());
        push_opt(&mut out, detail.as_deref());
        match links.parent.get(id) {
            Some((p, via)) => {
                let _ = write!(out, ",\"awaited_by\":{p},\"via\":");
                push_str(&mut out, via.as_str());
            }
            None => out.push_str(",\"awaited_by\":null,\"via\":null"),
        }
        out.push('}');
    }
    out.push_str("]}");
    out
}
