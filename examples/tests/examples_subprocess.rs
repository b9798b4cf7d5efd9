//! Runs the ported subprocess examples of the asyncio documentation and
//! checks what they print: the date from a child through a
//! `SubprocessProtocol` and through `create_subprocess_exec`, and the
//! shell command's result through `communicate`, alone and two at once.

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{Local, NaiveDateTime};
use tulip_test::child::quiet_success;

/// Runs the example binary at `path` with `args`; returns its standard
/// output after checking that it succeeded and wrote nothing to stderr.
fn stdout_of(path: &str, args: &[&str]) -> String {
    let out = quiet_success(Command::new(path).args(args));
    String::from_utf8(out.stdout).expect("the output is UTF-8")
}

/// Checks `Current date: <Python's str(datetime.now())>` and that the
/// date is now (within a minute).
fn check_current_date(output: &str) {
    let line = output
        .strip_suffix('\n')
        .and_then(|l| l.strip_prefix("Current date: "))
        .unwrap_or_else(|| panic!("unexpected output {output:?}"));
    assert!(!line.contains('\n'), "one line expected: {output:?}");
    // Python leaves the microseconds out when they are zero.
    let date = NaiveDateTime::parse_from_str(line, "%Y-%m-%d %H:%M:%S%.f")
        .unwrap_or_else(|e| panic!("{line:?} is not a date: {e}"));
    if line.len() != 19 {
        assert_eq!(line.len(), 26, "six digits of microseconds: {line:?}");
    }
    let skew = (Local::now().naive_local() - date).num_seconds().abs();
    assert!(skew < 60, "{line} is not now");
}

#[test]
fn subprocess_date_protocol() {
    check_current_date(&stdout_of(
        env!("CARGO_BIN_EXE_subprocess_date_protocol"),
        &[],
    ));
}

#[test]
fn subprocess_date() {
    check_current_date(&stdout_of(env!("CARGO_BIN_EXE_subprocess_date"), &[]));
}

/// Checks the block `run('ls /zzz')` prints: the exit line with a
/// non-zero code, `[stderr]`, ls's complaint about /zzz, an empty line.
fn check_ls_block(lines: &[&str]) {
    let code = lines[0]
        .strip_prefix("['ls /zzz' exited with ")
        .and_then(|l| l.strip_suffix(']'))
        .unwrap_or_else(|| panic!("unexpected {:?}", lines[0]));
    assert_ne!(code.parse::<i32>().unwrap(), 0);
    assert_eq!(lines[1], "[stderr]");
    assert!(
        lines[2].starts_with("ls: ") && lines[2].contains("/zzz"),
        "{lines:?}"
    );
    assert_eq!(lines[3], "");
}

#[test]
fn subprocess_communicate() {
    let out = stdout_of(env!("CARGO_BIN_EXE_subprocess_communicate"), &[]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    check_ls_block(&lines);
}

#[test]
fn subprocess_communicate_parallel() {
    let start = Instant::now();
    let out = stdout_of(
        env!("CARGO_BIN_EXE_subprocess_communicate"),
        &["--parallel"],
    );
    // The two commands ran at once: about one second in all (generous
    // bound: the point is that nothing waited twice).
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "sleep 1 did not run"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 8, "{out}");
    check_ls_block(&lines[..4]);
    assert_eq!(
        lines[4..],
        [
            "['sleep 1; echo \"hello\"' exited with 0]",
            "[stdout]",
            "hello",
            "",
        ]
    );
}
