//! Datagram endpoints (`create_datagram_endpoint`): UDP echo over IPv4 and
//! IPv6, ICMP errors on a connected endpoint, address checks of `sendto`,
//! flow control and re-entrancy on a full Unix datagram socket, close
//! flushing, abort dropping, Unix datagram echo, the protocol state
//! machine, panics in callbacks, the `sock` option, socket options, and no
//! descriptor leaked over 1,000 endpoints.
//!
//! Every test holds one lock: the descriptor count of the leak test must
//! not see the other tests' sockets.

mod common;
mod datagram_support;

use std::cell::RefCell;
use std::io;
use std::net::UdpSocket;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use datagram_support::{Rec, drain, endpoint, inet, number_of, numbered, recv_from, serial, unix};
use tulip_executor::{ExceptionContext, Loop, sleep};
use tulip_test::{fd_count, run_with_loop, wait_until};
use tulip_transport::{
    AddressFamily, DatagramOptions, DatagramTransport, Error, ExtraInfo, LoopNetExt, SockAddr,
    UnixAddr,
};

fn echo_round_trip(server_addr: &str) {
    let server_addr = inet(server_addr);
    let (events, replies) = run_with_loop(move |lp| async move {
        let (server, sp) = lp
            .create_datagram_endpoint(
                || Rec {
                    echo: true,
                    ..Rec::default()
                },
                DatagramOptions::new().local_addr(server_addr),
            )
            .await
            .unwrap();
        let bound = server.local_addr().unwrap();
        assert_ne!(bound.as_inet().unwrap().port(), 0);
        let (client, cp) = endpoint(&lp, DatagramOptions::new().remote_addr(bound.clone())).await;
        assert_eq!(client.peer_addr(), Some(bound.clone()));
        assert_eq!(client.remote_addr(), Some(bound.clone()));
        // UDP may drop what overflows a receive buffer: send in rounds of
        // ten small datagrams, each round once the last one came back.
        for round in 0..10 {
            for i in round * 10..round * 10 + 10 {
                client.sendto(&(i as u64).to_le_bytes(), None).unwrap();
            }
            let want = round * 10 + 10;
            assert!(wait_until(|| cp.borrow().datagrams.len() == want).await);
        }
        client.sendto(b"", Some(&bound)).unwrap();
        assert!(wait_until(|| cp.borrow().datagrams.len() == 101).await);
        // The server saw the client's address, and its replies came back.
        let client_addr = client.local_addr().unwrap();
        assert!(
            sp.borrow()
                .datagrams
                .iter()
                .all(|(_, a)| a.as_ref() == Some(&client_addr))
        );
        client.close();
        server.close();
        assert!(wait_until(|| cp.borrow().lost() && sp.borrow().lost()).await);
        let replies: Vec<Vec<u8>> = cp.borrow().datagrams.iter().map(|d| d.0.clone()).collect();
        let events = sp.borrow().events.clone();
        (events, replies)
    });
    assert_eq!(events.first().map(String::as_str), Some("made"));
    assert_eq!(events.last().map(String::as_str), Some("lost"));
    assert_eq!(events.iter().filter(|e| *e == "dgram").count(), 101);
    // Loopback keeps the order; the empty datagram arrived as one.
    for (i, d) in replies[..100].iter().enumerate() {
        assert_eq!(number_of(d), i);
    }
    assert!(replies[100].is_empty());
}

#[test]
fn udp_echo_ipv4() {
    let _g = serial();
    echo_round_trip("127.0.0.1:0");
}

#[test]
fn udp_echo_ipv6() {
    let _g = serial();
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    echo_round_trip("[::1]:0");
}

#[test]
fn connected_endpoint_to_closed_port_gets_error_received() {
    let _g = serial();
    let closed = {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let (events, kind) = run_with_loop(move |lp| async move {
        let (t, p) = endpoint(&lp, DatagramOptions::new().remote_addr(closed)).await;
        // ICMP replies may be rate limited: keep sending until one lands.
        for _ in 0..200 {
            t.sendto(b"anyone?", None).unwrap();
            sleep(Duration::from_millis(50)).await;
            if !p.borrow().errors.is_empty() {
                break;
            }
        }
        assert!(!t.is_closing(), "an ICMP error does not close the endpoint");
        t.close();
        assert!(wait_until(|| p.borrow().lost()).await);
        let p = p.borrow();
        (p.events.clone(), p.errors.first().and_then(Error::io_kind))
    });
    assert_eq!(kind, Some(io::ErrorKind::ConnectionRefused));
    assert_eq!(events.first().map(String::as_str), Some("made"));
    assert_eq!(events.last().map(String::as_str), Some("lost"));
    assert!(
        events
            .iter()
            .all(|e| ["made", "error", "lost"].contains(&e.as_str()))
    );
}

#[test]
fn sendto_checks_the_address() {
    let _g = serial();
    run_with_loop(|lp| async move {
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer_addr = SockAddr::Inet(peer.local_addr().unwrap());
        let (t, _p) = endpoint(&lp, DatagramOptions::new().remote_addr(peer_addr.clone())).await;
        let other = inet("127.0.0.1:9");
        assert!(matches!(
            t.sendto(b"x", Some(&other)),
            Err(Error::InvalidInput(_))
        ));
        t.sendto(b"a", None).unwrap();
        t.sendto(b"b", Some(&peer_addr)).unwrap();
        assert_eq!(recv_from(&peer).await.0, b"a");
        assert_eq!(recv_from(&peer).await.0, b"b");
        t.abort();

        // Unconnected: an address is required, and must be a usable one.
        let (u, up) = endpoint(&lp, DatagramOptions::new().family(AddressFamily::Inet)).await;
        assert!(matches!(u.sendto(b"x", None), Err(Error::InvalidInput(_))));
        assert!(matches!(
            u.sendto(b"x", Some(&SockAddr::Unix(UnixAddr::Unnamed))),
            Err(Error::InvalidInput(_))
        ));
        assert_eq!(u.peer_addr(), None);
        assert_eq!(u.remote_addr(), None);
        // The first send binds the socket: sockname shows the port.
        u.sendto(b"hi", Some(&peer_addr)).unwrap();
        let (data, from) = recv_from(&peer).await;
        assert_eq!(data, b"hi");
        let bound = u.local_addr().unwrap().as_inet().unwrap();
        assert_eq!(bound.port(), from.port());
        assert!(bound.ip().is_unspecified());
        assert_eq!(
            u.get_extra_info("sockname"),
            Some(ExtraInfo::Addr(SockAddr::Inet(bound)))
        );
        u.close();
        assert!(wait_until(|| up.borrow().lost()).await);
        // After the end: sends are ignored, not errors.
        u.sendto(b"late", Some(&peer_addr)).unwrap();
        assert_eq!(up.borrow().events, vec!["made", "lost"]);
    });
}

#[test]
fn options_are_validated() {
    let _g = serial();
    run_with_loop(|lp| async move {
        let none = lp
            .create_datagram_endpoint(Rec::default, DatagramOptions::new())
            .await;
        assert!(matches!(none, Err(Error::InvalidInput(_))));
        let mixed = lp
            .create_datagram_endpoint(
                Rec::default,
                DatagramOptions::new()
                    .local_addr(inet("127.0.0.1:0"))
                    .remote_addr(inet("[::1]:9")),
            )
            .await;
        assert!(matches!(mixed, Err(Error::InvalidInput(_))));
        let wrong_family = lp
            .create_datagram_endpoint(
                Rec::default,
                DatagramOptions::new()
                    .family(AddressFamily::Inet6)
                    .local_addr(inet("127.0.0.1:0")),
            )
            .await;
        assert!(matches!(wrong_family, Err(Error::InvalidInput(_))));
        let sock = OwnedFd::from(UdpSocket::bind("127.0.0.1:0").unwrap());
        let sock_and_addr = lp
            .create_datagram_endpoint(
                Rec::default,
                DatagramOptions::new().sock(sock).allow_broadcast(true),
            )
            .await;
        assert!(matches!(sock_and_addr, Err(Error::InvalidInput(_))));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = lp
            .create_datagram_endpoint(Rec::default, DatagramOptions::new().sock(listener.into()))
            .await;
        assert!(matches!(tcp, Err(Error::InvalidInput(_))));
        // A bind error is the OS error.
        let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
        let busy = lp
            .create_datagram_endpoint(
                Rec::default,
                DatagramOptions::new().local_addr(taken.local_addr().unwrap()),
            )
            .await;
        assert_eq!(
            busy.err().and_then(|e| e.io_kind()),
            Some(io::ErrorKind::AddrInUse)
        );
    });
}

#[test]
fn flow_control_and_reentrancy_on_a_full_unix_socket() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let rpath = dir.path().join("receiver.sock");
    let epath = dir.path().join("endpoint.sock");
    let receiver = UnixDatagram::bind(&rpath).unwrap();
    let (events, got, sent) = run_with_loop(move |lp| async move {
        let (t, p) = lp
            .create_datagram_endpoint(
                || Rec {
                    burst: 200,
                    ..Rec::default()
                },
                DatagramOptions::new()
                    .local_addr(unix(&epath))
                    .remote_addr(unix(&rpath)),
            )
            .await
            .unwrap();
        assert!(matches!(
            t.set_write_buffer_limits(Some(1), Some(2)),
            Err(Error::InvalidInput(_))
        ));
        t.set_write_buffer_limits(Some(4096), Some(0)).unwrap();
        assert_eq!(t.get_write_buffer_limits(), (0, 4096));
        // The receiver never reads yet: the endpoint's sends fill up, and
        // the burst made inside datagram_received is partly buffered.
        receiver.send_to(b"go", &epath).unwrap();
        assert!(wait_until(|| p.borrow().events.iter().any(|e| e == "pause")).await);
        assert!(t.get_write_buffer_size() > 4096);
        {
            let ev = &p.borrow().events;
            let burst = ev.iter().position(|e| e == "burst-done").unwrap();
            let pause = ev.iter().position(|e| e == "pause").unwrap();
            assert!(
                burst < pause,
                "pause_writing waited for the callback: {ev:?}"
            );
        }
        let reader = std::thread::spawn(move || drain(&receiver));
        assert!(wait_until(|| p.borrow().events.iter().any(|e| e == "resume")).await);
        assert!(wait_until(|| t.get_write_buffer_size() == 0).await);
        t.close();
        assert!(wait_until(|| p.borrow().lost()).await);
        let got = tulip_executor::to_thread(move || reader.join().unwrap())
            .await
            .unwrap();
        let events = p.borrow().events.clone();
        (events, got, 200)
    });
    assert_eq!(
        events,
        vec!["made", "dgram", "burst-done", "pause", "resume", "lost"]
    );
    assert_eq!(got, (0..sent).collect::<Vec<_>>(), "all sent, in order");
}

#[test]
fn pause_raised_inside_connection_made_follows_it() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let rpath = dir.path().join("receiver.sock");
    let receiver = UnixDatagram::bind(&rpath).unwrap();
    let events = run_with_loop(move |lp| async move {
        let (t, p) = lp
            .create_datagram_endpoint(
                || Rec {
                    burst_on_made: 300,
                    ..Rec::default()
                },
                DatagramOptions::new().remote_addr(unix(&rpath)),
            )
            .await
            .unwrap();
        // Delivered before the endpoint was returned.
        assert_eq!(p.borrow().events, vec!["made", "burst-done", "pause"]);
        assert!(t.get_write_buffer_size() > 0);
        t.abort();
        assert!(wait_until(|| p.borrow().lost()).await);
        drop(receiver);
        p.borrow().events.clone()
    });
    assert_eq!(events, vec!["made", "burst-done", "pause", "lost"]);
}

/// An endpoint connected to a Unix receiver that does not read, with
/// `n` 1 KiB datagrams sent: the socket is full, more than the default
/// 64 KiB high-water mark is buffered, and the protocol is paused.
async fn full_endpoint(
    lp: &Loop,
    dir: &Path,
    n: usize,
) -> (DatagramTransport, Rc<RefCell<Rec>>, UnixDatagram) {
    let rpath = dir.join("r.sock");
    let receiver = UnixDatagram::bind(&rpath).unwrap();
    let (t, p) = endpoint(lp, DatagramOptions::new().remote_addr(unix(&rpath))).await;
    for i in 0..n {
        t.sendto(&numbered(i), None).unwrap();
    }
    assert!(t.get_write_buffer_size() > 0, "the socket never filled");
    (t, p, receiver)
}

#[test]
fn close_flushes_buffered_datagrams() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let (events, got) = run_with_loop(move |lp| async move {
        let (t, p, receiver) = full_endpoint(&lp, dir.path(), 300).await;
        t.close();
        assert!(t.is_closing());
        assert_eq!(
            p.borrow().events,
            vec!["made", "pause"],
            "lost waits for the flush"
        );
        let reader = std::thread::spawn(move || drain(&receiver));
        assert!(wait_until(|| p.borrow().lost()).await);
        assert_eq!(t.get_write_buffer_size(), 0);
        assert_eq!(t.fd(), None);
        let got = tulip_executor::to_thread(move || reader.join().unwrap())
            .await
            .unwrap();
        let events = p.borrow().events.clone();
        (events, got)
    });
    assert_eq!(events, vec!["made", "pause", "resume", "lost"]);
    assert_eq!(got, (0..300).collect::<Vec<_>>());
}

#[test]
fn abort_drops_buffered_datagrams() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let (events, got) = run_with_loop(move |lp| async move {
        let (t, p, receiver) = full_endpoint(&lp, dir.path(), 300).await;
        t.abort();
        assert!(t.is_closing());
        assert_eq!(t.get_write_buffer_size(), 0);
        assert!(wait_until(|| p.borrow().lost()).await);
        let got = tulip_executor::to_thread(move || drain(&receiver))
            .await
            .unwrap();
        let events = p.borrow().events.clone();
        (events, got)
    });
    assert_eq!(events, vec!["made", "pause", "lost"]);
    assert!(got.len() < 300, "the buffered datagrams were dropped");
    assert_eq!(got, (0..got.len()).collect::<Vec<_>>());
}

#[test]
fn unix_datagram_echo() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let spath = dir.path().join("server.sock");
    let cpath = dir.path().join("client.sock");
    // A stale socket file at the server's path is replaced.
    drop(UnixDatagram::bind(&spath).unwrap());
    let (replies, from) = run_with_loop(move |lp| async move {
        let (server, sp) = lp
            .create_datagram_endpoint(
                || Rec {
                    echo: true,
                    ..Rec::default()
                },
                DatagramOptions::new().local_addr(unix(&spath)),
            )
            .await
            .unwrap();
        assert_eq!(server.local_addr(), Some(unix(&spath)));
        let (client, cp) = endpoint(
            &lp,
            DatagramOptions::new()
                .local_addr(unix(&cpath))
                .remote_addr(unix(&spath)),
        )
        .await;
        assert_eq!(
            client.get_extra_info("peername"),
            Some(ExtraInfo::Addr(unix(&spath)))
        );
        for msg in [&b"one"[..], b"two", b"three"] {
            client.sendto(msg, None).unwrap();
        }
        assert!(wait_until(|| cp.borrow().datagrams.len() == 3).await);
        client.close();
        server.close();
        assert!(wait_until(|| cp.borrow().lost() && sp.borrow().lost()).await);
        let replies: Vec<Vec<u8>> = cp.borrow().datagrams.iter().map(|d| d.0.clone()).collect();
        let from = sp.borrow().datagrams[0].1.clone();
        (replies, from)
    });
    assert_eq!(
        replies,
        vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
    );
    assert_eq!(from, Some(unix(&dir.path().join("client.sock"))));
}

#[test]
fn state_machine_nothing_after_connection_lost() {
    let _g = serial();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let events = run_with_loop(move |lp| async move {
        let (t, p) = endpoint(&lp, DatagramOptions::new().local_addr(inet("127.0.0.1:0"))).await;
        let addr = t.local_addr().unwrap().as_inet().unwrap();
        // connection_made already ran when the endpoint is returned.
        assert_eq!(p.borrow().events, vec!["made"]);
        assert!(t.fd().is_some());
        assert_eq!(t.get_extra_info("socket").and_then(|e| e.as_fd()), t.fd());
        peer.send_to(b"before", addr).unwrap();
        assert!(wait_until(|| p.borrow().datagrams.len() == 1).await);
        t.close();
        t.close();
        t.abort();
        // Closed at once for reading: a datagram arriving now is not
        // delivered.
        peer.send_to(b"after", addr).unwrap();
        assert!(wait_until(|| p.borrow().lost()).await);
        sleep(Duration::from_millis(50)).await;
        t.sendto(
            b"ignored",
            Some(&SockAddr::Inet(peer.local_addr().unwrap())),
        )
        .unwrap();
        t.close();
        t.abort();
        sleep(Duration::from_millis(20)).await;
        assert!(t.get_protocol().is_none(), "the protocol is released");
        assert_eq!(t.get_extra_info("socket"), None);
        p.borrow().events.clone()
    });
    assert_eq!(events, vec!["made", "dgram", "lost"]);
}

#[test]
fn set_protocol_redirects_the_callbacks() {
    let _g = serial();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (first, second) = run_with_loop(move |lp| async move {
        let (t, p) = endpoint(&lp, DatagramOptions::new().local_addr(inet("127.0.0.1:0"))).await;
        let addr = t.local_addr().unwrap().as_inet().unwrap();
        let current = t.get_protocol().unwrap();
        assert!(std::ptr::addr_eq(Rc::as_ptr(&current), Rc::as_ptr(&p)));
        let other = Rc::new(RefCell::new(Rec {
            transport: Some(t.clone()),
            ..Rec::default()
        }));
        t.set_protocol(other.clone());
        peer.send_to(b"to the new one", addr).unwrap();
        assert!(wait_until(|| other.borrow().datagrams.len() == 1).await);
        t.close();
        assert!(wait_until(|| other.borrow().lost()).await);
        let first = p.borrow().events.clone();
        let second = other.borrow().events.clone();
        (first, second)
    });
    // The new protocol is not sent connection_made, as in asyncio.
    assert_eq!(first, vec!["made"]);
    assert_eq!(second, vec!["dgram", "lost"]);
}

#[test]
fn panicking_callback_is_reported_and_closes() {
    let _g = serial();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (messages, events, lost_error) = run_with_loop(move |lp| async move {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        lp.set_exception_handler(move |_: &Loop, ctx: &ExceptionContext| {
            s.borrow_mut().push(ctx.message.clone());
        });
        let (t, p) = lp
            .create_datagram_endpoint(
                || Rec {
                    panic_on_data: true,
                    ..Rec::default()
                },
                DatagramOptions::new().local_addr(inet("127.0.0.1:0")),
            )
            .await
            .unwrap();
        let addr = t.local_addr().unwrap().as_inet().unwrap();
        // Several datagrams: only the first reaches the protocol.
        for _ in 0..5 {
            peer.send_to(b"boom", addr).unwrap();
        }
        assert!(wait_until(|| p.borrow().lost()).await);
        assert!(t.is_closing());
        sleep(Duration::from_millis(50)).await;
        let p = p.borrow();
        let messages = seen.borrow().clone();
        (messages, p.events.clone(), p.lost_error.clone())
    });
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("datagram_received"), "{messages:?}");
    assert_eq!(events, vec!["made", "dgram", "lost:err"]);
    assert!(matches!(lost_error, Some(Error::Loop(e)) if e.is_panic()));
}

#[test]
fn send_error_inside_datagram_received_is_delivered_after_it() {
    let _g = serial();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (events, kind) = run_with_loop(move |lp| async move {
        let (t, p) = lp
            .create_datagram_endpoint(
                || Rec {
                    // An IPv6 destination on an IPv4 socket: the kernel
                    // refuses the send.
                    bad_dest: Some(inet("[::1]:9")),
                    ..Rec::default()
                },
                DatagramOptions::new().local_addr(inet("127.0.0.1:0")),
            )
            .await
            .unwrap();
        let addr = t.local_addr().unwrap().as_inet().unwrap();
        peer.send_to(b"x", addr).unwrap();
        assert!(wait_until(|| p.borrow().events.iter().any(|e| e == "error")).await);
        assert!(!t.is_closing());
        t.close();
        assert!(wait_until(|| p.borrow().lost()).await);
        let p = p.borrow();
        (p.events.clone(), p.errors[0].io_kind())
    });
    assert_eq!(events, vec!["made", "dgram", "sent-bad", "error", "lost"]);
    assert!(kind.is_some(), "an OS error");
}

#[test]
fn sock_option_uses_an_existing_socket() {
    let _g = serial();
    let std_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = std_sock.local_addr().unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let peer_addr = peer.local_addr().unwrap();
    let (datagrams, replied) = run_with_loop(move |lp| async move {
        let (t, p) = endpoint(&lp, DatagramOptions::new().sock(std_sock.into())).await;
        assert_eq!(t.local_addr(), Some(SockAddr::Inet(addr)));
        assert_eq!(t.peer_addr(), None);
        peer.send_to(b"via sock", addr).unwrap();
        assert!(wait_until(|| p.borrow().datagrams.len() == 1).await);
        t.sendto(b"reply", Some(&SockAddr::Inet(peer_addr)))
            .unwrap();
        let (reply, _) = recv_from(&peer).await;
        t.close();
        assert!(wait_until(|| p.borrow().lost()).await);
        let datagrams = p.borrow().datagrams.clone();
        (datagrams, reply)
    });
    assert_eq!(
        datagrams,
        vec![(b"via sock".to_vec(), Some(SockAddr::Inet(peer_addr)))]
    );
    assert_eq!(replied, b"reply");
}

#[test]
fn broadcast_and_reuse_port_set_their_options() {
    let _g = serial();
    run_with_loop(|lp| async move {
        // The loopback network's broadcast address: the kernel refuses it
        // without SO_BROADCAST (EACCES), and the datagram stays on `lo`.
        let broadcast = inet("127.255.255.255:9");
        let local = || DatagramOptions::new().local_addr(inet("127.0.0.1:0"));
        let (plain, pp) = endpoint(&lp, local()).await;
        plain.sendto(b"all", Some(&broadcast)).unwrap();
        assert!(wait_until(|| !pp.borrow().errors.is_empty()).await);
        assert_eq!(
            pp.borrow().errors[0].io_kind(),
            Some(io::ErrorKind::PermissionDenied)
        );
        let (loud, lp2) = endpoint(&lp, local().allow_broadcast(true)).await;
        loud.sendto(b"all", Some(&broadcast)).unwrap();
        sleep(Duration::from_millis(50)).await;
        assert!(lp2.borrow().errors.is_empty());
        plain.close();
        loud.close();

        // As asyncio: with allow_broadcast the socket is not connected, but
        // the remote address is still the default destination.
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer_addr = SockAddr::Inet(peer.local_addr().unwrap());
        let (b, bp) = endpoint(
            &lp,
            DatagramOptions::new()
                .remote_addr(peer_addr.clone())
                .allow_broadcast(true),
        )
        .await;
        assert_eq!(b.peer_addr(), None);
        assert_eq!(b.remote_addr(), Some(peer_addr.clone()));
        b.sendto(b"default", None).unwrap();
        assert_eq!(recv_from(&peer).await.0, b"default");
        b.close();

        // SO_REUSEPORT: two endpoints share one address.
        let (a1, p1) = endpoint(&lp, local().reuse_port(true)).await;
        let shared = a1.local_addr().unwrap();
        let (a2, p2) = endpoint(
            &lp,
            DatagramOptions::new()
                .local_addr(shared.clone())
                .reuse_port(true),
        )
        .await;
        assert_eq!(a2.local_addr(), Some(shared));
        a1.close();
        a2.close();
        let all = [pp, lp2, bp, p1, p2];
        assert!(wait_until(|| all.iter().all(|p| p.borrow().lost())).await);
    });
}

#[test]
fn no_descriptor_leaks_over_1000_endpoints() {
    let _g = serial();
    run_with_loop(|lp| async move {
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer_addr = SockAddr::Inet(peer.local_addr().unwrap());
        let before = fd_count();
        let mut weak = Vec::new();
        for i in 0..1000 {
            let options = match i % 3 {
                0 => DatagramOptions::new().local_addr(inet("127.0.0.1:0")),
                1 => DatagramOptions::new().remote_addr(peer_addr.clone()),
                _ => DatagramOptions::new().sock(UdpSocket::bind("127.0.0.1:0").unwrap().into()),
            };
            let (t, p) = endpoint(&lp, options).await;
            t.sendto(b"x", Some(&peer_addr)).unwrap();
            if i % 2 == 0 {
                t.close();
            } else {
                t.abort();
            }
            weak.push(Rc::downgrade(&p));
            let p2 = p.clone();
            assert!(wait_until(move || p2.borrow().lost()).await);
        }
        // Failed setups leak nothing either.
        for _ in 0..50 {
            let bad = lp
                .create_datagram_endpoint(
                    Rec::default,
                    DatagramOptions::new().local_addr(peer_addr.clone()),
                )
                .await;
            assert!(bad.is_err());
        }
        sleep(Duration::from_millis(20)).await;
        assert_eq!(fd_count(), before);
        assert!(weak.iter().all(|w| w.upgrade().is_none()), "no Rc cycle");
    });
}
