//! `tulip-ps`: the tasks of a running tulip program, from another process
//! (asyncio 3.14's `python -m asyncio ps PID` and `pstree PID`).
//!
//! ```text
//! tulip-ps PID            the table: thread, task id, name, state, what it
//!                         waits on, where it was created, who awaits it
//! tulip-ps --tree PID     the tree: each task under the task awaiting it
//! tulip-ps --json PID     the loops' snapshots as they sent them
//! tulip-ps --dir DIR PID  look for the sockets in DIR only
//! ```
//!
//! The program must have enabled the view (`TULIP_PS=1`, or
//! `EventLoopBuilder::ps(true)`): each of its loops then answers on a Unix
//! socket private to its user. Exit status: 0 shown, 1 could not show
//! (no such process, not enabled, another user's, a loop not answering),
//! 2 usage.

mod fetch;
mod render;
mod snapshot;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: tulip-ps [--tree | --json] [--dir DIR] PID";

enum View {
    Table,
    Tree,
    Json,
}

struct Args {
    view: View,
    dir: Option<PathBuf>,
    pid: u32,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut view = View::Table;
    let mut dir = None;
    let mut pid = None;
    let mut args = args;
    while let Some(a) = args.next() {
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--tree" => view = View::Tree,
            "--json" => view = View::Json,
            "--dir" => dir = Some(PathBuf::from(args.next().ok_or("--dir needs a directory")?)),
            p if pid.is_none() && !p.starts_with('-') => {
                pid = Some(
                    p.parse::<u32>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("not a process id: '{p}'"))?,
                );
            }
            other => return Err(format!("unexpected argument '{other}'")),
        }
    }
    let pid = pid.ok_or("a process id is needed")?;
    Ok(Some(Args { view, dir, pid }))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("tulip-ps: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let dirs = fetch::socket_dirs(args.dir);
    let snapshots = match fetch::fetch(args.pid, &dirs) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tulip-ps: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args.view {
        View::Table => print!("{}", render::table(&snapshots)),
        View::Tree => print!("{}", render::tree(&snapshots)),
        View::Json => {
            for s in &snapshots {
                println!("{}", s.raw);
            }
        }
    }
    ExitCode::SUCCESS
}
