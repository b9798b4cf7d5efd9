//! `cargo xtask bench net[/FILTER]` (and the network part of a plain
//! `cargo xtask bench`): runs the network bench servers of `tulip-benches`
//! against one load generator and prints a table of throughput, server CPU
//! time per operation, tulip/tokio ratios, syscalls per operation, and the
//! memory of idle connections.
//!
//! The servers are the rows of [`SERVERS`]; a server whose binary was not
//! built is skipped with a note. Every server follows one contract (see
//! `tulip_benches::netbench`): `--addr HOST:PORT`, a first stdout line
//! `listening on HOST:PORT`, running until SIGTERM.
//!
//! What runs, interleaving the servers (every server of a workload and
//! pinning, then the next):
//! - echo servers: `loadgen` with 1 connection x 64 B and 50 connections x
//!   1 KiB, ping-pong; HTTP servers: `wrk -t1 -c50` (HTTP/1.1), and those
//!   that also speak HTTP/2 (the axum family) `h2load -c10 -m5` too, 50
//!   streams over 10 connections by prior knowledge (h2c);
//! - each on two pinnings (`taskset`): `split`, the server on core 0 and the
//!   client on core 1; `same`, both on core 0;
//! - the server's CPU time is utime + stime of `/proc/PID/stat` read before
//!   and after the client runs, divided by every round trip (warm-up
//!   included) or request;
//! - syscalls per operation: a separate short run per server and workload
//!   under `strace -c -f` (when strace is present), split pinning;
//! - memory: the server's `VmRSS` before and after a `loadgen --idle` opens
//!   5,000 connections (each served one byte), per connection.
//! - per-core (the `per_core_*` loads): the two-thread servers, tulip's
//!   `--loops 2` in both listening modes (`--balance reuse-port|acceptor`)
//!   and tokio's `--workers 2` peers, unpinned (they need both cores, which
//!   the client shares), echo 50 x 1 KiB and HTTP with 50 connections; then
//!   a projection of their CPU per op to 16 cores, and the balance runs
//!   (1,000 held connections from 4 client threads, each loop's share read
//!   from the server's `loads:` line), in `netbench/per_core.rs`.
//!
//! `TULIP_NETBENCH_SECS` sets the measured seconds of each run (default 3;
//! plus 1 s of warm-up for loadgen). FILTER keeps the runs whose label
//! contains it: labels are `echo_1x64B/split echo_tokio`,
//! `syscalls/http_50conns http_hello_tokio`, `http2_10x5streams/same
//! axum_hello`, `memory echo_smol`, `balance/per_core_1000conns
//! echo_group:acceptor` (so `net/axum` runs the axum family, and
//! `net/per_core` every per-core run).
//!
//! The tulip rows run on a named reactor backend (`TULIP_BACKEND`): the plain
//! rows on `epoll`, whatever the default is, and the `BIN:polling` and
//! `BIN:uring` rows on the other two, so `net/:uring` runs the io_uring rows
//! and every table shows each backend beside tokio's row of its family.
//!
//! Linux only: it reads `/proc` and pins with `taskset`.

use crate::bench::fmt_ns;
use crate::cmd::{cargo, fmt_duration, target_dir};
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// What a server serves, and so which client drives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Echoes bytes: driven by `loadgen`.
    Echo,
    /// Answers HTTP/1.1 requests: driven by `wrk`.
    Http,
    /// Answers HTTP/2 requests by prior knowledge over cleartext (h2c):
    /// driven by `h2load`.
    Http2,
    /// Echoes bytes over TLS (`--cert`/`--key`): driven by `loadgen --tls`.
    TlsEcho,
}

impl Kind {
    /// The client program that drives this kind of load.
    fn client(self) -> &'static str {
        match self {
            Kind::Echo | Kind::TlsEcho => "loadgen",
            Kind::Http => "wrk",
            Kind::Http2 => "h2load",
        }
    }
}

/// A plain echo server.
const ECHO: &[Kind] = &[Kind::Echo];
/// An HTTP/1.1 server.
const HTTP1: &[Kind] = &[Kind::Http];
/// An HTTP server of both versions on one port (HTTP/2 by prior knowledge).
const HTTP1_AND_2: &[Kind] = &[Kind::Http, Kind::Http2];
/// A TLS echo server.
const TLS_ECHO: &[Kind] = &[Kind::TlsEcho];

/// One server binary: a row of every table.
#[derive(Debug)]
struct Server {
    /// The row's name in labels and tables: the binary's, or with the
    /// per-core servers' balancing mode (`echo_group:acceptor`).
    name: &'static str,
    /// The binary's name in `tulip-benches`.
    bin: &'static str,
    /// Arguments after `--addr` (`--loops 2 --balance acceptor`).
    args: &'static [&'static str],
    /// Threads serving: 1, or the loops / workers of a per-core server,
    /// which serves the per-core loads only.
    threads: usize,
    /// `tulip`, `tokio` or `smol`.
    runtime: &'static str,
    /// The reactor backend of a tulip row (`TULIP_BACKEND`): `epoll`,
    /// `polling` or `uring`; the peers' rows leave it unset.
    backend: Option<&'static str>,
    /// The loads it serves: each workload of one of these kinds runs it.
    serves: &'static [Kind],
    /// Servers of one family are the same program on different runtimes:
    /// tulip's is compared with tokio's of its family.
    family: &'static str,
}

/// The servers, in table order. Adding a server is one line.
const SERVERS: &[Server] = &[
    server("echo_protocol", "tulip", ECHO, "protocol"),
    on_backend(
        "echo_protocol:polling",
        "echo_protocol",
        "polling",
        ECHO,
        "protocol",
    ),
    on_backend(
        "echo_protocol:uring",
        "echo_protocol",
        "uring",
        ECHO,
        "protocol",
    ),
    server("echo_tokio", "tokio", ECHO, "protocol"),
    server("echo_smol", "smol", ECHO, "protocol"),
    server("echo_streams", "tulip", ECHO, "streams"),
    on_backend(
        "echo_streams:uring",
        "echo_streams",
        "uring",
        ECHO,
        "streams",
    ),
    server("echo_streams_tokio", "tokio", ECHO, "streams"),
    server("echo_net", "tulip", ECHO, "net"),
    on_backend("echo_net:uring", "echo_net", "uring", ECHO, "net"),
    server("echo_net_tokio", "tokio", ECHO, "net"),
    server("http_hello", "tulip", HTTP1, "http"),
    on_backend("http_hello:polling", "http_hello", "polling", HTTP1, "http"),
    on_backend("http_hello:uring", "http_hello", "uring", HTTP1, "http"),
    server("http_hello_tokio", "tokio", HTTP1, "http"),
    server("axum_hello", "tulip", HTTP1_AND_2, "axum"),
    on_backend(
        "axum_hello:uring",
        "axum_hello",
        "uring",
        HTTP1_AND_2,
        "axum",
    ),
    server("axum_hello_tokio", "tokio", HTTP1_AND_2, "axum"),
    server("echo_tls", "tulip", TLS_ECHO, "tls"),
    on_backend("echo_tls:uring", "echo_tls", "uring", TLS_ECHO, "tls"),
    server("echo_tls_tokio", "tokio", TLS_ECHO, "tls"),
    // Two threads: tulip's loop per core in both listening modes, tokio's
    // multi-threaded scheduler with two workers.
    per_core_server(
        "echo_group:reuse-port",
        "echo_group",
        LOOPS_REUSE_PORT,
        "tulip",
        ECHO,
    ),
    per_core_server(
        "echo_group:acceptor",
        "echo_group",
        LOOPS_ACCEPTOR,
        "tulip",
        ECHO,
    ),
    per_core_server("echo_mt_tokio", "echo_mt_tokio", WORKERS, "tokio", ECHO),
    per_core_server(
        "http_group:reuse-port",
        "http_group",
        LOOPS_REUSE_PORT,
        "tulip",
        HTTP1,
    ),
    per_core_server(
        "http_group:acceptor",
        "http_group",
        LOOPS_ACCEPTOR,
        "tulip",
        HTTP1,
    ),
    per_core_server(
        "http_hello_mt_tokio",
        "http_hello_mt_tokio",
        WORKERS,
        "tokio",
        HTTP1,
    ),
];

/// The threads of the per-core rows: the two cores of the bench machine.
const PER_CORE_THREADS: usize = 2;
/// The arguments of a per-core tulip server, one listener per loop.
const LOOPS_REUSE_PORT: &[&str] = &["--loops", "2", "--balance", "reuse-port"];
/// The arguments of a per-core tulip server with the balanced acceptor.
const LOOPS_ACCEPTOR: &[&str] = &["--loops", "2", "--balance", "acceptor"];
/// The arguments of a tokio multi-threaded peer.
const WORKERS: &[&str] = &["--workers", "2"];

/// A row of [`SERVERS`].
const fn server(
    bin: &'static str,
    runtime: &'static str,
    serves: &'static [Kind],
    family: &'static str,
) -> Server {
    Server {
        name: bin,
        bin,
        args: &[],
        threads: 1,
        runtime,
        backend: tulip_default_backend(runtime),
        serves,
        family,
    }
}

/// The backend of a tulip row that names none: `epoll`, named explicitly so
/// the row measures the same thing whatever the default backend is.
const fn tulip_default_backend(runtime: &'static str) -> Option<&'static str> {
    match runtime.as_bytes() {
        b"tulip" => Some("epoll"),
        _ => None,
    }
}

/// A tulip row of [`SERVERS`] on another reactor `backend`, named
/// `BIN:BACKEND`: compared with tokio's row of its family like the rest.
const fn on_backend(
    name: &'static str,
    bin: &'static str,
    backend: &'static str,
    serves: &'static [Kind],
    family: &'static str,
) -> Server {
    Server {
        name,
        backend: Some(backend),
        ..server(bin, "tulip", serves, family)
    }
}

/// A per-core row of [`SERVERS`]: [`PER_CORE_THREADS`] threads, family
/// `per-core-echo` or `per-core-http` by what it serves.
const fn per_core_server(
    name: &'static str,
    bin: &'static str,
    args: &'static [&'static str],
    runtime: &'static str,
    serves: &'static [Kind],
) -> Server {
    let family = match serves[0] {
        Kind::Http => "per-core-http",
        _ => "per-core-echo",
    };
    Server {
        name,
        bin,
        args,
        threads: PER_CORE_THREADS,
        runtime,
        backend: tulip_default_backend(runtime),
        serves,
        family,
    }
}

impl Server {
    /// Whether loads of `kind` run against this server.
    fn serves(&self, kind: Kind) -> bool {
        self.serves.contains(&kind)
    }

    /// Whether `workload` runs against this server: its kind, and the
    /// per-core loads for the per-core servers only.
    fn runs(&self, workload: &Workload) -> bool {
        self.serves(workload.kind) && (self.threads > 1) == workload.per_core
    }
}

/// One load: the client, its connections and message size.
#[derive(Debug)]
struct Workload {
    name: &'static str,
    kind: Kind,
    conns: usize,
    /// Message size for loadgen (unused by wrk and h2load).
    size: usize,
    /// Concurrent streams per connection for h2load (1 elsewhere).
    streams: usize,
    /// A load of the per-core servers (two threads), run unpinned.
    per_core: bool,
}

/// The loads, in table order.
const WORKLOADS: &[Workload] = &[
    workload("echo_1x64B", Kind::Echo, 1, 64),
    workload("echo_50x1KiB", Kind::Echo, 50, 1024),
    workload("http_50conns", Kind::Http, 50, 0),
    h2_workload("http2_10x5streams", 10, 5),
    workload("tls_echo_1x64B", Kind::TlsEcho, 1, 64),
    workload("tls_echo_50x1KiB", Kind::TlsEcho, 50, 1024),
    per_core_workload("per_core_echo_50x1KiB", Kind::Echo, 50, 1024),
    per_core_workload("per_core_http_50conns", Kind::Http, 50, 0),
];

/// A row of [`WORKLOADS`].
const fn workload(name: &'static str, kind: Kind, conns: usize, size: usize) -> Workload {
    Workload {
        name,
        kind,
        conns,
        size,
        streams: 1,
        per_core: false,
    }
}

/// A per-core row of [`WORKLOADS`].
const fn per_core_workload(name: &'static str, kind: Kind, conns: usize, size: usize) -> Workload {
    Workload {
        per_core: true,
        ..workload(name, kind, conns, size)
    }
}

/// An HTTP/2 row of [`WORKLOADS`]: `streams` at once on each of `conns`
/// connections.
const fn h2_workload(name: &'static str, conns: usize, streams: usize) -> Workload {
    Workload {
        name,
        kind: Kind::Http2,
        conns,
        size: 0,
        streams,
        per_core: false,
    }
}

/// Where the server and the client run: their cores (`None`: not pinned).
#[derive(Debug, Clone, Copy)]
struct Pinning(&'static str, Option<(usize, usize)>);

/// The split pinning: server on core 0, client on core 1.
const SPLIT: Pinning = Pinning("split", Some((0, 1)));
/// Server and client on core 0.
const SAME: Pinning = Pinning("same", Some((0, 0)));
/// No pinning: the pinning of the per-core loads, whose server needs both
/// cores (on a 2-core machine the same as pinning everything to both).
const UNPINNED: Pinning = Pinning("unpinned", None);

/// Warm-up seconds of each loadgen run (wrk and h2load have none: their
/// requests are counted from the start, as the server's CPU time is).
const WARMUP_SECS: f64 = 1.0;
/// Measured seconds of each strace'd run.
const STRACE_SECS: f64 = 1.0;
/// Idle connections of the memory rows.
const IDLE_CONNS: usize = 5000;
/// The memory goal per idle connection, in bytes.
const MEMORY_GOAL: f64 = 4096.0;
/// How long a server may take to print its `listening on` line.
const STARTUP: Duration = Duration::from_secs(10);

/// Whether `filter` (the FILTER of `cargo xtask bench`) selects the network
/// benches: `net` (all of them) or `net/SUB` (the runs whose label contains
/// SUB, returned).
pub fn selected(filter: Option<&str>) -> Option<Option<&str>> {
    match filter? {
        "net" => Some(None),
        other => other.strip_prefix("net/").map(Some),
    }
}

/// Builds the servers and the load generator, runs everything `filter`
/// selects, and prints the tables.
pub fn run(filter: Option<&str>) -> Result<(), String> {
    let args = ["build", "--release", "-p", "tulip-benches", "--bins"];
    println!("==> cargo {}", args.join(" "));
    let status = cargo(&args)
        .status()
        .map_err(|e| format!("could not start cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the bench binaries failed ({status})"));
    }
    let env = Env::probe()?;
    let started = Instant::now();
    let servers: Vec<&Server> = SERVERS
        .iter()
        .filter(|s| {
            let built = env.bins.join(s.bin).is_file();
            if !built {
                println!("note: {} is not built yet: skipped", s.bin);
            }
            built
        })
        .collect();
    let wanted = |label: &str| filter.is_none_or(|f| label.contains(f));

    let mut results = Results::default();
    for workload in WORKLOADS {
        let client = workload.kind.client();
        if !env.has_client(workload.kind) {
            println!("note: {client} is not installed: {} skipped", workload.name);
            continue;
        }
        let serving: Vec<&Server> = servers
            .iter()
            .copied()
            .filter(|s| s.runs(workload))
            .collect();
        let unpinned = [UNPINNED];
        let pinnings = if workload.per_core {
            &unpinned[..]
        } else {
            &env.pinnings
        };
        for &pinning in pinnings {
            for &server in &serving {
                let label = format!("{}/{} {}", workload.name, pinning.0, server.name);
                if wanted(&label) {
                    let outcome = throughput(&env, server, workload, pinning);
                    report(&label, &outcome);
                    results.runs.push(((workload, pinning.0, server), outcome));
                }
            }
        }
        for &server in serving.iter().filter(|_| env.strace) {
            let label = format!("syscalls/{} {}", workload.name, server.name);
            if wanted(&label) {
                let outcome = syscalls(&env, server, workload);
                report(&label, &outcome);
                results
                    .syscalls
                    .push(((workload.name, server.name), outcome));
            }
        }
    }
    for &server in servers
        .iter()
        .filter(|s| s.serves(Kind::Echo) && s.threads == 1)
    {
        let label = format!("memory {}", server.name);
        if wanted(&label) {
            let outcome = memory(&env, server);
            report(&label, &outcome);
            results.memory.push((server, outcome));
        }
    }
    for &server in servers.iter().filter(|s| per_core::balanced(s)) {
        let label = format!("balance/{} {}", per_core::BALANCE_LOAD, server.name);
        if wanted(&label) {
            let outcome = per_core::balance(&env, server);
            report(&label, &outcome);
            results.balance.push((server, outcome));
        }
    }
    if results.is_empty() {
        return Err(format!(
            "no network run matches the filter {:?}",
            filter.unwrap_or("")
        ));
    }
    println!("\n{}", results.tables(&env));
    println!("network benches: {}", fmt_duration(started.elapsed()));
    let failed = results.failures();
    if failed > 0 {
        return Err(format!("{failed} network run(s) failed (see above)"));
    }
    Ok(())
}

/// Prints the progress line of one run.
fn report<T: std::fmt::Display>(label: &str, outcome: &Result<T, String>) {
    match outcome {
        Ok(result) => println!("  {label}: {result}"),
        Err(message) => println!("  {label}: FAILED: {message}"),
    }
}

/// The machine: tools present, cores, limits, where the binaries are.
#[derive(Debug)]
struct Env {
    bins: PathBuf,
    secs: f64,
    wrk: bool,
    h2load: bool,
    strace: bool,
    pinnings: Vec<Pinning>,
    /// `prlimit --nofile=...` for the memory runs, if the limit is too low.
    nofile: Vec<OsString>,
    clock_ticks: f64,
}

impl Env {
    fn probe() -> Result<Env, String> {
        let bins = target_dir().join("release");
        if !bins.join("loadgen").is_file() {
            return Err(format!("no loadgen in {}", bins.display()));
        }
        let secs = match std::env::var("TULIP_NETBENCH_SECS") {
            Ok(text) => text
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 1.0)
                .ok_or_else(|| format!("TULIP_NETBENCH_SECS={text:?}: want seconds >= 1"))?,
            Err(_) => 3.0,
        };
        let taskset = have("taskset");
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pinnings = match (taskset, cores >= 2) {
            (true, true) => vec![SPLIT, SAME],
            (true, false) => vec![SAME],
            (false, _) => vec![Pinning("unpinned", None)],
        };
        let clock_ticks = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .unwrap_or(100.0);
        let env = Env {
            bins,
            secs,
            wrk: have("wrk"),
            h2load: have("h2load"),
            strace: have("strace"),
            pinnings,
            nofile: nofile_prefix(IDLE_CONNS as u64 + 100)?,
            clock_ticks,
        };
        let yes = |b: bool| if b { "yes" } else { "no (apt-get install it)" };
        println!(
            "net benches: {} s per run, {cores} cores, taskset {}, wrk {}, h2load {}, strace {}",
            env.secs,
            yes(taskset),
            yes(env.wrk),
            yes(env.h2load),
            yes(env.strace)
        );
        Ok(env)
    }

    /// Whether the client of `kind` is installed (loadgen is built).
    fn has_client(&self, kind: Kind) -> bool {
        match kind {
            Kind::Echo | Kind::TlsEcho => true,
            Kind::Http => self.wrk,
            Kind::Http2 => self.h2load,
        }
    }

    /// The command that runs `program` with `args` on `core`, behind
    /// `prefix` (strace, prlimit); every wrapper execs, so the child's pid is
    /// the program's (or the tracer's).
    fn command(&self, prefix: &[OsString], core: Option<usize>, program: &Path) -> Command {
        let mut argv: Vec<OsString> = prefix.to_vec();
        if let Some(core) = core {
            argv.extend(["taskset".into(), "-c".into(), core.to_string().into()]);
        }
        argv.push(program.into());
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        command
    }
}

/// Whether `tool` is on PATH.
fn have(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

/// A `prlimit` prefix raising the descriptor limit of a child to `need`,
/// or nothing when this process's soft limit already allows it.
fn nofile_prefix(need: u64) -> Result<Vec<OsString>, String> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let (soft, hard) = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| {
            let mut numbers = line
                .split_whitespace()
                .skip(3)
                .map(|n| n.parse::<u64>().ok());
            Some((
                numbers.next()??,
                numbers.next().flatten().unwrap_or(u64::MAX),
            ))
        })
        .unwrap_or((0, 0));
    if soft >= need {
        return Ok(Vec::new());
    }
    if !have("prlimit") {
        println!("note: open-file limit {soft} < {need} and no prlimit: the memory rows may fail");
        return Ok(Vec::new());
    }
    Ok(vec![
        "prlimit".into(),
        format!("--nofile={need}:{}", hard.max(need)).into(),
        "--".into(),
    ])
}

/// A child process with its stdout read line by line on a thread; stopped
/// (SIGTERM, then SIGKILL) when dropped, so no path leaves it running.
struct Proc {
    child: Child,
    lines: Receiver<String>,
    stdin: Option<ChildStdin>,
    /// The process to signal when it is not the child itself (the server
    /// under strace).
    target: Option<u32>,
}

impl Proc {
    fn spawn(mut command: Command, stdin: bool) -> Result<Proc, String> {
        let shown = format!("{command:?}");
        command
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {shown}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Ok(Proc {
            child,
            lines,
            stdin,
            target: None,
        })
    }

    /// The pid to measure and signal.
    fn pid(&self) -> u32 {
        self.target.unwrap_or(self.child.id())
    }

    /// Waits for a stdout line starting with `prefix`; returns the rest.
    fn expect(&mut self, prefix: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return Ok(rest.trim().to_string());
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("no `{prefix}` line within {timeout:?}"));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.wait(Duration::from_secs(1));
                    return Err(format!("exited before printing `{prefix}` ({status:?})"));
                }
            }
        }
    }

    /// Waits up to `timeout` for the child to exit.
    fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => return None,
            }
        }
    }

    /// Runs to the end (at most `timeout`): the exit status and stdout.
    fn finish(mut self, timeout: Duration) -> Result<(ExitStatus, Vec<String>), String> {
        let status = self
            .wait(timeout)
            .ok_or_else(|| format!("still running after {timeout:?}: killed"))?;
        let mut lines = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            lines.push(line);
        }
        Ok((status, lines))
    }

    /// SIGTERM, a grace period, then SIGKILL; reaps the child.
    fn stop(&mut self) {
        self.stdin = None;
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let own = self.child.id();
        let target = self.target.filter(|&pid| parent_of(pid) == Some(own));
        signal("TERM", target.unwrap_or(own));
        if self.wait(Duration::from_secs(3)).is_some() {
            return;
        }
        if let Some(pid) = target.filter(|&pid| parent_of(pid) == Some(own)) {
            signal("KILL", pid);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends SIGname to `pid` with kill(1).
fn signal(name: &str, pid: u32) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

/// The fields of `/proc/PID/stat` after the command name (which may hold
/// spaces and parentheses): index 0 is the state, 1 the parent pid, 11 and
/// 12 utime and stime.
fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect())
}

/// The parent of a live process.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_fields(&stat).get(1)?.parse().ok()
}

/// The only child of `parent` (the program strace started), if one runs.
fn child_of(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|&pid| parent_of(pid) == Some(parent))
}

/// The CPU time (user + system, all threads) a process has used, in seconds.
fn cpu_secs(env: &Env, pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    let fields = stat_fields(&stat);
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (tick(11), tick(12)) {
        (Some(user), Some(system)) => Ok((user + system) as f64 / env.clock_ticks),
        _ => Err(format!("cannot read utime and stime in /proc/{pid}/stat")),
    }
}

/// The resident memory of a process, in KiB (`VmRSS`).
fn rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// A running server and the address it announced.
struct Running {
    proc: Proc,
    addr: String,
}

/// Starts `server` on `core` behind `prefix` and waits for its address.
fn start(
    env: &Env,
    server: &Server,
    prefix: &[OsString],
    core: Option<usize>,
) -> Result<Running, String> {
    let mut command = env.command(prefix, core, &env.bins.join(server.bin));
    command.args(["--addr", "127.0.0.1:0"]);
    command.args(server.args);
    if let Some(backend) = server.backend {
        command.env("TULIP_BACKEND", backend);
    }
    command.args(tls::server_args(&env.bins, server.serves(Kind::TlsEcho))?);
    let mut proc = Proc::spawn(command, false)?;
    let addr = proc
        .expect("listening on ", STARTUP)
        .map_err(|e| format!("{}: {e}", server.name))?;
    Ok(Running { proc, addr })
}

/// What a client reported.
#[derive(Debug, Clone, PartialEq)]
struct Load {
    /// Operations (round trips or requests) per second, measured part.
    rps: f64,
    /// Every operation of the run (warm-up included).
    ops: u64,
    p99_us: Option<f64>,
}

/// Runs the client of `workload` against `addr` for `secs` (plus `warmup`)
/// on `core`.
fn load(
    env: &Env,
    workload: &Workload,
    addr: &str,
    secs: f64,
    warmup: f64,
    core: Option<usize>,
) -> Result<Load, String> {
    let limit = Duration::from_secs_f64(secs + warmup + 60.0);
    let (mut command, parse): (Command, Parser) = match workload.kind {
        Kind::Echo | Kind::TlsEcho => {
            let mut command = env.command(&[], core, &env.bins.join("loadgen"));
            command.args(tls::client_args(&env.bins, workload.kind == Kind::TlsEcho)?);
            command.arg(format!("--addr={addr}"));
            command.arg(format!("--conns={}", workload.conns));
            command.arg(format!("--size={}", workload.size));
            command.args([format!("--secs={secs}"), format!("--warmup={warmup}")]);
            (command, parse_loadgen)
        }
        Kind::Http => {
            let mut command = env.command(&[], core, Path::new("wrk"));
            command.args(["-t1", &format!("-c{}", workload.conns), "--latency"]);
            command.args([format!("-d{}s", secs.ceil()), format!("http://{addr}/")]);
            (command, parse_wrk)
        }
        Kind::Http2 => {
            let mut command = env.command(&[], core, Path::new("h2load"));
            command.args(h2load::args(workload.conns, workload.streams, secs, addr));
            (command, h2load::parse)
        }
    };
    command.stderr(Stdio::inherit());
    let (status, lines) = Proc::spawn(command, false)?.finish(limit)?;
    let result = parse(&lines);
    if !status.success() {
        return Err(format!("client failed ({status}): {}", lines.join(" | ")));
    }
    result
}

/// Reads a client's stdout.
type Parser = fn(&[String]) -> Result<Load, String>;

/// Parses loadgen's `rps=... p99_us=... all_round_trips=... errors=...`.
fn parse_loadgen(lines: &[String]) -> Result<Load, String> {
    let line = lines
        .iter()
        .find(|l| l.starts_with("rps="))
        .ok_or("loadgen printed no rps= line")?;
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| format!("no {key}= in {line:?}"))
    };
    if field("errors")? > 0.0 {
        return Err(format!("loadgen saw errors: {line}"));
    }
    Ok(Load {
        rps: field("rps")?,
        ops: field("all_round_trips")? as u64,
        p99_us: Some(field("p99_us")?),
    })
}

/// Parses wrk's report: `Requests/sec:`, `N requests in`, the 99%
/// latency; socket errors and non-2xx answers are failures.
fn parse_wrk(lines: &[String]) -> Result<Load, String> {
    let (mut rps, mut ops, mut p99_us) = (None, None, None);
    for line in lines.iter().map(|l| l.trim()) {
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            rps = rest.trim().parse().ok();
        } else if let Some((count, _)) = line.split_once(" requests in ") {
            ops = count.trim().parse().ok();
        } else if let Some(rest) = line.strip_prefix("99%") {
            p99_us = parse_wrk_time(rest.trim());
        } else if line.starts_with("Socket errors:") || line.starts_with("Non-2xx") {
            return Err(format!("wrk: {line}"));
        }
    }
    match (rps, ops) {
        (Some(rps), Some(ops)) if ops > 0 => Ok(Load { rps, ops, p99_us }),
        _ => Err(format!("wrk reported no requests: {}", lines.join(" | "))),
    }
}

/// `512.00us`, `1.23ms`, `2.00s` in microseconds.
fn parse_wrk_time(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let value: f64 = text[..split].parse().ok()?;
    let scale = match &text[split..] {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        _ => return None,
    };
    Some(value * scale)
}

/// One throughput run.
#[derive(Debug, Clone, PartialEq)]
struct Throughput {
    load: Load,
    /// The server's CPU seconds over the client's whole run.
    cpu_secs: f64,
}

impl Throughput {
    fn cpu_us_per_op(&self) -> f64 {
        self.cpu_secs * 1e6 / self.load.ops.max(1) as f64
    }
}

impl std::fmt::Display for Throughput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0}/s, {} µs server CPU per op",
            self.load.rps,
            fmt_ns(self.cpu_us_per_op())
        )
    }
}

/// Runs `workload` against `server` pinned as `pinning` says.
fn throughput(
    env: &Env,
    server: &Server,
    workload: &Workload,
    pinning: Pinning,
) -> Result<Throughput, String> {
    let (server_core, client_core) = pinning.1.unzip();
    let mut running = start(env, server, &[], server_core)?;
    let pid = running.proc.pid();
    let before = cpu_secs(env, pid)?;
    let warmup = if matches!(workload.kind, Kind::Echo | Kind::TlsEcho) {
        WARMUP_SECS
    } else {
        0.0
    };
    let load = load(env, workload, &running.addr, env.secs, warmup, client_core)?;
    let after = cpu_secs(env, pid)?;
    running.proc.stop();
    Ok(Throughput {
        load,
        cpu_secs: after - before,
    })
}

/// The syscalls of one strace'd run.
#[derive(Debug, Clone, PartialEq)]
struct Syscalls {
    ops: u64,
    total: u64,
    /// Every syscall with its count, most frequent first.
    calls: Vec<(String, u64)>,
}

impl Syscalls {
    fn per_op(&self, calls: u64) -> f64 {
        calls as f64 / self.ops.max(1) as f64
    }
}

impl std::fmt::Display for Syscalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} per op", self.per_op(self.total))?;
        for (i, (name, calls)) in self.calls.iter().take(4).enumerate() {
            let sep = if i == 0 { " (" } else { ", " };
            write!(f, "{sep}{name} {:.2}", self.per_op(*calls))?;
        }
        if !self.calls.is_empty() {
            write!(f, ")")?;
        }
        Ok(())
    }
}

/// A short run of `workload` against `server` under `strace -c -f`.
fn syscalls(env: &Env, server: &Server, workload: &Workload) -> Result<Syscalls, String> {
    let dir = target_dir().join("netbench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = dir.join(format!("strace-{}-{}.txt", workload.name, server.name));
    let _ = std::fs::remove_file(&file);
    let prefix: Vec<OsString> = vec![
        "strace".into(),
        "-f".into(),
        "-c".into(),
        "-o".into(),
        file.clone().into(),
        "--".into(),
    ];
    let pinning = if workload.per_core { UNPINNED } else { SPLIT };
    let (server_core, client_core) = pinning.1.unzip();
    let mut running = start(env, server, &prefix, server_core)?;
    running.proc.target =
        Some(child_of(running.proc.child.id()).ok_or("strace started no server")?);
    let load = load(env, workload, &running.addr, STRACE_SECS, 0.0, client_core)?;
    running.proc.stop();
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let (total, calls) =
        parse_strace(&text).ok_or_else(|| format!("no summary in {}", file.display()))?;
    Ok(Syscalls {
        ops: load.ops,
        total,
        calls,
    })
}

/// Reads the table `strace -c` writes: the total calls and each syscall's
/// calls, most first.
fn parse_strace(text: &str) -> Option<(u64, Vec<(String, u64)>)> {
    let mut calls = Vec::new();
    let mut total = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 5 || fields[0].parse::<f64>().is_err() {
            continue;
        }
        let (Some(name), Ok(count)) = (fields.last(), fields[3].parse::<u64>()) else {
            continue;
        };
        if *name == "total" {
            total = Some(count);
        } else {
            calls.push((name.to_string(), count));
        }
    }
    calls.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Some((total?, calls))
}

/// The memory row of one server.
#[derive(Debug, Clone, PartialEq)]
struct Memory {
    before_kib: u64,
    after_kib: u64,
}

impl Memory {
    fn bytes_per_conn(&self) -> f64 {
        (self.after_kib as f64 - self.before_kib as f64) * 1024.0 / IDLE_CONNS as f64
    }
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} -> {} KiB: {:.0} B per idle connection",
            self.before_kib,
            self.after_kib,
            self.bytes_per_conn()
        )
    }
}

/// The server's RSS before and after `loadgen --idle` opens its connections.
fn memory(env: &Env, server: &Server) -> Result<Memory, String> {
    let (server_core, client_core) = SPLIT.1.unzip();
    let mut running = start(env, server, &env.nofile, server_core)?;
    let pid = running.proc.pid();
    let before_kib = rss_kib(pid)?;
    let mut command = env.command(&env.nofile, client_core, &env.bins.join("loadgen"));
    command.args([
        format!("--addr={}", running.addr),
        format!("--idle={IDLE_CONNS}"),
        "--hold=300".into(),
    ]);
    command.stderr(Stdio::inherit());
    let mut idle = Proc::spawn(command, true)?;
    idle.expect("connected=", Duration::from_secs(120))?;
    std::thread::sleep(Duration::from_millis(200));
    let after_kib = rss_kib(pid)?;
    idle.stdin = None; // loadgen lets go of its connections
    idle.wait(Duration::from_secs(10));
    running.proc.stop();
    Ok(Memory {
        before_kib,
        after_kib,
    })
}

/// What a run measured, or why it failed.
type Outcome<T> = Result<T, String>;

/// A throughput run: workload, pinning, server.
type RunKey<'a> = (&'a Workload, &'static str, &'a Server);

/// A strace'd run: workload and server binary.
type SyscallKey = (&'static str, &'static str);

/// Everything measured, keyed by what ran.
#[derive(Default)]
struct Results<'a> {
    runs: Vec<(RunKey<'a>, Outcome<Throughput>)>,
    syscalls: Vec<(SyscallKey, Outcome<Syscalls>)>,
    memory: Vec<(&'a Server, Outcome<Memory>)>,
    balance: Vec<(&'a Server, Outcome<per_core::Balance>)>,
}

mod h2load;
mod per_core;
mod tables;
#[cfg(test)]
mod tests;
mod tls;
