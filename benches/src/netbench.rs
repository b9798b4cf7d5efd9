//! The contract of the network bench servers, shared by every server binary
//! of this package and by `cargo xtask bench net`:
//!
//! - `--addr HOST:PORT` (default [`DEFAULT_ADDR`]), parsed by
//!   [`server_addr`];
//! - the first line on stdout, flushed, is `listening on HOST:PORT` with
//!   the real port ([`announce`]);
//! - echo servers echo every byte, stop reading while a write is pending
//!   (flow control), and shut down their write side once the client's EOF
//!   arrives and everything is echoed ([`echo::echo`]);
//! - HTTP servers answer every well-formed request `200 OK` with the body
//!   `Hello, World!` and a malformed one `400` followed by a close, parsing
//!   requests with the same function ([`http::respond_all`]);
//! - servers run until SIGINT or SIGTERM. The tulip servers shut down
//!   cleanly through `Loop::add_signal_handler` (stop accepting, end the
//!   connections, exit 0); the peers keep the default action (the process
//!   ends).
//!
//! Servers set `TCP_NODELAY` on every accepted connection, as asyncio's
//! transports do.

use std::future::Future;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

/// The address a server binds when `--addr` is not given: loopback, any
/// free port.
pub const DEFAULT_ADDR: &str = "127.0.0.1:0";

/// Parses the server arguments (`--addr HOST:PORT`, `--help`) of the
/// program named `program`; prints the usage and exits on `--help` (status
/// 0) or on a bad argument (status 2).
pub fn server_addr(program: &str) -> SocketAddr {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_server_args(&args) {
        Ok(Some(addr)) => addr,
        Ok(None) => {
            println!("usage: {program} [--addr HOST:PORT]   (default {DEFAULT_ADDR})");
            std::process::exit(0);
        }
        Err(message) => {
            eprintln!("{program}: {message}\nusage: {program} [--addr HOST:PORT]");
            std::process::exit(2);
        }
    }
}

/// The address in `args` (`--addr A` or `--addr=A`), [`DEFAULT_ADDR`] if
/// none; `Ok(None)` for `--help`.
pub fn parse_server_args(args: &[String]) -> Result<Option<SocketAddr>, String> {
    let mut addr = DEFAULT_ADDR.to_string();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--addr" => addr = args.next().ok_or("--addr needs HOST:PORT")?.clone(),
            other => match other.strip_prefix("--addr=") {
                Some(value) => addr = value.to_string(),
                None => return Err(format!("unknown argument: {other}")),
            },
        }
    }
    addr.parse()
        .map(Some)
        .map_err(|e| format!("bad --addr {addr:?}: {e}"))
}

/// Prints `listening on HOST:PORT` as the first line on stdout and flushes
/// it: the line `cargo xtask bench` waits for.
pub fn announce(addr: SocketAddr) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "listening on {addr}")?;
    out.flush()
}

/// The whole life of a tulip bench server named `program` with the
/// Protocol API: parses `--addr`, creates the server with `factory` on
/// `tulip::run`, announces the address, then serves forever.
pub fn serve_tulip<F>(program: &'static str, factory: F) -> Result<(), Box<dyn std::error::Error>>
where
    F: tulip::transport::ProtocolFactory,
{
    use tulip::transport::LoopNetExt;
    run_tulip_server(program, async move |host: String, port: u16| {
        let lp = tulip::get_running_loop()?;
        let options = tulip::transport::ServerOptions::new();
        Ok(lp
            .create_server(factory, host.as_str(), port, options)
            .await?)
    })
}

/// The whole life of a tulip bench server named `program` with the
/// streams API: as [`serve_tulip`], with `start_server` running
/// `client_connected` as a task per connection.
pub fn serve_tulip_streams<H, R>(
    program: &'static str,
    client_connected: H,
) -> Result<(), Box<dyn std::error::Error>>
where
    H: AsyncFn(tulip::streams::StreamReader, tulip::streams::StreamWriter) -> R + 'static,
    R: tulip::streams::ClientResult,
{
    run_tulip_server(program, async move |host: String, port: u16| {
        let options = tulip::streams::ServerOptions::new();
        Ok(tulip::streams::start_server(client_connected, host, port, options).await?)
    })
}

/// Parses `--addr`, creates a server with `create` (given the host and
/// port) on `tulip::run`, announces its address, then serves forever.
fn run_tulip_server<C>(program: &'static str, create: C) -> Result<(), Box<dyn std::error::Error>>
where
    C: AsyncFnOnce(String, u16) -> Result<tulip::transport::Server, Box<dyn std::error::Error>>
        + 'static,
{
    run_tulip_server_at(server_addr(program), create)
}

/// As `run_tulip_server`, at `addr` (parsed by the caller: the TLS servers
/// take more arguments).
pub fn run_tulip_server_at<C>(addr: SocketAddr, create: C) -> Result<(), Box<dyn std::error::Error>>
where
    C: AsyncFnOnce(String, u16) -> Result<tulip::transport::Server, Box<dyn std::error::Error>>
        + 'static,
{
    tulip::run(async move {
        let server = create(addr.ip().to_string(), addr.port()).await?;
        let bound = server
            .sockets()
            .first()
            .and_then(|s| s.inet_addr())
            .ok_or("the server has no IP address")?;
        announce(bound)?;
        // A clean shutdown on SIGINT/SIGTERM: stop accepting, end the
        // connections, and let serve_forever return.
        let lp = tulip::get_running_loop()?;
        for signum in [tulip::signal::SIGINT, tulip::signal::SIGTERM] {
            let server = server.clone();
            lp.add_signal_handler(signum, move || {
                server.close();
                server.abort_clients();
            })?;
        }
        server.serve_forever().await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })?
}

/// How long an accept loop waits after a failed accept (out of
/// descriptors, say) before trying again, so that connections can close.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// The whole life of a tokio bench server named `program`: parses
/// `--addr`, binds it on a current-thread runtime, announces the address,
/// then accepts forever, setting `TCP_NODELAY` and spawning `serve` on each
/// connection. Errors of a connection other than the peer going away are
/// printed on stderr.
pub fn serve_tokio<F, Fut>(program: &'static str, serve: F) -> io::Result<()>
where
    F: Fn(tokio::net::TcpStream) -> Fut,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    serve_tokio_at(program, server_addr(program), serve)
}

/// As [`serve_tokio`], at `addr` (parsed by the caller: the TLS servers
/// take more arguments).
pub fn serve_tokio_at<F, Fut>(program: &'static str, addr: SocketAddr, serve: F) -> io::Result<()>
where
    F: Fn(tokio::net::TcpStream) -> Fut,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    serve_tokio_on(&crate::tokio_current_thread(), program, addr, serve)
}

/// As [`serve_tokio_at`], on `runtime` (current-thread or multi-thread).
pub fn serve_tokio_on<F, Fut>(
    runtime: &tokio::runtime::Runtime,
    program: &'static str,
    addr: SocketAddr,
    serve: F,
) -> io::Result<()>
where
    F: Fn(tokio::net::TcpStream) -> Fut,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        announce(listener.local_addr()?)?;
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    eprintln!("{program}: accept: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            stream.set_nodelay(true)?;
            let connection = serve(stream);
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    if !echo::is_disconnect(&e) {
                        eprintln!("{program}: {e}");
                    }
                }
            });
        }
    })
}

/// The whole life of a tokio bench server named `program` on tokio's
/// multi-threaded runtime: parses `--addr` and `--workers N` (default
/// [`DEFAULT_THREADS`]), then serves as [`serve_tokio`] does, the
/// connections' tasks spread over the N worker threads by tokio's
/// scheduler (the accept loop is a task like the others).
pub fn serve_tokio_mt<F, Fut>(program: &'static str, serve: F) -> io::Result<()>
where
    F: Fn(tokio::net::TcpStream) -> Fut,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    let args = per_core_args(program, ThreadsFlag::Workers);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()?;
    serve_tokio_on(&runtime, program, args.addr, serve)
}

/// How many loops (tulip) or workers (tokio) the multi-threaded bench
/// servers run when not told: the two cores of the bench machine.
pub const DEFAULT_THREADS: usize = 2;

/// How a per-core tulip server spreads connections over its loops
/// (`--balance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    /// `reuse-port`: a listener per loop on one port (`SO_REUSEPORT`); the
    /// kernel picks the loop of each connection by a hash of its addresses.
    ReusePort,
    /// `acceptor`: one listener whose connections go to the loop with the
    /// fewest live ones.
    Acceptor,
}

impl Balance {
    /// The name `--balance` takes.
    pub fn name(self) -> &'static str {
        match self {
            Balance::ReusePort => "reuse-port",
            Balance::Acceptor => "acceptor",
        }
    }
}

impl std::str::FromStr for Balance {
    type Err = String;

    fn from_str(text: &str) -> Result<Balance, String> {
        match text {
            "reuse-port" => Ok(Balance::ReusePort),
            "acceptor" => Ok(Balance::Acceptor),
            other => Err(format!(
                "bad --balance {other:?}: want reuse-port or acceptor"
            )),
        }
    }
}

/// The thread-count flag of a multi-threaded bench server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadsFlag {
    /// `--loops N` and `--balance MODE`: a tulip server with a loop per core.
    Loops,
    /// `--workers N`: a tokio multi-threaded peer (no `--balance`).
    Workers,
}

impl ThreadsFlag {
    fn flag(self) -> &'static str {
        match self {
            ThreadsFlag::Loops => "--loops",
            ThreadsFlag::Workers => "--workers",
        }
    }

    fn usage(self) -> &'static str {
        match self {
            ThreadsFlag::Loops => "[--addr HOST:PORT] [--loops N] [--balance reuse-port|acceptor]",
            ThreadsFlag::Workers => "[--addr HOST:PORT] [--workers N]",
        }
    }
}

/// The arguments of a multi-threaded bench server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerCoreArgs {
    /// `--addr` ([`DEFAULT_ADDR`] if absent).
    pub addr: SocketAddr,
    /// `--loops` or `--workers` ([`DEFAULT_THREADS`] if absent).
    pub threads: usize,
    /// `--balance` ([`Balance::ReusePort`] if absent; tulip servers only).
    pub balance: Balance,
}

/// Parses the arguments of the multi-threaded server named `program`;
/// prints the usage and exits on `--help` (status 0) or on a bad argument
/// (status 2).
pub fn per_core_args(program: &str, threads: ThreadsFlag) -> PerCoreArgs {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = threads.usage();
    match parse_per_core_args(&args, threads) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            println!("usage: {program} {usage}   (default {DEFAULT_ADDR}, {DEFAULT_THREADS})");
            std::process::exit(0);
        }
        Err(message) => {
            eprintln!("{program}: {message}\nusage: {program} {usage}");
            std::process::exit(2);
        }
    }
}

/// The arguments in `args` (`--flag V` or `--flag=V`): `--addr` as
/// [`parse_server_args`] reads it, the thread count of `threads`
/// (1 to 1024) and, for [`ThreadsFlag::Loops`], `--balance`. `Ok(None)`
/// for `--help`.
pub fn parse_per_core_args(
    args: &[String],
    threads: ThreadsFlag,
) -> Result<Option<PerCoreArgs>, String> {
    let (mut count, mut balance) = (DEFAULT_THREADS, Balance::ReusePort);
    let mut rest = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        let is_threads = flag == threads.flag();
        let is_balance = flag == "--balance" && threads == ThreadsFlag::Loops;
        if !is_threads && !is_balance {
            rest.push(arg.clone());
            continue;
        }
        let value = match inline {
            Some(value) => value,
            None => args
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .clone(),
        };
        if is_balance {
            balance = value.parse()?;
        } else {
            count = value
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1024).contains(n))
                .ok_or_else(|| format!("bad {flag} {value:?}: want 1 to 1024"))?;
        }
    }
    Ok(parse_server_args(&rest)?.map(|addr| PerCoreArgs {
        addr,
        threads: count,
        balance,
    }))
}

/// The echo loop of the transport-style servers (`echo_tokio`,
/// `echo_smol`), written once over [`NonBlocking`](echo::NonBlocking).
///
/// It works as an asyncio transport with a protocol that writes back what
/// it receives: data is read into one read buffer per thread (so an idle
/// connection holds no buffer), written back at once, and only the part the
/// socket did not take is copied into the connection's own buffer, while
/// reading stays paused until that buffer is written.
pub mod echo {
    use std::cell::RefCell;
    use std::io::{self, ErrorKind, Read, Write};
    use std::net::TcpStream;
    use std::os::fd::AsFd;
    use std::task::{Context, Poll, ready};

    /// The size of the per-thread read buffer (asyncio reads up to 256 KiB
    /// at a time; 64 KiB is plenty for the bench messages).
    pub const READ_SIZE: usize = 64 * 1024;

    thread_local! {
        static READ_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_SIZE].into_boxed_slice());
    }

    /// A non-blocking TCP stream of some runtime: readiness polling plus
    /// read and write calls that fail with `WouldBlock` instead of waiting.
    pub trait NonBlocking: AsFd {
        /// Ready once the stream may be readable.
        fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
        /// Ready once the stream may be writable.
        fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
        /// One non-blocking read.
        fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;
        /// One non-blocking write.
        fn try_write(&self, buf: &[u8]) -> io::Result<usize>;
    }

    impl NonBlocking for tokio::net::TcpStream {
        fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            tokio::net::TcpStream::poll_read_ready(self, cx)
        }
        fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            tokio::net::TcpStream::poll_write_ready(self, cx)
        }
        fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
            tokio::net::TcpStream::try_read(self, buf)
        }
        fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
            tokio::net::TcpStream::try_write(self, buf)
        }
    }

    impl NonBlocking for smol::Async<TcpStream> {
        fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.poll_readable(cx)
        }
        fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.poll_writable(cx)
        }
        fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
            self.get_ref().read(buf)
        }
        fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
            self.get_ref().write(buf)
        }
    }

    /// Echoes everything `stream` receives until the peer's EOF, then shuts
    /// down the write side (the caller drops, so closes, the stream).
    pub async fn echo<S: NonBlocking>(stream: S) -> io::Result<()> {
        let mut pending = Vec::new();
        loop {
            let n =
                std::future::poll_fn(|cx| poll_read_and_echo(&stream, &mut pending, cx)).await?;
            if n == 0 {
                break;
            }
            // Flow control: no read until the socket has taken everything.
            let mut written = 0;
            while written < pending.len() {
                written +=
                    std::future::poll_fn(|cx| poll_write(&stream, &pending[written..], cx)).await?;
            }
            // Give the memory back: an idle connection holds no buffer.
            pending = Vec::new();
        }
        rustix::net::shutdown(&stream, rustix::net::Shutdown::Write)?;
        Ok(())
    }

    /// Reads once into the thread's buffer and writes what came back at
    /// once; what the socket did not take goes to `pending`. Ready with the
    /// number of bytes read (0 at EOF).
    fn poll_read_and_echo<S: NonBlocking>(
        stream: &S,
        pending: &mut Vec<u8>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        loop {
            let result: io::Result<usize> = READ_BUF.with_borrow_mut(|buf| {
                let n = stream.try_read(buf)?;
                let written = write_now(stream, &buf[..n])?;
                pending.extend_from_slice(&buf[written..n]);
                Ok(n)
            });
            match result {
                Err(e) if e.kind() == ErrorKind::WouldBlock => ready!(stream.poll_read_ready(cx))?,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                other => return Poll::Ready(other),
            }
        }
    }

    /// Writes what the socket takes now, without waiting (0 if it would block).
    fn write_now<S: NonBlocking>(stream: &S, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        loop {
            match stream.try_write(data) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(0),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Ready with the number of bytes of `data` (non-empty) written.
    fn poll_write<S: NonBlocking>(
        stream: &S,
        data: &[u8],
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        loop {
            match write_now(stream, data) {
                Ok(0) => ready!(stream.poll_write_ready(cx))?,
                other => return Poll::Ready(other),
            }
        }
    }

    /// Whether an error of a connection is the peer going away (not worth
    /// reporting from a bench server).
    pub fn is_disconnect(error: &io::Error) -> bool {
        matches!(
            error.kind(),
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted
        )
    }
}

/// The HTTP/1.1 side of the `http_hello` servers: a hand-written request
/// parser (a pure function of the bytes received so far) and the fixed
/// responses, so that every HTTP server parses and answers identically.
///
/// What is accepted: a request line `METHOD SP TARGET SP HTTP/1.x CRLF`,
/// header lines `name: value CRLF`, an empty line, and a body of
/// `Content-Length` bytes (which is skipped). HTTP/1.1 requests need a
/// `Host` header. Lines end in CRLF. What is refused as malformed: anything
/// else, including obsolete line folding, whitespace before a header's
/// colon, a `Transfer-Encoding` (no chunked bodies here), conflicting
/// `Content-Length`s, a head longer than [`MAX_HEAD`](http::MAX_HEAD) or a
/// body longer than [`MAX_BODY`](http::MAX_BODY).
///
/// Connections are kept alive by default on HTTP/1.1 and closed by default
/// on HTTP/1.0; `Connection: close` and `Connection: keep-alive` override.
pub mod http {
    /// The longest request head (request line and headers) accepted.
    pub const MAX_HEAD: usize = 8 * 1024;
    /// The longest request body accepted.
    pub const MAX_BODY: usize = 1024 * 1024;

    /// The answer to a request that keeps the connection open.
    pub const OK_KEEP_ALIVE: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";
    /// The answer to an HTTP/1.0 request that asked to keep the connection.
    pub const OK_KEEP_ALIVE_HTTP10: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\n\r\nHello, World!";
    /// The answer to a request after which the connection closes.
    pub const OK_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nHello, World!";
    /// The answer to a malformed request; the connection closes after it.
    pub const BAD_REQUEST: &[u8] =
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

    /// What the bytes received so far hold.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Parse {
        /// A whole request (head and body) at the start of the buffer.
        Complete(Request),
        /// The start of a request that is well-formed so far: read more.
        Partial,
        /// Not a request this server accepts: answer 400 and close.
        Malformed,
    }

    /// A request parsed whole.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Request {
        /// Its length in bytes, head and body.
        pub len: usize,
        /// Whether the connection stays open after the response.
        pub keep_alive: bool,
        /// Whether the request was HTTP/1.0.
        pub http10: bool,
    }

    /// The response to `request`.
    pub fn response(request: &Request) -> &'static [u8] {
        match (request.keep_alive, request.http10) {
            (false, _) => OK_CLOSE,
            (true, false) => OK_KEEP_ALIVE,
            (true, true) => OK_KEEP_ALIVE_HTTP10,
        }
    }

    /// What [`respond_all`] did with a buffer.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Progress {
        /// How many bytes at the start of the buffer were requests answered
        /// (drop them; the rest is the start of the next request).
        pub consumed: usize,
        /// Whether the connection must close once the responses are written.
        pub close: bool,
    }

    /// Answers every whole request at the start of `buf` (pipelined
    /// requests included), appending the responses to `out`. Stops at a
    /// partial request, after a request that closes the connection, or at a
    /// malformed one (whose answer is [`BAD_REQUEST`], and which closes).
    pub fn respond_all(buf: &[u8], out: &mut Vec<u8>) -> Progress {
        let mut consumed = 0;
        loop {
            match parse_request(&buf[consumed..]) {
                Parse::Complete(request) => {
                    out.extend_from_slice(response(&request));
                    consumed += request.len;
                    if !request.keep_alive {
                        return Progress {
                            consumed,
                            close: true,
                        };
                    }
                }
                Parse::Partial => {
                    return Progress {
                        consumed,
                        close: false,
                    };
                }
                Parse::Malformed => {
                    out.extend_from_slice(BAD_REQUEST);
                    return Progress {
                        consumed: buf.len(),
                        close: true,
                    };
                }
            }
        }
    }

    /// Parses the request at the start of `buf`. Every complete line is
    /// checked as soon as it has arrived, so garbage is refused at once
    /// rather than after [`MAX_HEAD`] bytes.
    pub fn parse_request(buf: &[u8]) -> Parse {
        let mut head = Head::default();
        let mut pos = 0;
        let mut first = true;
        loop {
            let rest = &buf[pos..];
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                return partial(buf.len(), rest);
            };
            if nl == 0 || rest[nl - 1] != b'\r' || pos + nl + 1 > MAX_HEAD {
                return Parse::Malformed; // a bare LF, or a head too long
            }
            let line = &rest[..nl - 1];
            pos += nl + 1;
            let ok = if first {
                first = false;
                head.request_line(line)
            } else if line.is_empty() {
                return head.finish(pos, buf.len());
            } else {
                head.header(line)
            };
            if !ok {
                return Parse::Malformed;
            }
        }
    }

    /// Partial if the unfinished line `rest` could still become a valid
    /// line and the head may still grow.
    fn partial(received: usize, rest: &[u8]) -> Parse {
        let plausible = rest
            .iter()
            .enumerate()
            .all(|(i, &b)| is_field_byte(b) || (b == b'\r' && i + 1 == rest.len()));
        if plausible && received < MAX_HEAD {
            Parse::Partial
        } else {
            Parse::Malformed
        }
    }

    /// What the head's lines said so far.
    #[derive(Debug, Default)]
    struct Head {
        http10: bool,
        host: bool,
        close: bool,
        keep_alive: bool,
        content_length: Option<usize>,
    }

    impl Head {
        /// `METHOD SP TARGET SP HTTP/1.x`.
        fn request_line(&mut self, line: &[u8]) -> bool {
            let mut parts = line.split(|&b| b == b' ');
            let (Some(method), Some(target), Some(version), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return false;
            };
            self.http10 = match version {
                b"HTTP/1.1" => false,
                b"HTTP/1.0" => true,
                _ => return false,
            };
            is_token(method) && !target.is_empty() && target.iter().all(|&b| b > b' ' && b < 0x7f)
        }

        /// `name: value`, with optional whitespace around the value.
        fn header(&mut self, line: &[u8]) -> bool {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                return false;
            };
            let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
            if !is_token(name) || !value.iter().all(|&b| is_field_byte(b)) {
                return false;
            }
            if name.eq_ignore_ascii_case(b"host") {
                self.host = true;
            } else if name.eq_ignore_ascii_case(b"connection") {
                for option in value.split(|&b| b == b',').map(trim) {
                    self.close |= option.eq_ignore_ascii_case(b"close");
                    self.keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
                }
            } else if name.eq_ignore_ascii_case(b"content-length") {
                let Some(length) = parse_length(value) else {
                    return false;
                };
                if self.content_length.is_some_and(|known| known != length) {
                    return false;
                }
                self.content_length = Some(length);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                return false;
            }
            true
        }

        /// The head ended after `head_len` bytes; `received` are in.
        fn finish(&self, head_len: usize, received: usize) -> Parse {
            if !self.http10 && !self.host {
                return Parse::Malformed;
            }
            let len = head_len + self.content_length.unwrap_or(0);
            if received < len {
                return Parse::Partial;
            }
            Parse::Complete(Request {
                len,
                keep_alive: if self.http10 {
                    self.keep_alive && !self.close
                } else {
                    !self.close
                },
                http10: self.http10,
            })
        }
    }

    /// A `Content-Length` value: digits only, at most [`MAX_BODY`].
    fn parse_length(value: &[u8]) -> Option<usize> {
        if value.is_empty() || value.len() > 8 || !value.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let length = value
            .iter()
            .fold(0usize, |n, &d| n * 10 + usize::from(d - b'0'));
        (length <= MAX_BODY).then_some(length)
    }

    /// RFC 9110's `token`: the characters of methods and header names.
    fn is_token(s: &[u8]) -> bool {
        !s.is_empty()
            && s.iter()
                .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    }

    /// A byte that may appear in a request line or header line.
    fn is_field_byte(b: u8) -> bool {
        b == b'\t' || (b >= b' ' && b != 0x7f)
    }

    /// `s` without leading and trailing spaces and tabs.
    fn trim(s: &[u8]) -> &[u8] {
        let is_space = |b: &u8| *b == b' ' || *b == b'\t';
        let start = s.iter().position(|b| !is_space(b)).unwrap_or(s.len());
        let end = s
            .iter()
            .rposition(|b| !is_space(b))
            .map_or(start, |i| i + 1);
        &s[start..end]
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn complete(len: usize, keep_alive: bool) -> Parse {
            Parse::Complete(Request {
                len,
                keep_alive,
                http10: false,
            })
        }

        const WRK: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

        #[test]
        fn a_plain_request_keeps_the_connection() {
            assert_eq!(parse_request(WRK), complete(WRK.len(), true));
        }

        #[test]
        fn every_prefix_is_partial() {
            for end in 0..WRK.len() {
                assert_eq!(parse_request(&WRK[..end]), Parse::Partial, "{end}");
            }
        }

        #[test]
        fn connection_close_and_http10() {
            let close = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, close\r\n\r\n";
            assert_eq!(parse_request(close), complete(close.len(), false));
            let old = b"GET / HTTP/1.0\r\n\r\n";
            let Parse::Complete(r) = parse_request(old) else {
                panic!("HTTP/1.0 without Host is fine")
            };
            assert!(r.http10 && !r.keep_alive);
            assert_eq!(response(&r), OK_CLOSE);
            let old_ka = b"GET / HTTP/1.0\r\nconnection:keep-alive\r\n\r\n";
            let Parse::Complete(r) = parse_request(old_ka) else {
                panic!("keep-alive")
            };
            assert!(r.keep_alive);
            assert_eq!(response(&r), OK_KEEP_ALIVE_HTTP10);
        }

        #[test]
        fn bodies_are_part_of_the_request() {
            let post = b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
            assert_eq!(parse_request(post), complete(post.len(), true));
            assert_eq!(parse_request(&post[..post.len() - 1]), Parse::Partial);
        }

        #[test]
        fn malformed_requests() {
            let bad: &[&[u8]] = &[
                b"GARBAGE\r\n",
                b"GET /\r\n",
                b"GET / HTTP/2.0\r\n",
                b"GET  / HTTP/1.1\r\n",
                b"GET / HTTP/1.1\n",
                b"GET / HTTP/1.1\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n",
                b"\x16\x03\x01\x02\x00",
            ];
            for request in bad {
                assert_eq!(
                    parse_request(request),
                    Parse::Malformed,
                    "{:?}",
                    String::from_utf8_lossy(request)
                );
            }
            let mut long = b"GET / HTTP/1.1\r\nHost: x\r\nX: ".to_vec();
            long.resize(MAX_HEAD, b'a');
            assert_eq!(parse_request(&long), Parse::Malformed);
        }

        #[test]
        fn pipelined_requests_are_answered_in_order() {
            let mut buf = [WRK, WRK, &WRK[..10]].concat();
            let mut out = Vec::new();
            let progress = respond_all(&buf, &mut out);
            assert_eq!(
                progress,
                Progress {
                    consumed: 2 * WRK.len(),
                    close: false
                }
            );
            assert_eq!(out, [OK_KEEP_ALIVE, OK_KEEP_ALIVE].concat());
            buf.extend_from_slice(b"\r\nbroken");
            out.clear();
            let progress = respond_all(&buf[2 * WRK.len()..], &mut out);
            assert!(progress.close);
            assert_eq!(out, BAD_REQUEST);
        }
    }
}

/// The whole life of a tulip per-core bench server named `program`:
/// parses `--addr`, `--loops N` and `--balance MODE`
/// ([`per_core_args`]), starts a [`tulip::LoopGroup`] of N loops, and runs
/// on every loop a server of `factory`'s protocol made by `create_server`
/// with [`ServerOptions::reuse_port`](tulip::transport::ServerOptions::reuse_port)
/// (a listener per loop) or
/// [`ServerOptions::acceptor`](tulip::transport::ServerOptions::acceptor)
/// (one shared [`BalancedAcceptor`](tulip::transport::BalancedAcceptor)).
/// Once every loop serves, it announces the address.
///
/// SIGINT (the group's Ctrl-C handling) or SIGTERM (a handler on loop 0)
/// stops the group; each loop then records its server's live connections
/// and accepted total before closing the server and its connections, and
/// the process prints them, in loop order, on one line before exiting 0:
///
/// ```text
/// loads: 500/500 500/500
/// ```
pub fn serve_tulip_per_core<F>(
    program: &'static str,
    factory: F,
) -> Result<(), Box<dyn std::error::Error>>
where
    F: tulip::transport::ProtocolFactory + Clone + Send + Sync,
{
    per_core::serve(per_core_args(program, ThreadsFlag::Loops), program, factory)
}

/// The machinery of [`serve_tulip_per_core`].
mod per_core {
    use std::error::Error;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex, PoisonError, mpsc};
    use std::time::Duration;

    use tulip::transport::{BalancedAcceptor, LoopNetExt, ProtocolFactory, Server, ServerOptions};
    use tulip::{GroupStop, Loop, LoopGroup};

    use super::{Balance, PerCoreArgs, announce};

    /// How long the loops may take to start serving.
    const STARTUP: Duration = Duration::from_secs(10);

    /// Each loop's (live, accepted) when its server closed.
    type Loads = Arc<Mutex<Vec<Option<(usize, u64)>>>>;

    /// How every loop listens.
    #[derive(Clone)]
    enum Listening {
        /// Each loop binds this address with `SO_REUSEPORT`.
        ReusePort(SocketAddr),
        /// Each loop's server is a target of this acceptor.
        Acceptor(BalancedAcceptor),
    }

    pub(super) fn serve<F>(
        args: PerCoreArgs,
        program: &'static str,
        factory: F,
    ) -> Result<(), Box<dyn Error>>
    where
        F: ProtocolFactory + Clone + Send + Sync,
    {
        let (listening, reservation, addr) = listen(&args)?;
        let group = LoopGroup::builder()
            .loops(args.threads)
            .thread_name(program)
            .build()?;
        let loads: Loads = Arc::new(Mutex::new(vec![None; args.threads]));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let stop = group.stopper();
        // The address is announced once every loop serves.
        let threads = args.threads;
        let announcer = std::thread::spawn(move || -> Result<(), String> {
            for _ in 0..threads {
                ready_rx
                    .recv_timeout(STARTUP)
                    .map_err(|e| format!("a loop did not start serving: {e}"))??;
            }
            drop(reservation);
            announce(addr).map_err(|e| format!("stdout: {e}"))
        });
        let main_loads = loads.clone();
        let results = group.run(move |lp, index| {
            let (listening, factory) = (listening.clone(), factory.clone());
            let (ready, loads, stop) = (ready_tx.clone(), main_loads.clone(), stop.clone());
            async move { serve_loop(lp, index, listening, factory, ready, loads, stop).await }
        })?;
        let announced = announcer.join().map_err(|_| "the announcer panicked")?;
        let loads = loads.lock().unwrap_or_else(PoisonError::into_inner);
        let line: Vec<String> = loads
            .iter()
            .map(|l| {
                l.map_or("-/-".into(), |(live, accepted)| {
                    format!("{live}/{accepted}")
                })
            })
            .collect();
        println!("loads: {}", line.join(" "));
        announced?;
        for result in results {
            match result {
                Ok(Ok(())) | Err(tulip::Error::Cancelled | tulip::Error::Interrupted) => {}
                Ok(Err(e)) => return Err(e.into()),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Binds what the loops share: the acceptor, or for reuse-port a
    /// socket bound (not listening, so it never takes a connection) to
    /// reserve the port when `--addr` asks for port 0; it is dropped once
    /// every loop listens on that port.
    fn listen(
        args: &PerCoreArgs,
    ) -> Result<(Listening, Option<rustix::fd::OwnedFd>, SocketAddr), Box<dyn Error>> {
        let (host, port) = (args.addr.ip().to_string(), args.addr.port());
        match args.balance {
            Balance::Acceptor => {
                let acceptor = tulip::run(async move {
                    BalancedAcceptor::bind(&host, port, &ServerOptions::new()).await
                })??;
                let addr = acceptor.local_addr();
                Ok((Listening::Acceptor(acceptor), None, addr))
            }
            Balance::ReusePort if port != 0 => {
                Ok((Listening::ReusePort(args.addr), None, args.addr))
            }
            Balance::ReusePort => {
                use rustix::net::{AddressFamily, SocketType, bind, getsockname, socket, sockopt};
                let family = if args.addr.is_ipv4() {
                    AddressFamily::INET
                } else {
                    AddressFamily::INET6
                };
                let socket = socket(family, SocketType::STREAM, None)?;
                sockopt::set_socket_reuseport(&socket, true)?;
                bind(&socket, &args.addr)?;
                let bound = SocketAddr::try_from(getsockname(&socket)?)
                    .map_err(|_| format!("{}: not an IP address", args.addr))?;
                Ok((Listening::ReusePort(bound), Some(socket), bound))
            }
        }
    }

    /// One loop's life: its server, the SIGTERM handler on loop 0, then
    /// serving until the group stops.
    async fn serve_loop<F: ProtocolFactory>(
        lp: Loop,
        index: usize,
        listening: Listening,
        factory: F,
        ready: mpsc::Sender<Result<(), String>>,
        loads: Loads,
        stop: GroupStop,
    ) -> Result<(), tulip::transport::Error> {
        let made = match listening {
            Listening::ReusePort(addr) => {
                let options = ServerOptions::new().reuse_port(true);
                lp.create_server(
                    factory,
                    addr.ip().to_string().as_str(),
                    addr.port(),
                    options,
                )
                .await
            }
            Listening::Acceptor(acceptor) => {
                let options = ServerOptions::new().acceptor(acceptor);
                lp.create_server(factory, "", 0, options).await
            }
        };
        let server = match made {
            Ok(server) => server,
            Err(e) => {
                let _ = ready.send(Err(format!("loop {index}: {e}")));
                return Err(e);
            }
        };
        let _record = Record {
            server: server.clone(),
            index,
            loads,
        };
        if index == 0 {
            lp.add_signal_handler(tulip::signal::SIGTERM, move || stop.stop())?;
        }
        let _ = ready.send(Ok(()));
        server.serve_forever().await
    }

    /// Records its loop's server's loads, then closes it and its
    /// connections, when the loop's main task ends (cancelled, mostly).
    struct Record {
        server: Server,
        index: usize,
        loads: Loads,
    }

    impl Drop for Record {
        fn drop(&mut self) {
            let load = (self.server.live_connections(), self.server.accepted_total());
            let mut loads = self.loads.lock().unwrap_or_else(PoisonError::into_inner);
            loads[self.index] = Some(load);
            drop(loads);
            self.server.close();
            self.server.abort_clients();
        }
    }
}

/// tulip's HTTP/1.1 "Hello, World!" protocol (the Protocol API), shared by
/// the single-loop server `http_hello` and the per-core server
/// `http_group`: keep-alive, pipelining, requests
/// parsed by [`http::respond_all`]; a malformed request is answered `400`
/// and the connection closed.
pub mod http_protocol {
    use tulip::prelude::*;
    use tulip::transport::Error;

    use super::http::respond_all;

    /// One HTTP connection.
    #[derive(Default)]
    pub struct Hello {
        transport: Option<Transport>,
        /// The start of a request that has not arrived whole.
        pending: Vec<u8>,
        /// Responses to write, reused across requests.
        out: Vec<u8>,
    }

    impl BaseProtocol for Hello {
        fn connection_lost(&mut self, _exc: Option<Error>) {
            self.transport = None;
        }
    }

    impl Protocol for Hello {
        fn connection_made(&mut self, transport: Transport) {
            self.transport = Some(transport);
        }

        fn data_received(&mut self, data: &[u8]) {
            let Some(t) = self.transport.clone() else {
                return;
            };
            self.out.clear();
            let progress = if self.pending.is_empty() {
                let p = respond_all(data, &mut self.out);
                self.pending.extend_from_slice(&data[p.consumed..]);
                p
            } else {
                self.pending.extend_from_slice(data);
                let p = respond_all(&self.pending, &mut self.out);
                self.pending.drain(..p.consumed);
                p
            };
            if !self.out.is_empty() {
                let _ = t.write(&self.out);
            }
            if progress.close {
                self.pending = Vec::new();
                t.close();
            }
        }
    }
}

/// The connection handlers of the tokio peers, written once so that the
/// current-thread and the multi-threaded servers of a family run the same
/// code (`echo_net_tokio` / `echo_mt_tokio`, `http_hello_tokio` /
/// `http_hello_mt_tokio`).
pub mod tokio_peers {
    use std::io;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::http;

    /// The size of each echo connection's buffer.
    pub const ECHO_BUF_SIZE: usize = 16 * 1024;

    /// How much each read may add to an HTTP connection's buffer.
    pub const HTTP_READ_SIZE: usize = 4 * 1024;

    /// How long a closing HTTP connection keeps reading (and discarding)
    /// what the client still sends, so that its last response is not lost
    /// to a reset.
    pub const LINGER: Duration = Duration::from_secs(1);

    /// Echoes what `stream` receives into its own 16 KiB buffer, `read`
    /// then `write_all`, until its EOF, then shuts down writing.
    pub async fn echo(mut stream: TcpStream) -> io::Result<()> {
        let mut buf = vec![0; ECHO_BUF_SIZE].into_boxed_slice();
        while let n @ 1.. = stream.read(&mut buf).await? {
            stream.write_all(&buf[..n]).await?;
        }
        stream.shutdown().await
    }

    /// Answers HTTP/1.1 requests ([`http::respond_all`]) until the client
    /// closes, a request asks to close, or a request is malformed; a
    /// closing connection shuts down writing and drains the client for at
    /// most [`LINGER`].
    pub async fn http_hello(mut stream: TcpStream) -> io::Result<()> {
        let mut received: Vec<u8> = Vec::new();
        let mut out: Vec<u8> = Vec::new();
        loop {
            received.reserve(HTTP_READ_SIZE);
            if stream.read_buf(&mut received).await? == 0 {
                return Ok(()); // the client closed (perhaps mid-request)
            }
            let progress = http::respond_all(&received, &mut out);
            received.drain(..progress.consumed);
            stream.write_all(&out).await?;
            out.clear();
            if progress.close {
                break;
            }
        }
        stream.shutdown().await?;
        let mut sink = [0; 1024];
        let _ = tokio::time::timeout(LINGER, async {
            while stream.read(&mut sink).await? > 0 {}
            Ok::<(), io::Error>(())
        })
        .await;
        Ok(())
    }
}

#[cfg(test)]
mod per_core_tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn loops_and_balance() {
        let parsed = parse_per_core_args(
            &args("--loops 4 --addr 127.0.0.1:8080 --balance=acceptor"),
            ThreadsFlag::Loops,
        );
        assert_eq!(
            parsed,
            Ok(Some(PerCoreArgs {
                addr: "127.0.0.1:8080".parse().expect("an address"),
                threads: 4,
                balance: Balance::Acceptor,
            }))
        );
        let defaults = parse_per_core_args(&[], ThreadsFlag::Loops).expect("valid");
        assert_eq!(
            defaults.map(|a| (a.threads, a.balance)),
            Some((DEFAULT_THREADS, Balance::ReusePort))
        );
        assert_eq!(
            parse_per_core_args(&args("--help"), ThreadsFlag::Loops),
            Ok(None)
        );
    }

    #[test]
    fn workers_take_no_balance() {
        let parsed = parse_per_core_args(&args("--workers=3"), ThreadsFlag::Workers);
        assert_eq!(parsed.map(|a| a.map(|a| a.threads)), Ok(Some(3)));
        for bad in [
            "--workers 2 --balance acceptor",
            "--workers 0",
            "--workers many",
            "--loops 2",
        ] {
            assert!(
                parse_per_core_args(&args(bad), ThreadsFlag::Workers).is_err(),
                "{bad}"
            );
        }
        let err = parse_per_core_args(&args("--balance hash"), ThreadsFlag::Loops);
        assert!(err.is_err_and(|e| e.contains("hash")));
        assert!(parse_per_core_args(&args("--loops"), ThreadsFlag::Loops).is_err());
    }
}
