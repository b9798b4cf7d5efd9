//! A WebSocket echo server and client on `tulip::net` sockets, with
//! [`async-tungstenite`](async_tungstenite) (not in asyncio's
//! documentation: the Rust ecosystem on tulip).
//!
//! ```text
//! websocket_echo                # both: a server on a free port, the client against it
//! websocket_echo server         # serve ws://127.0.0.1:8765/ until Ctrl-C
//! websocket_echo client [URL]   # talk to URL (default ws://127.0.0.1:8765/) and close
//! ```
//!
//! The server accepts connections on a [`TcpListener`] and runs a task per
//! client ([`tulip::spawn`]): the opening handshake (bounded by
//! [`HANDSHAKE_TIMEOUT`]; only the path `/` is served, another one is
//! answered `404 Not Found` and a request that is not a WebSocket
//! handshake `400 Bad Request`), then every text and binary message is
//! sent back as it came. The client connects a [`TcpStream`], sends a text
//! message, a binary one and a ping, checks each answer, and closes with
//! the closing handshake. Run alone, the program does both on one loop:
//!
//! ```text
//! Serving on ws://127.0.0.1:41237/
//! 127.0.0.1:50432: connected to /
//! Connected to ws://127.0.0.1:41237/ (101 Switching Protocols)
//! > text "Hello, WebSocket!"
//! 127.0.0.1:50432: text "Hello, WebSocket!"
//! < text "Hello, WebSocket!"
//! > binary 6 bytes [00 01 7f 80 fe ff]
//! 127.0.0.1:50432: binary 6 bytes [00 01 7f 80 fe ff]
//! < binary 6 bytes [00 01 7f 80 fe ff]
//! > ping "tulip"
//! 127.0.0.1:50432: ping "tulip"
//! < pong "tulip"
//! > close 1000 "done"
//! 127.0.0.1:50432: close 1000 "done"
//! 127.0.0.1:50432: disconnected
//! < close 1000 "done"
//! Closed cleanly
//! ```
//!
//! The server's port is 8765 unless `TULIP_EXAMPLE_PORT` names another
//! (`0`: any free port, printed in the first line).
//!
//! # Which WebSocket crate, and why
//!
//! `async-tungstenite` without any of its runtime features (no tokio,
//! async-std or smol is built): it speaks WebSocket (RFC 6455) over any
//! `futures_io::AsyncRead + AsyncWrite` stream, which is what
//! `tulip::net::TcpStream` (and `&TcpStream`) implements with no feature
//! of tulip turned on. `tokio-tungstenite` over tulip's `tokio-io` feature
//! works as well, for code already written against tokio's I/O traits;
//! both wrap the same `tungstenite` protocol code.
//!
//! The crate does the protocol's chores as RFC 6455 asks, and this program
//! leaves them to it: a ping is answered with a pong by the crate (the
//! ping is still shown to the reader, as here); a close frame from the
//! peer is answered with the same frame, after which the stream of
//! messages ends ([`None`]) and the server drops the connection; the
//! client's own [`close`](async_tungstenite::WebSocketStream::close) sends
//! its close frame, and it reads on until the server's answer, so that
//! the closing handshake completes. A frame over [`MAX_MESSAGE`] (a
//! limit set here; the crate's default is 64 MiB), a protocol error (an
//! unmasked frame from a client, say) or text that is not UTF-8 fails the
//! connection: the server sends the close code RFC 6455 names for it
//! (1009, 1002, 1007) and drops the connection.
//!
//! # WebSockets and hyper on tulip
//!
//! hyper's own upgrade path (`hyper::upgrade::on`, the connection's
//! `with_upgrades`, and so axum's `WebSocketUpgrade` extractor) needs the
//! connection's I/O to be `Send`: hyper boxes the upgraded connection as
//! a `dyn Io + Send`. tulip's sockets are `!Send` (they belong to their
//! loop's thread), so an HTTP server served by hyper on tulip cannot hand
//! a request over to WebSocket. Do the opening handshake on the socket
//! itself instead, as this program does: a listener (or a port) of its
//! own for WebSocket clients, with `accept_hdr_async` to look at the
//! request's path and headers and to refuse it with an HTTP error.

use std::error::Error;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::http::StatusCode;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use async_tungstenite::tungstenite::{self, Message};
use tulip::net::{TcpListener, TcpStream};
use tulip::prelude::*;

/// The longest a client may take to send its opening handshake (the
/// server) or to answer it (the client).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest the client waits for the end of the closing handshake.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest message and frame this program takes: a bigger one fails
/// the connection with the close code 1009 ("message too big").
const MAX_MESSAGE: usize = 1 << 20;

/// The port of the server, and of the client's default URL.
const DEFAULT_PORT: u16 = 8765;

/// How long the server waits before accepting again after a failed
/// accept (out of descriptors, say), so that connections can close.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The limits both sides set.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// Accepts WebSocket clients on `listener` forever, each in a task of its
/// own.
async fn serve(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                // A detached task: it runs to its end by itself.
                tulip::spawn(echo_client(stream, peer)).detach();
            }
            Err(e) => {
                eprintln!("accept failed: {e}");
                tulip::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// One client: the opening handshake, then every data message echoed
/// until the closing handshake (or an error) ends the connection.
async fn echo_client(stream: TcpStream, peer: SocketAddr) {
    if let Err(e) = stream.set_nodelay(true) {
        println!("{peer}: {e}");
        return;
    }
    // The request's path, seen by the handshake's callback.
    let mut path = String::new();
    let check_path = |request: &Request, response: Response| {
        let requested = request.uri().path();
        path = requested.to_string();
        if requested == "/" {
            Ok(response)
        } else {
            let mut refusal = ErrorResponse::new(Some(format!("no WebSocket at {requested}\n")));
            *refusal.status_mut() = StatusCode::NOT_FOUND;
            Err(refusal)
        }
    };
    // `&TcpStream` is a stream of its own: the handshake borrows the
    // socket, which stays here to answer a request that is not one.
    let handshake =
        async_tungstenite::accept_hdr_async_with_config(&stream, check_path, Some(config()));
    let handshaken = wait_for(handshake, HANDSHAKE_TIMEOUT).await;
    let mut ws = match handshaken {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => return refuse(&stream, peer, &path, e).await,
        Err(_) => {
            println!("{peer}: no handshake within {HANDSHAKE_TIMEOUT:?}");
            return;
        }
    };
    println!("{peer}: connected to {path}");
    while let Some(received) = ws.next().await {
        let message = match received {
            Ok(message) => message,
            Err(e) => {
                fail(&mut ws, peer, e).await;
                break;
            }
        };
        println!("{peer}: {}", describe(&message));
        let echoed = match message {
            Message::Text(_) | Message::Binary(_) => ws.send(message).await,
            // The crate has queued the pong (for a ping) or the answering
            // close frame (for a close), and sends it on the next read;
            // after a close the next read ends the stream.
            _ => Ok(()),
        };
        if let Err(e) = echoed {
            println!("{peer}: sending failed: {e}");
            break;
        }
    }
    println!("{peer}: disconnected");
}

/// Answers a failed opening handshake: the crate has sent its answer to a
/// refusal of the callback (`404` here) itself; any other request that is
/// not a WebSocket handshake gets `400 Bad Request` naming what is wrong.
async fn refuse(stream: &TcpStream, peer: SocketAddr, path: &str, error: tungstenite::Error) {
    match error {
        tungstenite::Error::Http(response) => {
            println!("{peer}: refused {path} ({})", response.status());
        }
        tungstenite::Error::Io(e) => println!("{peer}: handshake failed: {e}"),
        other => {
            println!("{peer}: not a WebSocket handshake: {other}");
            let body = format!("not a WebSocket handshake: {other}\n");
            let answer = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            // The client may be gone already: nothing more to do then.
            if stream.write_all(answer.as_bytes()).await.is_ok() {
                let _ = stream.close().await;
            }
        }
    }
}

/// Fails the connection after a reading error: the close code RFC 6455
/// names for it is sent (when there is one and the peer is still there),
/// then the connection is dropped.
async fn fail(ws: &mut WebSocketStream<&TcpStream>, peer: SocketAddr, error: tungstenite::Error) {
    let code = match &error {
        tungstenite::Error::Capacity(_) => Some(CloseCode::Size),
        tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        ) => None,
        tungstenite::Error::Protocol(_) => Some(CloseCode::Protocol),
        tungstenite::Error::Utf8(_) => Some(CloseCode::Invalid),
        _ => None,
    };
    println!("{peer}: {error}");
    if let Some(code) = code {
        // A close frame's reason holds at most 123 bytes.
        let mut reason = error.to_string();
        while reason.len() > 123 {
            reason.pop();
        }
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        if let Err(e) = ws.close(Some(frame)).await {
            println!("{peer}: sending the close frame failed: {e}");
        }
    }
}

/// A message as the program prints it.
fn describe(message: &Message) -> String {
    match message {
        Message::Text(text) => format!("text {:?}", text.as_str()),
        Message::Binary(bytes) => {
            let mut hex = String::new();
            for (i, b) in bytes.iter().take(16).enumerate() {
                let sep = if i == 0 { "" } else { " " };
                let _ = write!(hex, "{sep}{b:02x}");
            }
            let more = if bytes.len() > 16 { " ..." } else { "" };
            format!("binary {} bytes [{hex}{more}]", bytes.len())
        }
        Message::Ping(data) => format!("ping {:?}", String::from_utf8_lossy(data)),
        Message::Pong(data) => format!("pong {:?}", String::from_utf8_lossy(data)),
        Message::Close(Some(frame)) => {
            format!(
                "close {} {:?}",
                u16::from(frame.code),
                frame.reason.as_str()
            )
        }
        Message::Close(None) => String::from("close (no code)"),
        Message::Frame(frame) => format!("raw frame {:?}", frame.header().opcode),
    }
}

/// The client: connects to `url`, sends a text message, a binary one and
/// a ping, checks that each comes back, then closes cleanly.
async fn client(url: &str) -> Result<(), Box<dyn Error>> {
    let request = url
        .into_client_request()
        .map_err(|e| format!("{url}: not a WebSocket URL: {e}"))?;
    let uri = request.uri();
    match uri.scheme_str() {
        Some("ws") => {}
        Some("wss") => {
            return Err(format!("{url}: wss:// (TLS) is not part of this example").into());
        }
        _ => return Err(format!("{url}: not a ws:// URL").into()),
    }
    let host = uri.host().ok_or_else(|| format!("{url}: no host"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(80);
    let tcp = TcpStream::connect(&host, port).await?;
    tcp.set_nodelay(true)?;
    let handshake = async_tungstenite::client_async_with_config(request, tcp, Some(config()));
    let (mut ws, response) = wait_for(handshake, HANDSHAKE_TIMEOUT)
        .await
        .map_err(|_| format!("{url}: no answer to the handshake within {HANDSHAKE_TIMEOUT:?}"))??;
    println!("Connected to {url} ({})", response.status());

    let exchanges = [
        (Message::text("Hello, WebSocket!"), None),
        (
            Message::binary(vec![0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff]),
            None,
        ),
        (
            Message::Ping("tulip".into()),
            Some(Message::Pong("tulip".into())),
        ),
    ];
    for (sent, want) in exchanges {
        let want = want.unwrap_or_else(|| sent.clone());
        println!("> {}", describe(&sent));
        ws.send(sent).await?;
        let got = ws
            .next()
            .await
            .ok_or("the server closed the connection")??;
        println!("< {}", describe(&got));
        if got != want {
            return Err(format!("expected {}, got {}", describe(&want), describe(&got)).into());
        }
    }

    // The closing handshake: our close frame, the server's answer, then
    // the end of the stream once the server has closed the TCP connection
    // (RFC 6455 7.1.1: the server closes it first), all within
    // CLOSE_TIMEOUT.
    let close = CloseFrame {
        code: CloseCode::Normal,
        reason: "done".into(),
    };
    println!("> {}", describe(&Message::Close(Some(close.clone()))));
    ws.close(Some(close.clone())).await?;
    let closing = async {
        let mut answered = false;
        while let Some(received) = ws.next().await {
            let message = received?;
            println!("< {}", describe(&message));
            answered |= message == Message::Close(Some(close.clone()));
        }
        Ok::<bool, tungstenite::Error>(answered)
    };
    match wait_for(closing, CLOSE_TIMEOUT).await {
        Ok(Ok(true)) => {
            println!("Closed cleanly");
            Ok(())
        }
        Ok(Ok(false)) => Err("the server did not answer the close frame".into()),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => {
            Err(format!("the server did not end the connection within {CLOSE_TIMEOUT:?}").into())
        }
    }
}

/// What the command line asks for.
enum Mode {
    /// A server on a free port and the client against it, in one program.
    Both,
    /// The server alone, until Ctrl-C.
    Server,
    /// The client alone, against this URL (or the default one).
    Client(Option<String>),
}

const USAGE: &str = "usage: websocket_echo [server | client [ws://HOST:PORT/]]";

fn parse_args(args: &[String]) -> Result<Mode, String> {
    match args {
        [] => Ok(Mode::Both),
        [mode] if mode == "server" => Ok(Mode::Server),
        [mode] if mode == "client" => Ok(Mode::Client(None)),
        [mode, url] if mode == "client" => Ok(Mode::Client(Some(url.clone()))),
        _ => Err(format!("unexpected arguments {args:?}\n{USAGE}")),
    }
}

/// Binds the server's listener and prints its URL.
async fn listen(port: u16) -> Result<TcpListener, Box<dyn Error>> {
    let listener = TcpListener::bind("127.0.0.1", port).await?;
    println!("Serving on ws://{}/", listener.local_addr()?);
    Ok(listener)
}

async fn main_task(mode: Mode) -> Result<(), Box<dyn Error>> {
    match mode {
        Mode::Server => {
            serve(listen(port()?).await?).await;
            Ok(())
        }
        Mode::Client(url) => {
            let url = url.unwrap_or(format!("ws://127.0.0.1:{}/", port()?));
            client(&url).await
        }
        Mode::Both => {
            let listener = listen(0).await?;
            let url = format!("ws://{}/", listener.local_addr()?);
            let server = tulip::spawn(serve(listener));
            // The server's task for the connection has ended by the time
            // the client reads the answer to its close frame: it sends
            // that answer and sees the end of the connection in one go.
            let outcome = client(&url).await;
            server.cancel();
            outcome
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match parse_args(&args) {
        Ok(mode) => mode,
        Err(usage) => {
            eprintln!("websocket_echo: {usage}");
            return ExitCode::from(2);
        }
    };
    let outcome = match tulip::run(main_task(mode)) {
        // Ctrl-C stops the server: a normal end for it.
        Err(tulip::Error::Interrupted) => Ok(()),
        Err(e) => Err(e.into()),
        Ok(outcome) => outcome,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("websocket_echo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The port: 8765, or the one `TULIP_EXAMPLE_PORT` names (the tests use
/// `0`, a free port).
fn port() -> std::io::Result<u16> {
    match std::env::var("TULIP_EXAMPLE_PORT") {
        Ok(p) if !p.is_empty() => p.parse().map_err(|_| {
            let why = format!("TULIP_EXAMPLE_PORT={p:?} is not a port number");
            std::io::Error::new(std::io::ErrorKind::InvalidInput, why)
        }),
        _ => Ok(DEFAULT_PORT),
    }
}
