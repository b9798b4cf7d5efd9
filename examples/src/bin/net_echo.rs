//! A tour of `tulip::net`, the poll-based sockets (not in asyncio's
//! documentation: the Rust face of the loop): an echo server and its
//! clients.
//!
//! ```text
//! net_echo                    # both: a server on a free port, three clients at once
//! net_echo server             # serve 127.0.0.1:8888 until Ctrl-C
//! net_echo client [MESSAGE]   # send MESSAGE to 127.0.0.1:8888, print the echo
//! ```
//!
//! - The server binds a [`TcpListener`] and accepts in a loop, running
//!   each client in a task of its own ([`tulip::spawn`]). A client's
//!   [`TcpStream`] is [`split`](TcpStream::split) into borrowed halves and
//!   echoed with [`tulip::io::copy`]: the halves are `futures-io` readers
//!   and writers, so any code written against those traits runs on tulip
//!   sockets. After the client's EOF the server shuts down its writing
//!   side ([`close`](TcpStream::close)), and the client reads EOF in turn.
//! - A client connects a [`TcpStream`] and splits it into owned halves
//!   ([`into_split`](TcpStream::into_split)): the writing half moves into
//!   a task that sends the message and then shuts down its side, while the
//!   reading half reads the echo at the same time. Writing and reading at
//!   once is what a big message needs: written first and read after, it
//!   would fill the socket buffers both ways and wait forever.
//!
//! Run alone, the program starts the server on a free port and runs three
//! clients against it at once (`gather`), one of them with 1 MiB:
//!
//! ```text
//! Serving on 127.0.0.1:40123
//! 127.0.0.1:50001: connected
//! ...
//! 127.0.0.1:50003: echoed 1048576 bytes
//! Client 1 received "Hello, tulip::net!"
//! Client 2 received "a second client"
//! Client 3 received 1048576 bytes, all echoed
//! ```
//!
//! The server's port is 8888 unless `TULIP_EXAMPLE_PORT` names another
//! (`0`: any free port, printed in the first line).

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use tulip::io::{AsyncReadExt, AsyncWriteExt};
use tulip::net::{TcpListener, TcpStream};

/// The port of the server, and the one the client connects to.
const DEFAULT_PORT: u16 = 8888;

/// How long the server waits before accepting again after a failed
/// accept (out of descriptors, say), so that connections can close.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The client's message when none is given.
const DEFAULT_MESSAGE: &str = "Hello, tulip::net!";

/// Accepts clients forever, each in a task of its own.
async fn serve(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                println!("{peer}: connected");
                // A detached task: it runs to its end by itself.
                tulip::spawn(async move {
                    match echo(&stream).await {
                        Ok(n) => println!("{peer}: echoed {n} bytes"),
                        Err(e) => println!("{peer}: {e}"),
                    }
                })
                .detach();
            }
            Err(e) => {
                eprintln!("accept failed: {e}");
                tulip::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Echoes everything until the client's EOF, then shuts down the writing
/// side: the count of bytes echoed.
async fn echo(stream: &TcpStream) -> std::io::Result<u64> {
    let (mut reader, mut writer) = stream.split();
    let n = tulip::io::copy(&mut reader, &mut writer).await?;
    stream.close().await?;
    Ok(n)
}

/// One client: sends `message` while reading the echo, and returns what
/// came back once the server has closed its side.
async fn client(addr: SocketAddr, message: Vec<u8>) -> Result<Vec<u8>, Box<dyn Error>> {
    let stream = TcpStream::connect(&addr.ip().to_string(), addr.port()).await?;
    let (mut reader, mut writer) = stream.into_split();
    let sending = tulip::spawn(async move {
        writer.write_all(&message).await?;
        // EOF for the server: it echoes what is left and closes.
        writer.close().await
    });
    let mut echoed = Vec::new();
    reader.read_to_end(&mut echoed).await?;
    sending.await??;
    Ok(echoed)
}

/// Prints what a client got back: the text, or the size of a big echo.
fn report(name: &str, sent: &[u8], echoed: &[u8]) -> Result<(), Box<dyn Error>> {
    if echoed != sent {
        return Err(format!(
            "{name}: sent {} bytes, {} came back",
            sent.len(),
            echoed.len()
        )
        .into());
    }
    if sent.len() <= 100 {
        println!("{name} received {:?}", String::from_utf8_lossy(echoed));
    } else {
        println!("{name} received {} bytes, all echoed", echoed.len());
    }
    Ok(())
}

/// Binds the server's listener and prints its address.
async fn listen(port: u16) -> Result<TcpListener, Box<dyn Error>> {
    let listener = TcpListener::bind("127.0.0.1", port).await?;
    println!("Serving on {}", listener.local_addr()?);
    Ok(listener)
}

/// What the command line asks for.
enum Mode {
    /// A server on a free port and three clients against it.
    Both,
    /// The server alone, until Ctrl-C.
    Server,
    /// One client, with this message (or the default one).
    Client(Option<String>),
}

const USAGE: &str = "usage: net_echo [server | client [MESSAGE]]";

fn parse_args(args: &[String]) -> Result<Mode, String> {
    match args {
        [] => Ok(Mode::Both),
        [mode] if mode == "server" => Ok(Mode::Server),
        [mode] if mode == "client" => Ok(Mode::Client(None)),
        [mode, message] if mode == "client" => Ok(Mode::Client(Some(message.clone()))),
        _ => Err(format!("unexpected arguments {args:?}\n{USAGE}")),
    }
}

async fn main_task(mode: Mode) -> Result<(), Box<dyn Error>> {
    match mode {
        Mode::Server => {
            serve(listen(port()?).await?).await;
            Ok(())
        }
        Mode::Client(message) => {
            let message = message.unwrap_or_else(|| DEFAULT_MESSAGE.to_string());
            let addr = SocketAddr::from(([127, 0, 0, 1], port()?));
            let echoed = client(addr, message.clone().into_bytes()).await?;
            report("Client", message.as_bytes(), &echoed)
        }
        Mode::Both => {
            let listener = listen(0).await?;
            let addr = listener.local_addr()?;
            let server = tulip::spawn(serve(listener));
            let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
            let messages = [
                DEFAULT_MESSAGE.as_bytes().to_vec(),
                b"a second client".to_vec(),
                big,
            ];
            let (one, two, three) = tulip::gather((
                client(addr, messages[0].clone()),
                client(addr, messages[1].clone()),
                client(addr, messages[2].clone()),
            ))
            .await?;
            server.cancel();
            report("Client 1", &messages[0], &one?)?;
            report("Client 2", &messages[1], &two?)?;
            report("Client 3", &messages[2], &three?)
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match parse_args(&args) {
        Ok(mode) => mode,
        Err(usage) => {
            eprintln!("net_echo: {usage}");
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
            eprintln!("net_echo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The port: 8888, or the one `TULIP_EXAMPLE_PORT` names (the tests use
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
