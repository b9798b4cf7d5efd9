//! TCP servers: the protocol state machine over accepted connections,
//! hosts (one, several, every interface), port in use, a panicking
//! protocol factory, close / wait_closed / close_clients / abort_clients,
//! serve_forever, start_serving, an already bound socket.

mod common;
mod server_support;

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::Duration;

use server_support::{Counts, Echo};
use tulip_executor::{ExceptionContext, Loop, sleep, spawn, to_thread, wait_for};
use tulip_test::{run_with_loop, wait_until};
use tulip_transport::{AddressFamily, Error, Hosts, LoopNetExt, Server, ServerOptions};

/// Connects, sends `msg`, half-closes and reads everything back (on a
/// worker thread).
async fn echo_client(addr: SocketAddr, msg: &[u8]) -> io::Result<Vec<u8>> {
    let msg = msg.to_vec();
    to_thread(move || {
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        s.write_all(&msg)?;
        s.shutdown(Shutdown::Write)?;
        let mut back = Vec::new();
        s.read_to_end(&mut back)?;
        Ok(back)
    })
    .await
    .unwrap()
}

/// Connects and waits for the server to end the connection: the bytes
/// read before EOF, or the error (a reset).
async fn read_until_closed(stream: TcpStream) -> io::Result<Vec<u8>> {
    to_thread(move || {
        let mut s = stream;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut back = Vec::new();
        s.read_to_end(&mut back)?;
        Ok(back)
    })
    .await
    .unwrap()
}

async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    to_thread(move || TcpStream::connect(addr)).await.unwrap()
}

fn addr_of(server: &Server, i: usize) -> SocketAddr {
    server.sockets()[i].inet_addr().unwrap()
}

fn has_ipv6() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

async fn echo_server(lp: &Loop, stats: &Counts, hosts: impl Into<Hosts>) -> Server {
    lp.create_server(stats.factory(), hosts, 0, ServerOptions::new())
        .await
        .unwrap()
}

#[test]
fn state_machine_over_a_server() {
    const N: usize = 20;
    run_with_loop(|lp| async move {
        let stats = Counts::default();
        let server = echo_server(&lp, &stats, "127.0.0.1").await;
        assert!(server.is_serving());
        assert_eq!(server.sockets().len(), 1);
        let addr = addr_of(&server, 0);
        assert!(addr.ip().is_loopback());
        let clients: Vec<_> = (0..N)
            .map(|i| spawn(async move { echo_client(addr, format!("ping {i}").as_bytes()).await }))
            .collect();
        for (i, c) in clients.into_iter().enumerate() {
            let back = c.await.unwrap().unwrap();
            assert_eq!(back, format!("ping {i}").as_bytes());
        }
        assert!(wait_until(|| stats.lost() == N).await);
        server.close();
        server.wait_closed().await;
        assert_eq!(stats.made(), N);
        assert_eq!(stats.lost(), N);
        assert_eq!(stats.violations(), 0);
        assert!(!server.is_serving());
        assert!(server.sockets().is_empty());
        // Closed: new connections are refused.
        assert!(connect(addr).await.is_err());
    });
}

#[test]
fn several_hosts_one_socket_each() {
    run_with_loop(|lp| async move {
        let stats = Counts::default();
        let mut hosts = vec!["127.0.0.1", "127.0.0.1"];
        if has_ipv6() {
            hosts.push("::1");
        }
        let server = echo_server(&lp, &stats, hosts.clone()).await;
        // Duplicates collapse: one socket per distinct address.
        let sockets = server.sockets();
        assert_eq!(sockets.len(), hosts.len() - 1);
        for s in &sockets {
            let addr = s.inet_addr().unwrap();
            assert!(addr.ip().is_loopback());
            assert!(s.fd() >= 0);
            assert_eq!(echo_client(addr, b"hi").await.unwrap(), b"hi");
        }
        server.close();
        server.wait_closed().await;
        assert_eq!(stats.made(), sockets.len());
    });
}

#[test]
fn host_names_are_resolved() {
    run_with_loop(|lp| async move {
        let stats = Counts::default();
        let server = echo_server(&lp, &stats, "localhost").await;
        let sockets = server.sockets();
        assert!(!sockets.is_empty());
        for s in &sockets {
            let addr = s.inet_addr().unwrap();
            assert!(addr.ip().is_loopback());
            assert_eq!(echo_client(addr, b"name").await.unwrap(), b"name");
        }
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn every_interface_gets_ipv4_and_ipv6_sockets() {
    run_with_loop(|lp| async move {
        let stats = Counts::default();
        // A port free on both families: both sockets can share it only
        // because the IPv6 one is IPV6_V6ONLY.
        let port = TcpListener::bind("0.0.0.0:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = lp
            .create_server(stats.factory(), None, port, ServerOptions::new())
            .await
            .unwrap();
        let addrs: Vec<SocketAddr> = server
            .sockets()
            .iter()
            .map(|s| s.inet_addr().unwrap())
            .collect();
        assert!(
            addrs
                .iter()
                .all(|a| a.port() == port && a.ip().is_unspecified())
        );
        assert!(addrs.iter().any(SocketAddr::is_ipv4));
        let v4: SocketAddr = ([127, 0, 0, 1], port).into();
        assert_eq!(echo_client(v4, b"v4").await.unwrap(), b"v4");
        if has_ipv6() {
            assert_eq!(addrs.len(), 2);
            assert!(addrs.iter().any(SocketAddr::is_ipv6));
            let v6: SocketAddr = "[::1]:0"
                .parse::<SocketAddr>()
                .map(|mut a| {
                    a.set_port(port);
                    a
                })
                .unwrap();
            assert_eq!(echo_client(v6, b"v6").await.unwrap(), b"v6");
        }
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn port_in_use_is_addr_in_use() {
    run_with_loop(|lp| async move {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = lp
            .create_server(
                Counts::default().factory(),
                "127.0.0.1",
                port,
                ServerOptions::new(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.io_kind(), Some(io::ErrorKind::AddrInUse), "{err}");
    });
}

#[test]
fn bad_arguments_are_typed_errors() {
    run_with_loop(|lp| async move {
        let sock = OwnedFd::from(TcpListener::bind("127.0.0.1:0").unwrap());
        let err = lp
            .create_server(
                Counts::default().factory(),
                "127.0.0.1",
                0,
                ServerOptions::new().sock(sock),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        let err = lp
            .create_server(
                Counts::default().factory(),
                Vec::<String>::new(),
                0,
                ServerOptions::new(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        let udp = OwnedFd::from(std::net::UdpSocket::bind("127.0.0.1:0").unwrap());
        let err = lp
            .create_server(
                Counts::default().factory(),
                None,
                0,
                ServerOptions::new().sock(udp),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    });
}

#[test]
fn serves_on_an_already_bound_socket() {
    run_with_loop(|lp| async move {
        let stats = Counts::default();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = lp
            .create_server(
                stats.factory(),
                None,
                0,
                ServerOptions::new().sock(listener.into()).backlog(8),
            )
            .await
            .unwrap();
        assert_eq!(addr_of(&server, 0), addr);
        assert_eq!(echo_client(addr, b"sock").await.unwrap(), b"sock");
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn a_panicking_factory_closes_that_socket_and_the_server_goes_on() {
    run_with_loop(|lp| async move {
        let reports = Rc::new(RefCell::new(Vec::new()));
        let r = reports.clone();
        lp.set_exception_handler(move |_: &Loop, ctx: &ExceptionContext| {
            r.borrow_mut().push(ctx.message.clone());
        });
        let stats = Counts::default();
        let s = stats.clone();
        let calls = Rc::new(Cell::new(0));
        let c = calls.clone();
        let server = lp
            .create_server(
                move || {
                    c.set(c.get() + 1);
                    if c.get() == 1 {
                        panic!("factory failure (expected by the test)");
                    }
                    Echo::new(&s)
                },
                "127.0.0.1",
                0,
                ServerOptions::new(),
            )
            .await
            .unwrap();
        let addr = addr_of(&server, 0);
        let first = connect(addr).await.unwrap();
        // The server closes the connection it could not make a protocol for.
        let got = read_until_closed(first).await;
        assert!(got.map(|b| b.is_empty()).unwrap_or(true));
        assert_eq!(echo_client(addr, b"second").await.unwrap(), b"second");
        assert!(server.is_serving());
        assert_eq!(calls.get(), 2);
        assert_eq!(reports.borrow().len(), 1);
        assert!(reports.borrow()[0].contains("transport creation"));
        server.close();
        server.wait_closed().await;
        assert_eq!(stats.made(), 1);
        assert_eq!(stats.lost(), 1);
    });
}

#[test]
fn wait_closed_waits_for_connections_and_close_clients_ends_them() {
    run_with_loop(|lp| async move {
        let stats = Counts::default();
        let server = echo_server(&lp, &stats, "127.0.0.1").await;
        let addr = addr_of(&server, 0);
        let a = connect(addr).await.unwrap();
        let b = connect(addr).await.unwrap();
        assert!(wait_until(|| stats.made() == 2).await);
        // wait_closed before close waits for the close too.
        let early = spawn({
            let server = server.clone();
            async move { server.wait_closed().await }
        });
        server.close();
        assert!(!server.is_serving());
        // Closed, but two connections are live: still waiting.
        let waited = wait_for(server.wait_closed(), Duration::from_millis(200)).await;
        assert!(waited.unwrap_err().is_timeout());
        assert!(!early.done());
        // The live connections still work.
        let reader_a = spawn(read_until_closed(a));
        let reader_b = spawn(read_until_closed(b));
        server.close_clients();
        server.wait_closed().await;
        early.await.unwrap();
        assert_eq!(reader_a.await.unwrap().unwrap(), b"");
        assert_eq!(reader_b.await.unwrap().unwrap(), b"");
        assert_eq!(stats.lost(), 2);
        assert_eq!(stats.violations(), 0);
        // Once done, wait_closed returns at once.
        server.wait_closed().await;
    });
}

#[test]
fn abort_clients_ends_connections() {
    run_with_loop(|lp| async move {
        let stats = Counts::default();
        let server = echo_server(&lp, &stats, "127.0.0.1").await;
        let addr = addr_of(&server, 0);
        let a = connect(addr).await.unwrap();
        assert!(wait_until(|| stats.made() == 1).await);
        let reader = spawn(read_until_closed(a));
        server.abort_clients();
        assert!(wait_until(|| stats.lost() == 1).await);
        // Aborted: EOF or a reset, but the connection is over.
        let _ = reader.await.unwrap();
        // The server itself still serves.
        assert!(server.is_serving());
        assert_eq!(echo_client(addr, b"after").await.unwrap(), b"after");
        server.close();
        server.wait_closed().await;
        assert_eq!(stats.violations(), 0);
    });
}

#[test]
fn serve_forever_cancelled_closes_the_server() {
    run_with_loop(|lp| async move {
        let stats = Counts::default();
        let server = lp
            .create_server(
                stats.factory(),
                "127.0.0.1",
                0,
                ServerOptions::new().start_serving(false),
            )
            .await
            .unwrap();
        assert!(!server.is_serving());
        let addr = addr_of(&server, 0);
        let task = spawn({
            let server = server.clone();
            async move { server.serve_forever().await }
        });
        assert!(wait_until(|| server.is_serving()).await);
        // A second serve_forever is refused.
        assert!(server.serve_forever().await.is_err());
        assert_eq!(echo_client(addr, b"forever").await.unwrap(), b"forever");
        task.cancel();
        assert!(task.await.unwrap_err().is_cancelled());
        assert!(!server.is_serving());
        assert!(server.sockets().is_empty());
        assert!(connect(addr).await.is_err());
        server.wait_closed().await;
        // serve_forever on a closed server is an error.
        assert!(matches!(server.serve_forever().await, Err(Error::Closed)));
    });
}

#[test]
fn serve_forever_returns_after_close() {
    run_with_loop(|lp| async move {
        let stats = Counts::default();
        let server = echo_server(&lp, &stats, "127.0.0.1").await;
        let addr = addr_of(&server, 0);
        let conn = connect(addr).await.unwrap();
        assert!(wait_until(|| stats.made() == 1).await);
        let task = spawn({
            let server = server.clone();
            async move { server.serve_forever().await }
        });
        sleep(Duration::from_millis(20)).await;
        server.close();
        // serve_forever waits for the live connection as wait_closed.
        sleep(Duration::from_millis(100)).await;
        assert!(!task.done());
        drop(conn);
        task.await.unwrap().unwrap();
        assert_eq!(stats.lost(), 1);
    });
}

#[test]
fn start_serving_later() {
    run_with_loop(|lp| async move {
        let stats = Counts::default();
        let server = lp
            .create_server(
                stats.factory(),
                "127.0.0.1",
                0,
                ServerOptions::new().start_serving(false),
            )
            .await
            .unwrap();
        assert!(!server.is_serving());
        let addr = addr_of(&server, 0);
        // Not listening yet: refused, as in asyncio.
        let refused = connect(addr).await.unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
        server.start_serving().await.unwrap();
        assert!(server.is_serving());
        // Idempotent.
        server.start_serving().await.unwrap();
        assert_eq!(echo_client(addr, b"late").await.unwrap(), b"late");
        assert!(server.get_loop().is_running());
        server.close();
        assert!(matches!(server.start_serving().await, Err(Error::Closed)));
        server.wait_closed().await;
    });
}

#[test]
fn a_dropped_serving_server_keeps_serving_until_closed() {
    run_with_loop(|lp| async move {
        let stats = Counts::default();
        let server = echo_server(&lp, &stats, "127.0.0.1").await;
        let addr = addr_of(&server, 0);
        let debug = format!("{server:?}");
        assert!(debug.contains("serving: true"), "{debug}");
        drop(server);
        // As asyncio: the loop keeps a serving server alive.
        assert_eq!(echo_client(addr, b"alive").await.unwrap(), b"alive");
    });
}

#[test]
fn reuse_port_lets_two_servers_share_a_port() {
    run_with_loop(|lp| async move {
        let stats = Counts::default();
        let first = lp
            .create_server(
                stats.factory(),
                "127.0.0.1",
                0,
                ServerOptions::new().reuse_port(true).keep_alive(true),
            )
            .await
            .unwrap();
        let port = addr_of(&first, 0).port();
        let second = lp
            .create_server(
                stats.factory(),
                "127.0.0.1",
                port,
                ServerOptions::new().reuse_port(true),
            )
            .await
            .unwrap();
        assert_eq!(addr_of(&second, 0).port(), port);
        let addr = addr_of(&first, 0);
        assert_eq!(echo_client(addr, b"shared").await.unwrap(), b"shared");
        // Without reuse_port the port is taken.
        let err = lp
            .create_server(stats.factory(), "127.0.0.1", port, ServerOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.io_kind(), Some(io::ErrorKind::AddrInUse), "{err}");
        first.close();
        second.close();
        first.wait_closed().await;
        second.wait_closed().await;
    });
}

#[test]
fn family_limits_the_addresses() {
    run_with_loop(|lp| async move {
        let stats = Counts::default();
        let v4 = lp
            .create_server(
                stats.factory(),
                None,
                0,
                ServerOptions::new().family(AddressFamily::Inet),
            )
            .await
            .unwrap();
        let addrs: Vec<SocketAddr> = v4
            .sockets()
            .iter()
            .map(|s| s.inet_addr().unwrap())
            .collect();
        assert_eq!(addrs.len(), 1);
        assert!(addrs[0].is_ipv4());
        v4.close();
        if has_ipv6() {
            let v6 = lp
                .create_server(
                    stats.factory(),
                    Hosts::All,
                    0,
                    ServerOptions::new().family(AddressFamily::Inet6),
                )
                .await
                .unwrap();
            let addrs: Vec<SocketAddr> = v6
                .sockets()
                .iter()
                .map(|s| s.inet_addr().unwrap())
                .collect();
            assert_eq!(addrs.len(), 1);
            assert!(addrs[0].is_ipv6());
            v6.close();
        }
        // A numeric host of another family goes to getaddrinfo, which
        // refuses it (EAI_ADDRFAMILY or EAI_NONAME).
        let refused = lp
            .create_server(
                stats.factory(),
                "127.0.0.1",
                0,
                ServerOptions::new().family(AddressFamily::Inet6),
            )
            .await;
        assert!(refused.is_err());
    });
}
