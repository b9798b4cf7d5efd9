//! An HTTP "Hello, World!" server on every core, with the streams API: a
//! [`LoopGroup`] runs one event loop per CPU and each loop runs
//! [`start_server`] with the same handler, which reads each request head
//! with `readuntil(b"\r\n\r\n")` and answers `200 OK` with the body
//! `Hello, World!`, keeping the connection open (HTTP/1.1 keep-alive)
//! until the client closes it or sends `Connection: close`.
//!
//! The loops share 127.0.0.1:8888 as in `echo_per_core`: `--balance
//! reuse-port` (the default; a listener per loop, `SO_REUSEPORT`) or
//! `--balance acceptor` (one [`BalancedAcceptor`] handing each connection
//! to the loop with the fewest live ones). `--loops N` sets the number of
//! loops (default: one per CPU). Ctrl-C stops the group and the program
//! prints how many connections each loop served.
//!
//! ```text
//! $ cargo run -p tulip-examples --bin http_per_core
//! http_per_core: 2 loops, reuse-port, http://127.0.0.1:8888/
//! loop 0 listening
//! loop 1 listening
//! $ curl http://127.0.0.1:8888/
//! Hello, World!
//! ```
//!
//! The port is 8888 unless `TULIP_EXAMPLE_PORT` names another. Request
//! bodies are not supported: a request with `Content-Length` or
//! `Transfer-Encoding` is answered `400` and the connection closed.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tulip::streams::{
    Error as StreamError, ServerOptions, StreamReader, StreamWriter, start_server,
};
use tulip::transport::{BalancedAcceptor, Server};
use tulip::{GroupStop, LoopGroup};

/// The answer to a request that keeps the connection open.
const HELLO: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";
/// The answer to a request that asked to close.
const HELLO_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nHello, World!";
/// The answer to a request this server does not take.
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// What a request head asks.
enum Head {
    /// Answer, and keep the connection (`close`: then close it).
    Get { close: bool },
    /// Not a request this server answers.
    Bad,
}

/// Reads the request line and headers of `head` (ending in a blank line).
fn parse_head(head: &[u8]) -> Head {
    let Ok(text) = std::str::from_utf8(head) else {
        return Head::Bad;
    };
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let version = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(target), Some(version), None)
            if !method.is_empty() && target.starts_with('/') =>
        {
            version
        }
        _ => return Head::Bad,
    };
    let mut close = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Head::Bad,
    };
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Head::Bad;
        };
        let value = value.trim().to_ascii_lowercase();
        if name.eq_ignore_ascii_case("content-length") && value != "0"
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            return Head::Bad; // a body: not supported here
        }
        if name.eq_ignore_ascii_case("connection") {
            close = value.split(',').any(|o| o.trim() == "close")
                || (close && !value.split(',').any(|o| o.trim() == "keep-alive"));
        }
    }
    Head::Get { close }
}

/// Serves one connection: a response per request until the client closes
/// or asks to.
async fn hello(mut reader: StreamReader, writer: StreamWriter) -> Result<(), StreamError> {
    loop {
        let head = match reader.readuntil(b"\r\n\r\n").await {
            Ok(head) => head,
            // The client closed between requests: done.
            Err(StreamError::IncompleteRead(e)) if e.partial.is_empty() => break,
            Err(e) => return Err(e),
        };
        match parse_head(&head) {
            Head::Get { close: false } => writer.write(HELLO)?,
            Head::Get { close: true } => {
                writer.write(HELLO_CLOSE)?;
                break;
            }
            Head::Bad => {
                writer.write(BAD_REQUEST)?;
                break;
            }
        }
        writer.drain().await?;
    }
    writer.close();
    writer.wait_closed().await
}

/// How the loops share the port.
#[derive(Clone)]
enum Listening {
    ReusePort(u16),
    Acceptor(BalancedAcceptor),
}

/// One loop's life: its server until the group stops; if the server
/// cannot be made (the port is taken), the whole group stops.
async fn serve(
    index: usize,
    listening: Listening,
    served: Arc<[AtomicU64]>,
    stop: GroupStop,
) -> Result<(), StreamError> {
    let made = match listening {
        Listening::ReusePort(port) => {
            let options = ServerOptions::new().reuse_port(true);
            start_server(hello, "127.0.0.1", port, options).await
        }
        Listening::Acceptor(acceptor) => {
            start_server(hello, "", 0, ServerOptions::new().acceptor(acceptor)).await
        }
    };
    let server = made.inspect_err(|_| stop.stop())?;
    let _count = CountOnClose {
        server: server.clone(),
        served,
        index,
    };
    println!("loop {index} listening");
    Ok(server.serve_forever().await?)
}

/// When its loop's main task ends (Ctrl-C cancels it), records how many
/// connections the server accepted and closes it and its connections.
struct CountOnClose {
    server: Server,
    served: Arc<[AtomicU64]>,
    index: usize,
}

impl Drop for CountOnClose {
    fn drop(&mut self) {
        self.served[self.index].store(self.server.accepted_total(), Ordering::SeqCst);
        self.server.close();
        self.server.abort_clients();
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let (balance, loops) = parse_args()?;
    let mut builder = LoopGroup::builder().thread_name("http-loop");
    if let Some(loops) = loops {
        builder = builder.loops(loops);
    }
    let group = builder.build()?;
    let port = port()?;
    let listening = if balance == "acceptor" {
        let bound = tulip::run(async move {
            BalancedAcceptor::bind("127.0.0.1", port, &ServerOptions::new()).await
        })??;
        Listening::Acceptor(bound)
    } else {
        Listening::ReusePort(port)
    };
    println!(
        "http_per_core: {} loops, {balance}, http://127.0.0.1:{port}/",
        group.len()
    );
    let served: Arc<[AtomicU64]> = (0..group.len()).map(|_| AtomicU64::new(0)).collect();
    let counts = served.clone();
    let stop = group.stopper();
    let results = group
        .run(move |_lp, index| serve(index, listening.clone(), counts.clone(), stop.clone()))?;
    for (index, count) in served.iter().enumerate() {
        println!(
            "loop {index} served {} connections",
            count.load(Ordering::SeqCst)
        );
    }
    let total: u64 = served.iter().map(|c| c.load(Ordering::SeqCst)).sum();
    println!("{total} connections served");
    for result in results {
        match result {
            Ok(Ok(())) | Err(tulip::Error::Interrupted | tulip::Error::Cancelled) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `--balance reuse-port|acceptor` and `--loops N`.
fn parse_args() -> Result<(String, Option<usize>), String> {
    let mut balance = "reuse-port".to_string();
    let mut loops = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--balance" if value == "reuse-port" || value == "acceptor" => balance = value,
            "--loops" => match value.parse::<usize>() {
                Ok(n) if n > 0 => loops = Some(n),
                _ => return Err(format!("--loops {value:?}: want a count above 0")),
            },
            _ => {
                return Err(format!(
                    "{arg} {value}: usage: http_per_core [--balance reuse-port|acceptor] [--loops N]"
                ));
            }
        }
    }
    Ok((balance, loops))
}

/// The port: 8888, or the one `TULIP_EXAMPLE_PORT` names (the tests use
/// free ports).
fn port() -> std::io::Result<u16> {
    match std::env::var("TULIP_EXAMPLE_PORT") {
        Ok(p) if !p.is_empty() => p.parse().map_err(|_| {
            let why = format!("TULIP_EXAMPLE_PORT={p:?} is not a port number");
            std::io::Error::new(std::io::ErrorKind::InvalidInput, why)
        }),
        _ => Ok(8888),
    }
}
