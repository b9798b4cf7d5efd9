//! The load generator of the network benches: ping-pong clients for the
//! echo servers, or a crowd of idle connections for the memory row.
//!
//! ```text
//! loadgen --addr HOST:PORT --conns N --size BYTES --secs T [--warmup S]
//!         [--tls CA.pem [--server-name NAME]]
//! loadgen --addr HOST:PORT --idle N [--hold SECS]
//! ```
//!
//! `--tls` speaks TLS (tokio-rustls, the `ring` provider) to the server,
//! verifying its certificate against the CA file for NAME (default
//! `localhost`); every connection's handshake is done before the run
//! starts, and its end is a close_notify (then the server's) instead of a
//! TCP EOF.
//!
//! Ping-pong: the N connections are opened first; then each sends a
//! BYTES-byte message, waits for the whole echo, checks it byte for byte
//! (every message differs from the one before), and repeats, for S seconds
//! of warm-up and then T measured seconds. At the end each connection sends
//! EOF and expects the server to close in turn. It prints one line,
//!
//! ```text
//! rps=41234.5 p50_us=23 p99_us=41 all_round_trips=164938 errors=0 conns=1 size=64 secs=3
//! ```
//!
//! `rps` and the latency percentiles cover the measured seconds,
//! `all_round_trips` the warm-up too (what the server's CPU time is divided
//! by). Any error (a refused connection, an early EOF, a wrong echo, a
//! server that does not close after EOF) is counted and reported on stderr,
//! and the exit status is then 1.
//!
//! Idle: opens N connections, sends one byte on each and waits for its echo
//! (so the server has accepted and served every one), prints
//! `connected=N`, then holds them until stdin closes or `--hold` expires.
//!
//! One thread, tokio's current-thread runtime: all connections share one
//! epoll loop, so one process saturates a server cheaply.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tulip_benches::tokio_current_thread;

/// The usage text.
const USAGE: &str = "usage: loadgen --addr HOST:PORT --conns N --size BYTES --secs T [--warmup S]
               [--tls CA.pem [--server-name NAME]]
       loadgen --addr HOST:PORT --idle N [--hold SECS]";

/// How long a connection waits for the server to close after its EOF, and
/// an idle connection for the echo of its byte.
const GRACE: Duration = Duration::from_secs(5);

/// Error messages printed in full; later ones are only counted.
const SHOWN_ERRORS: u64 = 10;

/// The parsed command line.
#[derive(Debug, Clone, PartialEq)]
struct Options {
    addr: SocketAddr,
    conns: usize,
    size: usize,
    secs: Duration,
    warmup: Duration,
    idle: Option<usize>,
    hold: Option<Duration>,
    /// The CA file of `--tls`.
    tls: Option<String>,
    server_name: String,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("loadgen: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match options.idle {
        Some(n) => idle(options.addr, n, options.hold),
        None => ping_pong(&options),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("loadgen: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Parses the arguments (`--flag value` or `--flag=value`).
fn parse(args: &[String]) -> Result<Options, String> {
    let mut addr = None;
    let (mut conns, mut size, mut secs) = (None, None, None);
    let (mut warmup, mut idle, mut hold) = (Duration::ZERO, None, None);
    let (mut tls, mut server_name) = (None, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        let value = match inline {
            Some(value) => value,
            None => args
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .clone(),
        };
        let bad = |e: &dyn std::fmt::Display| format!("bad {flag} {value:?}: {e}");
        let count = || value.parse::<usize>().map_err(|e| bad(&e));
        let seconds = || {
            value
                .parse::<f64>()
                .ok()
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .ok_or_else(|| bad(&"not a number of seconds"))
        };
        match flag {
            "--addr" => addr = Some(value.parse::<SocketAddr>().map_err(|e| bad(&e))?),
            "--conns" => conns = Some(count()?),
            "--size" => size = Some(count()?),
            "--secs" => secs = Some(seconds()?),
            "--warmup" => warmup = seconds()?,
            "--idle" => idle = Some(count()?),
            "--hold" => hold = Some(seconds()?),
            "--tls" => tls = Some(value),
            "--server-name" => server_name = Some(value),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    let addr = addr.ok_or("--addr is required")?;
    if idle.is_some() {
        if conns.is_some() || size.is_some() || secs.is_some() {
            return Err("--idle takes no --conns, --size or --secs".into());
        }
    } else if hold.is_some() {
        return Err("--hold goes with --idle".into());
    }
    if (idle.is_some() && tls.is_some()) || (tls.is_none() && server_name.is_some()) {
        return Err("--tls goes with ping-pong, --server-name with --tls".into());
    }
    let (conns, size, secs) = match (idle, conns, size, secs) {
        (Some(_), ..) => (0, 0, Duration::ZERO),
        (None, Some(c), Some(s), Some(t)) if c > 0 && s > 0 => (c, s, t),
        (None, Some(_), Some(_), Some(_)) => return Err("--conns and --size must be > 0".into()),
        _ => return Err("--conns, --size and --secs are required".into()),
    };
    Ok(Options {
        addr,
        conns,
        size,
        secs,
        warmup,
        idle,
        hold,
        tls,
        server_name: server_name.unwrap_or_else(|| "localhost".into()),
    })
}

/// Round-trip latencies: one bucket per microsecond below 1,024 µs, then
/// 64 buckets per power of two (under 2% apart).
struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Histogram {
    /// Exact buckets below this many microseconds.
    const LINEAR: u64 = 1024;

    fn new() -> Self {
        Histogram {
            counts: vec![0; Self::bucket(u64::MAX) + 1],
            total: 0,
        }
    }

    fn bucket(us: u64) -> usize {
        if us < Self::LINEAR {
            return us as usize;
        }
        let exp = u64::from(63 - us.leading_zeros()); // >= 10
        let top = (us >> (exp - 6)) & 63;
        (Self::LINEAR + (exp - 10) * 64 + top) as usize
    }

    /// The smallest value of bucket `b`.
    fn floor(b: usize) -> u64 {
        let b = b as u64;
        if b < Self::LINEAR {
            return b;
        }
        let (exp, top) = ((b - Self::LINEAR) / 64 + 10, (b - Self::LINEAR) % 64);
        (1 << exp) | (top << (exp - 6))
    }

    fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.counts[Self::bucket(us)] += 1;
        self.total += 1;
    }

    /// The latency (lower bound of its bucket, µs) below which a fraction
    /// `q` of the samples lie; 0 without samples.
    fn quantile(&self, q: f64) -> u64 {
        let rank = ((self.total as f64 * q).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::floor(b);
            }
        }
        0
    }
}

/// What the connections of a ping-pong run share.
struct Run {
    /// Round trips that started after the warm-up and before the end.
    measured: Histogram,
    /// Every round trip completed, warm-up included.
    all_round_trips: u64,
    errors: u64,
    warm_end: Instant,
    end: Instant,
    /// Message `k` of connection `c` is `pattern[(13 * k + c) % 256..][..size]`.
    pattern: Vec<u8>,
}

impl Run {
    fn error(&mut self, message: String) {
        self.errors += 1;
        if self.errors <= SHOWN_ERRORS {
            eprintln!("loadgen: {message}");
        }
    }
}

/// The ping-pong mode: prints the result line; fails on any error.
fn ping_pong(options: &Options) -> Result<(), String> {
    let runtime = tokio_current_thread();
    let local = tokio::task::LocalSet::new();
    let connector = options.tls.as_deref().map(tls_connector).transpose()?;
    let run = local.block_on(&runtime, async {
        let mut streams = Vec::with_capacity(options.conns);
        for i in 0..options.conns {
            let stream = TcpStream::connect(options.addr)
                .await
                .map_err(|e| format!("connection {i} to {}: {e}", options.addr))?;
            stream
                .set_nodelay(true)
                .map_err(|e| format!("TCP_NODELAY: {e}"))?;
            streams.push(match &connector {
                None => Conn::Plain(stream),
                Some(connector) => Conn::Tls(Box::new(
                    tls_handshake(connector, &options.server_name, stream)
                        .await
                        .map_err(|e| format!("connection {i}: TLS handshake: {e}"))?,
                )),
            });
        }
        let start = Instant::now();
        let run = Rc::new(RefCell::new(Run {
            measured: Histogram::new(),
            all_round_trips: 0,
            errors: 0,
            warm_end: start + options.warmup,
            end: start + options.warmup + options.secs,
            pattern: (0..options.size + 256)
                .map(|i| (i * 7 % 251) as u8)
                .collect(),
        }));
        let size = options.size;
        let tasks: Vec<_> = streams
            .into_iter()
            .enumerate()
            .map(|(c, stream)| {
                let run = Rc::clone(&run);
                tokio::task::spawn_local(async move {
                    let outcome = match stream {
                        Conn::Plain(s) => connection(c, s, size, &run).await,
                        Conn::Tls(s) => connection(c, *s, size, &run).await,
                    };
                    if let Err(message) = outcome {
                        run.borrow_mut().error(format!("connection {c}: {message}"));
                    }
                })
            })
            .collect();
        for task in tasks {
            if let Err(e) = task.await {
                run.borrow_mut()
                    .error(format!("a connection's task failed: {e}"));
            }
        }
        Ok::<_, String>(run)
    })?;
    let run = run.borrow();
    let secs = options.secs.as_secs_f64();
    let rps = if secs > 0.0 {
        run.measured.total as f64 / secs
    } else {
        0.0
    };
    let mut out = std::io::stdout().lock();
    let line = format!(
        "rps={rps:.1} p50_us={} p99_us={} all_round_trips={} errors={} conns={} size={} secs={secs}",
        run.measured.quantile(0.50),
        run.measured.quantile(0.99),
        run.all_round_trips,
        run.errors,
        options.conns,
        options.size,
    );
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("stdout: {e}"))?;
    if run.errors > 0 {
        return Err(format!("{} error(s)", run.errors));
    }
    Ok(())
}

/// A ping-pong connection: plain TCP, or TLS over it.
enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// The TLS client of `--tls`: trusts the certificates of `ca_file`.
fn tls_connector(ca_file: &str) -> Result<tokio_rustls::TlsConnector, String> {
    let pem = std::fs::read(ca_file).map_err(|e| format!("--tls {ca_file}: {e}"))?;
    let config = tulip_benches::tls::rustls_client_config(&pem)
        .map_err(|e| format!("--tls {ca_file}: {e}"))?;
    Ok(tokio_rustls::TlsConnector::from(config))
}

/// Runs the TLS handshake over `stream`, verifying the server for `name`.
async fn tls_handshake(
    connector: &tokio_rustls::TlsConnector,
    name: &str,
    stream: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let name = rustls::pki_types::ServerName::try_from(name.to_owned())
        .map_err(|e| format!("--server-name {name:?}: {e}"))?;
    connector
        .connect(name, stream)
        .await
        .map_err(|e| e.to_string())
}

/// One connection's ping-pong until the run ends, then EOF (over TLS: a
/// close_notify) and the wait for the server's close.
async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    c: usize,
    mut stream: S,
    size: usize,
    run: &RefCell<Run>,
) -> Result<(), String> {
    let (pattern, end) = {
        let run = run.borrow();
        (run.pattern.clone(), run.end)
    };
    let mut echo = vec![0; size];
    let mut sent_at = Instant::now();
    let mut k = 0usize;
    while sent_at < end {
        let offset = (13 * k + c) % 256;
        let message = &pattern[offset..offset + size];
        stream
            .write_all(message)
            .await
            .map_err(|e| format!("write: {e}"))?;
        stream.read_exact(&mut echo).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                format!("the server closed during round trip {k}")
            } else {
                format!("read: {e}")
            }
        })?;
        if echo != message {
            return Err(format!("round trip {k}: the echo differs from the message"));
        }
        let now = Instant::now();
        let mut run = run.borrow_mut();
        run.all_round_trips += 1;
        if sent_at >= run.warm_end {
            run.measured.record(now - sent_at);
        }
        sent_at = now;
        k += 1;
    }
    stream
        .shutdown()
        .await
        .map_err(|e| format!("shutdown: {e}"))?;
    match tokio::time::timeout(GRACE, stream.read(&mut echo)).await {
        Ok(Ok(0)) => Ok(()),
        Ok(Ok(_)) => Err("data after the last echo".into()),
        Ok(Err(e)) => Err(format!("read after EOF: {e}")),
        Err(_) => Err(format!("the server did not close within {GRACE:?} of EOF")),
    }
}

/// The idle mode: `n` connections, each served once, held until stdin
/// closes or `hold` expires.
fn idle(addr: SocketAddr, n: usize, hold: Option<Duration>) -> Result<(), String> {
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let fail = |what: &str, e: std::io::Error| format!("idle connection {i}: {what}: {e}");
        let mut stream = StdStream::connect(addr).map_err(|e| fail("connect", e))?;
        stream
            .set_nodelay(true)
            .and_then(|()| stream.set_read_timeout(Some(GRACE)))
            .map_err(|e| fail("setsockopt", e))?;
        let mut byte = [b'x'];
        stream.write_all(&byte).map_err(|e| fail("write", e))?;
        byte[0] = 0;
        stream.read_exact(&mut byte).map_err(|e| fail("echo", e))?;
        if byte != [b'x'] {
            return Err(format!("idle connection {i}: wrong echo"));
        }
        conns.push(stream);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "connected={n}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("stdout: {e}"))?;
    let (closed, stdin_closed) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = closed.send(());
    });
    match hold {
        Some(hold) => drop(stdin_closed.recv_timeout(hold)),
        None => drop(stdin_closed.recv()),
    }
    drop(conns);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn arguments() {
        let o = parse(&args(
            "--addr 127.0.0.1:80 --conns 50 --size=1024 --secs 3 --warmup 1",
        ))
        .expect("valid");
        assert_eq!((o.conns, o.size, o.idle), (50, 1024, None));
        assert_eq!(
            (o.secs, o.warmup),
            (Duration::from_secs(3), Duration::from_secs(1))
        );
        let o = parse(&args(
            "--addr 127.0.0.1:80 --conns 1 --size 64 --secs 1 --tls ca.pem --server-name h",
        ))
        .expect("valid");
        assert_eq!(
            (o.tls.as_deref(), o.server_name.as_str()),
            (Some("ca.pem"), "h")
        );
        let o = parse(&args("--addr [::1]:80 --idle 5000 --hold 0.5")).expect("valid");
        assert_eq!(
            (o.idle, o.hold),
            (Some(5000), Some(Duration::from_millis(500)))
        );
        for bad in [
            "--conns 1 --size 1 --secs 1",
            "--addr 127.0.0.1:80 --conns 1 --size 1",
            "--addr 127.0.0.1:80 --conns 0 --size 1 --secs 1",
            "--addr 127.0.0.1:80 --idle 5 --conns 1",
            "--addr 127.0.0.1:80 --conns 1 --size 1 --secs 1 --hold 2",
            "--addr 127.0.0.1:80 --idle 5 --hold -1",
            "--addr 127.0.0.1:80 --idle 5 --tls ca.pem",
            "--addr 127.0.0.1:80 --conns 1 --size 1 --secs 1 --server-name x",
            "--addr nowhere --idle 5",
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn histogram_buckets_round_down_within_two_percent() {
        for us in [0, 1, 1023, 1024, 1100, 5000, 123_456, 10_000_000] {
            let floor = Histogram::floor(Histogram::bucket(us));
            assert!(floor <= us && us - floor <= us / 64, "{us} -> {floor}");
        }
        let mut h = Histogram::new();
        for us in 1..=100 {
            h.record(Duration::from_micros(us));
        }
        assert_eq!((h.quantile(0.5), h.quantile(0.99)), (50, 99));
    }
}
