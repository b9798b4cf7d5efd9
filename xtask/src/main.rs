//! Project automation for the tulip workspace, run as `cargo xtask <command>`.
//!
//! - `cargo xtask ci [--quick]`: the full check CI runs (fmt, clippy, tests,
//!   tests on the `polling` backend, docs, examples and bench builds).
//! - `cargo xtask bench [--no-run] [FILTER] [-- CRITERION_ARGS...]`: runs the
//!   criterion benches of `tulip-benches` and prints one table of ns/op and
//!   tulip/peer ratios, then the network benches; `bench net[/FILTER]` runs
//!   only the network benches (servers against a load generator, wrk and
//!   h2load).
//! - `cargo xtask py`: the Python module's step of `ci` alone (build,
//!   conformance run against CPython's asyncio tests, its own tests).
//! - `cargo xtask tidy`: the source rules a lint cannot check (also run by
//!   `cargo test` as a unit test of this crate).
//!
//! The crate uses std only.

mod bench;
mod ci;
mod cmd;
mod json;
mod netbench;
mod py;
mod tidy;

use std::process::ExitCode;

/// The usage text printed by `cargo xtask help` and on bad arguments.
const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci [--quick]              fmt, clippy, tests (+ polling backend), docs, examples, bench build
                            --quick skips the polling re-run and the bench build
  bench [--no-run] [FILTER] [-- ARGS...]
                            run the criterion benches of tulip-benches (FILTER and ARGS go
                            to criterion) and print one table of ns/op and tulip/peer ratios;
                            --no-run only prints the table from the existing results;
                            without FILTER, the network benches follow
  bench net[/FILTER]        only the network benches: echo and HTTP servers of tulip, tokio
                            and smol against loadgen, wrk and h2load (TULIP_NETBENCH_SECS=3)
  bench py                  tulipio against uvloop and asyncio (crates/tulip-py/bench/run.py)
  tidy                      check the source rules (module docs, file length: a warning over
                            800 lines, a failure over 1,500; sys/ layout, no placeholder
                            macros, SAFETY comments, doc examples through the facade)
  py                        the Python module alone (crates/tulip-py): fmt, clippy,
                            conformance.py (CPython's asyncio tests on tulip) and its tests
  help                      print this text";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match command {
        "ci" => ci::Options::parse(rest).and_then(|options| ci::run(&options)),
        "bench" => bench::Options::parse(rest).and_then(|options| bench::run(&options)),
        "tidy" if rest.is_empty() => tidy::run(),
        "py" if rest.is_empty() => py::run(),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => Err(format!(
            "unknown command or arguments: {}\n\n{USAGE}",
            args.join(" ")
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}
