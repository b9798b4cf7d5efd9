//! Running a shell command and getting its result with `communicate`,
//! from the asyncio documentation (subprocesses page, the opening example
//! and its "run several commands simultaneously" variant).
//!
//! [`create_subprocess_shell`]
//! runs `ls /zzz` with stdout and stderr on pipes;
//! [`communicate`](tulip::process::Process::communicate) reads both to the
//! end and waits for the exit. The output (the message and the code are
//! those of the system's `ls`; GNU's exits with 2):
//!
//! ```text
//! ['ls /zzz' exited with 1]
//! [stderr]
//! ls: /zzz: No such file or directory
//!
//! ```
//!
//! With the argument `--parallel` it runs `ls /zzz` and
//! `sleep 1; echo "hello"` at once with
//! [`try_gather`] (asyncio's `gather`), and prints the
//! `ls` result first, then after a second:
//!
//! ```text
//! ['sleep 1; echo "hello"' exited with 0]
//! [stdout]
//! hello
//!
//! ```
//!
//! The Python original:
//!
//! ```python
//! import asyncio
//!
//! async def run(cmd):
//!     proc = await asyncio.create_subprocess_shell(
//!         cmd,
//!         stdout=asyncio.subprocess.PIPE,
//!         stderr=asyncio.subprocess.PIPE)
//!
//!     stdout, stderr = await proc.communicate()
//!
//!     print(f'[{cmd!r} exited with {proc.returncode}]')
//!     if stdout:
//!         print(f'[stdout]\n{stdout.decode()}')
//!     if stderr:
//!         print(f'[stderr]\n{stderr.decode()}')
//!
//! asyncio.run(run('ls /zzz'))
//!
//! # Several commands simultaneously:
//!
//! async def main():
//!     await asyncio.gather(
//!         run('ls /zzz'),
//!         run('sleep 1; echo "hello"'))
//!
//! asyncio.run(main())
//! ```
//!
//! `{!r}` is Python's `repr()`, printed here with
//! [`py_repr`]; output that is not UTF-8 is printed with U+FFFD where
//! Python's `decode()` would raise.
//!
//! Run it with `cargo run -p tulip-examples --bin subprocess_communicate`
//! (add `-- --parallel` for the second version).

use tulip::prelude::*;
use tulip::process::{Stdio, SubprocessOptions};

async fn run(cmd: &str) -> Result<(), Error> {
    let mut proc = create_subprocess_shell(
        cmd,
        SubprocessOptions::new()
            .stdout(Stdio::Pipe)
            .stderr(Stdio::Pipe),
    )
    .await?;

    let (stdout, stderr) = proc.communicate(None).await?;

    let code = proc
        .returncode()
        .map_or_else(|| String::from("None"), |c| c.to_string());
    println!("[{} exited with {code}]", py_repr(cmd));
    if let Some(out) = stdout.filter(|o| !o.is_empty()) {
        println!("[stdout]\n{}", String::from_utf8_lossy(&out));
    }
    if let Some(err) = stderr.filter(|e| !e.is_empty()) {
        println!("[stderr]\n{}", String::from_utf8_lossy(&err));
    }
    Ok(())
}

async fn main_parallel() -> Result<(), Error> {
    tulip::try_gather((run("ls /zzz"), run("sleep 1; echo \"hello\""))).await?;
    Ok(())
}

fn main() -> Result<(), Error> {
    if std::env::args().nth(1).as_deref() == Some("--parallel") {
        tulip::run(main_parallel())?
    } else {
        tulip::run(run("ls /zzz"))?
    }
}

// What Python has built in, written out for this example.

/// Python's `repr()` of a `str`, which `{!r}` prints: in single quotes, or
/// in double quotes when it holds a single quote and no double quote
/// (control characters are escaped as Rust writes them: `\u{1b}` where
/// Python writes `\x1b`).
fn py_repr(s: &str) -> String {
    let escaped = s.escape_debug().to_string();
    if s.contains('\'') && !s.contains('"') {
        format!("\"{}\"", escaped.replace("\\'", "'"))
    } else {
        format!("'{}'", escaped.replace("\\\"", "\""))
    }
}
