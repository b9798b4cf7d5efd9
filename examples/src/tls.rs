//! The certificates of the TLS examples (`tls_echo_server_protocol`,
//! `tls_echo_client_protocol`, `tls_echo_server_streams`,
//! `tls_echo_client_streams`), so that they run standalone.
//!
//! They live in one directory, [`TLS_DIR_ENV`]'s value or, unset,
//! `tulip-tls-example` in the system's temporary directory: `ca.pem` (a
//! certificate authority), `cert.pem` and `key.pem` (the server's
//! certificate for `localhost` and `127.0.0.1`, signed by it). A server
//! makes them when they are missing ([`server_config`]); a client trusts
//! `ca.pem` ([`client_config`]), as it would trust a company's CA. Real
//! servers take their certificate files from their configuration
//! (`TlsServerConfig::from_pem_files`) and real clients trust the system's
//! store (`TlsClientConfig::new`).

use std::path::PathBuf;

use tulip::Error;
use tulip::transport::{TlsClientConfig, TlsServerConfig};

/// The environment variable naming the directory of the examples'
/// certificates.
pub const TLS_DIR_ENV: &str = "TULIP_EXAMPLE_TLS_DIR";

/// The directory of the examples' certificates.
pub fn tls_dir() -> PathBuf {
    match std::env::var_os(TLS_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::temp_dir().join("tulip-tls-example"),
    }
}

fn other(e: impl std::fmt::Display) -> Error {
    std::io::Error::other(e.to_string()).into()
}

/// Makes a CA and a server certificate signed by it, into the directory.
fn make_certificates(dir: &std::path::Path) -> Result<(), Error> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().map_err(other)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tulip example CA");
    let ca = ca_params.self_signed(&ca_key).map_err(other)?;
    let key = KeyPair::generate().map_err(other)?;
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let cert = CertificateParams::new(names)
        .map_err(other)?
        .signed_by(&key, &ca, &ca_key)
        .map_err(other)?;
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("ca.pem"), ca.pem())?;
    std::fs::write(dir.join("key.pem"), key.serialize_pem())?;
    // Last: its presence says the set is complete.
    std::fs::write(dir.join("cert.pem"), cert.pem())?;
    Ok(())
}

/// The server's configuration: `cert.pem` and `key.pem` of [`tls_dir`],
/// made (with `ca.pem`) when missing.
pub fn server_config() -> Result<TlsServerConfig, Error> {
    let dir = tls_dir();
    if !dir.join("cert.pem").is_file() {
        make_certificates(&dir)?;
    }
    Ok(TlsServerConfig::from_pem_files(
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )?)
}

/// The client's configuration: trusts `ca.pem` of [`tls_dir`] (start a
/// server example first: it makes the file).
pub fn client_config() -> Result<TlsClientConfig, Error> {
    let ca = tls_dir().join("ca.pem");
    if !ca.is_file() {
        return Err(other(format!(
            "{} is missing: start a TLS server example first (it makes it)",
            ca.display()
        )));
    }
    Ok(TlsClientConfig::with_ca_file(ca)?)
}
