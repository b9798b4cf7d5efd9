//! The TLS rows of the benches: certificates, the arguments of the TLS
//! echo servers, and the rustls configurations of the tokio peer and of
//! `loadgen --tls` (the same rustls and `ring` provider as tulip's, so
//! both servers negotiate the same cipher suite).
//!
//! A TLS echo server takes `--addr HOST:PORT --cert CERT.pem --key
//! KEY.pem`; without `--cert` and `--key` it makes a certificate for
//! `localhost` of its own (a client must then skip verification), so that
//! it runs standalone. `tls_certs DIR` writes a CA and a `localhost`
//! certificate it signed (`ca.pem`, `cert.pem`, `key.pem`), which
//! `cargo xtask bench` gives to the servers and, the CA, to loadgen.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::netbench::{DEFAULT_ADDR, parse_server_args};

/// A CA and a certificate for `localhost` and `127.0.0.1` it signed, PEM.
#[derive(Debug, Clone)]
pub struct Certs {
    /// The CA's certificate: what clients trust.
    pub ca_pem: String,
    /// The server's certificate.
    pub cert_pem: String,
    /// The server's private key (ECDSA P-256).
    pub key_pem: String,
}

/// Makes a fresh CA and server certificate.
pub fn make_certs() -> Result<Certs, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tulip bench CA");
    let ca = ca_params.self_signed(&ca_key)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca, &ca_key)?;
    Ok(Certs {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Writes `ca.pem`, `cert.pem` and `key.pem` of fresh [`Certs`] into
/// `dir` (created if missing).
pub fn write_certs(dir: &Path) -> io::Result<()> {
    let certs = make_certs().map_err(io::Error::other)?;
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("ca.pem"), certs.ca_pem)?;
    std::fs::write(dir.join("cert.pem"), certs.cert_pem)?;
    std::fs::write(dir.join("key.pem"), certs.key_pem)
}

/// What a TLS echo server was given.
#[derive(Debug)]
pub struct ServerArgs {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The certificate chain, PEM.
    pub cert_pem: Vec<u8>,
    /// The private key, PEM.
    pub key_pem: Vec<u8>,
}

/// Parses `--addr`, `--cert` and `--key` of the TLS server `program`;
/// prints the usage and exits on `--help` (status 0) or a bad argument
/// (status 2).
pub fn server_args(program: &str) -> ServerArgs {
    let usage = format!(
        "usage: {program} [--addr HOST:PORT] [--cert CERT.pem --key KEY.pem]   (default {DEFAULT_ADDR}, a self-made certificate)"
    );
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_tls_server_args(&args) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            println!("{usage}");
            std::process::exit(0);
        }
        Err(message) => {
            eprintln!("{program}: {message}\n{usage}");
            std::process::exit(2);
        }
    }
}

/// The arguments of a TLS server; `Ok(None)` for `--help`.
pub fn parse_tls_server_args(args: &[String]) -> Result<Option<ServerArgs>, String> {
    let (mut cert, mut key, mut rest) = (None, None, Vec::new());
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let slot = match flag {
            "--cert" => &mut cert,
            "--key" => &mut key,
            _ => {
                rest.push(arg.clone());
                continue;
            }
        };
        let value = match inline {
            Some(v) => v,
            None => it.next().ok_or(format!("{flag} needs a file"))?.clone(),
        };
        *slot = Some(value);
    }
    let Some(addr) = parse_server_args(&rest)? else {
        return Ok(None);
    };
    let (cert_pem, key_pem) = match (cert, key) {
        (Some(c), Some(k)) => (
            std::fs::read(&c).map_err(|e| format!("{c}: {e}"))?,
            std::fs::read(&k).map_err(|e| format!("{k}: {e}"))?,
        ),
        (None, None) => {
            let certs = make_certs().map_err(|e| e.to_string())?;
            (certs.cert_pem.into_bytes(), certs.key_pem.into_bytes())
        }
        _ => return Err("--cert and --key go together".into()),
    };
    Ok(Some(ServerArgs {
        addr,
        cert_pem,
        key_pem,
    }))
}

/// The provider every configuration here uses: tulip's own (ring, unless
/// the process installed a default), read off a tulip configuration, so
/// the peers compared run the same cryptography.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    tulip::transport::TlsClientConfig::dangerous_no_certificate_verification()
        .rustls_config()
        .crypto_provider()
        .clone()
}

/// A rustls server configuration (for tokio-rustls) presenting the chain
/// and key of these PEM texts.
pub fn rustls_server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> io::Result<Arc<rustls::ServerConfig>> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(io::Error::other)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(io::Error::other)?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(io::Error::other)?;
    Ok(Arc::new(config))
}

/// A rustls client configuration (for tokio-rustls) trusting the CA
/// certificates of a PEM text.
pub fn rustls_client_config(ca_pem: &[u8]) -> io::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots
            .add(cert.map_err(io::Error::other)?)
            .map_err(io::Error::other)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn tls_server_arguments() {
        let dir = std::env::temp_dir().join(format!("tulip-bench-certs-{}", std::process::id()));
        write_certs(&dir).unwrap();
        let cert = dir.join("cert.pem").display().to_string();
        let key = dir.join("key.pem").display().to_string();
        let parsed = parse_tls_server_args(&args(&format!(
            "--addr 127.0.0.1:7 --cert {cert} --key={key}"
        )))
        .unwrap()
        .unwrap();
        assert_eq!(parsed.addr.port(), 7);
        assert!(rustls_server_config(&parsed.cert_pem, &parsed.key_pem).is_ok());
        let ca = std::fs::read(dir.join("ca.pem")).unwrap();
        assert!(rustls_client_config(&ca).is_ok());
        // Without files: a certificate of its own.
        let own = parse_tls_server_args(&[]).unwrap().unwrap();
        assert!(rustls_server_config(&own.cert_pem, &own.key_pem).is_ok());
        assert!(parse_tls_server_args(&args("--cert only.pem")).is_err());
        assert!(parse_tls_server_args(&args("--help")).unwrap().is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
