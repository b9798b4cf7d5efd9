//! `tulip::net` streams under the Rust ecosystem's I/O traits, with the
//! `tokio-io` and `hyper` features: tokio-util codecs (`Framed` with
//! `LinesCodec` and `LengthDelimitedCodec`), tokio's `read_buf` into an
//! uninitialised buffer and a raw `ReadBuf::uninit`, `copy_bidirectional`
//! as a proxy between two tulip connections, tokio's traits on the halves,
//! and a hyper HTTP/1.1 client (`client::conn::http1::handshake`, its
//! connection spawned with `tulip::spawn`) against a small HTTP/1.1 server
//! written on `tulip::net` here, with keep-alive.
//!
//! None of it starts a tokio runtime: tokio is only traits and helper
//! futures here, polled by tulip's loop.

mod net_support;

use std::future::poll_fn;
use std::mem::MaybeUninit;
use std::pin::Pin;

use futures_util::{SinkExt, StreamExt};
use hyper::body::{Body, Incoming};
use net_support::{echo_once, pattern, tcp_pair};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio_util::bytes::{Bytes, BytesMut};
use tokio_util::codec::{Framed, LengthDelimitedCodec, LinesCodec};
use tulip::net::{TcpListener, TcpStream, UnixStream};
use tulip::spawn;
use tulip_test::run;

#[test]
fn framed_lines_round_trip() {
    run(async {
        let (client, served) = tcp_pair().await;
        // The server answers each line with it in capitals, until EOF.
        let server = spawn(async move {
            let mut lines = Framed::new(served, LinesCodec::new());
            let mut count = 0;
            while let Some(line) = lines.next().await {
                lines.send(line.unwrap().to_uppercase()).await.unwrap();
                count += 1;
            }
            count
        });
        let mut lines = Framed::new(client, LinesCodec::new());
        let words = ["tulip", "speaks", "tokio's", "codecs", ""];
        for word in words {
            lines.send(word).await.unwrap();
            let answer = lines.next().await.unwrap().unwrap();
            assert_eq!(answer, word.to_uppercase());
        }
        // Many lines before any answer is read: they queue both ways.
        let many: Vec<String> = (0..2000).map(|i| format!("line {i}")).collect();
        for line in &many {
            lines.feed(line.as_str()).await.unwrap();
        }
        SinkExt::<&str>::flush(&mut lines).await.unwrap();
        for line in &many {
            assert_eq!(lines.next().await.unwrap().unwrap(), line.to_uppercase());
        }
        // Closing the sink shuts the writing side down: the server sees EOF.
        SinkExt::<&str>::close(&mut lines).await.unwrap();
        assert_eq!(server.await.unwrap(), words.len() + many.len());
        assert!(lines.next().await.is_none());
    });
}

#[test]
fn framed_length_delimited_round_trip_with_frames_above_a_socket_buffer() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let codec = || {
            LengthDelimitedCodec::builder()
                .max_frame_length(8 << 20)
                .new_codec()
        };
        let server = spawn(async move {
            let mut frames = Framed::new(b, codec());
            while let Some(frame) = frames.next().await {
                let frame = frame.unwrap();
                // Echo each frame reversed.
                let mut back = frame.to_vec();
                back.reverse();
                frames.send(Bytes::from(back)).await.unwrap();
            }
        });
        let mut frames = Framed::new(a, codec());
        for (i, len) in [0, 1, 1000, 100_000, 3 << 20].into_iter().enumerate() {
            let data = pattern(len, i as u8);
            frames.send(Bytes::from(data.clone())).await.unwrap();
            let back: BytesMut = frames.next().await.unwrap().unwrap();
            let mut expected = data;
            expected.reverse();
            assert!(back[..] == expected[..], "frame of {len} bytes changed");
        }
        SinkExt::<Bytes>::close(&mut frames).await.unwrap();
        server.await.unwrap();
    });
}

#[test]
fn tokio_read_buf_fills_uninitialised_memory() {
    run(async {
        let (mut client, served) = tcp_pair().await;
        let data = pattern(200_000, 3);
        let writer = {
            let data = data.clone();
            spawn(async move {
                AsyncWriteExt::write_all(&mut &served, &data).await.unwrap();
                AsyncWriteExt::shutdown(&mut &served).await.unwrap();
            })
        };
        // `read_buf` reads into a BytesMut's spare capacity, which is
        // uninitialised.
        let mut got = BytesMut::with_capacity(4096);
        loop {
            if got.capacity() == got.len() {
                got.reserve(4096);
            }
            let n = client.read_buf(&mut got).await.unwrap();
            if n == 0 {
                break;
            }
        }
        assert!(got[..] == data[..]);
        writer.await.unwrap();

        // tokio's poll_read with a ReadBuf over MaybeUninit bytes: only the
        // bytes received are reported filled (and initialised).
        let (a, b) = tcp_pair().await;
        b.write_all(b"uninit").await.unwrap();
        let mut storage = [MaybeUninit::<u8>::uninit(); 64];
        let mut buf = ReadBuf::uninit(&mut storage);
        let mut a = a;
        poll_fn(|cx| Pin::new(&mut a).poll_read(cx, &mut buf))
            .await
            .unwrap();
        assert_eq!(buf.filled(), b"uninit");
        assert_eq!(buf.initialized().len(), 6);
        // A full ReadBuf reads nothing and is not EOF.
        let mut empty: [MaybeUninit<u8>; 0] = [];
        let mut full = ReadBuf::uninit(&mut empty);
        poll_fn(|cx| Pin::new(&mut a).poll_read(cx, &mut full))
            .await
            .unwrap();
        assert!(full.filled().is_empty());
    });
}

#[test]
fn copy_bidirectional_proxies_between_two_tulip_connections() {
    run(async {
        // client <-> proxy <-> echo server, all tulip sockets.
        let upstream = TcpListener::bind("127.0.0.1", 0).await.unwrap();
        let upstream_port = upstream.local_addr().unwrap().port();
        let echo = echo_once(upstream);
        let front = TcpListener::bind("127.0.0.1", 0).await.unwrap();
        let front_port = front.local_addr().unwrap().port();
        let proxy = spawn(async move {
            let (mut inbound, _) = front.accept().await?;
            let mut outbound = TcpStream::connect("127.0.0.1", upstream_port)
                .await
                .map_err(std::io::Error::from)?;
            tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await
        });
        let client = TcpStream::connect("127.0.0.1", front_port).await.unwrap();
        let data = pattern(1 << 20, 5);
        let (sent, got) = futures_util::future::join(
            async {
                AsyncWriteExt::write_all(&mut &client, &data).await?;
                AsyncWriteExt::shutdown(&mut &client).await
            },
            async {
                let mut got = Vec::new();
                AsyncReadExt::read_to_end(&mut &client, &mut got)
                    .await
                    .map(|_| got)
            },
        )
        .await;
        sent.unwrap();
        assert!(got.unwrap() == data);
        let (up, down) = proxy.await.unwrap().unwrap();
        assert_eq!((up, down), (data.len() as u64, data.len() as u64));
        assert_eq!(echo.await.unwrap().unwrap(), data.len());
    });
}

#[test]
fn tokio_traits_on_the_halves_and_vectored_writes() {
    run(async {
        let (a, b) = tcp_pair().await;
        let (mut a_read, mut a_write) = a.into_split();
        assert!(tokio::io::AsyncWrite::is_write_vectored(&a_write));
        let bufs = [
            std::io::IoSlice::new(b"one "),
            std::io::IoSlice::new(b"two"),
        ];
        let n = a_write.write_vectored(&bufs).await.unwrap();
        assert!(n > 0 && n <= 7);
        a_write.write_all(&b"one two"[n..]).await.unwrap();
        a_write.shutdown().await.unwrap();
        let mut got = String::new();
        AsyncReadExt::read_to_string(&mut &b, &mut got)
            .await
            .unwrap();
        assert_eq!(got, "one two");
        AsyncWriteExt::write_all(&mut &b, b"back").await.unwrap();
        let mut buf = [0; 4];
        AsyncReadExt::read_exact(&mut a_read, &mut buf)
            .await
            .unwrap();
        assert_eq!(&buf, b"back");
        // The halves go back together after their tokio use.
        let a = a_read.reunite(a_write).unwrap();
        let mut rest = Vec::new();
        AsyncWriteExt::shutdown(&mut &b).await.unwrap();
        AsyncReadExt::read_to_end(&mut &a, &mut rest).await.unwrap();
        assert!(rest.is_empty());
    });
}

/// One HTTP/1.1 request as the tiny server reads it.
struct Request {
    head: String,
    body: Vec<u8>,
}

/// Reads one request from `stream` (headers to the blank line, then a
/// `Content-Length` body), keeping what follows it in `pending`: `None` at
/// a clean EOF between requests.
async fn read_request(stream: &TcpStream, pending: &mut Vec<u8>) -> Option<Request> {
    let mut buf = [0; 4096];
    let end = loop {
        if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            assert!(pending.is_empty(), "EOF inside a request head");
            return None;
        }
        pending.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(pending.drain(..end).collect()).unwrap();
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    while pending.len() < length {
        let n = stream.read(&mut buf).await.unwrap();
        assert_ne!(n, 0, "EOF inside a request body");
        pending.extend_from_slice(&buf[..n]);
    }
    let body = pending.drain(..length).collect();
    Some(Request { head, body })
}

/// A tiny HTTP/1.1 server on `tulip::net`: one connection, keep-alive,
/// each response's body is the request line and the request's body.
async fn tiny_http_server(listener: TcpListener) -> usize {
    let (stream, _) = listener.accept().await.unwrap();
    let mut pending = Vec::new();
    let mut served = 0;
    while let Some(request) = read_request(&stream, &mut pending).await {
        let request_line = request.head.lines().next().unwrap().to_owned();
        let mut body = request_line.into_bytes();
        body.extend_from_slice(b"\n");
        body.extend_from_slice(&request.body);
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body).await.unwrap();
        served += 1;
    }
    served
}

/// The whole body of a hyper response, frame by frame.
async fn body_bytes(mut body: Incoming) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame.unwrap().into_data() {
            out.extend_from_slice(&data);
        }
    }
    out
}

#[test]
fn hyper_http1_client_over_a_tulip_stream() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = spawn(tiny_http_server(listener));

        let stream = TcpStream::connect("127.0.0.1", port).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(stream).await.unwrap();
        // hyper's connection future drives the socket: a task of the loop.
        let driver = spawn(connection);

        let big =
            String::from_utf8(pattern(300_000, 0).iter().map(|b| b'a' + b % 26).collect()).unwrap();
        let requests = [
            ("POST", "/echo", String::from("hello from hyper")),
            ("GET", "/second", String::new()),
            ("PUT", "/big", big),
        ];
        for (method, path, body) in requests {
            poll_fn(|cx| sender.poll_ready(cx)).await.unwrap();
            let request = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header("host", format!("127.0.0.1:{port}"))
                .body(body.clone())
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["content-type"], "text/plain");
            let got = body_bytes(response.into_body()).await;
            let expected = format!("{method} {path} HTTP/1.1\n{body}");
            assert!(got == expected.as_bytes(), "{method} {path}: wrong body");
        }
        // Dropping the sender ends the connection: the server sees EOF
        // after three requests on one connection (keep-alive).
        drop(sender);
        driver.await.unwrap().unwrap();
        assert_eq!(server.await.unwrap(), 3);
    });
}
