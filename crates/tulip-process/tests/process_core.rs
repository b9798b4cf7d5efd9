//! The core guarantees with real child processes: asyncio's callback
//! order, no deadlock in `communicate` whatever the sizes, `wait` not
//! waiting for pipes, every child reaped (also when its handles are
//! dropped), no signal after reaping, cancellation leaving nothing
//! behind. The driver test `sigchld_watcher_passes_these_tests` runs this
//! binary again under the SIGCHLD child watcher.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use common::{Quiet, children_with_cmdline, is_our_child, is_our_zombie, poll_once_and_drop};
use tulip_executor::{get_running_loop, wait_for};
use tulip_process::{
    ChildWatcherKind, Error, LoopProcessExt, Process, Stdio, SubprocessOptions, SubprocessProtocol,
    SubprocessTransport, child_watcher_kind, create_subprocess_exec, create_subprocess_shell,
};
use tulip_test::{run, wait_until};
use tulip_transport::BaseProtocol;

#[test]
fn sigchld_watcher_passes_these_tests() {
    common::rerun_under_sigchld("sigchld_watcher_passes_these_tests");
}

#[test]
fn the_watcher_is_the_one_asked_for() {
    let expected = match std::env::var("TULIP_CHILD_WATCHER").as_deref() {
        Ok("sigchld") => ChildWatcherKind::Sigchld,
        _ => ChildWatcherKind::Pidfd,
    };
    assert_eq!(child_watcher_kind(), expected);
    run(async move {
        let proc = create_subprocess_exec("true", [""; 0], SubprocessOptions::new())
            .await
            .unwrap();
        assert_eq!(proc.transport().child_watcher(), expected);
        assert_eq!(proc.wait().await, 0);
    });
}

/// One call a protocol received.
#[derive(Clone, Debug, PartialEq)]
enum Call {
    Made,
    Data(i32, usize),
    PipeLost(i32, bool),
    Exited(Option<i32>),
    Lost,
}

/// Records every call, in order.
struct Recorder {
    calls: Rc<RefCell<Vec<Call>>>,
    transport: Option<SubprocessTransport>,
    done: tulip_executor::LoopFuture<()>,
}

impl BaseProtocol for Recorder {
    fn connection_lost(&mut self, exc: Option<tulip_transport::Error>) {
        assert!(exc.is_none());
        self.calls.borrow_mut().push(Call::Lost);
        let _ = self.done.set_result(());
    }
}

impl SubprocessProtocol for Recorder {
    fn connection_made(&mut self, transport: SubprocessTransport) {
        for fd in 0..3 {
            assert!(transport.get_pipe_transport(fd).is_some(), "pipe {fd}");
        }
        self.transport = Some(transport);
        self.calls.borrow_mut().push(Call::Made);
    }
    fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
        self.calls.borrow_mut().push(Call::Data(fd, data.len()));
    }
    fn pipe_connection_lost(&mut self, fd: i32, exc: Option<tulip_transport::Error>) {
        self.calls
            .borrow_mut()
            .push(Call::PipeLost(fd, exc.is_some()));
    }
    fn process_exited(&mut self) {
        let code = self.transport.as_ref().and_then(|t| t.get_returncode());
        self.calls.borrow_mut().push(Call::Exited(code));
    }
}

/// A factory of [`Recorder`]s, the calls they record, and the future
/// completed by `connection_lost`.
#[allow(clippy::type_complexity)]
fn recorder() -> (
    impl FnMut() -> Recorder + 'static,
    Rc<RefCell<Vec<Call>>>,
    tulip_executor::LoopFuture<()>,
) {
    let calls = Rc::new(RefCell::new(Vec::new()));
    let done = get_running_loop().unwrap().create_future();
    let factory = {
        let (calls, done) = (calls.clone(), done.clone());
        move || Recorder {
            calls: calls.clone(),
            transport: None,
            done: done.clone(),
        }
    };
    (factory, calls, done)
}

/// Checks asyncio's order on a list of calls: `connection_made` first,
/// each pipe's data before its loss, one loss per pipe, one exit,
/// `connection_lost` last and after everything.
fn check_order(calls: &[Call], pipes: &[i32], code: i32) {
    assert_eq!(calls.first(), Some(&Call::Made), "{calls:?}");
    assert_eq!(calls.last(), Some(&Call::Lost), "{calls:?}");
    assert_eq!(calls.iter().filter(|c| **c == Call::Lost).count(), 1);
    let exits: Vec<usize> = (0..calls.len())
        .filter(|&i| matches!(calls[i], Call::Exited(_)))
        .collect();
    assert_eq!(exits.len(), 1, "{calls:?}");
    assert_eq!(calls[exits[0]], Call::Exited(Some(code)));
    for &fd in pipes {
        let lost: Vec<usize> = (0..calls.len())
            .filter(|&i| matches!(calls[i], Call::PipeLost(f, _) if f == fd))
            .collect();
        assert_eq!(lost.len(), 1, "pipe {fd}: {calls:?}");
        let last_data = (0..calls.len())
            .filter(|&i| matches!(calls[i], Call::Data(f, _) if f == fd))
            .max();
        if let Some(d) = last_data {
            assert!(d < lost[0], "data after pipe {fd}'s loss: {calls:?}");
        }
    }
}

#[test]
fn protocol_calls_come_in_asyncio_order() {
    run(async {
        let lp = get_running_loop().unwrap();
        for _ in 0..20 {
            let (factory, calls, done) = recorder();
            let (transport, protocol) = lp
                .subprocess_shell(
                    factory,
                    "echo out; echo err >&2; read line; echo \"$line\"; exit 3",
                    SubprocessOptions::new(),
                )
                .await
                .unwrap();
            // connection_made has run when subprocess_shell returns.
            assert_eq!(calls.borrow().first(), Some(&Call::Made));
            let stdin = transport.get_pipe_transport(0).unwrap();
            stdin.write(b"echoed\n").unwrap();
            stdin.close();
            done.await.unwrap();
            let calls = calls.borrow();
            check_order(&calls, &[0, 1, 2], 3);
            let out: usize = calls
                .iter()
                .filter_map(|c| match c {
                    Call::Data(1, n) => Some(*n),
                    _ => None,
                })
                .sum();
            assert_eq!(out, "out\nechoed\n".len());
            assert_eq!(transport.get_returncode(), Some(3));
            // Everything is released after connection_lost.
            assert!(transport.get_pipe_transport(1).is_none());
            assert!(protocol.borrow().transport.is_some());
        }
    });
}

#[test]
fn a_child_killed_by_a_signal_has_a_negative_returncode() {
    run(async {
        let proc = create_subprocess_exec("sleep", ["30"], SubprocessOptions::new())
            .await
            .unwrap();
        assert_eq!(proc.returncode(), None);
        proc.terminate().unwrap();
        assert_eq!(proc.wait().await, -15);
        assert_eq!(proc.returncode(), Some(-15));
        let proc = create_subprocess_shell("kill -9 $$", SubprocessOptions::new())
            .await
            .unwrap();
        assert_eq!(proc.wait().await, -9);
    });
}

/// A shell loop writing `n` blocks of 64 KiB alternately to stdout
/// (zeros) and stderr (the letter e).
fn interleaved_writer(n: usize) -> String {
    format!(
        "i=0; while [ $i -lt {n} ]; do head -c 65536 /dev/zero; \
         head -c 65536 /dev/zero | tr '\\0' e >&2; i=$((i+1)); done"
    )
}

#[test]
fn communicate_never_deadlocks() {
    run(async {
        // 20 MB interleaved on stdout and stderr.
        let blocks = 160;
        let mut proc = create_subprocess_shell(
            interleaved_writer(blocks),
            SubprocessOptions::new()
                .stdout(Stdio::Pipe)
                .stderr(Stdio::Pipe),
        )
        .await
        .unwrap();
        let (out, err) = proc.communicate(None).await.unwrap();
        let (out, err) = (out.unwrap(), err.unwrap());
        assert_eq!(out.len(), blocks * 65536);
        assert_eq!(err.len(), blocks * 65536);
        assert!(out.iter().all(|&b| b == 0));
        assert!(err.iter().all(|&b| b == b'e'));
        assert_eq!(proc.returncode(), Some(0));

        // 1 MB through cat, which writes back as it reads.
        let input: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut cat = create_subprocess_exec(
            "cat",
            [""; 0],
            SubprocessOptions::new()
                .stdin(Stdio::Pipe)
                .stdout(Stdio::Pipe)
                .stderr(Stdio::Pipe),
        )
        .await
        .unwrap();
        let (out, err) = cat.communicate(Some(&input)).await.unwrap();
        assert_eq!(out.unwrap(), input);
        assert_eq!(err.unwrap(), b"");
        assert_eq!(cat.returncode(), Some(0));
        assert!(cat.stdin.is_none());
    });
}

#[test]
fn communicate_ignores_a_child_that_does_not_read() {
    run(async {
        let input = vec![b'x'; 4 * 1024 * 1024];
        let mut proc =
            create_subprocess_exec("true", [""; 0], SubprocessOptions::new().stdin(Stdio::Pipe))
                .await
                .unwrap();
        let (out, err) = proc.communicate(Some(&input)).await.unwrap();
        assert_eq!((out, err), (None, None));
        assert_eq!(proc.returncode(), Some(0));
    });
}

#[test]
fn wait_returns_when_the_child_exits_although_a_grandchild_holds_the_pipe() {
    run(async {
        let mut proc = create_subprocess_shell(
            "sleep 30 & echo hi",
            SubprocessOptions::new()
                .stdout(Stdio::Pipe)
                .process_group(0),
        )
        .await
        .unwrap();
        let line = proc.stdout.as_mut().unwrap().readline().await.unwrap();
        assert_eq!(line, b"hi\n");
        let code = wait_for(proc.wait(), Duration::from_secs(10))
            .await
            .expect("wait waited for the pipe");
        assert_eq!(code, 0);
        // The pipe is still open: the grandchild holds it.
        assert!(proc.transport().get_pipe_transport(1).is_some());
        // Clean up the grandchild through the process group.
        let pgid = rustix::process::Pid::from_raw(proc.pid() as i32).unwrap();
        rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL).unwrap();
        let _ = proc.stdout.as_mut().unwrap().read_to_eof().await;
    });
}

#[test]
fn two_hundred_children_exiting_at_once_are_all_reaped() {
    run(async {
        // Every child blocks reading one shared pipe; closing its write
        // end makes them all exit at the same moment. (CLOEXEC: no child
        // started meanwhile, here or by another test, may inherit it.)
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let mut procs = Vec::new();
        for i in 0..200 {
            let proc = create_subprocess_shell(
                format!("read x; exit {}", i % 200),
                SubprocessOptions::new().stdin(Stdio::Fd(read.try_clone().unwrap())),
            )
            .await
            .unwrap();
            procs.push(proc);
        }
        drop(read);
        drop(write);
        for (i, proc) in procs.iter().enumerate() {
            assert_eq!(proc.wait().await, i as i32 % 200);
        }
        for proc in &procs {
            assert!(!is_our_child(proc.pid()), "pid {} not reaped", proc.pid());
        }
    });
}

#[test]
fn dropped_processes_are_reaped() {
    run(async {
        let mut pids = Vec::new();
        for i in 0..500 {
            let options = if i % 2 == 0 {
                SubprocessOptions::new()
            } else {
                SubprocessOptions::new()
                    .stdin(Stdio::Pipe)
                    .stdout(Stdio::Pipe)
                    .stderr(Stdio::Pipe)
            };
            let proc = create_subprocess_exec("true", [""; 0], options)
                .await
                .unwrap();
            pids.push(proc.pid());
            drop(proc);
        }
        let all_reaped = wait_until(|| pids.iter().all(|&pid| !is_our_zombie(pid))).await;
        let left: Vec<u32> = pids.into_iter().filter(|&p| is_our_zombie(p)).collect();
        assert!(all_reaped, "zombies left: {left:?}");
    });
}

#[test]
fn signalling_after_the_exit_sends_nothing() {
    run(async {
        let proc = create_subprocess_exec("true", [""; 0], SubprocessOptions::new())
            .await
            .unwrap();
        assert_eq!(proc.wait().await, 0);
        assert!(matches!(proc.kill(), Err(Error::ProcessLookup)));
        assert!(matches!(proc.terminate(), Err(Error::ProcessLookup)));
        assert!(matches!(
            proc.send_signal(rustix::process::Signal::USR1.as_raw()),
            Err(Error::ProcessLookup)
        ));

        let lp = get_running_loop().unwrap();
        let (transport, _) = lp
            .subprocess_exec(|| Quiet, "sleep", ["30"], SubprocessOptions::new())
            .await
            .unwrap();
        assert!(matches!(
            transport.send_signal(0),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            transport.send_signal(12345),
            Err(Error::InvalidInput(_))
        ));
        transport.kill().unwrap();
        let t = transport.clone();
        assert!(wait_until(move || t.get_returncode().is_some()).await);
        assert_eq!(transport.get_returncode(), Some(-9));
        assert!(matches!(transport.kill(), Err(Error::ProcessLookup)));
        assert!(!is_our_child(transport.get_pid()));
    });
}

#[test]
fn a_cancelled_wait_leaves_the_child_to_kill_and_reap() {
    run(async {
        let proc = create_subprocess_exec("sleep", ["30"], SubprocessOptions::new())
            .await
            .unwrap();
        assert!(
            wait_for(proc.wait(), Duration::from_millis(20))
                .await
                .is_err()
        );
        proc.kill().unwrap();
        assert_eq!(proc.wait().await, -9);
        assert!(!is_our_child(proc.pid()));

        // With kill_on_drop, dropping it after a cancelled wait kills it.
        let proc = create_subprocess_exec(
            "sleep",
            ["30"],
            SubprocessOptions::new()
                .stdout(Stdio::Pipe)
                .kill_on_drop(true),
        )
        .await
        .unwrap();
        let pid = proc.pid();
        assert!(
            wait_for(proc.wait(), Duration::from_millis(20))
                .await
                .is_err()
        );
        drop(proc);
        assert!(wait_until(|| !is_our_child(pid)).await, "pid {pid} left");
    });
}

#[test]
fn a_cancelled_spawn_leaves_no_child() {
    run(async {
        let lp = get_running_loop().unwrap();
        // A marker to find the children by: unique to this test.
        let marker = "29.876";
        poll_once_and_drop(create_subprocess_exec(
            "sleep",
            [marker],
            SubprocessOptions::new()
                .stdin(Stdio::Pipe)
                .stdout(Stdio::Pipe),
        ))
        .await;
        poll_once_and_drop(lp.subprocess_exec(
            || Quiet,
            "sleep",
            [marker],
            SubprocessOptions::new(),
        ))
        .await;
        assert!(
            wait_until(|| children_with_cmdline(&format!("sleep {marker}")).is_empty()).await,
            "children left: {:?}",
            children_with_cmdline(marker)
        );
    });
}

#[test]
fn close_kills_a_running_child_and_the_protocol_hears_everything() {
    run(async {
        let lp = get_running_loop().unwrap();
        let (factory, calls, done) = recorder();
        let (transport, _) = lp
            .subprocess_exec(factory, "sleep", ["30"], SubprocessOptions::new())
            .await
            .unwrap();
        assert!(!transport.is_closing());
        transport.close();
        assert!(transport.is_closing());
        done.await.unwrap();
        check_order(&calls.borrow(), &[0, 1, 2], -9);
        assert!(!is_our_child(transport.get_pid()));
    });
}

#[test]
fn a_missing_program_is_not_found() {
    run(async {
        let err = create_subprocess_exec("/nonexistent/program", [""; 0], SubprocessOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::NotFound), "{err}");
        let lp = get_running_loop().unwrap();
        let err = lp
            .subprocess_exec(
                || Quiet,
                "no-such-program-tulip",
                [""; 0],
                SubprocessOptions::new(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::NotFound), "{err}");
    });
}

#[test]
fn processes_can_be_kept_in_a_vector_and_waited_in_any_order() {
    run(async {
        let mut procs: Vec<Process> = Vec::new();
        for code in [5, 0, 7] {
            procs.push(
                create_subprocess_shell(format!("exit {code}"), SubprocessOptions::new())
                    .await
                    .unwrap(),
            );
        }
        procs.reverse();
        let codes: Vec<i32> = {
            let mut v = Vec::new();
            for p in &procs {
                v.push(p.wait().await);
            }
            v
        };
        assert_eq!(codes, [7, 0, 5]);
    });
}

#[test]
fn the_sigchld_watcher_owns_the_loops_sigchld_handler_only_while_it_has_children() {
    use std::cell::Cell;
    use tulip_executor::signal::SIGCHLD;
    run(async move {
        let lp = get_running_loop().unwrap();
        let first = create_subprocess_exec("true", [""; 0], SubprocessOptions::new())
            .await
            .unwrap();
        assert_eq!(first.wait().await, 0);
        // Its last child reaped, the watcher left no SIGCHLD handler.
        assert!(!lp.remove_signal_handler(SIGCHLD));

        // A handler of the loop's own, set while a child runs, replaces
        // the watcher's; the next child takes SIGCHLD back, and both
        // children are reported.
        let sleeper = create_subprocess_exec("sleep", ["0.3"], SubprocessOptions::new())
            .await
            .unwrap();
        let heard = Rc::new(Cell::new(0u32));
        let h = heard.clone();
        lp.add_signal_handler(SIGCHLD, move || h.set(h.get() + 1))
            .unwrap();
        let other = create_subprocess_exec("true", [""; 0], SubprocessOptions::new())
            .await
            .unwrap();
        assert_eq!(other.wait().await, 0);
        assert_eq!(sleeper.wait().await, 0);
        let users_handler_left = lp.remove_signal_handler(SIGCHLD);
        match child_watcher_kind() {
            // Replaced by the watcher's, which went with the last child.
            ChildWatcherKind::Sigchld => assert!(!users_handler_left),
            // The pidfd watcher leaves SIGCHLD alone.
            _ => assert!(users_handler_left),
        }
    });
}
