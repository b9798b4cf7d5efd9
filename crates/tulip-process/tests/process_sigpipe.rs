//! No write path of tulip raises `SIGPIPE`, even when the host left it at
//! `SIG_DFL` (a C or Python program embedding tulip): `sock_sendfile` and
//! `loop.sendfile` to a socket whose peer reset, a write-pipe transport
//! whose reader is gone, a child's stdin after it exited, `communicate`.
//! Each scenario runs in a child run of this binary that sets `SIGPIPE`
//! to `SIG_DFL` first; the parent asserts it ended normally, not killed by
//! the signal. (These live with the subprocess tests because this crate
//! sees both the transport and the subprocess layer.)

mod common;

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use tulip_executor::get_running_loop;
use tulip_process::{Process, Stdio, SubprocessOptions, create_subprocess_exec};
use tulip_test::child::{child_test_run, is_child_run};
use tulip_test::run;
use tulip_transport::{
    AcceptedSocketOptions, BaseProtocol, Error, LoopNetExt, Protocol, Transport,
};

/// Set in the child runs.
const CHILD_ENV: &str = "TULIP_SIGPIPE_TEST_CHILD";
/// What a child prints when its scenario passed.
const PASSED: &str = "sigpipe scenario passed";

/// Runs the `#[ignore]`d scenario `name` in a child run of this binary
/// with `SIGPIPE` at `SIG_DFL`, and asserts it passed and was not killed.
fn survives_with_sigpipe_default(name: &str) {
    let out = child_test_run(name, CHILD_ENV)
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.signal(),
        None,
        "{name}: the child was killed by a signal ({} is SIGPIPE)\n{stdout}",
        libc::SIGPIPE
    );
    assert!(
        out.status.success() && stdout.contains(PASSED),
        "{name}: the child failed\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// In a child run: sets `SIGPIPE` to `SIG_DFL`, runs `scenario` on a loop
/// and says it passed. Outside one (a plain `--ignored` run), does nothing.
fn child_scenario<F: Future<Output = ()> + 'static>(scenario: F) {
    if !is_child_run(CHILD_ENV) {
        return;
    }
    // SAFETY: `signal` with `SIG_DFL` installs no handler; the test
    // harness runs this scenario alone (`--test-threads=1`).
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(old, libc::SIG_ERR);
    run(scenario);
    println!("{PASSED}");
}

/// A protocol that keeps the connection open after the peer's EOF and
/// records the error it was lost with.
#[derive(Default)]
struct KeepOpen {
    lost: Option<Option<Error>>,
}
impl BaseProtocol for KeepOpen {
    fn connection_lost(&mut self, exc: Option<Error>) {
        self.lost = Some(exc);
    }
}
impl Protocol for KeepOpen {
    fn connection_made(&mut self, _transport: Transport) {}
    fn data_received(&mut self, _data: &[u8]) {}
    fn eof_received(&mut self) -> bool {
        true
    }
}

/// A TCP socket whose peer reset the connection, that reset already
/// reported by a read: the next write fails with `EPIPE` (and, without
/// `MSG_NOSIGNAL`, raises `SIGPIPE`). Non-blocking.
fn reset_socket() -> OwnedFd {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut ours, _) = l.accept().unwrap();
    rustix::net::sockopt::set_socket_linger(&peer, Some(Duration::ZERO)).unwrap();
    drop(peer);
    ours.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let err = ours.read(&mut [0u8; 16]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    ours.set_nonblocking(true).unwrap();
    OwnedFd::from(ours)
}

/// A file of 1 MiB to send.
fn big_file() -> File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(&vec![7u8; 1 << 20]).unwrap();
    f
}

/// A child with a stdin pipe that has exited: this blocks (the loop too,
/// on purpose) until it has, without reaping it. Its stdin's reader is
/// gone, and the loop has not polled since, so the stdin transport has
/// not noticed: the next write reaches the system call.
async fn exited_with_stdin_pipe() -> Process {
    let proc = create_subprocess_exec("true", [""; 0], SubprocessOptions::new().stdin(Stdio::Pipe))
        .await
        .unwrap();
    let pid = rustix::process::Pid::from_raw(proc.pid() as i32).unwrap();
    let waited = rustix::process::waitid(
        rustix::process::WaitId::Pid(pid),
        rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOWAIT,
    );
    // ECHILD: the loop's child watcher reaped it already (it has exited).
    if let Err(e) = waited {
        assert_eq!(e, rustix::io::Errno::CHILD, "waiting for the child: {e}");
    }
    proc
}

fn is_broken_pipe(e: &Error) -> bool {
    matches!(
        e.io_kind(),
        Some(ErrorKind::BrokenPipe | ErrorKind::ConnectionReset)
    )
}

#[test]
fn sock_sendfile_to_a_reset_peer_is_an_error_not_sigpipe() {
    survives_with_sigpipe_default("child_sock_sendfile");
}

#[test]
#[ignore = "run by sock_sendfile_to_a_reset_peer_is_an_error_not_sigpipe"]
fn child_sock_sendfile() {
    child_scenario(async {
        let lp = get_running_loop().unwrap();
        let sock = reset_socket();
        let file = big_file();
        let err = lp
            .sock_sendfile(&sock, &file, 0, None, false)
            .await
            .unwrap_err();
        assert!(is_broken_pipe(&err), "{err:?}");
    });
}

#[test]
fn loop_sendfile_to_a_reset_peer_is_an_error_not_sigpipe() {
    survives_with_sigpipe_default("child_loop_sendfile");
}

#[test]
#[ignore = "run by loop_sendfile_to_a_reset_peer_is_an_error_not_sigpipe"]
fn child_loop_sendfile() {
    child_scenario(async {
        let lp = get_running_loop().unwrap();
        let (transport, _proto) = lp
            .connect_accepted_socket(
                KeepOpen::default,
                reset_socket(),
                AcceptedSocketOptions::default(),
            )
            .await
            .unwrap();
        let file = big_file();
        let err = lp
            .sendfile(&transport, &file, 0, None, false)
            .await
            .unwrap_err();
        assert!(is_broken_pipe(&err), "{err:?}");
        transport.abort();
    });
}

#[test]
fn write_pipe_transport_to_a_gone_reader_is_an_error_not_sigpipe() {
    survives_with_sigpipe_default("child_write_pipe");
}

#[test]
#[ignore = "run by write_pipe_transport_to_a_gone_reader_is_an_error_not_sigpipe"]
fn child_write_pipe() {
    child_scenario(async {
        let lp = get_running_loop().unwrap();
        let (reader, writer) = rustix::pipe::pipe().unwrap();
        let (transport, proto) = lp
            .connect_write_pipe(KeepOpen::default, writer)
            .await
            .unwrap();
        // Gone just before the write, so the loop cannot notice it first.
        drop(reader);
        transport.write(b"nobody reads this").unwrap();
        while proto.borrow().lost.is_none() {
            tulip_executor::sleep(Duration::from_millis(1)).await;
        }
        let lost = proto.borrow_mut().lost.take().flatten();
        let err = lost.expect("lost with an error");
        assert_eq!(err.io_kind(), Some(ErrorKind::BrokenPipe), "{err:?}");
    });
}

#[test]
fn a_child_stdin_after_it_exited_is_an_error_not_sigpipe() {
    survives_with_sigpipe_default("child_process_stdin");
}

#[test]
#[ignore = "run by a_child_stdin_after_it_exited_is_an_error_not_sigpipe"]
fn child_process_stdin() {
    child_scenario(async {
        let mut proc = exited_with_stdin_pipe().await;
        let stdin = proc.stdin.take().unwrap();
        stdin.write(b"nobody reads this").unwrap();
        let err = stdin.drain().await.unwrap_err();
        assert_eq!(err.io_kind(), Some(ErrorKind::BrokenPipe), "{err:?}");
    });
}

#[test]
fn communicate_with_an_exited_child_is_not_sigpipe() {
    survives_with_sigpipe_default("child_communicate");
}

#[test]
#[ignore = "run by communicate_with_an_exited_child_is_not_sigpipe"]
fn child_communicate() {
    child_scenario(async {
        let mut proc = exited_with_stdin_pipe().await;
        // As asyncio: the broken pipe ends the feeding, quietly.
        let (out, err) = proc.communicate(Some(&[b'x'; 1 << 20])).await.unwrap();
        assert_eq!((out, err), (None, None));
    });
}
