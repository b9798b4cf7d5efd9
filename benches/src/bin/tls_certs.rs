//! Writes the certificates of the TLS benches: `ca.pem` (the CA loadgen
//! trusts), `cert.pem` and `key.pem` (the servers' `localhost`
//! certificate, signed by it), fresh each time.
//!
//! ```text
//! tls_certs DIR
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir] = args.as_slice() else {
        eprintln!("usage: tls_certs DIR");
        return ExitCode::from(2);
    };
    match tulip_benches::tls::write_certs(&PathBuf::from(dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tls_certs: {e}");
            ExitCode::FAILURE
        }
    }
}
