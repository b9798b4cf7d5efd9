//! `create_connection` over loopback: IPv4, IPv6 and "localhost", refused
//! connections and their typed errors, `all_errors`, Happy Eyeballs,
//! `local_addr`, cancellation, and no descriptor leaked over thousands of
//! connections (counted in /proc/self/fd).
//!
//! The tests of this file take one lock each, so that the descriptor counts
//! of one are not disturbed by another running at the same time.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tulip_executor::{Loop, LoopFuture, sleep, timeout, to_thread};
use tulip_test::{fd_count, run_with_loop};
use tulip_transport::{
    AddrInfoOptions, BaseProtocol, ConnectOptions, Error, LoopNetExt, Protocol, SockType, Transport,
};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The descriptor count once it is back to `before` or lower, or after a
/// second: another thread of the test harness may hold a descriptor for a
/// moment (which can also make `before` one too high), a leak stays.
async fn settled_fd_count(before: usize) -> usize {
    let mut count = fd_count();
    for _ in 0..100 {
        if count <= before {
            break;
        }
        sleep(Duration::from_millis(10)).await;
        count = fd_count();
    }
    count
}

/// A client protocol: records its events; `lost` is done once
/// `connection_lost` ran.
struct Client {
    made: usize,
    lost: LoopFuture<()>,
}

impl BaseProtocol for Client {
    fn connection_lost(&mut self, _exc: Option<Error>) {
        let _ = self.lost.set_result(());
    }
}

impl Protocol for Client {
    fn connection_made(&mut self, _transport: Transport) {
        self.made += 1;
    }
}

fn client(lp: &Loop) -> impl FnMut() -> Client + use<> {
    let lp = lp.clone();
    move || Client {
        made: 0,
        lost: lp.create_future(),
    }
}

/// A thread accepting `n` connections on `listener`, each read to its end:
/// each connection's peer address and bytes.
fn serve(listener: TcpListener, n: usize) -> JoinHandle<Vec<(SocketAddr, Vec<u8>)>> {
    std::thread::spawn(move || {
        (0..n)
            .map(|_| {
                let (mut s, peer) = listener.accept().unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut data = Vec::new();
                s.read_to_end(&mut data).unwrap();
                (peer, data)
            })
            .collect()
    })
}

/// Connects, writes `data`, closes, and waits for `connection_lost`.
async fn send_once(
    lp: &Loop,
    host: &str,
    port: u16,
    options: ConnectOptions,
    data: &[u8],
) -> Result<(Option<SocketAddr>, Option<SocketAddr>), Error> {
    let (transport, protocol) = lp
        .create_connection(client(lp), host, port, options)
        .await?;
    assert_eq!(protocol.borrow().made, 1);
    let peer = transport.peer_addr().and_then(|a| a.as_inet());
    let local = transport.local_addr().and_then(|a| a.as_inet());
    transport.write(data)?;
    transport.close();
    let lost = protocol.borrow().lost.clone();
    lost.await?;
    Ok((peer, local))
}

/// A closed port on 127.0.0.1 (nothing listens there any more).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A listener whose accept queue is full, so that a new connection's SYN
/// is dropped and connecting stays pending (a black hole on loopback); the
/// clients that filled it are kept alive with it.
fn black_hole(ip: &str) -> (OwnedFd, Vec<TcpStream>, SocketAddr) {
    let addr: SocketAddr = format!("{ip}:0").parse().unwrap();
    let family = if addr.is_ipv4() {
        rustix::net::AddressFamily::INET
    } else {
        rustix::net::AddressFamily::INET6
    };
    let fd = rustix::net::socket(family, rustix::net::SocketType::STREAM, None).unwrap();
    rustix::net::bind(&fd, &addr).unwrap();
    rustix::net::listen(&fd, 0).unwrap();
    let addr = TcpListener::from(fd.try_clone().unwrap())
        .local_addr()
        .unwrap();
    let mut fillers = Vec::new();
    for _ in 0..64 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(_) => return (fd, fillers, addr),
        }
    }
    panic!("the accept queue of a listen(0) socket never filled");
}

#[test]
fn connects_to_ipv4_and_localhost() {
    let _serial = serial();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = serve(listener, 2);
    let (numeric, named) = run_with_loop(async move |lp| {
        let numeric = send_once(&lp, "127.0.0.1", addr.port(), ConnectOptions::new(), b"one")
            .await
            .unwrap();
        let named = send_once(&lp, "localhost", addr.port(), ConnectOptions::new(), b"two")
            .await
            .unwrap();
        (numeric, named)
    });
    let seen = server.join().unwrap();
    assert_eq!(numeric.0, Some(addr));
    assert_eq!(named.0, Some(addr));
    assert_eq!(seen[0], (numeric.1.unwrap(), b"one".to_vec()));
    assert_eq!(seen[1], (named.1.unwrap(), b"two".to_vec()));
}

#[test]
fn connects_to_ipv6_loopback() {
    let _serial = serial();
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: ::1 cannot be bound here");
        return;
    };
    let addr = listener.local_addr().unwrap();
    let server = serve(listener, 1);
    let (peer, local) = run_with_loop(async move |lp| {
        send_once(&lp, "::1", addr.port(), ConnectOptions::new(), b"six")
            .await
            .unwrap()
    });
    assert_eq!(peer, Some(addr));
    assert_eq!(
        server.join().unwrap(),
        vec![(local.unwrap(), b"six".to_vec())]
    );
}

#[test]
fn refused_a_thousand_times_without_a_leak() {
    let _serial = serial();
    let port = closed_port();
    let (before, after) = run_with_loop(async move |lp| {
        // Warm up whatever the loop creates on first use.
        let _ = send_once(&lp, "127.0.0.1", port, ConnectOptions::new(), b"").await;
        let before = fd_count();
        for _ in 0..1000 {
            let err = send_once(&lp, "127.0.0.1", port, ConnectOptions::new(), b"")
                .await
                .unwrap_err();
            assert_eq!(
                err.io_kind(),
                Some(io::ErrorKind::ConnectionRefused),
                "{err}"
            );
        }
        (before, settled_fd_count(before).await)
    });
    assert!(after <= before, "{after} descriptors open, {before} before");
}

#[test]
fn all_errors_reports_every_attempt() {
    let _serial = serial();
    let port = closed_port();
    let (resolved, all, single, numeric) = run_with_loop(async move |lp| {
        let resolved = lp
            .getaddrinfo(
                Some("localhost"),
                Some(&port.to_string()),
                AddrInfoOptions::new().socktype(SockType::Stream),
            )
            .await
            .unwrap()
            .len();
        let all = send_once(
            &lp,
            "localhost",
            port,
            ConnectOptions::new().all_errors(true),
            b"",
        )
        .await
        .unwrap_err();
        let single = send_once(&lp, "localhost", port, ConnectOptions::new(), b"")
            .await
            .unwrap_err();
        let numeric = send_once(
            &lp,
            "127.0.0.1",
            port,
            ConnectOptions::new()
                .all_errors(true)
                .happy_eyeballs_delay(Duration::from_millis(50)),
            b"",
        )
        .await
        .unwrap_err();
        (resolved, all, single, numeric)
    });
    match all {
        Error::AllAttemptsFailed(errors) => {
            assert_eq!(errors.len(), resolved);
            for e in &errors {
                assert_eq!(e.io_kind(), Some(io::ErrorKind::ConnectionRefused), "{e}");
            }
        }
        other => panic!("expected every attempt's error, got {other:?}"),
    }
    assert_eq!(single.io_kind(), Some(io::ErrorKind::ConnectionRefused));
    match numeric {
        Error::AllAttemptsFailed(errors) => {
            assert_eq!(errors.len(), 1);
            assert!(errors[0].to_string().contains(&format!("127.0.0.1:{port}")));
        }
        other => panic!("expected every attempt's error, got {other:?}"),
    }
}

#[test]
fn unknown_host_and_missing_address_are_typed_errors() {
    let _serial = serial();
    let (unknown, nothing) = run_with_loop(async |lp| {
        let unknown = send_once(&lp, "no-such-host.invalid", 80, ConnectOptions::new(), b"")
            .await
            .unwrap_err();
        let nothing = send_once(&lp, "", 0, ConnectOptions::new(), b"")
            .await
            .unwrap_err();
        (unknown, nothing)
    });
    assert!(
        tulip_transport::GaiError::find(&unknown).is_some(),
        "{unknown:?}"
    );
    assert!(matches!(nothing, Error::InvalidInput(_)), "{nothing:?}");
}

#[test]
fn happy_eyeballs_over_localhost_of_both_families() {
    let _serial = serial();
    // Deterministic only where "localhost" names both ::1 and 127.0.0.1:
    // the first address in getaddrinfo's order is black-holed, the other
    // one listens on the same port; the second attempt must win after the
    // delay. (The same race over an explicit address list is a unit test
    // of the crate and runs everywhere.)
    let order = run_with_loop(async |lp| {
        lp.getaddrinfo(
            Some("localhost"),
            Some("0"),
            AddrInfoOptions::new().socktype(SockType::Stream),
        )
        .await
        .unwrap()
    });
    let first = order[0].address.ip();
    let Some(second) = order
        .iter()
        .map(|i| i.address.ip())
        .find(|ip| ip.is_ipv4() != first.is_ipv4())
    else {
        eprintln!("skipped: localhost names one address family only here");
        return;
    };
    // The same port on both families: retry until the other family's port
    // is free.
    let (hole, fillers, hole_addr, listener) = (0..20)
        .find_map(|_| {
            let (hole, fillers, addr) = black_hole(&first.to_string());
            TcpListener::bind(SocketAddr::new(second, addr.port()))
                .ok()
                .map(|l| (hole, fillers, addr, l))
        })
        .expect("a port free on both families");
    let server = serve(listener, 1);
    let delay = Duration::from_millis(200);
    let (peer, elapsed) = run_with_loop(async move |lp| {
        let start = Instant::now();
        let (peer, _) = send_once(
            &lp,
            "localhost",
            hole_addr.port(),
            ConnectOptions::new().happy_eyeballs_delay(delay),
            b"he",
        )
        .await
        .unwrap();
        (peer, start.elapsed())
    });
    assert_eq!(peer, Some(SocketAddr::new(second, hole_addr.port())));
    assert!(elapsed >= delay);
    assert_eq!(server.join().unwrap()[0].1, b"he");
    drop((hole, fillers));
}

#[test]
fn happy_eyeballs_with_one_address_connects() {
    let _serial = serial();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = serve(listener, 1);
    let (peer, _) = run_with_loop(async move |lp| {
        send_once(
            &lp,
            "127.0.0.1",
            addr.port(),
            ConnectOptions::new()
                .happy_eyeballs_delay(Duration::from_millis(250))
                .interleave(2),
            b"x",
        )
        .await
        .unwrap()
    });
    assert_eq!(peer, Some(addr));
    assert_eq!(server.join().unwrap()[0].1, b"x");
}

#[test]
fn cancelled_by_timeout_without_a_leak() {
    let _serial = serial();
    let (_hole, _fillers, hole) = black_hole("127.0.0.1");
    let (before, after, results) = run_with_loop(async move |lp| {
        // Warm up the executor used by name lookups.
        lp.getaddrinfo(Some("localhost"), None, AddrInfoOptions::new())
            .await
            .unwrap();
        let before = fd_count();
        let mut results = Vec::new();
        for (host, delay) in [
            ("127.0.0.1", None),
            ("localhost", None),
            ("127.0.0.1", Some(Duration::from_millis(10))),
        ] {
            let mut options = ConnectOptions::new();
            if let Some(d) = delay {
                options = options.happy_eyeballs_delay(d);
            }
            let r = timeout(Duration::from_millis(200))
                .run(lp.create_connection(client(&lp), host, hole.port(), options))
                .await;
            results.push(r.map(|_| ()).map_err(|e| e.is_timeout()));
        }
        (before, settled_fd_count(before).await, results)
    });
    assert_eq!(results, vec![Err(true), Err(true), Err(true)]);
    assert!(after <= before, "{after} descriptors open, {before} before");
}

#[test]
fn local_addr_is_bound_before_connecting() {
    let _serial = serial();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = serve(listener, 1);
    // A port that was free a moment ago; another process could take it
    // meanwhile, so a few tries.
    let (local, mismatch) = run_with_loop(async move |lp| {
        let mut bound = None;
        for _ in 0..5 {
            let local = SocketAddr::new([127, 0, 0, 1].into(), closed_port());
            match send_once(
                &lp,
                "127.0.0.1",
                addr.port(),
                ConnectOptions::new().local_addr(local),
                b"bound",
            )
            .await
            {
                Ok((_, seen)) => {
                    assert_eq!(seen, Some(local));
                    bound = Some(local);
                    break;
                }
                Err(e) if e.io_kind() == Some(io::ErrorKind::AddrInUse) => continue,
                Err(e) => panic!("{e}"),
            }
        }
        let mismatch = send_once(
            &lp,
            "127.0.0.1",
            addr.port(),
            ConnectOptions::new().local_addr("[::1]:0".parse().unwrap()),
            b"",
        )
        .await
        .unwrap_err();
        (bound.expect("a free local port"), mismatch)
    });
    let seen = server.join().unwrap();
    assert_eq!(seen, vec![(local, b"bound".to_vec())]);
    assert_eq!(mismatch.io_kind(), Some(io::ErrorKind::AddrNotAvailable));
    assert!(mismatch.to_string().contains("no matching local address"));
}

#[test]
fn many_connect_send_close_cycles_keep_the_fd_count() {
    let _serial = serial();
    let cycles = 10_000;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The server hands its listener back, so that both counts include it.
    let server = std::thread::spawn(move || {
        let mut total = 0;
        for _ in 0..cycles {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut data = Vec::new();
            s.read_to_end(&mut data).unwrap();
            total += data.len();
        }
        (total, listener)
    });
    let (before, after, total) = run_with_loop(async move |lp| {
        let before = fd_count();
        for _ in 0..cycles {
            send_once(
                &lp,
                "127.0.0.1",
                addr.port(),
                ConnectOptions::new(),
                b"ping",
            )
            .await
            .unwrap();
        }
        // Count once the server has closed its last connection.
        let (total, listener) = to_thread(move || server.join().unwrap()).await.unwrap();
        let after = settled_fd_count(before).await;
        drop(listener);
        (before, after, total)
    });
    assert_eq!(total, cycles * 4);
    assert!(after <= before, "{after} descriptors open, {before} before");
}
