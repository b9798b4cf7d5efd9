//! `cargo xtask ci`: every check CI runs, in order, stopping at the first
//! failure.
//!
//! The steps share their builds: all tests, the benches' compile check and the
//! examples build in the one `dev`/`test` profile with the one feature set of
//! `--workspace` (a `-p` subset can unify dependency features differently and
//! rebuild half the workspace), so after `cargo test --workspace` they link
//! only what is new. The benches are compiled, not measured: `cargo xtask
//! bench` builds them optimized. The re-runs of the loop crates' tests on the
//! `polling` and `uring` backends run the binaries `cargo test --workspace` already built,
//! through cargo-nextest, which selects them by package, then what nextest
//! does not run (tests with their own harness, doc tests) through cargo; where
//! nextest is not installed it falls back to `cargo test -p ...` (which
//! rebuilds those crates). The doc tests run again on `polling` only: those
//! of the completion interface pick the `uring` backend themselves, and CI
//! time is short (2 cores).

use crate::cmd::{cargo, fmt_duration};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Options of `cargo xtask ci`.
#[derive(Debug, Default, PartialEq)]
pub struct Options {
    /// Skip the re-runs on the `polling` and `uring` backends and the bench build.
    pub quick: bool,
}

impl Options {
    /// Parses the arguments after `ci`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Options::default();
        for arg in args {
            match arg.as_str() {
                "--quick" => options.quick = true,
                other => return Err(format!("unknown argument to `ci`: {other}")),
            }
        }
        Ok(options)
    }
}

/// One check: a cargo invocation with its environment.
#[derive(Debug)]
struct Step {
    /// Environment variables set for this step only.
    env: &'static [(&'static str, &'static str)],
    /// The arguments after `cargo`.
    args: &'static [&'static str],
    /// Whether `--quick` skips it.
    slow: bool,
}

impl Step {
    /// The command as a user would type it.
    fn display(&self) -> String {
        let quote = |v: &str| {
            if v.contains(' ') {
                format!("\"{v}\"")
            } else {
                v.to_string()
            }
        };
        let env = self.env.iter().map(|(k, v)| format!("{k}={} ", quote(v)));
        let args: Vec<String> = self.args.iter().map(|a| quote(a)).collect();
        format!("{}cargo {}", env.collect::<String>(), args.join(" "))
    }
}

/// The crates whose tests run again on the `polling` and `uring` backends:
/// those that drive the loop (the reactor's own tests run every backend
/// explicitly).
const POLLING_PACKAGES: &str =
    "tulip-executor tulip-transport tulip-streams tulip-process tulip-hyper";

/// The arguments of a backend re-run through cargo-nextest: the binaries of
/// `cargo test --workspace`, selected by package, nothing rebuilt; all but
/// those with their own harness, which nextest cannot list.
const RERUN_NEXTEST_ARGS: &[&str] = &[
    "nextest",
    "run",
    "--workspace",
    "-E",
    "(package(tulip-executor) | package(tulip-transport) | package(tulip-streams) | package(tulip-process) | package(tulip-hyper)) & !binary(run_ctrl_c) & !binary(group_ctrl_c) & !binary(serve_ctrl_c)",
];

/// The arguments of a backend re-run of the tests with their own harness,
/// through cargo (`--workspace` again, so nothing is rebuilt).
const RERUN_OWN_HARNESS_ARGS: &[&str] = &[
    "test",
    "--workspace",
    "--test",
    "run_ctrl_c",
    "--test",
    "group_ctrl_c",
    "--test",
    "serve_ctrl_c",
];

/// The arguments of a backend re-run without nextest: `-p` selects the
/// crates and rebuilds those whose dependency features differ from
/// `--workspace`.
const RERUN_CARGO_TEST_ARGS: &[&str] = &[
    "test",
    "-p",
    "tulip-executor",
    "-p",
    "tulip-transport",
    "-p",
    "tulip-streams",
    "-p",
    "tulip-process",
    "-p",
    "tulip-hyper",
];

/// The `polling` re-run through cargo-nextest.
const POLLING_NEXTEST: Step = Step {
    env: &[("TULIP_BACKEND", "polling")],
    args: RERUN_NEXTEST_ARGS,
    slow: true,
};

/// The tests with their own harness, on the `polling` backend.
const POLLING_OWN_HARNESS: Step = Step {
    env: &[("TULIP_BACKEND", "polling")],
    args: RERUN_OWN_HARNESS_ARGS,
    slow: true,
};

/// The `uring` re-run through cargo-nextest.
const URING_NEXTEST: Step = Step {
    env: &[("TULIP_BACKEND", "uring")],
    args: RERUN_NEXTEST_ARGS,
    slow: true,
};

/// The tests with their own harness, on the `uring` backend.
const URING_OWN_HARNESS: Step = Step {
    env: &[("TULIP_BACKEND", "uring")],
    args: RERUN_OWN_HARNESS_ARGS,
    slow: true,
};

/// The `uring` re-run without nextest.
const URING_CARGO_TEST: Step = Step {
    env: &[("TULIP_BACKEND", "uring")],
    args: RERUN_CARGO_TEST_ARGS,
    slow: true,
};

/// The doc tests of the `polling` re-run (nextest runs no doc tests): the
/// whole workspace's, so that the libraries `cargo test --workspace` built are
/// reused.
const POLLING_DOCTESTS: Step = Step {
    env: &[("TULIP_BACKEND", "polling")],
    args: &["test", "--workspace", "--doc"],
    slow: true,
};

/// The `polling` re-run without nextest.
const POLLING_CARGO_TEST: Step = Step {
    env: &[("TULIP_BACKEND", "polling")],
    args: RERUN_CARGO_TEST_ARGS,
    slow: true,
};

/// The checks, in the order they run; the `polling` re-run (index
/// [`POLLING_STEP`]) is a placeholder that [`steps`] replaces with the
/// `polling` and `uring` re-runs.
const STEPS: &[Step] = &[
    Step {
        env: &[],
        args: &["fmt", "--all", "--check"],
        slow: false,
    },
    Step {
        env: &[],
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        slow: false,
    },
    Step {
        env: &[],
        args: &["test", "--workspace"],
        slow: false,
    },
    POLLING_CARGO_TEST,
    Step {
        env: &[("RUSTDOCFLAGS", "-D warnings")],
        args: &["doc", "--workspace", "--no-deps"],
        slow: false,
    },
    Step {
        env: &[],
        args: &["build", "--workspace", "--examples", "--bins"],
        slow: false,
    },
    Step {
        env: &[],
        args: &["test", "--workspace", "--benches", "--no-run"],
        slow: true,
    },
    TRACING_CLIPPY,
    TRACING_TEST,
];

/// The executor's `tracing` feature (the spans and events tokio-console
/// reads), which the workspace's one feature set leaves off: its code
/// linted, and its test run.
const TRACING_CLIPPY: Step = Step {
    env: &[],
    args: &[
        "clippy",
        "-p",
        "tulip-executor",
        "--features",
        "tracing",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ],
    slow: true,
};

/// The `tracing` feature's test (see [`TRACING_CLIPPY`]).
const TRACING_TEST: Step = Step {
    env: &[],
    args: &[
        "test",
        "-p",
        "tulip-executor",
        "--features",
        "tracing",
        "--test",
        "trace_console",
    ],
    slow: true,
};

/// Where the `polling` re-run stands in [`STEPS`].
const POLLING_STEP: usize = 3;

/// The steps to run: all, or without the slow ones for `--quick`; the
/// `polling` and `uring` re-runs through nextest (and the `polling` doc
/// tests through cargo) when `nextest` says it is installed.
fn steps(quick: bool, nextest: bool) -> Vec<&'static Step> {
    let reruns: &[&'static Step] = &[
        &POLLING_NEXTEST,
        &POLLING_OWN_HARNESS,
        &POLLING_DOCTESTS,
        &URING_NEXTEST,
        &URING_OWN_HARNESS,
    ];
    STEPS
        .iter()
        .enumerate()
        .flat_map(|(index, step)| match index {
            POLLING_STEP if nextest => reruns.to_vec(),
            POLLING_STEP => vec![step, &URING_CARGO_TEST],
            _ => vec![step],
        })
        .filter(|step| !(quick && step.slow))
        .collect()
}

/// Whether `cargo nextest` runs here.
fn has_nextest() -> bool {
    cargo(&["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs the checks; `Err` names the first that failed.
pub fn run(options: &Options) -> Result<(), String> {
    let nextest = !options.quick && has_nextest();
    if !options.quick && !nextest {
        println!(
            "ci: cargo-nextest not found: the polling and uring re-runs of {POLLING_PACKAGES} \
             use `cargo test -p` (slower: it rebuilds them)"
        );
    }
    let steps = steps(options.quick, nextest);
    let total = steps.len();
    let started = Instant::now();
    let mut times: Vec<(String, Duration)> = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let shown = step.display();
        println!("\n==> ci [{}/{total}] {shown}", index + 1);
        let step_started = Instant::now();
        let mut command = cargo(step.args);
        command.envs(step.env.iter().copied());
        let status = command
            .status()
            .map_err(|e| format!("could not start `{shown}`: {e}"))?;
        let elapsed = step_started.elapsed();
        times.push((shown.clone(), elapsed));
        if !status.success() {
            print_times(&times);
            return Err(format!(
                "ci FAILED at step {}/{total}: `{shown}` ({status}) after {}; {} in all",
                index + 1,
                fmt_duration(elapsed),
                fmt_duration(started.elapsed()),
            ));
        }
        println!(
            "==> ci [{}/{total}] ok in {}: {shown}",
            index + 1,
            fmt_duration(elapsed)
        );
    }
    crate::py::run()?; // the Python module, its conformance run and tests (xtask/src/py.rs)
    print_times(&times);
    let skipped = if options.quick {
        " (--quick: polling and uring re-runs and bench build skipped)"
    } else {
        ""
    };
    println!(
        "ci: all {total} steps passed in {}{skipped}",
        fmt_duration(started.elapsed())
    );
    Ok(())
}

/// Prints the time each step took.
fn print_times(times: &[(String, Duration)]) {
    println!("\n==> ci step times");
    for (shown, elapsed) in times {
        println!("{:>10}  {shown}", fmt_duration(*elapsed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::workspace_root;

    /// The test binaries of the `polling` crates with their own harness
    /// (`harness = false`), which nextest cannot list: the nextest step
    /// leaves them out and a cargo step runs them.
    const OWN_HARNESS: &[&str] = &["run_ctrl_c", "group_ctrl_c", "serve_ctrl_c"];

    /// The steps as typed, for `quick` and `nextest`.
    fn shown(quick: bool, nextest: bool) -> Vec<String> {
        steps(quick, nextest)
            .into_iter()
            .map(Step::display)
            .collect()
    }

    #[test]
    fn steps_show_as_typed() {
        let shown = shown(false, false);
        assert_eq!(shown[0], "cargo fmt --all --check");
        assert_eq!(
            shown[3],
            "TULIP_BACKEND=polling cargo test -p tulip-executor -p tulip-transport -p tulip-streams -p tulip-process -p tulip-hyper"
        );
        assert_eq!(
            shown[4],
            "TULIP_BACKEND=uring cargo test -p tulip-executor -p tulip-transport -p tulip-streams -p tulip-process -p tulip-hyper"
        );
        assert_eq!(
            shown[5],
            "RUSTDOCFLAGS=\"-D warnings\" cargo doc --workspace --no-deps"
        );
        assert_eq!(
            shown[8],
            "cargo clippy -p tulip-executor --features tracing --all-targets -- -D warnings"
        );
        assert_eq!(
            shown[9],
            "cargo test -p tulip-executor --features tracing --test trace_console"
        );
        assert_eq!(shown.len(), 10);
    }

    #[test]
    fn polling_rerun_uses_nextest_where_installed() {
        let with = shown(false, true);
        let without = shown(false, false);
        assert_eq!(
            with[3],
            "TULIP_BACKEND=polling cargo nextest run --workspace -E \"(package(tulip-executor) | package(tulip-transport) | package(tulip-streams) | package(tulip-process) | package(tulip-hyper)) & !binary(run_ctrl_c) & !binary(group_ctrl_c) & !binary(serve_ctrl_c)\""
        );
        assert_eq!(
            with[4],
            "TULIP_BACKEND=polling cargo test --workspace --test run_ctrl_c --test group_ctrl_c --test serve_ctrl_c"
        );
        assert_eq!(
            with[5],
            "TULIP_BACKEND=polling cargo test --workspace --doc"
        );
        assert_eq!(
            with[6],
            "TULIP_BACKEND=uring cargo nextest run --workspace -E \"(package(tulip-executor) | package(tulip-transport) | package(tulip-streams) | package(tulip-process) | package(tulip-hyper)) & !binary(run_ctrl_c) & !binary(group_ctrl_c) & !binary(serve_ctrl_c)\""
        );
        assert_eq!(
            with[7],
            "TULIP_BACKEND=uring cargo test --workspace --test run_ctrl_c --test group_ctrl_c --test serve_ctrl_c"
        );
        // Only those steps differ: five steps in place of two.
        assert_eq!(with.len(), without.len() + 3);
        assert_eq!(with[..POLLING_STEP], without[..POLLING_STEP]);
        assert_eq!(with[POLLING_STEP + 5..], without[POLLING_STEP + 2..]);
    }

    #[test]
    fn both_polling_reruns_select_the_same_crates() {
        let (packages, excluded) = POLLING_NEXTEST.args[4].split_once(" & ").unwrap();
        let packages = packages.replace("package(", "");
        let nextest: Vec<&str> = packages
            .trim_matches(|c| c == '(' || c == ')')
            .split(" | ")
            .map(|p| p.trim_end_matches(')'))
            .collect();
        // What nextest leaves out, cargo runs.
        let left_out: Vec<String> = OWN_HARNESS
            .iter()
            .map(|b| format!("!binary({b})"))
            .collect();
        assert_eq!(excluded, left_out.join(" & "));
        let by_cargo: Vec<&str> = POLLING_OWN_HARNESS.args[2..]
            .chunks(2)
            .map(|pair| {
                assert_eq!(pair[0], "--test");
                pair[1]
            })
            .collect();
        assert_eq!(by_cargo, OWN_HARNESS);
        let cargo_test: Vec<&str> = POLLING_CARGO_TEST
            .args
            .iter()
            .copied()
            .filter(|a| a.starts_with("tulip"))
            .collect();
        let expected: Vec<&str> = POLLING_PACKAGES.split(' ').collect();
        assert_eq!(nextest, expected);
        assert_eq!(cargo_test, expected);
        assert_eq!(POLLING_NEXTEST.env, POLLING_CARGO_TEST.env);
        assert_eq!(POLLING_OWN_HARNESS.env, POLLING_CARGO_TEST.env);
        assert_eq!(URING_NEXTEST.env, URING_CARGO_TEST.env);
        assert_eq!(URING_OWN_HARNESS.env, URING_CARGO_TEST.env);
        assert_eq!(URING_CARGO_TEST.env, &[("TULIP_BACKEND", "uring")]);
    }

    #[test]
    fn own_harness_lists_every_harness_free_test_of_the_polling_crates() {
        let mut found = Vec::new();
        for package in POLLING_PACKAGES.split(' ') {
            let manifest = workspace_root()
                .join("crates")
                .join(package)
                .join("Cargo.toml");
            let text = std::fs::read_to_string(&manifest).unwrap();
            // Each `[[test]]` table: its name, and whether it has no harness.
            for table in text.split("[[test]]").skip(1) {
                let table = table.split("\n[").next().unwrap();
                if table.contains("harness = false") {
                    let name = table
                        .lines()
                        .find_map(|l| l.trim().strip_prefix("name = "))
                        .unwrap();
                    found.push(name.trim_matches('"').to_string());
                }
            }
        }
        assert_eq!(found, OWN_HARNESS);
    }

    #[test]
    fn builds_share_the_workspace_selection() {
        // Every build or test step after fmt uses `--workspace` (one feature
        // set, one build), except the fallback `polling` re-run.
        for (index, step) in STEPS.iter().enumerate().skip(1) {
            let feature_step = step.args.contains(&"--features");
            if index != POLLING_STEP && !feature_step {
                assert!(step.args.contains(&"--workspace"), "{}", step.display());
            }
        }
        assert!(POLLING_NEXTEST.args.contains(&"--workspace"));
        assert!(POLLING_DOCTESTS.args.contains(&"--workspace"));
        assert!(POLLING_OWN_HARNESS.args.contains(&"--workspace"));
        assert_eq!(POLLING_DOCTESTS.env, POLLING_CARGO_TEST.env);
        // The benches are compiled in the test profile, not optimized.
        assert_eq!(
            STEPS[6].display(),
            "cargo test --workspace --benches --no-run"
        );
    }

    #[test]
    fn quick_skips_the_backend_reruns_and_the_benches() {
        let quick = shown(true, true);
        assert_eq!(quick.len(), 5);
        assert!(
            quick
                .iter()
                .all(|s| !s.contains("polling") && !s.contains("uring") && !s.contains("benches"))
        );
        assert_eq!(shown(true, false), quick);
    }

    #[test]
    fn quick_is_the_only_option() {
        assert_eq!(Options::parse(&[]), Ok(Options { quick: false }));
        assert_eq!(
            Options::parse(&["--quick".into()]),
            Ok(Options { quick: true })
        );
        assert!(Options::parse(&["--slow".into()]).is_err());
    }
}
