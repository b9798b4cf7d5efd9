//! Shared helpers: the workspace root, the `cargo` to call, and printing of
//! commands and durations.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The workspace root: the parent of this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// The cargo target directory: `$CARGO_TARGET_DIR` if set, else `<root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// A `cargo` command run from the workspace root: the cargo that runs this
/// xtask (`$CARGO`) if known, else `cargo` from `PATH`. The variables that
/// `cargo run` set for xtask itself (its package name, manifest dir, ...) are
/// removed so that they cannot leak into the builds and tests it starts.
pub fn cargo(args: &[&str]) -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command.args(args).current_dir(workspace_root());
    for (key, _) in std::env::vars_os() {
        let key_str = key.to_string_lossy();
        if key_str.starts_with("CARGO_PKG_") || LEAKED_BY_CARGO_RUN.contains(&&*key_str) {
            command.env_remove(&key);
        }
    }
    command
}

/// Per-package variables `cargo run` sets for the xtask binary.
const LEAKED_BY_CARGO_RUN: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
];

/// `1m05.3s` or `4.2s`.
pub fn fmt_duration(duration: Duration) -> String {
    let tenths = (duration.as_secs_f64() * 10.0).round() as u64;
    let (minutes, tenths) = (tenths / 600, tenths % 600);
    if minutes == 0 {
        format!("{}.{}s", tenths / 10, tenths % 10)
    } else {
        format!("{minutes}m{:02}.{}s", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(fmt_duration(Duration::from_millis(4_240)), "4.2s");
        assert_eq!(fmt_duration(Duration::from_millis(65_300)), "1m05.3s");
        assert_eq!(fmt_duration(Duration::from_secs(600)), "10m00.0s");
        assert_eq!(fmt_duration(Duration::from_millis(119_970)), "2m00.0s");
    }

    #[test]
    fn root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("xtask").is_dir());
    }
}
