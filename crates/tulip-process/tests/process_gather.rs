//! Several children at once, as asyncio programs handle them:
//! `gather(*(p.wait() for p in procs))` and
//! `gather(*(p.communicate() for p in procs))`, written as a user writes
//! them (the futures of `wait` and `communicate` do not borrow the
//! `Process`, so they can be collected and handed to `gather`, whose
//! children are `'static` tasks). The driver test
//! `sigchld_watcher_passes_these_tests` runs this binary again under the
//! SIGCHLD child watcher, where the children's exits come through one
//! signal handler.

mod common;

use std::time::{Duration, Instant};

use tulip_executor::{gather, try_gather};
use tulip_process::{Error, Process, Stdio, SubprocessOptions, create_subprocess_shell};
use tulip_test::run;

/// Starts each of `cmds` with the shell, with the pipes `options` asks for.
async fn start_all(cmds: &[&str], options: impl Fn() -> SubprocessOptions) -> Vec<Process> {
    let mut procs = Vec::new();
    for cmd in cmds {
        procs.push(create_subprocess_shell(cmd, options()).await.unwrap());
    }
    procs
}

#[test]
fn sigchld_watcher_passes_these_tests() {
    common::rerun_under_sigchld("sigchld_watcher_passes_these_tests");
}

#[test]
fn gather_waits_for_several_children() {
    run(async {
        let cmds = ["sleep 0.3; exit 0", "sleep 0.2; exit 1", "exit 7"];
        let procs = start_all(&cmds, SubprocessOptions::new).await;
        let started = Instant::now();
        let codes = gather(procs.iter().map(|p| p.wait()).collect::<Vec<_>>())
            .await
            .unwrap();
        assert_eq!(codes, [0, 1, 7]);
        // Waited together: about the longest sleep, not their sum (0.5 s).
        assert!(started.elapsed() < Duration::from_secs(5));
        for (p, code) in procs.iter().zip([0, 1, 7]) {
            assert_eq!(p.returncode(), Some(code));
        }
    });
}

#[test]
fn gather_communicates_with_several_children() {
    run(async {
        let cmds = ["echo one", "echo two >&2; exit 2", "cat; echo three"];
        let mut procs = start_all(&cmds, || {
            SubprocessOptions::new()
                .stdin(Stdio::Pipe)
                .stdout(Stdio::Pipe)
                .stderr(Stdio::Pipe)
        })
        .await;
        let outputs = try_gather(
            procs
                .iter_mut()
                .map(|p| p.communicate(Some(b"fed ")))
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
        let texts: Vec<(&[u8], &[u8])> = outputs
            .iter()
            .map(|(out, err)| (out.as_deref().unwrap(), err.as_deref().unwrap()))
            .collect();
        assert_eq!(
            texts,
            [
                (&b"one\n"[..], &b""[..]),
                (&b""[..], &b"two\n"[..]),
                (&b"fed three\n"[..], &b""[..]),
            ]
        );
        let codes: Vec<_> = procs.iter().map(Process::returncode).collect();
        assert_eq!(codes, [Some(0), Some(2), Some(0)]);
        // The streams went with the call: stdin closed, the readers used up.
        for p in &procs {
            assert!(p.stdin.is_none() && p.stdout.is_none() && p.stderr.is_none());
        }
    });
}

#[test]
fn communicate_with_input_and_no_stdin_pipe_takes_nothing() {
    run(async {
        let mut procs = start_all(&["echo kept"], || {
            SubprocessOptions::new().stdout(Stdio::Pipe)
        })
        .await;
        let proc = &mut procs[0];
        let err = proc.communicate(Some(b"input")).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
        // The failed call left the stdout reader: a second call reads it.
        assert!(proc.stdout.is_some());
        let (out, err) = proc.communicate(None).await.unwrap();
        assert_eq!(out.as_deref(), Some(&b"kept\n"[..]));
        assert_eq!(err, None);
        assert_eq!(proc.returncode(), Some(0));
    });
}
