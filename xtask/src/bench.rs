//! `cargo xtask bench`: runs the criterion benches of `tulip-benches` and
//! prints one markdown table of ns/op and tulip/peer ratios.
//!
//! Convention of the benches: a criterion *group* is a table row, the
//! *function ids* within it are the runtimes (`tulip`, `tokio`, `smol`,
//! `async-io`, ...), and each group sets `Throughput::Elements(n)` with n the
//! operations per iteration. The table reads criterion's
//! `<group>/<function>[/<value>]/new/{benchmark,estimates}.json` under
//! `target/criterion` (or `$CRITERION_HOME`), so it needs no parsing of
//! criterion's terminal output.

use crate::cmd::{cargo, target_dir};
use crate::json::{self, Value};
use crate::netbench;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The runtime whose ratios the table reports.
const TULIP: &str = "tulip";

/// Peers shown first, in this order; any others follow alphabetically.
const KNOWN_PEERS: &[&str] = &["tokio", "smol", "async-io"];

/// Options of `cargo xtask bench`.
#[derive(Debug, Default, PartialEq)]
pub struct Options {
    /// Only print the table from the results already on disk.
    pub no_run: bool,
    /// Criterion's benchmark filter.
    pub filter: Option<String>,
    /// Further arguments for criterion (after `--`).
    pub criterion_args: Vec<String>,
}

impl Options {
    /// Parses the arguments after `bench`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Options::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--no-run" => options.no_run = true,
                "--" => options.criterion_args.extend(args.by_ref().cloned()),
                flag if flag.starts_with('-') => {
                    return Err(format!(
                        "unknown flag to `bench`: {flag} (criterion flags go after `--`)"
                    ));
                }
                filter if options.filter.is_none() => options.filter = Some(filter.to_string()),
                extra => return Err(format!("`bench` takes one FILTER; extra argument: {extra}")),
            }
        }
        Ok(options)
    }
}

/// Runs the benches (unless `--no-run`) and prints the table; then, without
/// a FILTER, the network benches. FILTER `net` or `net/SUB` runs only the
/// network benches (see `netbench`); FILTER `py` runs tulipio against
/// uvloop and asyncio (`crates/tulip-py/bench/run.py`).
pub fn run(options: &Options) -> Result<(), String> {
    if options.filter.as_deref() == Some("py") {
        return crate::py::bench();
    }
    if let Some(sub) = netbench::selected(options.filter.as_deref()) {
        if options.no_run || !options.criterion_args.is_empty() {
            return Err("the network benches take neither --no-run nor criterion arguments".into());
        }
        return netbench::run(sub);
    }
    let since = if options.no_run {
        UNIX_EPOCH
    } else {
        // Criterion takes far longer than a second to write its first
        // result, so even a file system with coarse timestamps cannot date a
        // fresh result before this instant.
        let since = SystemTime::now();
        let mut args = vec!["bench", "-p", "tulip-benches", "--bench", "*", "--"];
        args.extend(options.filter.as_deref());
        args.extend(options.criterion_args.iter().map(String::as_str));
        println!("==> cargo {}", args.join(" "));
        let status = cargo(&args)
            .status()
            .map_err(|e| format!("could not start cargo: {e}"))?;
        if !status.success() {
            return Err(format!("`cargo bench` failed ({status})"));
        }
        since
    };
    let dir = criterion_dir();
    let results = collect(&dir, since)?;
    if results.is_empty() {
        return Err(if options.no_run {
            format!(
                "no criterion results found under {} (run `cargo xtask bench` first)",
                dir.display()
            )
        } else {
            format!(
                "this run wrote no criterion results under {} (does the filter match?)",
                dir.display()
            )
        });
    }
    println!("\n{}", table(&results));
    if options.filter.is_none() && !options.no_run {
        netbench::run(None)?;
    }
    Ok(())
}

/// Where criterion writes its results.
fn criterion_dir() -> PathBuf {
    match std::env::var_os("CRITERION_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => target_dir().join("criterion"),
    }
}

/// One measured benchmark: a cell of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The table row: the group id, plus `/<value>` for parameterised ids.
    pub row: String,
    /// The runtime: the function id.
    pub runtime: String,
    /// Mean time per operation, in nanoseconds.
    pub ns_per_op: f64,
    /// Whether the group declared `Throughput::Elements` (else ns per iteration).
    pub per_element: bool,
    /// When criterion wrote the estimate.
    pub written: SystemTime,
}

/// Reads every `new/` result under `dir` whose estimate was written at or
/// after `since`.
fn collect(dir: &Path, since: SystemTime) -> Result<Vec<Measurement>, String> {
    let mut found = Vec::new();
    if dir.is_dir() {
        find_new_dirs(dir, &mut found).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    }
    let mut results = Vec::new();
    for new_dir in found {
        let estimates = new_dir.join("estimates.json");
        let written = match std::fs::metadata(&estimates).and_then(|m| m.modified()) {
            Ok(written) if written >= since => written,
            _ => continue,
        };
        match read_measurement(&new_dir, written) {
            Ok(measurement) => results.push(measurement),
            Err(e) => eprintln!("xtask: warning: skipping {}: {e}", new_dir.display()),
        }
    }
    Ok(results)
}

/// Finds every directory named `new` that holds a `benchmark.json`.
fn find_new_dirs(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|name| name == "new")
            && path.join("benchmark.json").is_file()
        {
            found.push(path);
        } else {
            find_new_dirs(&path, found)?;
        }
    }
    Ok(())
}

/// Reads one benchmark's `benchmark.json` and `estimates.json`.
fn read_measurement(new_dir: &Path, written: SystemTime) -> Result<Measurement, String> {
    let read = |name: &str| -> Result<Value, String> {
        let text =
            std::fs::read_to_string(new_dir.join(name)).map_err(|e| format!("{name}: {e}"))?;
        json::parse(&text).map_err(|e| format!("{name}: {e}"))
    };
    let (benchmark, estimates) = (read("benchmark.json")?, read("estimates.json")?);
    measurement(&benchmark, &estimates, written)
}

/// Builds a measurement from the two parsed files.
fn measurement(
    benchmark: &Value,
    estimates: &Value,
    written: SystemTime,
) -> Result<Measurement, String> {
    let text = |key: &str| benchmark.get(key).and_then(Value::as_str);
    let group = text("group_id").ok_or("benchmark.json has no group_id")?;
    let (row, runtime) = match (text("function_id"), text("value_str")) {
        (Some(function), Some(value)) => (format!("{group}/{value}"), function),
        (Some(function), None) => (group.to_string(), function),
        (None, Some(value)) => (group.to_string(), value),
        (None, None) => (group.to_string(), "(none)"),
    };
    let mean = estimates
        .at(&["mean", "point_estimate"])
        .and_then(Value::as_f64)
        .ok_or("estimates.json has no mean.point_estimate")?;
    let elements = benchmark
        .at(&["throughput", "Elements"])
        .or_else(|| benchmark.at(&["throughput", "ElementsAndBytes", "elements"]))
        .and_then(Value::as_f64)
        .filter(|&n| n > 0.0);
    Ok(Measurement {
        row,
        runtime: runtime.to_string(),
        ns_per_op: mean / elements.unwrap_or(1.0),
        per_element: elements.is_some(),
        written,
    })
}

/// `1234`, `56.7`, `8.90`: about three significant digits.
pub(crate) fn fmt_ns(ns: f64) -> String {
    if ns >= 100.0 {
        format!("{ns:.0}")
    } else if ns >= 10.0 {
        format!("{ns:.1}")
    } else {
        format!("{ns:.2}")
    }
}

/// The markdown table: one row per group (in the order criterion measured
/// them), tulip's ns/op, then ns/op and tulip/peer for every peer present.
fn table(results: &[Measurement]) -> String {
    let mut rows: Vec<(&str, SystemTime)> = Vec::new();
    for m in results {
        match rows.iter_mut().find(|(row, _)| *row == m.row) {
            Some((_, first)) => *first = (*first).min(m.written),
            None => rows.push((&m.row, m.written)),
        }
    }
    rows.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(b.0)));
    let others: BTreeSet<&str> = results.iter().map(|m| m.runtime.as_str()).collect();
    let mut peers: Vec<&str> = KNOWN_PEERS
        .iter()
        .copied()
        .filter(|p| others.contains(p))
        .collect();
    peers.extend(
        others
            .iter()
            .copied()
            .filter(|p| *p != TULIP && !KNOWN_PEERS.contains(p)),
    );

    let mut header = format!("| benchmark | {TULIP} ns/op |");
    let mut rule = String::from("| --- | ---: |");
    for peer in &peers {
        header.push_str(&format!(" {peer} ns/op | {TULIP}/{peer} |"));
        rule.push_str(" ---: | ---: |");
    }
    let mut out = format!("{header}\n{rule}\n");
    let mut per_iteration = false;
    for (row, _) in &rows {
        let cell = |runtime: &str| {
            results
                .iter()
                .find(|m| m.row == *row && m.runtime == runtime)
        };
        let tulip = cell(TULIP);
        let marker = if results.iter().any(|m| m.row == *row && !m.per_element) {
            " †"
        } else {
            ""
        };
        per_iteration |= !marker.is_empty();
        out.push_str(&format!(
            "| {row}{marker} | {} |",
            tulip.map_or("–".into(), |m| fmt_ns(m.ns_per_op))
        ));
        for peer in &peers {
            let peer = cell(peer);
            let ratio = match (tulip, peer) {
                (Some(t), Some(p)) if p.ns_per_op > 0.0 => {
                    format!("{:.2}", t.ns_per_op / p.ns_per_op)
                }
                _ => "–".into(),
            };
            out.push_str(&format!(
                " {} | {ratio} |",
                peer.map_or("–".into(), |m| fmt_ns(m.ns_per_op))
            ));
        }
        out.push('\n');
    }
    out.push_str("\nns/op = criterion's mean time per iteration / Throughput::Elements; ");
    out.push_str(&format!("{TULIP}/peer < 1.00 means {TULIP} is faster.\n"));
    if per_iteration {
        out.push_str("† no Throughput::Elements declared (for some runtime): ns per iteration.\n");
    }
    out
}

#[cfg(test)]
mod tests;
