//! Unix-domain stream sockets: server and connection echo over a path and
//! an abstract name, socket-file cleanup, stale socket files, given
//! sockets, a full backlog, bad arguments.

mod common;
mod server_support;

use std::cell::{Cell, RefCell};
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use server_support::Counts;
use tulip_executor::{Loop, sleep, spawn, to_thread};
use tulip_test::{run_with_loop, wait_until};
use tulip_transport::{
    BaseProtocol, Error, LoopNetExt, Protocol, SockAddr, UnixAddr, UnixConnectOptions,
    UnixServerOptions,
};

/// A client protocol collecting what it receives.
#[derive(Debug, Default)]
struct Collect {
    data: Rc<RefCell<Vec<u8>>>,
    lost: Rc<Cell<bool>>,
}

impl BaseProtocol for Collect {
    fn connection_lost(&mut self, _exc: Option<Error>) {
        self.lost.set(true);
    }
}

impl Protocol for Collect {
    fn data_received(&mut self, data: &[u8]) {
        self.data.borrow_mut().extend_from_slice(data);
    }
}

/// Connects with `create_unix_connection`, sends `msg` and waits for it
/// to come back.
async fn tulip_echo(lp: &Loop, path: &Path, msg: &[u8]) -> Vec<u8> {
    let (t, p) = lp
        .create_unix_connection(Collect::default, Some(path), UnixConnectOptions::new())
        .await
        .unwrap();
    t.write(msg).unwrap();
    let data = p.borrow().data.clone();
    assert!(wait_until(|| data.borrow().len() >= msg.len()).await);
    t.close();
    let lost = p.borrow().lost.clone();
    assert!(wait_until(|| lost.get()).await);
    data.borrow().clone()
}

/// A blocking client on a worker thread.
async fn std_echo(path: PathBuf, msg: &[u8]) -> io::Result<Vec<u8>> {
    let msg = msg.to_vec();
    to_thread(move || {
        let mut s = UnixStream::connect(path)?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        s.write_all(&msg)?;
        s.shutdown(std::net::Shutdown::Write)?;
        let mut back = Vec::new();
        s.read_to_end(&mut back)?;
        Ok(back)
    })
    .await
    .unwrap()
}

fn abstract_name(tag: &str) -> PathBuf {
    let mut name = vec![0u8];
    name.extend_from_slice(format!("tulip-test-{}-{tag}", std::process::id()).as_bytes());
    PathBuf::from(OsStr::from_bytes(&name))
}

#[test]
fn echo_over_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("echo.sock");
    run_with_loop(|lp| async move {
        let counts = Counts::default();
        let server = lp
            .create_unix_server(counts.factory(), Some(&path), UnixServerOptions::new())
            .await
            .unwrap();
        assert!(server.is_serving());
        let sockets = server.sockets();
        assert_eq!(sockets.len(), 1);
        assert_eq!(
            sockets[0].local_addr(),
            Some(&SockAddr::Unix(UnixAddr::path(&path)))
        );
        assert_eq!(tulip_echo(&lp, &path, b"over a path").await, b"over a path");
        assert_eq!(std_echo(path.clone(), b"std").await.unwrap(), b"std");
        assert!(wait_until(|| counts.lost() == 2).await);
        assert_eq!(counts.made(), 2);
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn echo_over_an_abstract_name() {
    let name = abstract_name("echo");
    run_with_loop(|lp| async move {
        let counts = Counts::default();
        let server = lp
            .create_unix_server(counts.factory(), Some(&name), UnixServerOptions::new())
            .await
            .unwrap();
        let expected = UnixAddr::from_asyncio(&name);
        assert!(matches!(expected, UnixAddr::Abstract(_)));
        assert_eq!(
            server.sockets()[0].local_addr(),
            Some(&SockAddr::Unix(expected))
        );
        assert_eq!(tulip_echo(&lp, &name, b"abstract").await, b"abstract");
        server.close();
        server.wait_closed().await;
        assert_eq!(counts.made(), 1);
        // Closed: connecting fails now.
        let err = lp
            .create_unix_connection(Collect::default, Some(&name), UnixConnectOptions::new())
            .await
            .unwrap_err();
        assert_eq!(
            err.io_kind(),
            Some(io::ErrorKind::ConnectionRefused),
            "{err}"
        );
    });
}

#[test]
fn cleanup_socket_removes_the_file_on_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cleanup.sock");
    let kept = dir.path().join("kept.sock");
    run_with_loop(|lp| async move {
        let counts = Counts::default();
        let server = lp
            .create_unix_server(counts.factory(), Some(&path), UnixServerOptions::new())
            .await
            .unwrap();
        assert!(path.exists());
        server.close();
        assert!(!path.exists());
        server.wait_closed().await;

        let server = lp
            .create_unix_server(
                counts.factory(),
                Some(&kept),
                UnixServerOptions::new().cleanup_socket(false),
            )
            .await
            .unwrap();
        server.close();
        assert!(kept.exists());
    });
}

#[test]
fn cleanup_leaves_a_file_that_was_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replaced.sock");
    run_with_loop(|lp| async move {
        let counts = Counts::default();
        let server = lp
            .create_unix_server(counts.factory(), Some(&path), UnixServerOptions::new())
            .await
            .unwrap();
        // Someone else takes the path over.
        std::fs::remove_file(&path).unwrap();
        let other = UnixListener::bind(&path).unwrap();
        server.close();
        assert!(path.exists(), "the other server's file was removed");
        drop(other);
    });
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stale.sock");
    let regular = dir.path().join("regular.sock");
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    std::fs::write(&regular, b"not a socket").unwrap();
    run_with_loop(|lp| async move {
        let counts = Counts::default();
        let server = lp
            .create_unix_server(counts.factory(), Some(&path), UnixServerOptions::new())
            .await
            .unwrap();
        assert_eq!(std_echo(path.clone(), b"fresh").await.unwrap(), b"fresh");
        server.close();
        server.wait_closed().await;
        // A file that is not a socket is never removed: bind refuses.
        let err = lp
            .create_unix_server(counts.factory(), Some(&regular), UnixServerOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.io_kind(), Some(io::ErrorKind::AddrInUse), "{err}");
        assert_eq!(std::fs::read(&regular).unwrap(), b"not a socket");
    });
}

#[test]
fn given_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("given.sock");
    let listener = UnixListener::bind(&path).unwrap();
    run_with_loop(|lp| async move {
        let counts = Counts::default();
        let server = lp
            .create_unix_server(
                counts.factory(),
                None,
                UnixServerOptions::new().sock(listener.into()).backlog(4),
            )
            .await
            .unwrap();
        let client = UnixStream::connect(&path).unwrap();
        let (t, p) = lp
            .create_unix_connection(
                Collect::default,
                None,
                UnixConnectOptions::new().sock(client.into()),
            )
            .await
            .unwrap();
        t.write(b"given").unwrap();
        let data = p.borrow().data.clone();
        assert!(wait_until(|| data.borrow().len() == 5).await);
        assert_eq!(&*data.borrow(), b"given");
        t.close();
        server.close();
        server.wait_closed().await;
        // The given socket's file is cleaned up too.
        assert!(!path.exists());
    });
}

#[test]
fn bad_arguments_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.sock");
    run_with_loop(|lp| async move {
        let counts = Counts::default();
        let (a, _b) = UnixStream::pair().unwrap();
        let err = lp
            .create_unix_connection(
                Collect::default,
                Some(&path),
                UnixConnectOptions::new().sock(a.into()),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        let err = lp
            .create_unix_connection(Collect::default, None, UnixConnectOptions::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        let tcp = OwnedFd::from(std::net::TcpListener::bind("127.0.0.1:0").unwrap());
        let err = lp
            .create_unix_server(counts.factory(), None, UnixServerOptions::new().sock(tcp))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        let err = lp
            .create_unix_server(counts.factory(), None, UnixServerOptions::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        let long = dir_path_too_long();
        let err = lp
            .create_unix_server(counts.factory(), Some(&long), UnixServerOptions::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        // Nobody listens there.
        let err = lp
            .create_unix_connection(Collect::default, Some(&path), UnixConnectOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.io_kind(), Some(io::ErrorKind::NotFound), "{err}");
    });
}

fn dir_path_too_long() -> PathBuf {
    PathBuf::from(format!("/tmp/{}", "x".repeat(200)))
}

#[test]
fn connecting_waits_while_the_backlog_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.sock");
    let listener = UnixListener::bind(&path).unwrap();
    // The smallest backlog, then fill it with non-blocking connections.
    rustix::net::listen(&listener, 0).unwrap();
    let mut fillers = Vec::new();
    loop {
        let s = rustix::net::socket_with(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::NONBLOCK,
            None,
        )
        .unwrap();
        let addr = rustix::net::SocketAddrUnix::new(path.as_path()).unwrap();
        match rustix::net::connect(&s, &addr) {
            Ok(()) => fillers.push(s),
            Err(rustix::io::Errno::AGAIN) => break,
            Err(e) => panic!("filling the backlog: {e}"),
        }
        assert!(fillers.len() < 1000, "the backlog never filled");
    }
    run_with_loop(|lp| async move {
        let connected = Rc::new(Cell::new(false));
        let c = connected.clone();
        let client = spawn({
            let lp = lp.clone();
            let path = path.clone();
            async move {
                let conn = lp
                    .create_unix_connection(
                        Collect::default,
                        Some(&path),
                        UnixConnectOptions::new(),
                    )
                    .await;
                c.set(true);
                conn
            }
        });
        sleep(Duration::from_millis(100)).await;
        assert!(!connected.get(), "connected past a full backlog");
        // Room in the backlog: the pending connect goes through.
        let (accepted, _) = listener.accept().unwrap();
        let (t, _p) = client.await.unwrap().unwrap();
        assert!(connected.get());
        t.close();
        drop((accepted, fillers));
    });
}
