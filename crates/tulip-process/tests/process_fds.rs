//! No descriptor leaks: failed spawns (a missing program), cancelled
//! spawns, cancelled waits and complete runs all leave `/proc/self/fd` as
//! it was. This binary counts the descriptors of the whole process, so its
//! tests hold one lock and never run at the same time; the driver test
//! runs it again under the SIGCHLD child watcher.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::{Quiet, children_with_cmdline, poll_once_and_drop};
use tulip_executor::{get_running_loop, wait_for};
use tulip_process::{
    LoopProcessExt, Stdio, SubprocessOptions, create_subprocess_exec, create_subprocess_shell,
};
use tulip_test::{fd_count, run, wait_until};

/// Serializes the tests of this binary.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn sigchld_watcher_passes_these_tests() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    common::rerun_under_sigchld("sigchld_watcher_passes_these_tests");
}

fn all_pipes() -> SubprocessOptions {
    SubprocessOptions::new()
        .stdin(Stdio::Pipe)
        .stdout(Stdio::Pipe)
        .stderr(Stdio::Pipe)
}

#[test]
fn no_descriptor_leaks() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    run(async {
        let lp = get_running_loop().unwrap();
        let before = fd_count();

        // 1,000 spawns of a missing program, every stream a pipe.
        for i in 0..1000 {
            let err = if i % 2 == 0 {
                create_subprocess_exec("/nonexistent/tulip-test", ["x"], all_pipes())
                    .await
                    .unwrap_err()
            } else {
                lp.subprocess_exec(
                    || Quiet,
                    "no-such-program-tulip",
                    [""; 0],
                    all_pipes().stderr(Stdio::Stdout),
                )
                .await
                .unwrap_err()
            };
            assert_eq!(err.io_kind(), Some(std::io::ErrorKind::NotFound));
        }
        assert_eq!(fd_count(), before, "missing-program spawns leaked");

        // Spawns cancelled after the start: children killed and reaped,
        // pipes closed.
        let marker = "28.765";
        for _ in 0..50 {
            poll_once_and_drop(create_subprocess_exec("sleep", [marker], all_pipes())).await;
            poll_once_and_drop(lp.subprocess_exec(|| Quiet, "sleep", [marker], all_pipes())).await;
        }
        assert!(wait_until(|| children_with_cmdline(&format!("sleep {marker}")).is_empty()).await);
        assert!(
            wait_until(|| fd_count() == before).await,
            "cancelled spawns leaked"
        );

        // Cancelled waits, then kill; and complete runs.
        for _ in 0..20 {
            let proc = create_subprocess_exec("sleep", ["30"], all_pipes())
                .await
                .unwrap();
            assert!(
                wait_for(proc.wait(), Duration::from_millis(1))
                    .await
                    .is_err()
            );
            proc.kill().unwrap();
            assert_eq!(proc.wait().await, -9);
            drop(proc);
            let mut proc = create_subprocess_shell("cat; echo done >&2", all_pipes())
                .await
                .unwrap();
            let (out, err) = proc.communicate(Some(b"data")).await.unwrap();
            assert_eq!(
                (out.unwrap(), err.unwrap()),
                (b"data".to_vec(), b"done\n".to_vec())
            );
        }
        assert!(wait_until(|| fd_count() == before).await, "runs leaked");
    });
}

#[test]
fn closing_the_loop_with_children_running_leaks_nothing() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = fd_count();
    let event_loop = tulip_executor::EventLoop::new().unwrap();
    let pids = event_loop
        .run_until_complete(async {
            let lp = get_running_loop().unwrap();
            let proc = create_subprocess_exec("sleep", ["30"], all_pipes())
                .await
                .unwrap();
            let (transport, _) = lp
                .subprocess_exec(|| Quiet, "sleep", ["30"], all_pipes())
                .await
                .unwrap();
            // Both are dropped while their children run.
            vec![proc.pid(), transport.get_pid()]
        })
        .unwrap();
    event_loop.close().unwrap();
    drop(event_loop);
    assert_eq!(fd_count(), before, "pipes or pidfds left open");
    // The children are reaped in the background once they exit.
    for &pid in &pids {
        let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while pids.iter().any(|&p| common::is_our_child(p)) {
        assert!(std::time::Instant::now() < deadline, "{pids:?} not reaped");
        std::thread::sleep(Duration::from_millis(5));
    }
}
