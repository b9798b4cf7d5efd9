//! `tulip::net` over TCP on the loopback interface: echo round trips
//! through every write path, 4 MiB each way at once through owned halves
//! (partial writes, edge-triggered readiness never losing a wake-up), EOF
//! and half-close, `reunite`, connect and bind errors naming the address,
//! `localhost` on either family, `SO_REUSEPORT`, many accepts, no
//! descriptor leak over a thousand connections, `into_std`/`from_std`,
//! cancel safety of `read` and `accept`, and the errors of a socket whose
//! loop is gone or was never running.
//!
//! The reactor backend is the default one, or `TULIP_BACKEND`'s (CI runs
//! this crate's tests again with `TULIP_BACKEND=polling`).

mod net_support;

use std::cell::Cell;
use std::collections::BTreeSet;
use std::io::{ErrorKind, IoSlice};
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{join, join3};
use net_support::{echo_once, pattern, tcp_pair};
use tulip::io::{AsyncReadExt, AsyncWriteExt};
use tulip::net::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
use tulip::transport::{
    AddrInfoOptions, ConnectOptions, Error, LoopNetExt, ServerOptions, SockType,
};
use tulip::{EventLoop, get_running_loop, spawn, timeout};
use tulip_test::child::{child_test_run, is_child_run, quiet_success};
use tulip_test::{fd_count, run, settled_fd_count, wait_until};

/// A port nobody listens on (bound by a listener that is then dropped).
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn echo_round_trips_through_every_write_path() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let echo = echo_once(listener);
        let mut client = TcpStream::connect("127.0.0.1", port).await.unwrap();
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        assert_eq!(client.peer_addr().unwrap().port(), port);

        // The inherent async methods.
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0; 4];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");

        // One vectored write, through the poll method.
        let bufs = [IoSlice::new(b"vec"), IoSlice::new(b"tored")];
        let n = std::future::poll_fn(|cx| client.poll_write_vectored(cx, &bufs))
            .await
            .unwrap();
        assert_eq!(n, 8);
        let mut buf = [0; 8];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"vectored");

        // futures-io's extension traits, on the stream and on `&stream`.
        AsyncWriteExt::write_all(&mut client, b"traits")
            .await
            .unwrap();
        AsyncWriteExt::flush(&mut client).await.unwrap();
        let mut buf = [0; 6];
        AsyncReadExt::read_exact(&mut &client, &mut buf)
            .await
            .unwrap();
        assert_eq!(&buf, b"traits");

        // Sizes around and above a socket buffer, many times over.
        for len in [1, 1000, 65_536, 300_000] {
            let data = pattern(len, len as u8);
            let (sent, got) = join(client.write_all(&data), async {
                let mut got = vec![0; len];
                client.read_exact(&mut got).await.map(|_| got)
            })
            .await;
            sent.unwrap();
            assert!(got.unwrap() == data, "{len} bytes came back changed");
        }

        // EOF to the echo server: it echoes nothing more and closes.
        AsyncWriteExt::close(&mut client).await.unwrap();
        let mut rest = Vec::new();
        AsyncReadExt::read_to_end(&mut client, &mut rest)
            .await
            .unwrap();
        assert!(rest.is_empty());
        let echoed = echo.await.unwrap().unwrap();
        assert_eq!(echoed, 4 + 8 + 6 + 1 + 1000 + 65_536 + 300_000);
    });
}

#[test]
fn four_mib_each_way_at_once_through_owned_halves() {
    const LEN: usize = 4 << 20;
    const CHUNK: usize = 256 * 1024;
    run(async {
        let (a, b) = tcp_pair().await;
        let (a_read, a_write) = a.into_split();
        let (b_read, b_write) = b.into_split();

        // Writes of a chunk far above the socket's buffer: the short ones
        // are counted (the stream must say how much it took).
        let writer = |mut w: OwnedWriteHalf<TcpStream>, seed: u8| {
            spawn(async move {
                let data = pattern(LEN, seed);
                let mut short = 0;
                let mut sent = 0;
                while sent < LEN {
                    let end = (sent + CHUNK).min(LEN);
                    let n = w.write(&data[sent..end]).await?;
                    assert!(n > 0);
                    if n < end - sent {
                        short += 1;
                    }
                    sent += n;
                }
                w.close().await?;
                Ok::<_, std::io::Error>((w, short))
            })
        };
        // Reads of odd sizes until EOF.
        let reader = |mut r: OwnedReadHalf<TcpStream>| {
            spawn(async move {
                let mut got = Vec::with_capacity(LEN);
                let mut buf = vec![0; 77_777];
                loop {
                    let n = r.read(&mut buf).await?;
                    if n == 0 {
                        return Ok::<_, std::io::Error>((r, got));
                    }
                    got.extend_from_slice(&buf[..n]);
                }
            })
        };
        let (wa, wb) = (writer(a_write, 1), writer(b_write, 2));
        let (ra, rb) = (reader(a_read), reader(b_read));
        let (a_write, a_short) = wa.await.unwrap().unwrap();
        let (b_write, b_short) = wb.await.unwrap().unwrap();
        let (a_read, from_b) = ra.await.unwrap().unwrap();
        let (b_read, from_a) = rb.await.unwrap().unwrap();
        assert_eq!(from_a.len(), LEN);
        assert_eq!(from_b.len(), LEN);
        assert!(from_a == pattern(LEN, 1), "a's bytes arrived changed");
        assert!(from_b == pattern(LEN, 2), "b's bytes arrived changed");
        // Neither side's buffer takes 4 MiB while nobody reads it at first.
        assert!(a_short + b_short > 0, "no write was ever short");
        // The halves go back together, and the streams still work.
        let a = a_read.reunite(a_write).unwrap();
        let b = b_write.reunite(b_read).unwrap();
        let mut buf = [0; 1];
        assert_eq!(a.read(&mut buf).await.unwrap(), 0);
        assert_eq!(b.read(&mut buf).await.unwrap(), 0);
    });
}

#[test]
fn eof_that_came_with_the_last_bytes_is_seen_after_a_short_read() {
    run(async {
        let (a, b) = tcp_pair().await;
        // The bytes and the FIN are both there before the first read: one
        // edge announces both, and the short read must not forget the EOF.
        b.write_all(b"abc").await.unwrap();
        b.close().await.unwrap();
        tulip::sleep(Duration::from_millis(20)).await;
        let mut buf = [0; 16];
        assert_eq!(a.read(&mut buf).await.unwrap(), 3);
        assert_eq!(a.read(&mut buf).await.unwrap(), 0);
        // Again after a wait for the edge.
        let (a, b) = tcp_pair().await;
        let reading = spawn(async move {
            let mut buf = [0; 16];
            let first = a.read(&mut buf).await?;
            let second = a.read(&mut buf).await?;
            Ok::<_, std::io::Error>((first, second))
        });
        tulip::sleep(Duration::from_millis(20)).await;
        b.write_all(b"xy").await.unwrap();
        b.close().await.unwrap();
        let (first, second) = reading.await.unwrap().unwrap();
        assert_eq!((first, second), (2, 0));
    });
}

#[test]
fn borrowed_halves_read_and_write_in_one_task() {
    run(async {
        let (a, b) = tcp_pair().await;
        let (mut reader, mut writer) = a.split();
        let data = pattern(1 << 20, 9);
        // b echoes; a writes and reads at once through its two halves.
        let echo = async {
            let mut buf = vec![0; 8192];
            let mut total = 0;
            while total < data.len() {
                let n = b.read(&mut buf).await.unwrap();
                b.write_all(&buf[..n]).await.unwrap();
                total += n;
            }
        };
        let send = async { writer.write_all(&data).await.unwrap() };
        let recv = async {
            let mut got = vec![0; data.len()];
            reader.read_exact(&mut got).await.unwrap();
            got
        };
        let ((), (), got) = join3(echo, send, recv).await;
        assert!(got == data);
    });
}

#[test]
fn read_returns_zero_at_eof_and_close_keeps_the_reading_side() {
    run(async {
        let (client, served) = tcp_pair().await;
        client.write_all(b"last").await.unwrap();
        client.close().await.unwrap();
        // The peer reads the bytes, then EOF, and EOF again.
        let mut buf = [0; 16];
        let mut got = Vec::new();
        loop {
            let n = served.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"last");
        assert_eq!(served.read(&mut buf).await.unwrap(), 0);
        assert_eq!(served.read(&mut buf).await.unwrap(), 0);
        // The closed side still reads what the peer sends.
        served.write_all(b"reply").await.unwrap();
        let mut reply = [0; 5];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"reply");
        // Closing twice is not an error; writing after close is.
        client.close().await.unwrap();
        let err = client.write(b"x").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
        // An empty buffer reads 0 without waiting.
        assert_eq!(client.read(&mut []).await.unwrap(), 0);
        // read_exact at an early EOF.
        served.shutdown(Shutdown::Write).unwrap();
        let err = client.read_exact(&mut reply).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    });
}

#[test]
fn reunite_matching_and_mismatched_halves() {
    run(async {
        let (a, b) = tcp_pair().await;
        let (a_fd, b_fd) = (
            std::os::fd::AsRawFd::as_raw_fd(&a),
            std::os::fd::AsRawFd::as_raw_fd(&b),
        );
        let (a_read, a_write) = a.into_split();
        let (b_read, b_write) = b.into_split();
        let err = a_read.reunite(b_write).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tried to reunite halves of different streams"
        );
        // Both halves came back whole, and still work.
        let tulip::net::ReuniteError(mut a_read, mut b_write) = err;
        b_write.write_all(b"still").await.unwrap();
        let mut buf = [0; 5];
        a_read.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"still");
        let err = b_read.reunite(a_write).unwrap_err();
        let tulip::net::ReuniteError(b_read, a_write) = err;
        let a = a_write.reunite(a_read).unwrap();
        let b = b_read.reunite(b_write).unwrap();
        assert_eq!(std::os::fd::AsRawFd::as_raw_fd(&a), a_fd);
        assert_eq!(std::os::fd::AsRawFd::as_raw_fd(&b), b_fd);
        a.write_all(b"whole").await.unwrap();
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"whole");
    });
}

#[test]
fn connect_to_a_refused_port_names_the_address() {
    run(async {
        let port = closed_port().await;
        let err = TcpStream::connect("127.0.0.1", port).await.unwrap_err();
        assert_eq!(err.io_kind(), Some(ErrorKind::ConnectionRefused), "{err}");
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
        // A name: the error of the attempt names the resolved address.
        let err = TcpStream::connect("localhost", port).await.unwrap_err();
        assert!(err.to_string().contains(&port.to_string()), "{err}");
        // Invalid input is typed, and says what was wrong.
        let err = TcpStream::connect("no such host.invalid", port)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no such host.invalid"), "{err}");
        // `sock` and `tls` are not a TcpStream's: typed errors saying what
        // to use instead.
        let (_peer, fd) = tulip_test::tcp_pair();
        let err = TcpStream::connect_with("127.0.0.1", port, ConnectOptions::new().sock(fd))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput(m) if m.contains("from_std")),
            "{err:?}"
        );
    });
}

#[test]
fn a_reset_during_a_pending_read_is_an_error_not_a_hang() {
    run(async {
        let (a, b) = tcp_pair().await;
        let reading = spawn(async move {
            let mut buf = [0; 8];
            a.read(&mut buf).await
        });
        tulip::sleep(Duration::from_millis(20)).await;
        // SO_LINGER 0: closing sends a reset, not a FIN.
        rustix::net::sockopt::set_socket_linger(&b, Some(Duration::ZERO)).unwrap();
        drop(b);
        let err = reading.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    });
}

#[test]
fn shutdown_read_reads_eof_and_shutdown_both_ends_the_peer() {
    run(async {
        let (a, b) = tcp_pair().await;
        a.shutdown(Shutdown::Read).unwrap();
        let mut buf = [0; 4];
        assert_eq!(a.read(&mut buf).await.unwrap(), 0);
        // Writing still works after shutting down reading.
        a.write_all(b"more").await.unwrap();
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"more");
        a.shutdown(Shutdown::Both).unwrap();
        assert_eq!(b.read(&mut buf).await.unwrap(), 0);
        assert!(a.write(b"x").await.is_err());
    });
}

/// Connecting to "localhost" reaches a listener on `ip` only: the other
/// family's address, where "localhost" names both, is refused and the
/// connection falls back (or wins the Happy Eyeballs race). Skipped where
/// "localhost" does not name `ip`'s family (as in some containers, which
/// map it to 127.0.0.1 alone).
fn localhost_reaches(ip: &'static str) {
    run(async move {
        let lp = get_running_loop().unwrap();
        let infos = lp
            .getaddrinfo(
                Some("localhost"),
                None,
                AddrInfoOptions::new().socktype(SockType::Stream),
            )
            .await
            .unwrap();
        let v6 = ip.contains(':');
        if !infos.iter().any(|i| i.address.is_ipv6() == v6) {
            eprintln!("skipped: localhost names no address of {ip}'s family here");
            return;
        }
        let listener = TcpListener::bind(ip, 0).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let echo = echo_once(listener);
        let client = TcpStream::connect("localhost", port).await.unwrap();
        assert_eq!(client.peer_addr().unwrap().ip().to_string(), ip);
        client.write_all(b"hi").await.unwrap();
        let mut buf = [0; 2];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");
        client.close().await.unwrap();
        assert_eq!(echo.await.unwrap().unwrap(), 2);
    });
}

#[test]
fn connect_localhost_reaches_a_listener_on_127_0_0_1_only() {
    localhost_reaches("127.0.0.1");
}

#[test]
fn connect_localhost_reaches_a_listener_on_ipv6_loopback_only() {
    localhost_reaches("::1");
}

#[test]
fn ipv6_loopback_binds_in_either_spelling_and_connects() {
    run(async {
        for host in ["::1", "[::1]"] {
            let listener = TcpListener::bind(host, 0).await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let client = TcpStream::connect("::1", port).await.unwrap();
            let (served, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            assert!(served.local_addr().unwrap().is_ipv6());
            served.write_all(b"six").await.unwrap();
            let mut buf = [0; 3];
            client.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"six");
        }
    });
}

#[test]
fn bind_on_a_port_in_use_names_the_address_and_reuse_port_shares_it() {
    run(async {
        let first = TcpListener::bind("127.0.0.1", 0).await.unwrap();
        let port = first.local_addr().unwrap().port();
        let err = TcpListener::bind("127.0.0.1", port).await.unwrap_err();
        assert_eq!(err.io_kind(), Some(ErrorKind::AddrInUse), "{err}");
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
        drop(first);

        // Two listeners of one port with SO_REUSEPORT: between them they
        // accept every connection.
        let options = ServerOptions::new().reuse_port(true);
        let a = TcpListener::bind_with("127.0.0.1", 0, &options)
            .await
            .unwrap();
        let port = a.local_addr().unwrap().port();
        let b = TcpListener::bind_with("127.0.0.1", port, &options)
            .await
            .unwrap();
        assert_eq!(b.local_addr().unwrap().port(), port);
        // A third without the option is refused.
        let err = TcpListener::bind("127.0.0.1", port).await.unwrap_err();
        assert_eq!(err.io_kind(), Some(ErrorKind::AddrInUse), "{err}");
        let mut clients = Vec::new();
        for _ in 0..20 {
            clients.push(TcpStream::connect("127.0.0.1", port).await.unwrap());
        }
        let accepted = Rc::new(Cell::new(0));
        let acceptors: Vec<_> = [a, b]
            .into_iter()
            .map(|listener| {
                let accepted = accepted.clone();
                spawn(async move {
                    loop {
                        let (stream, _) = listener.accept().await.unwrap();
                        accepted.set(accepted.get() + 1);
                        drop(stream);
                    }
                })
            })
            .collect();
        assert!(wait_until(|| accepted.get() == clients.len()).await);
        acceptors.iter().for_each(|t| {
            t.cancel();
        });
        // `sock` and `tls` are not a listener's: typed errors.
        let err = TcpListener::bind_with(
            "127.0.0.1",
            0,
            &ServerOptions::new().sock(std::os::fd::OwnedFd::from(
                std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
            )),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    });
}

#[test]
fn accepts_two_hundred_connections() {
    const N: usize = 200;
    run(async {
        let listener =
            TcpListener::bind_with("127.0.0.1", 0, &ServerOptions::new().backlog(N as u32))
                .await
                .unwrap();
        let port = listener.local_addr().unwrap().port();
        let clients: Vec<_> = (0..N)
            .map(|i| {
                spawn(async move {
                    let stream = TcpStream::connect("127.0.0.1", port).await?;
                    stream.write_all(format!("{i:03}").as_bytes()).await?;
                    stream.close().await?;
                    let mut buf = [0; 1];
                    // Wait for the server's EOF before dropping.
                    stream.read(&mut buf).await
                })
            })
            .collect();
        let mut streams = Vec::new();
        let mut peers = BTreeSet::new();
        for _ in 0..N {
            let (stream, peer) = listener.accept().await.unwrap();
            assert!(peers.insert(peer), "{peer} accepted twice");
            streams.push(stream);
        }
        let mut seen = BTreeSet::new();
        for stream in &streams {
            let mut buf = [0; 3];
            stream.read_exact(&mut buf).await.unwrap();
            let i: usize = std::str::from_utf8(&buf).unwrap().parse().unwrap();
            assert!(seen.insert(i));
            let mut rest = [0; 1];
            assert_eq!(stream.read(&mut rest).await.unwrap(), 0);
            stream.close().await.unwrap();
        }
        assert_eq!(seen, (0..N).collect());
        for client in clients {
            assert_eq!(client.await.unwrap().unwrap(), 0);
        }
    });
}

/// A dropped stream leaves the loop: its descriptor number, handed out
/// again at once (the lowest free one, in a process running nothing
/// else), works on the same loop, and a read waiting on its peer ends.
async fn a_dropped_stream_is_deregistered_and_its_number_reused() {
    // The same descriptor number, closed and handed out again, works on
    // the same loop: the old registration is gone with the old stream.
    let (a, b) = tcp_pair().await;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&a);
    // A read waits on `a`, then `a` goes: the waiter must not hang.
    drop(a);
    let mut buf = [0; 1];
    assert_eq!(b.read(&mut buf).await.unwrap(), 0);
    let (c, d) = tcp_pair().await;
    let reused =
        std::os::fd::AsRawFd::as_raw_fd(&c) == fd || std::os::fd::AsRawFd::as_raw_fd(&d) == fd;
    assert!(reused, "the lowest free number is {fd}");
    c.write_all(b"ok").await.unwrap();
    let mut buf = [0; 2];
    d.read_exact(&mut buf).await.unwrap();
    d.write_all(b"ko").await.unwrap();
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ko");
}

/// Set in the child run of the descriptor-counting test.
const CHILD_ENV: &str = "TULIP_NET_TCP_FDS_CHILD";

#[test]
fn a_thousand_connect_and_drop_cycles_leak_no_descriptor_nor_registration() {
    // Alone in a child process: the other tests of this binary open and
    // close descriptors at the same time.
    let out = quiet_success(&mut child_test_run(
        "connect_and_drop_in_a_child",
        CHILD_ENV,
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 passed"), "{stdout}");
}

#[test]
#[ignore = "run in a child process by the test above"]
fn connect_and_drop_in_a_child() {
    if !is_child_run(CHILD_ENV) {
        return;
    }
    let before = fd_count();
    run(async {
        a_dropped_stream_is_deregistered_and_its_number_reused().await;
        let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        for i in 0..1000 {
            let client = TcpStream::connect("127.0.0.1", port).await.unwrap();
            let (served, _) = listener.accept().await.unwrap();
            if i % 2 == 0 {
                // Some with traffic and halves, some dropped at once.
                client.write_all(b"x").await.unwrap();
                let mut buf = [0; 1];
                served.read_exact(&mut buf).await.unwrap();
                let (r, w) = client.into_split();
                drop((w, served, r));
            } else {
                drop((client, served));
            }
        }
        // Refused connections and failed binds leave nothing behind either.
        for _ in 0..100 {
            let port = closed_port().await;
            assert!(TcpStream::connect("127.0.0.1", port).await.is_err());
        }
    });
    let after = settled_fd_count(before);
    assert!(after <= before, "descriptors: {after} now, {before} before");
}

#[test]
fn into_std_and_from_std_keep_the_connection_usable() {
    run(async {
        let (a, b) = tcp_pair().await;
        a.write_all(b"before").await.unwrap();
        let std_a = a.into_std().unwrap();
        let addr = std_a.local_addr().unwrap();
        // Still non-blocking once out: a read with nothing to read says so.
        let mut buf = [0; 6];
        std::io::Read::read_exact(&mut &std_a, &mut buf).unwrap_err();
        // Back in, from std.
        let a = TcpStream::from_std(std_a).unwrap();
        assert_eq!(a.local_addr().unwrap(), addr);
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"before");
        b.write_all(b"after").await.unwrap();
        let mut buf = [0; 5];
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"after");

        // A blocking std stream is made non-blocking on the way in.
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let listener = TcpListener::from_std(std_listener).unwrap();
        let client = spawn(async move {
            let std_client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            TcpStream::from_std(std_client).unwrap()
        });
        let (served, _) = listener.accept().await.unwrap();
        let client = client.await.unwrap();
        let pending = timeout(Duration::from_millis(50))
            .run(client.read(&mut buf))
            .await;
        assert!(pending.unwrap_err().is_timeout());
        served.write_all(b"12345").await.unwrap();
        client.read_exact(&mut buf).await.unwrap();
        // The listener goes out and comes back too.
        let std_listener = listener.into_std().unwrap();
        let listener = TcpListener::from_std(std_listener).unwrap();
        let _c = TcpStream::connect("127.0.0.1", port).await.unwrap();
        listener.accept().await.unwrap();
    });
}

#[test]
fn a_dropped_read_or_accept_consumes_nothing() {
    run(async {
        let (a, b) = tcp_pair().await;
        let mut buf = [0; 8];
        // Nothing to read: the timeout drops the pending read.
        let r = timeout(Duration::from_millis(30))
            .run(a.read(&mut buf))
            .await;
        assert!(r.unwrap_err().is_timeout());
        b.write_all(b"kept").await.unwrap();
        // A read made and dropped before it ran takes nothing either.
        drop(a.read(&mut buf));
        // The bytes are there for the next read, all of them.
        assert!(wait_until(|| true).await);
        let n = a.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"kept");

        // Again where readiness is cached: a timed-out read after data was
        // drained must not leave a stale wake-up that loses the next one.
        let r = timeout(Duration::from_millis(30))
            .run(a.read(&mut buf))
            .await;
        assert!(r.unwrap_err().is_timeout());
        b.write_all(b"next").await.unwrap();
        let n = a.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"next");

        // Accept: a timed-out accept leaves the next connection queued.
        let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let r = timeout(Duration::from_millis(30))
            .run(listener.accept())
            .await;
        assert!(r.unwrap_err().is_timeout());
        let client = TcpStream::connect("127.0.0.1", port).await.unwrap();
        let (served, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        drop(served);
    });
}

#[test]
fn a_stream_used_after_its_loop_closed_is_an_error_not_a_panic() {
    let ev = EventLoop::new().unwrap();
    let (a, b, listener) = ev
        .run_until_complete(async {
            let (a, b) = tcp_pair().await;
            let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
            (a, b, listener)
        })
        .unwrap();
    ev.close().unwrap();
    // On another loop: every operation fails at once, none hangs.
    run(async move {
        let mut buf = [0; 4];
        let err = a.read(&mut buf).await.unwrap_err();
        assert!(err.to_string().contains("closed"), "{err}");
        let err = a.write(b"x").await.unwrap_err();
        assert!(err.to_string().contains("closed"), "{err}");
        let err = b.write_all(b"x").await.unwrap_err();
        assert!(err.to_string().contains("closed"), "{err}");
        let err = listener.accept().await.unwrap_err();
        assert!(err.to_string().contains("closed"), "{err}");
        assert!(a.get_loop().is_closed());
        // It still hands its socket back, and drops quietly.
        let std_a = a.into_std().unwrap();
        let std_a = TcpStream::from_std(std_a).unwrap();
        drop((std_a, b, listener));
    });
}

#[test]
fn sockets_outside_a_running_loop_are_an_error_not_a_panic() {
    let (std_client, _std_server) = tulip_test::tcp_streams();
    let err = TcpStream::from_std(std_client).unwrap_err();
    assert!(err.to_string().contains("no running event loop"), "{err}");
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    assert!(TcpListener::from_std(std_listener).is_err());
    // The async constructors fail on their first poll.
    let bound = TcpListener::bind("127.0.0.1", 0).now_or_never().unwrap();
    assert!(
        bound
            .unwrap_err()
            .to_string()
            .contains("no running event loop")
    );
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let connected = TcpStream::connect("127.0.0.1", addr.port())
        .now_or_never()
        .unwrap();
    assert!(connected.is_err());
}
