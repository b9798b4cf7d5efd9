//! start_server and open_connection over loopback, as in the asyncio
//! documentation's examples: the TCP echo client and server, getting HTTP
//! headers, registering an open socket to wait for data, a chat server
//! broadcasting lines to every client; 1,000 concurrent clients echoing
//! intact; failing handlers; Unix sockets.

mod common;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::Duration;

use common::pattern;
use tulip_executor::{ExceptionContext, get_running_loop, sleep, spawn};
use tulip_streams::{
    ConnectOptions, Error, Server, ServerOptions, StreamOptions, StreamReader, StreamWriter,
    UnixConnectOptions, UnixServerOptions, open_connection, open_unix_connection, start_server,
    start_unix_server,
};
use tulip_test::{run, wait_until};

/// The first IPv4 address the server listens on.
fn addr_of(server: &Server) -> SocketAddr {
    server
        .sockets()
        .iter()
        .filter_map(|s| s.inet_addr())
        .find(SocketAddr::is_ipv4)
        .expect("an IPv4 listening socket")
}

/// asyncio's "TCP echo server using streams": one message, echoed.
async fn handle_echo(mut reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    let data = reader.read(100).await?;
    writer.write(&data)?;
    writer.drain().await?;
    writer.close();
    writer.wait_closed().await
}

#[test]
fn tcp_echo_client_and_server() {
    run(async {
        let server = start_server(handle_echo, "127.0.0.1", 0, ServerOptions::new())
            .await
            .unwrap();
        let port = addr_of(&server).port();
        // asyncio's "TCP echo client using streams".
        let (mut reader, writer) = open_connection("127.0.0.1", port, ConnectOptions::new())
            .await
            .unwrap();
        writer.write(b"Hello World!").unwrap();
        writer.drain().await.unwrap();
        let data = reader.read(100).await.unwrap();
        assert_eq!(data, b"Hello World!");
        assert_eq!(reader.read(100).await.unwrap(), b"", "the server closed");
        writer.close();
        writer.wait_closed().await.unwrap();
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn get_http_headers() {
    run(async {
        // A local HTTP server answering every request with a few headers.
        let server = start_server(
            |mut reader: StreamReader, writer: StreamWriter| async move {
                while let Ok(line) = reader.readline().await {
                    if line == b"\r\n" || line.is_empty() {
                        break;
                    }
                }
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
                )?;
                writer.drain().await?;
                writer.close();
                Ok::<(), Error>(())
            },
            "127.0.0.1",
            0,
            ServerOptions::new(),
        )
        .await
        .unwrap();
        let port = addr_of(&server).port();
        // asyncio's "Get HTTP headers" example.
        let (mut reader, writer) = open_connection("127.0.0.1", port, ConnectOptions::new())
            .await
            .unwrap();
        let query = "HEAD / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        writer.write(query.as_bytes()).unwrap();
        let mut headers = Vec::new();
        loop {
            let line = reader.readline().await.unwrap();
            if line.is_empty() || line == b"\r\n" {
                break;
            }
            let line = String::from_utf8(line).unwrap();
            headers.push(line.trim_end().to_string());
        }
        assert_eq!(
            headers,
            [
                "HTTP/1.1 200 OK",
                "Content-Type: text/plain",
                "Content-Length: 2"
            ]
        );
        writer.close();
        writer.wait_closed().await.unwrap();
        server.close();
    });
}

#[test]
fn register_an_open_socket_to_wait_for_data() {
    run(async {
        // asyncio's example with socket.socketpair(): one end through
        // open_connection(sock=...), data sent on the other from a
        // callback.
        let (rsock, wsock) = std::os::unix::net::UnixStream::pair().unwrap();
        let (mut reader, writer) =
            open_connection("", 0, ConnectOptions::new().sock(OwnedFd::from(rsock)))
                .await
                .unwrap();
        let lp = get_running_loop().unwrap();
        lp.call_soon(move || {
            use std::io::Write;
            let mut wsock = wsock;
            wsock.write_all(b"abc").unwrap();
        })
        .unwrap();
        let data = reader.read(100).await.unwrap();
        assert_eq!(data, b"abc");
        writer.close();
        writer.wait_closed().await.unwrap();
    });
}

#[test]
fn chat_server_broadcasts_lines_to_every_client() {
    run(async {
        let clients: Rc<RefCell<Vec<StreamWriter>>> = Rc::default();
        let registry = clients.clone();
        let server = start_server(
            move |reader: StreamReader, writer: StreamWriter| {
                let registry = registry.clone();
                async move {
                    registry.borrow_mut().push(writer.clone());
                    let mut reader = reader;
                    loop {
                        let line = reader.readline().await?;
                        if line.is_empty() {
                            break;
                        }
                        let writers: Vec<StreamWriter> = registry.borrow().clone();
                        for w in &writers {
                            w.write(&line)?;
                        }
                        for w in &writers {
                            // A departed client must not stop the others.
                            let _ = w.drain().await;
                        }
                    }
                    registry
                        .borrow_mut()
                        .retain(|w| !w.transport().ptr_eq(writer.transport()));
                    Ok::<(), Error>(())
                }
            },
            "127.0.0.1",
            0,
            ServerOptions::new(),
        )
        .await
        .unwrap();
        let port = addr_of(&server).port();
        let mut conns = Vec::new();
        for _ in 0..5 {
            conns.push(
                open_connection("127.0.0.1", port, ConnectOptions::new())
                    .await
                    .unwrap(),
            );
        }
        assert!(wait_until(|| clients.borrow().len() == 5).await);
        for (i, (_, w)) in conns.iter().enumerate() {
            w.write(format!("hello from {i}\n").as_bytes()).unwrap();
            sleep(Duration::from_millis(5)).await;
        }
        for (reader, _) in conns.iter_mut() {
            let mut got = Vec::new();
            for _ in 0..5 {
                got.push(String::from_utf8(reader.readline().await.unwrap()).unwrap());
            }
            got.sort();
            let want: Vec<String> = (0..5).map(|i| format!("hello from {i}\n")).collect();
            assert_eq!(got, want);
        }
        // A client leaves: the others go on chatting.
        let (_, leaving) = conns.pop().unwrap();
        leaving.close();
        leaving.wait_closed().await.unwrap();
        drop(leaving);
        assert!(wait_until(|| clients.borrow().len() == 4).await);
        conns[0].1.write(b"still here\n").unwrap();
        for (reader, _) in conns.iter_mut() {
            assert_eq!(reader.readline().await.unwrap(), b"still here\n");
        }
        server.close();
        server.close_clients();
        server.wait_closed().await;
    });
}

#[test]
fn a_thousand_concurrent_clients_echo_intact() {
    run(async {
        // An echo server that echoes until EOF.
        let server = start_server(
            |mut reader: StreamReader, writer: StreamWriter| async move {
                loop {
                    let data = reader.read(64 * 1024).await?;
                    if data.is_empty() {
                        break;
                    }
                    writer.write(&data)?;
                    writer.drain().await?;
                }
                writer.close();
                Ok::<(), Error>(())
            },
            "127.0.0.1",
            0,
            ServerOptions::new().backlog(2048),
        )
        .await
        .unwrap();
        let port = addr_of(&server).port();
        let mut tasks = Vec::new();
        for i in 0..1000usize {
            tasks.push(spawn(async move {
                let (mut reader, writer) =
                    open_connection("127.0.0.1", port, ConnectOptions::new()).await?;
                let msg = pattern(1024 + i, i as u8);
                writer.write(&msg)?;
                writer.write_eof()?;
                let back = reader.read_to_eof().await?;
                writer.close();
                Ok::<bool, Error>(back == msg)
            }));
        }
        let mut ok = 0;
        for t in tasks {
            if t.await.unwrap().unwrap() {
                ok += 1;
            }
        }
        assert_eq!(ok, 1000);
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn a_failing_handler_is_reported_and_its_connection_closed() {
    run(async {
        let reports: Rc<RefCell<Vec<String>>> = Rc::default();
        let seen = reports.clone();
        let lp = get_running_loop().unwrap();
        lp.set_exception_handler(move |_lp, ctx: &ExceptionContext| {
            seen.borrow_mut()
                .push(format!("{} {:?}", ctx.message, ctx.extra));
        });
        let server = start_server(
            |_reader: StreamReader, writer: StreamWriter| async move {
                // Keep a writer clone alive: the failure must still close.
                std::mem::forget(writer.clone());
                Err::<(), _>("handler failed")
            },
            "127.0.0.1",
            0,
            ServerOptions::new(),
        )
        .await
        .unwrap();
        let port = addr_of(&server).port();
        let (mut reader, _writer) = open_connection("127.0.0.1", port, ConnectOptions::new())
            .await
            .unwrap();
        assert_eq!(reader.read(10).await.unwrap(), b"", "closed by the server");
        assert!(wait_until(|| !reports.borrow().is_empty()).await);
        let report = reports.borrow()[0].clone();
        assert!(
            report.contains("Unhandled exception in client_connected_cb"),
            "{report}"
        );
        assert!(report.contains("handler failed"), "{report}");
        server.close();
    });
}

#[test]
fn limits_are_passed_and_checked() {
    run(async {
        let limits: Rc<RefCell<Vec<usize>>> = Rc::default();
        let seen = limits.clone();
        let server = start_server(
            move |reader: StreamReader, _writer: StreamWriter| {
                seen.borrow_mut().push(reader.limit());
                async {}
            },
            "127.0.0.1",
            0,
            StreamOptions::new(ServerOptions::new()).limit(100),
        )
        .await
        .unwrap();
        let port = addr_of(&server).port();
        let (reader, _w) = open_connection(
            "127.0.0.1",
            port,
            StreamOptions::new(ConnectOptions::new()).limit(10),
        )
        .await
        .unwrap();
        assert_eq!(reader.limit(), 10);
        assert!(wait_until(|| limits.borrow().len() == 1).await);
        assert_eq!(limits.borrow()[0], 100);
        let zero = open_connection(
            "127.0.0.1",
            port,
            StreamOptions::<ConnectOptions>::default().limit(0),
        )
        .await;
        assert!(matches!(zero, Err(Error::InvalidInput(_))));
        let zero = start_server(
            |_r: StreamReader, _w: StreamWriter| async {},
            "127.0.0.1",
            0,
            StreamOptions::new(ServerOptions::new()).limit(0),
        )
        .await;
        assert!(matches!(zero, Err(Error::InvalidInput(_))));
        server.close();
    });
}

#[test]
fn connection_refused_is_an_io_error() {
    run(async {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = open_connection("127.0.0.1", port, ConnectOptions::new())
            .await
            .unwrap_err();
        assert_eq!(
            err.io_kind(),
            Some(std::io::ErrorKind::ConnectionRefused),
            "{err:?}"
        );
    });
}

#[test]
fn an_async_closure_as_client_connected() {
    run(async {
        let greeting = String::from("hi ");
        let server = start_server(
            async move |mut reader: StreamReader, writer: StreamWriter| {
                let name = reader.readline().await?;
                writer.write(greeting.as_bytes())?;
                writer.write(&name)?;
                writer.drain().await
            },
            "127.0.0.1",
            0,
            ServerOptions::new(),
        )
        .await
        .unwrap();
        let port = addr_of(&server).port();
        let (mut reader, writer) = open_connection("127.0.0.1", port, ConnectOptions::new())
            .await
            .unwrap();
        writer.write(b"tulip\n").unwrap();
        assert_eq!(reader.read_to_eof().await.unwrap(), b"hi tulip\n");
        server.close();
    });
}

#[test]
fn unix_echo_client_and_server() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("echo.sock");
        let server = start_unix_server(handle_echo, Some(&path), UnixServerOptions::new())
            .await
            .unwrap();
        let (mut reader, writer) = open_unix_connection(Some(&path), UnixConnectOptions::new())
            .await
            .unwrap();
        writer.write(b"over unix").unwrap();
        assert_eq!(reader.read(100).await.unwrap(), b"over unix");
        assert_eq!(reader.read(100).await.unwrap(), b"");
        writer.close();
        writer.wait_closed().await.unwrap();
        server.close();
        server.wait_closed().await;
    });
}
