//! The Python step of `cargo xtask ci`: the `tulipio` extension module
//! (`crates/tulip-py`, outside the workspace: its build needs Python).
//!
//! With `python3` on the machine it checks the crate's formatting and
//! clippy, then runs `crates/tulip-py/conformance.py` (which builds the
//! module with maturin into a private venv under the target directory and
//! runs CPython's own asyncio tests on the tulip loop and on asyncio's)
//! and the module's own tests (`crates/tulip-py/tests`) in that venv,
//! after installing the real programs they run (uvicorn, aiohttp) into it
//! from the Python package registry when they are missing.
//! Without `python3` it says so and passes.

use std::process::Command;
use std::time::Instant;

use crate::cmd::{cargo, fmt_duration, target_dir, workspace_root};

/// Runs the Python step; `Err` names what failed.
pub fn run() -> Result<(), String> {
    println!("\n==> ci [python] tulip-py: fmt, clippy, conformance.py, tests");
    let has_python = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !has_python {
        println!("ci [python] skipped: python3 is not installed (tulip-py needs it to build)");
        return Ok(());
    }
    let started = Instant::now();
    let manifest = "crates/tulip-py/Cargo.toml";
    let target = target_dir();
    let steps: [(&str, Command); 4] = [
        ("cargo fmt (tulip-py)", {
            let mut c = cargo(&["fmt", "--manifest-path", manifest, "--check"]);
            c.env("CARGO_TARGET_DIR", &target);
            c
        }),
        ("cargo clippy (tulip-py)", {
            let mut c = cargo(&[
                "clippy",
                "--manifest-path",
                manifest,
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]);
            c.env("CARGO_TARGET_DIR", &target);
            c
        }),
        ("conformance.py", {
            let mut c = Command::new("python3");
            c.arg("crates/tulip-py/conformance.py")
                .current_dir(workspace_root())
                .env("CARGO_TARGET_DIR", &target);
            c
        }),
        ("tulip-py tests", {
            let mut c = Command::new(target.join("tulipio-venv/bin/python"));
            c.args(["-m", "unittest", "discover", "-s", "crates/tulip-py/tests"])
                .current_dir(workspace_root());
            c
        }),
    ];
    let venv_python = target.join("tulipio-venv/bin/python");
    let programs = ["uvicorn", "aiohttp"];
    for (name, mut command) in steps {
        if name == "tulip-py tests" {
            install_programs(&venv_python, &programs)?;
        }
        println!("==> ci [python] {name}");
        let status = command
            .status()
            .map_err(|e| format!("could not start {name}: {e}"))?;
        if !status.success() {
            return Err(format!("ci [python] {name} failed ({status})"));
        }
    }
    println!("==> ci [python] ok in {}", fmt_duration(started.elapsed()));
    Ok(())
}

/// Installs the Python packages the tests run as real programs into the
/// private venv (`pip install`), unless they import already.
fn install_programs(python: &std::path::Path, packages: &[&str]) -> Result<(), String> {
    let imports = format!("import {}", packages.join(", "));
    let present = Command::new(python)
        .args(["-c", &imports])
        .output()
        .is_ok_and(|out| out.status.success());
    if present {
        return Ok(());
    }
    println!(
        "==> ci [python] pip install {} (into the private venv)",
        packages.join(" ")
    );
    let status = Command::new(python)
        .args(["-m", "pip", "install", "-q"])
        .args(packages)
        .status()
        .map_err(|e| format!("could not start pip ({}): {e}", python.display()))?;
    if !status.success() {
        return Err(format!(
            "ci [python] pip install {} failed ({status})",
            packages.join(" ")
        ));
    }
    Ok(())
}

/// `cargo xtask bench py`: tulipio against uvloop and asyncio's loop
/// (`crates/tulip-py/bench/run.py`, which builds what it needs).
pub fn bench() -> Result<(), String> {
    let status = Command::new("python3")
        .arg("crates/tulip-py/bench/run.py")
        .current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", target_dir())
        .status()
        .map_err(|e| format!("could not start python3 crates/tulip-py/bench/run.py: {e}"))?;
    if !status.success() {
        return Err(format!("crates/tulip-py/bench/run.py failed ({status})"));
    }
    Ok(())
}
