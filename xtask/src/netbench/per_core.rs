//! The per-core part of the network benches: the balance runs (how a
//! two-loop server spreads 1,000 connections over its loops) and the
//! projection of the per-core rows' server CPU per operation to 16 cores,
//! next to monoio's published figures.
//!
//! Balance: [`BALANCE_THREADS`] client threads open [`BALANCE_CONNS`]
//! connections from one client address (127.0.0.1, ports picked by the
//! kernel), each served a one-byte echo so that the server has accepted
//! and handed it to a loop; with every connection still open the server
//! gets SIGTERM, and prints, before closing anything, a line
//!
//! ```text
//! loads: 500/500 500/500
//! ```
//!
//! with each loop's live connections and accepted total, in loop order.

use super::{Env, Outcome, RunKey, Server, Throughput, start};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The name of the balance load in labels.
pub(super) const BALANCE_LOAD: &str = "per_core_1000conns";
/// Connections of a balance run.
const BALANCE_CONNS: usize = 1000;
/// Client threads of a balance run, each opening its share of
/// [`BALANCE_CONNS`].
const BALANCE_THREADS: usize = 4;
/// The balance goal: each loop's share within this fraction of the mean.
const BALANCE_GOAL: f64 = 0.10;
/// How long a balance run's client may take to connect and be echoed.
const BALANCE_TIMEOUT: Duration = Duration::from_secs(30);

/// The cores of the projection.
const PROJECTED_CORES: f64 = 16.0;
/// monoio's published 100-byte ping-pong figures (requests per second):
/// monoio on 1 core, monoio on 16 cores, tokio's multi-threaded peak, all
/// on the same Xeon.
const MONOIO_1_CORE: f64 = 232_888.0;
const MONOIO_16_CORES: f64 = 2_764_152.0;
const TOKIO_MT_PEAK: f64 = 908_179.0;

/// Whether `server` takes part in the balance runs: the per-core tulip
/// echo servers (the tokio peers have one listener and no loops to share
/// between).
pub(super) fn balanced(server: &Server) -> bool {
    server.threads > 1 && server.runtime == "tulip" && server.serves(super::Kind::Echo)
}

/// What one balance run found: each loop's live connections and accepted
/// total while the client held its connections.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Balance {
    pub(super) loops: Vec<(usize, u64)>,
}

impl Balance {
    /// Each loop's share of the live connections, in percent.
    fn shares(&self) -> Vec<f64> {
        let total: usize = self.loops.iter().map(|(live, _)| live).sum();
        self.loops
            .iter()
            .map(|(live, _)| 100.0 * *live as f64 / total.max(1) as f64)
            .collect()
    }

    /// The largest distance of a loop's share from the mean share, as a
    /// fraction of the mean.
    fn worst_deviation(&self) -> f64 {
        let shares = self.shares();
        let mean = 100.0 / shares.len().max(1) as f64;
        shares
            .iter()
            .map(|s| (s - mean).abs() / mean)
            .fold(0.0, f64::max)
    }
}

impl std::fmt::Display for Balance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shares: Vec<String> = self.shares().iter().map(|s| format!("{s:.1}%")).collect();
        write!(
            f,
            "shares {} (worst {:.1}% from the mean)",
            shares.join(" / "),
            100.0 * self.worst_deviation()
        )
    }
}

/// Parses the server's `loads: LIVE/ACCEPTED ...` line.
pub(super) fn parse_loads(line: &str) -> Result<Balance, String> {
    let rest = line
        .strip_prefix("loads:")
        .ok_or_else(|| format!("not a loads line: {line:?}"))?;
    let loops = rest
        .split_whitespace()
        .map(|pair| {
            let (live, accepted) = pair.split_once('/')?;
            Some((live.parse().ok()?, accepted.parse().ok()?))
        })
        .collect::<Option<Vec<(usize, u64)>>>()
        .filter(|loops| !loops.is_empty())
        .ok_or_else(|| format!("bad loads line: {line:?}"))?;
    Ok(Balance { loops })
}

/// One balance run against `server` (unpinned: the server's loops need
/// both cores).
pub(super) fn balance(env: &Env, server: &Server) -> Result<Balance, String> {
    let mut running = start(env, server, &env.nofile, None)?;
    let addr = running.addr.clone();
    let clients: Vec<_> = (0..BALANCE_THREADS)
        .map(|i| {
            let addr = addr.clone();
            // Shares that add up to BALANCE_CONNS.
            let conns = (BALANCE_CONNS + BALANCE_THREADS - 1 - i) / BALANCE_THREADS;
            std::thread::spawn(move || open_served(&addr, conns))
        })
        .collect();
    let mut held = Vec::with_capacity(BALANCE_CONNS);
    let mut failure = None;
    for client in clients {
        match client.join() {
            Ok(Ok(streams)) => held.extend(streams),
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some("a client thread panicked".into()),
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    // SIGTERM while every connection is held: the server prints its loads
    // before it closes them.
    let proc = &mut running.proc;
    super::signal("TERM", proc.pid());
    let line = proc.expect("loads:", Duration::from_secs(10));
    drop(held);
    proc.stop();
    let balance = parse_loads(&format!("loads: {}", line?))?;
    let live: usize = balance.loops.iter().map(|(live, _)| live).sum();
    let accepted: u64 = balance.loops.iter().map(|(_, accepted)| accepted).sum();
    if live != BALANCE_CONNS || accepted != BALANCE_CONNS as u64 {
        return Err(format!(
            "{BALANCE_CONNS} connections held, but the server counts {live} live and {accepted} accepted"
        ));
    }
    Ok(balance)
}

/// Opens `conns` connections to `addr`, each echoed one byte (so served),
/// and returns them open.
fn open_served(addr: &str, conns: usize) -> Result<Vec<TcpStream>, String> {
    let deadline = Instant::now() + BALANCE_TIMEOUT;
    let mut streams = Vec::with_capacity(conns);
    for _ in 0..conns {
        let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        let left = deadline.saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .map_err(|e| format!("{addr}: {e}"))?;
        let mut byte = [0u8; 1];
        stream
            .write_all(b"x")
            .and_then(|()| stream.read_exact(&mut byte))
            .map_err(|e| format!("echo from {addr}: {e}"))?;
        if &byte != b"x" {
            return Err(format!("{addr} echoed {byte:?} for b\"x\""));
        }
        streams.push(stream);
    }
    Ok(streams)
}

/// The markdown table of the balance runs.
pub(super) fn balance_table(runs: &[(&Server, Outcome<Balance>)]) -> String {
    let mut out = format!(
        "| balance ({BALANCE_CONNS} conns, {BALANCE_THREADS} client threads) | server | live/accepted per loop | shares | worst vs mean | within ±{:.0}% |\n\
         | --- | --- | --- | --- | ---: | :---: |\n",
        100.0 * BALANCE_GOAL
    );
    for (server, outcome) in runs {
        let cells = match outcome {
            Ok(b) => {
                let loads: Vec<String> = b.loops.iter().map(|(l, a)| format!("{l}/{a}")).collect();
                let shares: Vec<String> = b.shares().iter().map(|s| format!("{s:.1}%")).collect();
                let met = if b.worst_deviation() <= BALANCE_GOAL {
                    "yes"
                } else {
                    "no"
                };
                format!(
                    "{} | {} | {:.1}% | {met}",
                    loads.join(" "),
                    shares.join(" / "),
                    100.0 * b.worst_deviation()
                )
            }
            Err(_) => "failed | – | – | –".into(),
        };
        out.push_str(&format!("| {BALANCE_LOAD} | {} | {cells} |\n", server.name));
    }
    out.push_str(&format!(
        "\n{BALANCE_THREADS} client threads open {BALANCE_CONNS} connections from one client address \
         (127.0.0.1, kernel-chosen ports), each served a 1-byte echo, and hold them; \
         SIGTERM then makes the server print each loop's live/accepted count before it closes anything. \
         share = a loop's live connections / all live connections.\n"
    ));
    out
}

/// The projection of the per-core rows to [`PROJECTED_CORES`] cores, from
/// their server CPU per operation, with monoio's published figures.
pub(super) fn projection(runs: &[(RunKey<'_>, Outcome<Throughput>)]) -> String {
    let mut out = format!(
        "| projection to {PROJECTED_CORES:.0} cores | server | server CPU µs/op | ops per core-second | projected ops/s at {PROJECTED_CORES:.0} cores |\n\
         | --- | --- | ---: | ---: | ---: |\n"
    );
    for ((workload, _, server), outcome) in runs.iter().filter(|((w, _, _), _)| w.per_core) {
        if let Ok(t) = outcome {
            let per_core = 1e6 / t.cpu_us_per_op().max(f64::MIN_POSITIVE);
            out.push_str(&format!(
                "| {} | {} | {} | {per_core:.0} | {:.0} |\n",
                workload.name,
                server.name,
                crate::bench::fmt_ns(t.cpu_us_per_op()),
                per_core * PROJECTED_CORES
            ));
        }
    }
    out.push_str(&format!(
        "| monoio (published) 100 B ping-pong | monoio | – | {MONOIO_1_CORE:.0} (1 core) | {MONOIO_16_CORES:.0} |\n\
         | monoio (published) 100 B ping-pong | tokio multi-thread | – | – | {TOKIO_MT_PEAK:.0} (peak) |\n\
         \nprojected = {PROJECTED_CORES:.0} x 1e6 / (server CPU µs per op), assuming: every core runs one loop \
         (or worker) at 100% serving only, linear scaling (tulip's loops share nothing; tokio's \
         work stealing and shared queues make linear an upper bound for it), clients on other machines, \
         connections spread evenly, and the same CPU per op as measured here on 2 shared cores. \
         monoio's figures are on a different machine (a 16-core Xeon) with 100-byte messages, so only \
         their order of magnitude compares.\n"
    ));
    out
}
