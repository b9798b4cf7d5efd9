//! Child processes in tests: running one `#[ignore]`d test of this test
//! binary alone in a child run (for what must happen in a process of its
//! own: signal dispositions, a process-wide watcher), and running a
//! program to its end, checking that it succeeded quietly; a child's
//! report lines, and waiting for a child with a deadline.

use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The command that runs the `#[ignore]`d test `name` of this test binary
/// alone (`--ignored --exact <name> --nocapture --test-threads=1`), with
/// the environment variable `marker` set to `1` so that the test knows it
/// is the child run ([`is_child_run`]), and standard input from
/// `/dev/null`. The caller adds what else the child needs and runs it.
///
/// ```no_run
/// use tulip_test::child::{child_test_run, is_child_run};
///
/// const CHILD: &str = "MY_TEST_CHILD";
///
/// #[test]
/// fn driver() {
///     let out = child_test_run("in_a_child", CHILD).output().unwrap();
///     assert!(out.status.success());
/// }
///
/// #[test]
/// #[ignore = "run by `driver` in a child process"]
/// fn in_a_child() {
///     if !is_child_run(CHILD) {
///         return;
///     }
///     // ... change what is process-wide ...
/// }
/// ```
///
/// # Panics
///
/// If the path of this binary cannot be found.
pub fn child_test_run(name: &str, marker: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--ignored",
        "--exact",
        name,
        "--nocapture",
        "--test-threads=1",
    ])
    .env(marker, "1")
    .stdin(Stdio::null());
    cmd
}

/// Runs the `#[ignore]`d test `name` alone in a child run
/// ([`child_test_run`] with `marker`) and asserts that it ended normally
/// (not killed by a signal: the check of a test that sets a signal's
/// disposition to its default, `SIGPIPE` say, in the child) and printed
/// `passed` (so that a child that ran no test does not pass). Returns its
/// output.
///
/// ```no_run
/// use tulip_test::child::{assert_child_passed, is_child_run};
///
/// const CHILD: &str = "MY_SIGPIPE_CHILD";
/// const PASSED: &str = "scenario passed";
///
/// #[test]
/// fn driver() {
///     assert_child_passed("in_a_child", CHILD, PASSED);
/// }
///
/// #[test]
/// #[ignore = "run by `driver` in a child process"]
/// fn in_a_child() {
///     if !is_child_run(CHILD) {
///         return;
///     }
///     // ... set SIGPIPE to SIG_DFL, write to a closed peer ...
///     println!("{PASSED}");
/// }
/// ```
///
/// # Panics
///
/// If the child cannot be run, was killed by a signal (naming it), failed,
/// or did not print `passed`.
pub fn assert_child_passed(name: &str, marker: &str, passed: &str) -> Output {
    use std::os::unix::process::ExitStatusExt;
    let out = child_test_run(name, marker)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the child for {name}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Some(signal) = out.status.signal() {
        panic!(
            "{name}: the child was killed by signal {signal} (SIGPIPE is {})\n{stdout}",
            libc::SIGPIPE
        );
    }
    assert!(
        out.status.success() && stdout.contains(passed),
        "{name}: the child failed\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Whether this process is a child run that [`child_test_run`] started
/// with `marker` (the variable is set).
///
/// ```
/// use tulip_test::child::is_child_run;
///
/// assert!(!is_child_run("TULIP_TEST_NO_SUCH_MARKER"));
/// ```
pub fn is_child_run(marker: &str) -> bool {
    std::env::var_os(marker).is_some()
}

/// Runs `cmd` to its end and returns its output, after checking that it
/// exited successfully and wrote nothing to standard error.
///
/// ```
/// use std::process::Command;
/// use tulip_test::child::quiet_success;
///
/// let out = quiet_success(Command::new("echo").arg("hi"));
/// assert_eq!(out.stdout, b"hi\n");
/// ```
///
/// # Panics
///
/// If the program cannot be run, fails (naming it, with its standard
/// error), or writes to standard error.
pub fn quiet_success(cmd: &mut Command) -> Output {
    let path = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {path}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{path} failed: {:?}\n{stderr}",
        out.status
    );
    assert!(stderr.is_empty(), "{path} wrote to stderr:\n{stderr}");
    out
}

/// Prints one line of a child's report to standard output and flushes it
/// at once, so the parent reading the pipe sees it while the child goes on
/// (before a signal, say).
///
/// ```
/// use tulip_test::child::say;
///
/// say("listening");
/// ```
///
/// # Panics
///
/// If standard output is closed.
pub fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").expect("stdout");
    out.flush().expect("stdout");
}

/// Waits for `child` to end, at most `deadline`: its exit status.
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// use tulip_test::child::wait_with_deadline;
///
/// let mut child = Command::new("true").spawn().unwrap();
/// let status = wait_with_deadline(&mut child, Duration::from_secs(30), "true");
/// assert!(status.success());
/// ```
///
/// # Panics
///
/// If the child is still running at the deadline (it is killed first,
/// and the message names it by `name`), or cannot be waited for.
pub fn wait_with_deadline(child: &mut Child, deadline: Duration, name: &str) -> ExitStatus {
    let end = Instant::now() + deadline;
    loop {
        if let Some(status) = child.try_wait().expect("waitpid") {
            return status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name}: the child did not end within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
