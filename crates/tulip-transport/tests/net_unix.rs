//! `tulip::net` over Unix-domain stream sockets: a path socket, the
//! abstract namespace, a stale socket file removed on bind and any other
//! file refused with its path named, `pair`, EOF and half-close, bulk
//! transfer both ways through owned halves, `reunite`, `into_std` and
//! `from_std`, many accepts, cancel safety, and the errors outside a loop.

mod net_support;

use std::io::ErrorKind;
use std::time::Duration;

use net_support::pattern;
use tulip::io::AsyncWriteExt;
use tulip::net::{UnixListener, UnixStream};
use tulip::transport::UnixAddr;
use tulip::{spawn, timeout};
use tulip_test::run;

/// An abstract-namespace name unique to this process and `what`.
fn abstract_name(what: &str) -> String {
    format!("\0tulip-net-unix-{}-{what}", std::process::id())
}

#[test]
fn path_socket_round_trip_and_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sock");
    run(async move {
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(listener.local_addr().unwrap(), UnixAddr::Path(path.clone()));
        let client = UnixStream::connect(&path).await.unwrap();
        let (served, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, UnixAddr::Unnamed);
        assert_eq!(client.local_addr().unwrap(), UnixAddr::Unnamed);
        assert_eq!(client.peer_addr().unwrap(), UnixAddr::Path(path.clone()));
        client.write_all(b"over a path").await.unwrap();
        let mut buf = [0; 11];
        served.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"over a path");
        served.write_all(b"back").await.unwrap();
        let mut buf = [0; 4];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"back");
        // As std's and tokio's, the listener leaves its file behind.
        drop(listener);
        assert!(path.exists());
    });
}

#[test]
fn abstract_namespace_leaves_no_file() {
    run(async {
        let name = abstract_name("abstract");
        let listener = UnixListener::bind(&name).unwrap();
        let expected = UnixAddr::Abstract(name.as_bytes()[1..].to_vec());
        assert_eq!(listener.local_addr().unwrap(), expected);
        let client = UnixStream::connect(&name).await.unwrap();
        assert_eq!(client.peer_addr().unwrap(), expected);
        let (served, _) = listener.accept().await.unwrap();
        served.write_all(b"abstract").await.unwrap();
        let mut buf = [0; 8];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"abstract");
        // The name is taken while the listener lives, free after.
        let err = UnixListener::bind(&name).unwrap_err();
        assert_eq!(err.io_kind(), Some(ErrorKind::AddrInUse), "{err}");
        drop(listener);
        UnixListener::bind(&name).unwrap();
    });
}

#[test]
fn a_stale_socket_file_is_removed_and_any_other_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("stale.sock");
    // A server that did not clean up: its socket file stays.
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let regular = dir.path().join("not-a-socket");
    std::fs::write(&regular, b"keep me").unwrap();
    let missing_dir = dir.path().join("no-such-dir").join("app.sock");
    run(async move {
        let listener = UnixListener::bind(&stale).unwrap();
        let client = UnixStream::connect(&stale).await.unwrap();
        let (served, _) = listener.accept().await.unwrap();
        client.write_all(b"fresh").await.unwrap();
        let mut buf = [0; 5];
        served.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"fresh");

        // A regular file is not removed: the error names its path.
        let err = UnixListener::bind(&regular).unwrap_err();
        assert_eq!(err.io_kind(), Some(ErrorKind::AddrInUse), "{err}");
        assert!(
            err.to_string().contains(&*regular.to_string_lossy()),
            "{err}"
        );
        assert_eq!(std::fs::read(&regular).unwrap(), b"keep me");
        let err = UnixListener::bind(&missing_dir).unwrap_err();
        assert!(
            err.to_string().contains(&*missing_dir.to_string_lossy()),
            "{err}"
        );
        // Connecting: nobody there, nothing there.
        drop(listener);
        let err = UnixStream::connect(&regular).await.unwrap_err();
        assert_eq!(err.io_kind(), Some(ErrorKind::ConnectionRefused), "{err}");
        let err = UnixStream::connect(&missing_dir).await.unwrap_err();
        assert_eq!(err.io_kind(), Some(ErrorKind::NotFound), "{err}");
    });
}

#[test]
fn a_path_longer_than_sun_path_is_an_error_not_a_panic() {
    run(async {
        let long = format!("/tmp/{}", "x".repeat(200));
        assert!(UnixListener::bind(&long).is_err());
        assert!(UnixStream::connect(&long).await.is_err());
    });
}

#[test]
fn eof_half_close_and_two_mib_each_way_through_owned_halves() {
    const LEN: usize = 2 << 20;
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        // Half-close: the peer reads EOF, the closed side still reads.
        a.close().await.unwrap();
        let mut buf = [0; 4];
        assert_eq!(b.read(&mut buf).await.unwrap(), 0);
        b.write_all(b"late").await.unwrap();
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"late");

        let (a, b) = UnixStream::pair().unwrap();
        let (a_read, mut a_write) = a.into_split();
        let (b_read, mut b_write) = b.into_split();
        let send = |mut w: tulip::net::OwnedWriteHalf<UnixStream>, seed| {
            spawn(async move {
                w.write_all(&pattern(LEN, seed)).await?;
                w.close().await?;
                Ok::<_, std::io::Error>(w)
            })
        };
        let recv = |mut r: tulip::net::OwnedReadHalf<UnixStream>| {
            spawn(async move {
                let mut got = Vec::new();
                tulip::io::AsyncReadExt::read_to_end(&mut r, &mut got).await?;
                Ok::<_, std::io::Error>((r, got))
            })
        };
        // Write a first byte each way through the halves' traits.
        a_write.write_all(&pattern(1, 7)).await.unwrap();
        b_write.write_all(&pattern(1, 8)).await.unwrap();
        let (ra, rb) = (recv(a_read), recv(b_read));
        let (wa, wb) = (send(a_write, 7), send(b_write, 8));
        let (a_write, b_write) = (wa.await.unwrap().unwrap(), wb.await.unwrap().unwrap());
        let (a_read, from_b) = ra.await.unwrap().unwrap();
        let (b_read, from_a) = rb.await.unwrap().unwrap();
        let expect = |seed| [pattern(1, seed), pattern(LEN, seed)].concat();
        assert!(from_a == expect(7), "a's bytes arrived changed");
        assert!(from_b == expect(8), "b's bytes arrived changed");
        // Mismatched halves come back; matching ones reunite.
        let err = a_read.reunite(b_write).unwrap_err();
        let tulip::net::ReuniteError(a_read, b_write) = err;
        let _a: UnixStream = a_write.reunite(a_read).unwrap();
        let _b: UnixStream = b_read.reunite(b_write).unwrap();
    });
}

#[test]
fn into_std_and_from_std_keep_the_stream_and_listener_usable() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let std_a = a.into_std().unwrap();
        let a = UnixStream::from_std(std_a).unwrap();
        b.write_all(b"still here").await.unwrap();
        let mut buf = [0; 10];
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"still here");

        let name = abstract_name("into-std");
        let listener = UnixListener::bind(&name).unwrap();
        let std_listener = listener.into_std().unwrap();
        let listener = UnixListener::from_std(std_listener).unwrap();
        let client = UnixStream::connect(&name).await.unwrap();
        let (served, _) = listener.accept().await.unwrap();
        served.write_all(b"x").await.unwrap();
        let mut buf = [0; 1];
        client.read_exact(&mut buf).await.unwrap();
        // A blocking std stream is made non-blocking on the way in.
        let (std_x, std_y) = std::os::unix::net::UnixStream::pair().unwrap();
        let x = UnixStream::from_std(std_x).unwrap();
        let r = timeout(Duration::from_millis(30))
            .run(x.read(&mut buf))
            .await;
        assert!(r.unwrap_err().is_timeout());
        std::io::Write::write_all(&mut &std_y, b"y").unwrap();
        x.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"y");
    });
}

#[test]
fn accepts_a_hundred_connections_and_a_dropped_accept_takes_none() {
    const N: usize = 100;
    run(async {
        let name = abstract_name("many");
        let listener = UnixListener::bind(&name).unwrap();
        let r = timeout(Duration::from_millis(30))
            .run(listener.accept())
            .await;
        assert!(r.unwrap_err().is_timeout());
        let clients: Vec<_> = (0..N)
            .map(|i| {
                let name = name.clone();
                spawn(async move {
                    let stream = UnixStream::connect(&name).await?;
                    stream.write_all(&[i as u8]).await?;
                    Ok::<_, tulip::transport::Error>(stream)
                })
            })
            .collect();
        let mut seen = [false; N];
        for _ in 0..N {
            let (stream, _) = listener.accept().await.unwrap();
            let mut buf = [0; 1];
            stream.read_exact(&mut buf).await.unwrap();
            assert!(!seen[buf[0] as usize]);
            seen[buf[0] as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
        for client in clients {
            client.await.unwrap().unwrap();
        }
    });
}

#[test]
fn unix_sockets_outside_a_running_loop_are_an_error_not_a_panic() {
    let err = UnixStream::pair().unwrap_err();
    assert!(err.to_string().contains("no running event loop"), "{err}");
    let err = UnixListener::bind(abstract_name("outside")).unwrap_err();
    assert!(err.to_string().contains("no running event loop"), "{err}");
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    assert!(UnixStream::from_std(a).is_err());
}
