//! `tulip::net::UdpSocket` on the loopback interface: `send_to` and
//! `recv_from` on both families, `connect` then `send`/`recv` (and the
//! kernel dropping other senders), truncation of a datagram longer than
//! the buffer, an empty datagram, a burst kept in order, a refused peer
//! reported on the next receive, bind errors naming the address, cancel
//! safety of a receive, `into_std`/`from_std`, and the error outside a
//! loop.

use std::io::ErrorKind;
use std::time::Duration;

use futures_util::FutureExt;
use tulip::net::UdpSocket;
use tulip::timeout;
use tulip_test::run;

#[test]
fn send_to_and_recv_from_on_both_families() {
    run(async {
        for host in ["127.0.0.1", "::1"] {
            let a = UdpSocket::bind(host, 0).await.unwrap();
            let b = UdpSocket::bind(host, 0).await.unwrap();
            let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
            assert_eq!(a_addr.ip().to_string(), host);
            assert_eq!(a.send_to(b"ping", b_addr).await.unwrap(), 4);
            let mut buf = [0; 64];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"ping"[..], a_addr));
            b.send_to(b"pong", from).await.unwrap();
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"pong"[..], b_addr));
        }
    });
}

#[test]
fn connect_then_send_and_recv_and_other_senders_are_dropped() {
    run(async {
        let server = UdpSocket::bind("127.0.0.1", 0).await.unwrap();
        let client = UdpSocket::bind("127.0.0.1", 0).await.unwrap();
        let stranger = UdpSocket::bind("127.0.0.1", 0).await.unwrap();
        let server_addr = server.local_addr().unwrap();
        // Not connected yet: no peer, and `send` has nowhere to go.
        let err = client.peer_addr().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotConnected);
        assert!(client.send(b"nowhere").await.is_err());
        // A name is resolved without blocking the loop.
        client
            .connect("localhost", server_addr.port())
            .await
            .unwrap();
        assert_eq!(client.peer_addr().unwrap(), server_addr);
        assert_eq!(client.send(b"hello").await.unwrap(), 5);
        let mut buf = [0; 16];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(from, client.local_addr().unwrap());
        // Only the connected peer's datagrams reach `recv`.
        stranger
            .send_to(b"intruder", client.local_addr().unwrap())
            .await
            .unwrap();
        server.send_to(b"reply", from).await.unwrap();
        let n = client.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"reply");
        let r = timeout(Duration::from_millis(50))
            .run(client.recv(&mut buf))
            .await;
        assert!(
            r.unwrap_err().is_timeout(),
            "the stranger's datagram came through"
        );
        // A host of no address of the socket's family is an error (the
        // resolver's EAI_ADDRFAMILY), not a connection to the wrong family.
        let v6 = UdpSocket::bind("::1", 0).await.unwrap();
        assert!(v6.connect("127.0.0.1", 9).await.is_err());
        assert!(v6.peer_addr().is_err());
    });
}

#[test]
fn a_longer_datagram_is_truncated_and_an_empty_one_is_not_eof() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1", 0).await.unwrap();
        let b = UdpSocket::bind("127.0.0.1", 0).await.unwrap();
        let b_addr = b.local_addr().unwrap();
        a.send_to(b"truncated datagram", b_addr).await.unwrap();
        a.send_to(b"", b_addr).await.unwrap();
        a.send_to(b"next", b_addr).await.unwrap();
        let mut small = [0; 9];
        let (n, _) = b.recv_from(&mut small).await.unwrap();
        assert_eq!(&small[..n], b"truncated");
        // The rest of the first datagram is gone; the empty one is whole.
        let mut buf = [0; 64];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((n, from), (0, a.local_addr().unwrap()));
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"next");
        // A datagram of 60,000 bytes goes whole over loopback.
        let big: Vec<u8> = (0..60_000u32).map(|i| (i % 253) as u8).collect();
        a.send_to(&big, b_addr).await.unwrap();
        let mut buf = vec![0; 65_536];
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert!(buf[..n] == big[..]);
    });
}

#[test]
fn a_burst_of_datagrams_arrives_in_order() {
    const N: usize = 200;
    run(async {
        let a = UdpSocket::bind("127.0.0.1", 0).await.unwrap();
        let b = UdpSocket::bind("127.0.0.1", 0).await.unwrap();
        a.connect("127.0.0.1", b.local_addr().unwrap().port())
            .await
            .unwrap();
        let reader = async {
            let mut got = Vec::new();
            let mut buf = [0; 8];
            while got.len() < N {
                let n = b.recv(&mut buf).await.unwrap();
                got.push(u32::from_be_bytes(buf[..n].try_into().unwrap()));
            }
            got
        };
        let writer = async {
            for i in 0..N as u32 {
                a.send(&i.to_be_bytes()).await.unwrap();
                if i % 50 == 0 {
                    tulip::yield_now().await;
                }
            }
        };
        let (got, ()) = futures_util::future::join(reader, writer).await;
        assert_eq!(got, (0..N as u32).collect::<Vec<_>>());
    });
}

#[test]
fn a_refused_peer_is_reported_on_the_next_receive_without_a_hang() {
    run(async {
        let gone = UdpSocket::bind("127.0.0.1", 0).await.unwrap();
        let port = gone.local_addr().unwrap().port();
        drop(gone);
        let client = UdpSocket::bind("127.0.0.1", 0).await.unwrap();
        client.connect("127.0.0.1", port).await.unwrap();
        client.send(b"anyone?").await.unwrap();
        // The ICMP port-unreachable comes back as ECONNREFUSED.
        let mut buf = [0; 8];
        let err = timeout(Duration::from_secs(10))
            .run(client.recv(&mut buf))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    });
}

#[test]
fn bind_on_a_port_in_use_names_the_address() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1", 0).await.unwrap();
        let port = a.local_addr().unwrap().port();
        let err = UdpSocket::bind("127.0.0.1", port).await.unwrap_err();
        assert_eq!(err.io_kind(), Some(ErrorKind::AddrInUse), "{err}");
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
        let err = UdpSocket::bind("no such host.invalid", 0)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no such host.invalid"), "{err}");
    });
}

#[test]
fn a_dropped_receive_consumes_nothing_and_std_round_trips() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1", 0).await.unwrap();
        let b = UdpSocket::bind("127.0.0.1", 0).await.unwrap();
        let mut buf = [0; 16];
        let r = timeout(Duration::from_millis(30))
            .run(b.recv_from(&mut buf))
            .await;
        assert!(r.unwrap_err().is_timeout());
        a.send_to(b"kept", b.local_addr().unwrap()).await.unwrap();
        // Out to std and back in: the datagram is still queued.
        let b_addr = b.local_addr().unwrap();
        let b = UdpSocket::from_std(b.into_std().unwrap()).unwrap();
        assert_eq!(b.local_addr().unwrap(), b_addr);
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"kept");
        // A blocking std socket becomes non-blocking on the way in.
        let c = UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
        let r = timeout(Duration::from_millis(30))
            .run(c.recv_from(&mut buf))
            .await;
        assert!(r.unwrap_err().is_timeout());
        c.set_broadcast(true).unwrap();
        assert!(c.broadcast().unwrap());
    });
}

#[test]
fn a_udp_socket_outside_a_running_loop_is_an_error_not_a_panic() {
    let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let err = UdpSocket::from_std(std_socket).unwrap_err();
    assert!(err.to_string().contains("no running event loop"), "{err}");
    let bound = UdpSocket::bind("127.0.0.1", 0).now_or_never().unwrap();
    assert!(bound.is_err());
}
