//! `cargo xtask ci`: every check CI runs, in order, stopping at the first
//! failure.

use crate::cmd::{cargo, fmt_duration};
use std::time::{Duration, Instant};

/// Options of `cargo xtask ci`.
#[derive(Debug, Default, PartialEq)]
pub struct Options {
    /// Skip the re-run on the `polling` backend and the bench build.
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
        let env = self.env.iter().map(|(k, v)| {
            if v.contains(' ') {
                format!("{k}=\"{v}\" ")
            } else {
                format!("{k}={v} ")
            }
        });
        format!("{}cargo {}", env.collect::<String>(), self.args.join(" "))
    }
}

/// The checks, in the order they run.
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
    Step {
        env: &[("TULIP_BACKEND", "polling")],
        args: &[
            "test",
            "-p",
            "tulip-executor",
            "-p",
            "tulip-transport",
            "-p",
            "tulip-streams",
            "-p",
            "tulip-process",
        ],
        slow: true,
    },
    Step {
        env: &[("RUSTDOCFLAGS", "-D warnings")],
        args: &["doc", "--workspace", "--no-deps"],
        slow: false,
    },
    Step {
        env: &[],
        args: &["build", "-p", "tulip-examples", "--examples", "--bins"],
        slow: false,
    },
    Step {
        env: &[],
        args: &["bench", "--workspace", "--no-run"],
        slow: true,
    },
];

/// Runs the checks; `Err` names the first that failed.
pub fn run(options: &Options) -> Result<(), String> {
    let steps: Vec<&Step> = STEPS
        .iter()
        .filter(|step| !(options.quick && step.slow))
        .collect();
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
    print_times(&times);
    let skipped = if options.quick {
        " (--quick: polling re-run and bench build skipped)"
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

    #[test]
    fn steps_show_as_typed() {
        let shown: Vec<String> = STEPS.iter().map(Step::display).collect();
        assert_eq!(shown[0], "cargo fmt --all --check");
        assert_eq!(
            shown[3],
            "TULIP_BACKEND=polling cargo test -p tulip-executor -p tulip-transport -p tulip-streams -p tulip-process"
        );
        assert_eq!(
            shown[4],
            "RUSTDOCFLAGS=\"-D warnings\" cargo doc --workspace --no-deps"
        );
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
