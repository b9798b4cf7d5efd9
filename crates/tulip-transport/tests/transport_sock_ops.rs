//! The loop's socket operations (`sock_recv`, `sock_sendall`,
//! `sock_accept`, ...) over real loopback sockets: TCP, UDP, Unix stream
//! and datagram sockets; blocking sockets refused; waiting only when the
//! socket says "not now"; cancellation.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::RwLock;
use std::time::Duration;

use rustix::fs::OFlags;
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use tulip_executor::{Loop, sleep, spawn, wait_for};
use tulip_test::{run_with_loop, tcp_streams};
use tulip_transport::{Error, LoopNetExt, SockAddr, UnixAddr};

/// Tests run in parallel threads of one process: the descriptor-counting
/// test takes this for writing, every other test for reading.
static FDS: RwLock<()> = RwLock::new(());

/// A connected non-blocking TCP pair over 127.0.0.1.
fn tcp_pair() -> (TcpStream, TcpStream) {
    let (c, s) = tcp_streams();
    c.set_nonblocking(true).unwrap();
    s.set_nonblocking(true).unwrap();
    (c, s)
}

fn new_socket(family: AddressFamily, kind: SocketType) -> OwnedFd {
    rustix::net::socket_with(
        family,
        kind,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )
    .unwrap()
}

fn is_nonblocking(fd: impl AsFd) -> bool {
    rustix::fs::fcntl_getfl(fd)
        .unwrap()
        .contains(OFlags::NONBLOCK)
}

#[test]
fn recv_and_sendall_round_trip_over_tcp() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let (c, s) = tcp_pair();
        lp.sock_sendall(&c, b"hello").await.unwrap();
        let got = lp.sock_recv(&s, 100).await.unwrap();
        assert_eq!(got, b"hello");

        lp.sock_sendall(&s, b"world!").await.unwrap();
        let mut buf = [0u8; 3];
        assert_eq!(lp.sock_recv_into(&c, &mut buf).await.unwrap(), 3);
        assert_eq!(&buf, b"wor");
        assert_eq!(lp.sock_recv_into(&c, &mut buf).await.unwrap(), 3);
        assert_eq!(&buf, b"ld!");

        // A receive of 0 bytes returns at once, empty.
        assert!(lp.sock_recv(&c, 0).await.unwrap().is_empty());
        // Sending nothing is done at once.
        lp.sock_sendall(&c, b"").await.unwrap();
    });
}

#[test]
fn recv_waits_until_data_arrives() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let (c, s) = tcp_pair();
        let writer = spawn(async move {
            sleep(Duration::from_millis(30)).await;
            (&c).write_all(b"late").unwrap();
            c
        });
        let got = lp.sock_recv(&s, 16).await.unwrap();
        assert_eq!(got, b"late");
        drop(writer.await.unwrap());
    });
}

#[test]
fn recv_returns_empty_when_the_peer_closes() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let (c, s) = tcp_pair();
        (&c).write_all(b"last words").unwrap();
        drop(c);
        let mut all = Vec::new();
        loop {
            let chunk = lp.sock_recv(&s, 4).await.unwrap();
            if chunk.is_empty() {
                break;
            }
            all.extend_from_slice(&chunk);
        }
        assert_eq!(all, b"last words");
        let mut buf = [0u8; 8];
        assert_eq!(lp.sock_recv_into(&s, &mut buf).await.unwrap(), 0);
    });
}

#[test]
fn a_blocking_socket_is_invalid_input_and_nothing_is_consumed() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let (c, s) = tcp_pair();
        (&c).write_all(b"keep").unwrap();
        s.set_nonblocking(false).unwrap();
        let invalid = |r: Result<(), Error>| matches!(r, Err(Error::InvalidInput(_)));
        assert!(invalid(lp.sock_recv(&s, 4).await.map(drop)));
        assert!(invalid(lp.sock_recv_into(&s, &mut [0; 4]).await.map(drop)));
        assert!(invalid(lp.sock_recvfrom(&s, 4).await.map(drop)));
        assert!(invalid(
            lp.sock_recvfrom_into(&s, &mut [0; 4]).await.map(drop)
        ));
        assert!(invalid(lp.sock_sendall(&s, b"x").await));
        let to = SockAddr::from(c.local_addr().unwrap());
        assert!(invalid(lp.sock_sendto(&s, b"x", &to).await.map(drop)));
        assert!(invalid(lp.sock_connect(&s, &to).await));
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(invalid(lp.sock_accept(&l).await.map(drop)));

        // Nothing was read: in non-blocking mode the data is still there.
        s.set_nonblocking(true).unwrap();
        assert_eq!(lp.sock_recv(&s, 16).await.unwrap(), b"keep");
    });
}

#[test]
fn connect_and_accept_round_trip_over_ipv4() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        round_trip(&lp, "127.0.0.1:0".parse().unwrap(), AddressFamily::INET).await;
    });
}

#[test]
fn connect_and_accept_round_trip_over_ipv6() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    let Ok(l) = TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    };
    drop(l);
    run_with_loop(|lp| async move {
        round_trip(&lp, "[::1]:0".parse().unwrap(), AddressFamily::INET6).await;
    });
}

async fn round_trip(lp: &Loop, bind: SocketAddr, family: AddressFamily) {
    let listener = TcpListener::bind(bind).unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = SockAddr::from(listener.local_addr().unwrap());
    let accepting = spawn({
        let lp = lp.clone();
        async move {
            let accepted = lp.sock_accept(&listener).await;
            (accepted, listener)
        }
    });
    let client = new_socket(family, SocketType::STREAM);
    lp.sock_connect(&client, &addr).await.unwrap();
    let (accepted, _listener) = accepting.await.unwrap();
    let (conn, peer) = accepted.unwrap();

    // The accepted socket is non-blocking and close-on-exec; its peer is
    // the client.
    assert!(is_nonblocking(&conn));
    let fd_flags = rustix::io::fcntl_getfd(&conn).unwrap();
    assert!(fd_flags.contains(rustix::io::FdFlags::CLOEXEC));
    let client_local = rustix::net::getsockname(&client).unwrap();
    assert_eq!(
        peer.unwrap().as_inet(),
        Some(SocketAddr::try_from(client_local).unwrap())
    );

    lp.sock_sendall(&client, b"ping").await.unwrap();
    assert_eq!(lp.sock_recv(&conn, 8).await.unwrap(), b"ping");
    lp.sock_sendall(&conn, b"pong").await.unwrap();
    assert_eq!(lp.sock_recv(&client, 8).await.unwrap(), b"pong");
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = SockAddr::from(l.local_addr().unwrap());
        drop(l);
        let sock = new_socket(AddressFamily::INET, SocketType::STREAM);
        let err = lp.sock_connect(&sock, &addr).await.unwrap_err();
        assert_eq!(
            err.io_kind(),
            Some(std::io::ErrorKind::ConnectionRefused),
            "{err}"
        );
    });
}

#[test]
fn a_cancelled_accept_leaves_the_connection_for_the_next() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let timed_out = wait_for(lp.sock_accept(&listener), Duration::from_millis(30)).await;
        assert!(timed_out.unwrap_err().is_timeout());

        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (conn, peer) = lp.sock_accept(&listener).await.unwrap();
        assert_eq!(peer.unwrap().as_inet(), Some(client.local_addr().unwrap()));
        (&client).write_all(b"hi").unwrap();
        assert_eq!(lp.sock_recv(&conn, 8).await.unwrap(), b"hi");
    });
}

#[test]
fn a_cancelled_recv_leaves_the_data_for_the_next() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let (c, s) = tcp_pair();
        let timed_out = wait_for(lp.sock_recv(&s, 16), Duration::from_millis(30)).await;
        assert!(timed_out.unwrap_err().is_timeout());
        let mut buf = [0u8; 16];
        let timed_out = wait_for(lp.sock_recv_into(&s, &mut buf), Duration::from_millis(10)).await;
        assert!(timed_out.unwrap_err().is_timeout());

        (&c).write_all(b"after").unwrap();
        assert_eq!(lp.sock_recv(&s, 16).await.unwrap(), b"after");
    });
}

#[test]
fn udp_sendto_and_recvfrom_give_the_sender() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        let a_addr = SockAddr::from(a.local_addr().unwrap());
        let b_addr = SockAddr::from(b.local_addr().unwrap());

        // recvfrom waits for the datagram.
        let receiving = spawn({
            let lp = lp.clone();
            async move { (lp.sock_recvfrom(&b, 100).await, b) }
        });
        sleep(Duration::from_millis(10)).await;
        assert_eq!(lp.sock_sendto(&a, b"datagram", &b_addr).await.unwrap(), 8);
        let (got, b) = receiving.await.unwrap();
        let (data, from) = got.unwrap();
        assert_eq!(data, b"datagram");
        assert_eq!(from.as_ref(), Some(&a_addr));

        // Into a buffer; a longer datagram is truncated to it.
        lp.sock_sendto(&b, b"0123456789", &a_addr).await.unwrap();
        let mut buf = [0u8; 4];
        let (n, from) = lp.sock_recvfrom_into(&a, &mut buf).await.unwrap();
        assert_eq!((n, &buf), (4, b"0123"));
        assert_eq!(from.as_ref(), Some(&b_addr));

        // Datagrams keep their boundaries.
        lp.sock_sendto(&a, b"one", &b_addr).await.unwrap();
        lp.sock_sendto(&a, b"two", &b_addr).await.unwrap();
        assert_eq!(lp.sock_recvfrom(&b, 100).await.unwrap().0, b"one");
        assert_eq!(lp.sock_recvfrom(&b, 2).await.unwrap().0, b"tw");
    });
}

#[test]
fn unix_stream_and_datagram_sockets() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let (x, y) = UnixStream::pair().unwrap();
        x.set_nonblocking(true).unwrap();
        y.set_nonblocking(true).unwrap();
        lp.sock_sendall(&x, b"over unix").await.unwrap();
        assert_eq!(lp.sock_recv(&y, 64).await.unwrap(), b"over unix");
        // A stream socket gives no sender.
        lp.sock_sendall(&y, b"back").await.unwrap();
        let (data, from) = lp.sock_recvfrom(&x, 64).await.unwrap();
        assert_eq!(data, b"back");
        assert!(matches!(
            from,
            None | Some(SockAddr::Unix(UnixAddr::Unnamed))
        ));

        let dir = tempfile::tempdir().unwrap();
        let (pa, pb) = (dir.path().join("a.sock"), dir.path().join("b.sock"));
        let a = UnixDatagram::bind(&pa).unwrap();
        let b = UnixDatagram::bind(&pb).unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        let to_b = SockAddr::from(UnixAddr::path(&pb));
        assert_eq!(lp.sock_sendto(&a, b"dgram", &to_b).await.unwrap(), 5);
        let (data, from) = lp.sock_recvfrom(&b, 64).await.unwrap();
        assert_eq!(data, b"dgram");
        assert_eq!(from, Some(SockAddr::from(UnixAddr::path(&pa))));
    });
}

#[test]
fn sendall_of_16_mb_to_a_slow_reader_keeps_the_loop_running() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    const SIZE: usize = 16 * 1024 * 1024;
    let data: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let (c, s) = tcp_pair();
    c.set_nonblocking(false).unwrap();
    let reader = std::thread::spawn(move || {
        let mut c = c;
        let mut got = Vec::with_capacity(SIZE);
        let mut buf = vec![0u8; 256 * 1024];
        let mut reads = 0u32;
        loop {
            let n = c.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            reads += 1;
            if reads % 8 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        got
    });
    run_with_loop(|lp| async move {
        let ticks = std::rc::Rc::new(std::cell::Cell::new(0u32));
        let ticker = spawn({
            let ticks = ticks.clone();
            async move {
                loop {
                    sleep(Duration::from_millis(1)).await;
                    ticks.set(ticks.get() + 1);
                }
            }
        });
        lp.sock_sendall(&s, &data).await.unwrap();
        drop(s);
        // The loop ran other tasks while the sender waited for room.
        assert!(ticks.get() > 0);
        ticker.cancel();
        let got = tulip_executor::to_thread(move || reader.join().unwrap())
            .await
            .unwrap();
        assert!(got == data, "the reader got different bytes");
    });
}

#[test]
fn a_cancelled_sendall_reports_nothing_and_the_peer_got_a_prefix() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        const SIZE: usize = 32 * 1024 * 1024;
        let data: Vec<u8> = (0..SIZE).map(|i| (i % 253) as u8).collect();
        let (c, s) = tcp_pair();
        // Nobody reads: the send fills the socket buffers and waits.
        let timed_out = wait_for(lp.sock_sendall(&s, &data), Duration::from_millis(50)).await;
        assert!(timed_out.unwrap_err().is_timeout());

        // The socket is usable again: once the peer reads, a new send
        // follows the prefix the cancelled one sent.
        c.set_nonblocking(false).unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            (&c).read_to_end(&mut got).unwrap();
            got
        });
        lp.sock_sendall(&s, b"END").await.unwrap();
        drop(s);
        let got = tulip_executor::to_thread(move || reader.join().unwrap())
            .await
            .unwrap();
        let prefix = &got[..got.len() - 3];
        assert!(&got[got.len() - 3..] == b"END");
        assert!(
            !prefix.is_empty() && prefix.len() < SIZE,
            "{}",
            prefix.len()
        );
        assert!(prefix == &data[..prefix.len()], "not a prefix");
    });
}

#[test]
fn accepting_and_connecting_leak_no_descriptor() {
    let _g = FDS.write().unwrap_or_else(|e| e.into_inner());
    let before = tulip_test::fd_count();
    run_with_loop(|lp| async move {
        let listener = new_socket(AddressFamily::INET, SocketType::STREAM);
        rustix::net::bind(&listener, &"127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
        rustix::net::listen(&listener, 16).unwrap();
        let addr = SockAddr::from(
            SocketAddr::try_from(rustix::net::getsockname(&listener).unwrap()).unwrap(),
        );
        for _ in 0..20 {
            let client = new_socket(AddressFamily::INET, SocketType::STREAM);
            lp.sock_connect(&client, &addr).await.unwrap();
            let (conn, _) = lp.sock_accept(&listener).await.unwrap();
            lp.sock_sendall(&client, b"x").await.unwrap();
            assert_eq!(lp.sock_recv(&conn, 1).await.unwrap(), b"x");
            // Cancelled waits leave nothing behind either.
            let _ = wait_for(lp.sock_recv(&conn, 1), Duration::from_millis(1)).await;
        }
    });
    let after = tulip_test::settled_fd_count(before);
    assert!(
        after <= before,
        "a descriptor leaked: {before} before, {after} after"
    );
}
