//! Runs every ported asyncio example binary and checks that it prints what
//! the asyncio documentation's version prints.
//!
//! The examples that wait (`display_date`, `display_date_coroutine`,
//! `queue_workers`, `taskgroup`, `timeout`) run in fast mode (`TULIP_EXAMPLE_FAST=1`: the virtual clock), so they finish at
//! once; there their dates are exactly one virtual second apart, which also
//! checks that the timers ran on the virtual clock. The `*_real_time` tests
//! run them on the real clock (about 4 s each) and are ignored by default:
//! `cargo test -p tulip-examples -- --ignored`.

use std::process::{Command, Output};

use chrono::NaiveDateTime;
use tulip_examples::FAST_ENV;
use tulip_test::child::quiet_success;

/// Runs the example binary at `path`, with fast mode on or off, and returns
/// its output after checking that it exited successfully and wrote nothing
/// to standard error.
fn run_example(path: &str, fast: bool) -> Output {
    let mut cmd = Command::new(path);
    if fast {
        cmd.env(FAST_ENV, "1");
    } else {
        cmd.env_remove(FAST_ENV);
    }
    quiet_success(&mut cmd)
}

fn stdout_of(path: &str, fast: bool) -> String {
    String::from_utf8(run_example(path, fast).stdout).expect("the output is UTF-8")
}

/// Whether `n` bytes of `s` from `at` are all ASCII digits.
fn digits(s: &[u8], at: usize, n: usize) -> bool {
    s.get(at..at + n)
        .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
}

/// Whether `line` has the shape of Python's `str(datetime.datetime.now())`:
/// `YYYY-MM-DD HH:MM:SS.ffffff`, or `YYYY-MM-DD HH:MM:SS` when the
/// microseconds are zero (Python leaves them out then).
fn is_python_datetime(line: &str) -> bool {
    let s = line.as_bytes();
    let head = digits(s, 0, 4)
        && s.get(4) == Some(&b'-')
        && digits(s, 5, 2)
        && s.get(7) == Some(&b'-')
        && digits(s, 8, 2)
        && s.get(10) == Some(&b' ')
        && digits(s, 11, 2)
        && s.get(13) == Some(&b':')
        && digits(s, 14, 2)
        && s.get(16) == Some(&b':')
        && digits(s, 17, 2);
    match s.len() {
        19 => head,
        26 => head && s[19] == b'.' && digits(s, 20, 6),
        _ => false,
    }
}

fn parse_python_datetime(line: &str) -> NaiveDateTime {
    let full = if line.len() == 19 {
        format!("{line}.000000")
    } else {
        line.to_string()
    };
    NaiveDateTime::parse_from_str(&full, "%Y-%m-%d %H:%M:%S%.6f")
        .unwrap_or_else(|e| panic!("{line:?} is not a date: {e}"))
}

/// Checks the output of a date example: 5 lines (printed at 0, 1, 2, 3 and
/// 4 seconds; at 4 s the doc's condition ends the run), each a Python
/// datetime; returns the parsed dates.
fn check_dates(stdout: &str) -> Vec<NaiveDateTime> {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "expected 5 dates, got:\n{stdout}");
    assert!(stdout.ends_with('\n'), "the last line is unterminated");
    for line in &lines {
        assert!(
            is_python_datetime(line),
            "{line:?} is not shaped YYYY-MM-DD HH:MM:SS.ffffff"
        );
    }
    lines.iter().map(|l| parse_python_datetime(l)).collect()
}

/// On the virtual clock the dates are exactly one second apart (or one
/// second plus or minus an hour across a daylight-saving change).
fn check_one_virtual_second_apart(dates: &[NaiveDateTime]) {
    for pair in dates.windows(2) {
        let step = pair[1] - pair[0];
        let ok = [1, 1 + 3600, 1 - 3600]
            .iter()
            .any(|&s| step == chrono::Duration::seconds(s));
        assert!(ok, "dates {} and {} are not 1 s apart", pair[0], pair[1]);
    }
}

/// On the real clock each step takes one second, plus generous slack.
fn check_about_one_second_apart(dates: &[NaiveDateTime]) {
    for pair in dates.windows(2) {
        let step = (pair[1] - pair[0]).num_milliseconds();
        assert!(
            (990..=3000).contains(&step) || (step - 3_600_000).abs() <= 3000,
            "dates {} and {} are {step} ms apart",
            pair[0],
            pair[1]
        );
    }
}

#[test]
fn python_datetime_shape() {
    assert!(is_python_datetime("2014-02-03 04:05:06.007008"));
    assert!(is_python_datetime("2014-02-03 04:05:06"));
    assert!(!is_python_datetime("2014-02-03 04:05:06.0070"));
    assert!(!is_python_datetime("2014-02-03T04:05:06.007008"));
    assert!(!is_python_datetime("2014-2-03 04:05:06.007008"));
    assert!(!is_python_datetime(""));
}

#[test]
fn hello_world_callback() {
    let out = stdout_of(env!("CARGO_BIN_EXE_hello_world_callback"), false);
    assert_eq!(out, "Hello World\n");
}

#[test]
fn watch_fd() {
    let out = stdout_of(env!("CARGO_BIN_EXE_watch_fd"), false);
    assert_eq!(out, "Received: abc\n");
}

#[test]
fn hello_world_coroutine() {
    let out = stdout_of(env!("CARGO_BIN_EXE_hello_world_coroutine"), false);
    assert_eq!(out, "Hello World!\n");
}

#[test]
fn display_date() {
    let out = stdout_of(env!("CARGO_BIN_EXE_display_date"), true);
    check_one_virtual_second_apart(&check_dates(&out));
}

#[test]
fn display_date_coroutine() {
    let out = stdout_of(env!("CARGO_BIN_EXE_display_date_coroutine"), true);
    check_one_virtual_second_apart(&check_dates(&out));
}

/// What `queue_workers` prints: its sleep times come from a fixed
/// pseudo-random sequence, and on the virtual clock the time measured around
/// `join` is exact.
const QUEUE_WORKERS_OUTPUT: &str = "\
worker-1 has slept for 0.27 seconds
worker-2 has slept for 0.53 seconds
worker-0 has slept for 0.83 seconds
worker-1 has slept for 0.68 seconds
worker-2 has slept for 0.51 seconds
worker-0 has slept for 0.53 seconds
worker-2 has slept for 0.45 seconds
worker-1 has slept for 0.87 seconds
worker-0 has slept for 0.66 seconds
worker-1 has slept for 0.54 seconds
worker-2 has slept for 0.87 seconds
worker-1 has slept for 0.09 seconds
worker-0 has slept for 0.48 seconds
worker-2 has slept for 0.60 seconds
worker-0 has slept for 0.72 seconds
worker-1 has slept for 0.81 seconds
worker-1 has slept for 0.18 seconds
worker-0 has slept for 0.52 seconds
worker-2 has slept for 0.97 seconds
worker-1 has slept for 0.84 seconds
====
3 workers slept in parallel for 4.28 seconds
total expected sleep time: 11.96 seconds
";

#[test]
fn queue_workers() {
    let out = stdout_of(env!("CARGO_BIN_EXE_queue_workers"), true);
    assert_eq!(out, QUEUE_WORKERS_OUTPUT);
}

const TASKGROUP_OUTPUT: &str = "\
started at 00:00:00
hello
world
finished at 00:00:02
Both tasks have completed now: hello, world
";

#[test]
fn taskgroup() {
    let out = stdout_of(env!("CARGO_BIN_EXE_taskgroup"), true);
    assert_eq!(out, TASKGROUP_OUTPUT);
}

#[test]
fn timeout() {
    let out = stdout_of(env!("CARGO_BIN_EXE_timeout"), true);
    assert_eq!(
        out,
        "The long operation timed out, but we've handled it.\n\
         This statement will run regardless.\n\
         Looks like we haven't finished on time.\n\
         timeout!\n"
    );
}

#[test]
#[ignore = "takes 4 s on the real clock; run with --ignored"]
fn display_date_real_time() {
    let out = stdout_of(env!("CARGO_BIN_EXE_display_date"), false);
    check_about_one_second_apart(&check_dates(&out));
}

#[test]
#[ignore = "takes 4 s on the real clock; run with --ignored"]
fn display_date_coroutine_real_time() {
    let out = stdout_of(env!("CARGO_BIN_EXE_display_date_coroutine"), false);
    check_about_one_second_apart(&check_dates(&out));
}

#[test]
#[ignore = "takes 2 s on the real clock; run with --ignored"]
fn taskgroup_real_time() {
    let out = stdout_of(env!("CARGO_BIN_EXE_taskgroup"), false);
    assert_eq!(out, TASKGROUP_OUTPUT);
}

#[test]
#[ignore = "takes 4.3 s on the real clock; run with --ignored"]
fn queue_workers_real_time() {
    // On the real clock the measured time around `join` is only about the
    // sum of the longest worker's sleeps; the rest of the output is exact.
    let out = stdout_of(env!("CARGO_BIN_EXE_queue_workers"), false);
    let expected: Vec<&str> = QUEUE_WORKERS_OUTPUT.lines().collect();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), expected.len(), "got:\n{out}");
    for (i, (got, want)) in lines.iter().zip(&expected).enumerate() {
        if want.starts_with("3 workers slept in parallel for ") {
            let secs: f64 = got
                .strip_prefix("3 workers slept in parallel for ")
                .and_then(|r| r.strip_suffix(" seconds"))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("line {i}: {got:?}"));
            assert!((4.28..4.8).contains(&secs), "line {i}: {got:?}");
        } else {
            assert_eq!(got, want, "line {i}");
        }
    }
}
