//! The options and the rest of the API with real child processes: where
//! the standard streams go (pipes, `/dev/null`, stderr into stdout, a
//! file), cwd, environment, process group, a `Command` built by hand,
//! streams on the pipes, default signal dispositions in the child, the
//! stdin pipe's flow control reaching the protocol, a panicking protocol,
//! and bad arguments.

mod common;

use std::cell::{Cell, RefCell};
use std::io::{Read, Seek};
use std::process::Command;
use std::rc::Rc;

use common::{Quiet, proc_stat};
use tulip_executor::{ExceptionContext, get_running_loop};
use tulip_process::{
    Error, LoopProcessExt, Stdio, SubprocessOptions, SubprocessProtocol, SubprocessTransport,
    create_subprocess_command, create_subprocess_exec, create_subprocess_shell,
};
use tulip_test::{run, wait_until};
use tulip_transport::{BaseProtocol, ExtraInfo};

/// Runs `cmd` with the shell, stdout piped, and returns what it printed.
async fn output_of(cmd: &str, options: SubprocessOptions) -> String {
    let mut proc = create_subprocess_shell(cmd, options.stdout(Stdio::Pipe))
        .await
        .unwrap();
    let (out, _) = proc.communicate(None).await.unwrap();
    String::from_utf8(out.unwrap()).unwrap()
}

#[test]
fn cwd_and_environment() {
    run(async {
        let out = output_of(
            "echo \"$TULIP_A $TULIP_B\"; pwd",
            SubprocessOptions::new()
                .cwd("/")
                .env("TULIP_A", "one")
                .envs([("TULIP_B", "two")]),
        )
        .await;
        assert_eq!(out, "one two\n/\n");
        let out = output_of(
            "echo \"[$HOME][$TULIP_C]\"",
            SubprocessOptions::new()
                .env_clear()
                .env("TULIP_C", "only")
                .env("HOME", "gone")
                .env_remove("HOME"),
        )
        .await;
        assert_eq!(out, "[][only]\n");
    });
}

#[test]
fn a_new_process_group() {
    run(async {
        let mut proc = create_subprocess_exec(
            "cat",
            [""; 0],
            SubprocessOptions::new().stdin(Stdio::Pipe).process_group(0),
        )
        .await
        .unwrap();
        let pid = proc.pid();
        let (_, _, pgrp) = proc_stat(pid).unwrap();
        assert_eq!(pgrp, pid);
        proc.communicate(None).await.unwrap();
        assert_eq!(proc.returncode(), Some(0));
    });
}

#[test]
fn stderr_into_stdout_devnull_and_a_file() {
    run(async {
        let mut proc = create_subprocess_shell(
            "echo a; echo b >&2; echo c",
            SubprocessOptions::new()
                .stdout(Stdio::Pipe)
                .stderr(Stdio::Stdout),
        )
        .await
        .unwrap();
        assert!(proc.stderr.is_none());
        let (out, err) = proc.communicate(None).await.unwrap();
        assert_eq!(out.unwrap(), b"a\nb\nc\n");
        assert_eq!(err, None);

        // stdin from /dev/null: cat ends at once.
        let mut proc = create_subprocess_exec(
            "cat",
            [""; 0],
            SubprocessOptions::new()
                .stdin(Stdio::DevNull)
                .stdout(Stdio::Pipe)
                .stderr(Stdio::DevNull),
        )
        .await
        .unwrap();
        assert!(proc.stdin.is_none());
        let (out, _) = proc.communicate(None).await.unwrap();
        assert_eq!(out.unwrap(), b"");

        // stdout and stderr into a file.
        let mut file = tempfile_in_tmp();
        let proc = create_subprocess_shell(
            "echo to-file; echo err-too >&2",
            SubprocessOptions::new()
                .stdout(Stdio::from(file.try_clone().unwrap()))
                .stderr(Stdio::Stdout),
        )
        .await
        .unwrap();
        assert_eq!(proc.wait().await, 0);
        let mut text = String::new();
        file.rewind().unwrap();
        file.read_to_string(&mut text).unwrap();
        assert_eq!(text, "to-file\nerr-too\n");
    });
}

/// An unnamed temporary file.
fn tempfile_in_tmp() -> std::fs::File {
    let path = std::env::temp_dir().join(format!(
        "tulip-process-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    file
}

#[test]
fn a_command_built_by_hand() {
    run(async {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo \"$TULIP_HAND\"; cat"])
            .env("TULIP_HAND", "by hand")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut proc = create_subprocess_command(cmd, SubprocessOptions::new())
            .await
            .unwrap();
        assert!(proc.stdin.is_some() && proc.stdout.is_some() && proc.stderr.is_none());
        let (out, _) = proc.communicate(Some(b"then stdin\n")).await.unwrap();
        assert_eq!(out.unwrap(), b"by hand\nthen stdin\n");

        // The options win over the command's own settings.
        let mut cmd = Command::new("echo");
        cmd.arg("hidden").stdout(std::process::Stdio::piped());
        let proc = create_subprocess_command(cmd, SubprocessOptions::new().stdout(Stdio::DevNull))
            .await
            .unwrap();
        assert!(proc.stdout.is_none());
        assert_eq!(proc.wait().await, 0);
    });
}

#[test]
fn streams_on_the_pipes() {
    run(async {
        let mut proc = create_subprocess_exec(
            "cat",
            [""; 0],
            SubprocessOptions::new()
                .stdin(Stdio::Pipe)
                .stdout(Stdio::Pipe),
        )
        .await
        .unwrap();
        let stdin = proc.stdin.take().unwrap();
        let stdout = proc.stdout.as_mut().unwrap();
        for i in 0..100 {
            let line = format!("line {i}\n");
            stdin.write(line.as_bytes()).unwrap();
            stdin.drain().await.unwrap();
            assert_eq!(stdout.readline().await.unwrap(), line.as_bytes());
        }
        // Dropping the writer closes the pipe: cat sees EOF.
        drop(stdin);
        assert!(stdout.read_to_eof().await.unwrap().is_empty());
        assert_eq!(proc.wait().await, 0);
    });
}

#[test]
fn children_start_with_sigpipe_at_its_default() {
    run(async {
        // Rust ignores SIGPIPE in this process; the child must not.
        let status = output_of("grep SigIgn /proc/self/status", SubprocessOptions::new()).await;
        let mask =
            u64::from_str_radix(status.trim().trim_start_matches("SigIgn:").trim(), 16).unwrap();
        assert_eq!(mask & (1 << (libc_sigpipe() - 1)), 0, "{status}");
        // A shell signalling itself with SIGPIPE dies of it.
        let proc = create_subprocess_shell("kill -PIPE $$; exit 0", SubprocessOptions::new())
            .await
            .unwrap();
        assert_eq!(proc.wait().await, -libc_sigpipe());
        // Dropping a reader closes its pipe: a writer then dies of SIGPIPE.
        let mut proc =
            create_subprocess_exec("yes", [""; 0], SubprocessOptions::new().stdout(Stdio::Pipe))
                .await
                .unwrap();
        let first = proc.stdout.as_mut().unwrap().readline().await.unwrap();
        assert_eq!(first, b"y\n");
        drop(proc.stdout.take());
        assert_eq!(proc.wait().await, -libc_sigpipe());
    });
}

fn libc_sigpipe() -> i32 {
    rustix::process::Signal::PIPE.as_raw()
}

/// Counts the stdin pipe's flow-control calls.
#[derive(Default)]
struct Flow {
    paused: Rc<Cell<u32>>,
    resumed: Rc<Cell<u32>>,
}

impl BaseProtocol for Flow {
    fn pause_writing(&mut self) {
        self.paused.set(self.paused.get() + 1);
    }
    fn resume_writing(&mut self) {
        self.resumed.set(self.resumed.get() + 1);
    }
}

impl SubprocessProtocol for Flow {}

#[test]
fn the_stdin_pipe_pauses_and_resumes_the_protocol() {
    run(async {
        let lp = get_running_loop().unwrap();
        let (paused, resumed) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        let factory = {
            let (p, r) = (paused.clone(), resumed.clone());
            move || Flow {
                paused: p.clone(),
                resumed: r.clone(),
            }
        };
        // The pipe takes 64 KiB at once: the rest is buffered, which
        // pauses the protocol at once; cat then drains it.
        let (transport, _) = lp
            .subprocess_exec(
                factory,
                "cat",
                [""; 0],
                SubprocessOptions::new().stdout(Stdio::DevNull),
            )
            .await
            .unwrap();
        let stdin = transport.get_pipe_transport(0).unwrap();
        stdin.write(&vec![b'x'; 1024 * 1024]).unwrap();
        assert_eq!(paused.get(), 1);
        assert!(wait_until(|| resumed.get() == 1).await);
        stdin.close();
        let t = transport.clone();
        assert!(wait_until(move || t.get_returncode() == Some(0)).await);
    });
}

/// Panics in `pipe_data_received`.
struct Panicky {
    lost: Rc<Cell<bool>>,
}

impl BaseProtocol for Panicky {
    fn connection_lost(&mut self, _exc: Option<tulip_transport::Error>) {
        self.lost.set(true);
    }
}

impl SubprocessProtocol for Panicky {
    fn pipe_data_received(&mut self, _fd: i32, _data: &[u8]) {
        panic!("boom");
    }
}

#[test]
fn a_panicking_protocol_is_reported_and_the_transport_goes_on() {
    run(async {
        let lp = get_running_loop().unwrap();
        let reports = Rc::new(RefCell::new(Vec::new()));
        let r = reports.clone();
        lp.set_exception_handler(move |_: &tulip_executor::Loop, ctx: &ExceptionContext| {
            r.borrow_mut().push(ctx.message.clone());
        });
        let lost = Rc::new(Cell::new(false));
        let l = lost.clone();
        let (transport, _) = lp
            .subprocess_shell(
                move || Panicky { lost: l.clone() },
                "echo hi",
                SubprocessOptions::new(),
            )
            .await
            .unwrap();
        let l = lost.clone();
        assert!(wait_until(move || l.get()).await);
        assert_eq!(transport.get_returncode(), Some(0));
        let reports = reports.borrow();
        assert!(
            reports.iter().any(|m| m.contains("pipe_data_received")),
            "{reports:?}"
        );
    });
}

#[test]
fn transport_information() {
    run(async {
        let lp = get_running_loop().unwrap();
        let (transport, _) = lp
            .subprocess_exec(
                || Quiet,
                "sleep",
                ["30"],
                SubprocessOptions::new().stdin(Stdio::DevNull),
            )
            .await
            .unwrap();
        let pid = transport.get_pid();
        assert_eq!(
            transport.get_extra_info("pid"),
            Some(ExtraInfo::Text(pid.to_string()))
        );
        let Some(ExtraInfo::Text(cmdline)) = transport.get_extra_info("subprocess") else {
            panic!("no subprocess info");
        };
        assert!(
            cmdline.contains("sleep") && cmdline.contains("30"),
            "{cmdline}"
        );
        assert_eq!(transport.get_extra_info("peername"), None);
        assert!(transport.get_pipe_transport(0).is_none());
        assert!(transport.get_pipe_transport(1).is_some());
        assert!(transport.get_pipe_transport(2).is_some());
        assert!(transport.get_pipe_transport(3).is_none());
        assert!(transport.get_pipe_transport(-1).is_none());
        assert!(format!("{transport:?}").contains(&pid.to_string()));
        transport.close();
        transport.close();
        let t: SubprocessTransport = transport.clone();
        assert!(wait_until(move || t.get_returncode() == Some(-9)).await);
    });
}

#[test]
fn bad_arguments_are_typed_errors() {
    run(async {
        let err = create_subprocess_exec(
            "true",
            [""; 0],
            SubprocessOptions::new().stdin(Stdio::Stdout),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        let err = create_subprocess_exec(
            "true",
            [""; 0],
            SubprocessOptions::new().stdout(Stdio::Stdout),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        let err = create_subprocess_exec("true", [""; 0], SubprocessOptions::new().limit(0))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        let mut proc = create_subprocess_exec("true", [""; 0], SubprocessOptions::new())
            .await
            .unwrap();
        let err = proc.communicate(Some(b"input")).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        assert_eq!(proc.wait().await, 0);
        // stderr=STDOUT of a Command whose stdout the options leave alone.
        let err = create_subprocess_command(
            Command::new("true"),
            SubprocessOptions::new().stderr(Stdio::Stdout),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    });
}

#[test]
fn a_small_limit_pauses_the_pipe_until_the_reader_reads() {
    run(async {
        let mut proc = create_subprocess_shell(
            "head -c 1000000 /dev/zero",
            SubprocessOptions::new().stdout(Stdio::Pipe).limit(1024),
        )
        .await
        .unwrap();
        // The child blocks on the full pipe; nothing is lost meanwhile.
        tulip_executor::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(proc.returncode(), None);
        let out = proc.stdout.as_mut().unwrap();
        let mut total = 0;
        loop {
            let chunk = out.read(4096).await.unwrap();
            if chunk.is_empty() {
                break;
            }
            assert!(chunk.iter().all(|&b| b == 0));
            total += chunk.len();
        }
        assert_eq!(total, 1_000_000);
        assert_eq!(proc.wait().await, 0);
    });
}
