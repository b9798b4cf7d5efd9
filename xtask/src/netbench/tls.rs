//! The TLS rows of the network benches: one CA and `localhost`
//! certificate per run, written by the `tls_certs` bench binary into
//! `target/netbench/tls`, given to the TLS echo servers (`--cert`,
//! `--key`) and, the CA, to `loadgen --tls`, so both servers present the
//! same certificate to the same client.

use crate::cmd::target_dir;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The directory of this run's certificates, written on first use.
fn certs(bins: &Path) -> Result<PathBuf, String> {
    static MADE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    MADE.get_or_init(|| {
        let dir = target_dir().join("netbench").join("tls");
        let status = Command::new(bins.join("tls_certs"))
            .arg(&dir)
            .status()
            .map_err(|e| format!("cannot run tls_certs: {e}"))?;
        if status.success() {
            Ok(dir)
        } else {
            Err(format!("tls_certs failed ({status})"))
        }
    })
    .clone()
}

/// `--cert` and `--key` for a TLS server (`tls`), nothing otherwise.
pub(super) fn server_args(bins: &Path, tls: bool) -> Result<Vec<OsString>, String> {
    if !tls {
        return Ok(Vec::new());
    }
    let dir = certs(bins)?;
    Ok(vec![
        "--cert".into(),
        dir.join("cert.pem").into(),
        "--key".into(),
        dir.join("key.pem").into(),
    ])
}

/// `--tls CA.pem` for loadgen against a TLS server (`tls`), nothing
/// otherwise.
pub(super) fn client_args(bins: &Path, tls: bool) -> Result<Vec<OsString>, String> {
    if !tls {
        return Ok(Vec::new());
    }
    Ok(vec!["--tls".into(), certs(bins)?.join("ca.pem").into()])
}
