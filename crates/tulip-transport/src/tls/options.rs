//! TLS configuration: what asyncio's `ssl=` argument (an
//! `ssl.SSLContext`) says, as tulip types over rustls' configurations, and
//! the TLS error type.
//!
//! - [`TlsClientConfig`]: verifies the server's certificate and host name,
//!   against the system's trust store by default (asyncio's
//!   `ssl.create_default_context()`). Verification is only turned off by
//!   [`TlsClientConfig::dangerous_no_certificate_verification`]; an empty
//!   `server_hostname` is an error, never a way to skip the check.
//! - [`TlsServerConfig`]: a certificate chain and its private key
//!   (asyncio's `load_cert_chain`).
//! - [`TlsConfig`]: either, for [`LoopNetExt::start_tls`](crate::LoopNetExt::start_tls);
//!   asyncio's `server_side` is which of the two it is.
//!
//! The cryptography is the provider the application installed as rustls'
//! process default ([`rustls::crypto::CryptoProvider::install_default`]),
//! as rustls asks of libraries; when none is installed, rustls' `ring`
//! provider, chosen explicitly, so a program that merely links rustls with
//! another provider behaves the same and no cmake/aws-lc build is needed.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{AttemptError, Error, Result};
use crate::tls::error::TlsError;

/// asyncio's default `ssl_handshake_timeout`: 60 seconds.
pub const SSL_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// asyncio's default `ssl_shutdown_timeout`: 30 seconds.
pub const SSL_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The crypto provider every tulip configuration is built with: the
/// application's process default if it installed one (how it opts into a
/// post-quantum key exchange, which needs aws-lc-rs), else `ring`'s.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    if let Some(installed) = CryptoProvider::get_default() {
        return installed.clone();
    }
    static RING: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    RING.get_or_init(|| {
        // rustls 0.23.48 deprecates this constructor because ring has no
        // post-quantum key exchange; there is no ring provider that has
        // one, and the alternative (aws-lc-rs) needs a cmake/C build. An
        // application wanting post-quantum installs aws-lc-rs as the
        // process default, taken above.
        #[allow(deprecated)]
        let ring = rustls::crypto::ring::default_provider();
        Arc::new(ring)
    })
    .clone()
}

/// The certificates of a PEM text; `source` names it in the errors (a
/// malformed certificate, none at all).
fn pem_certificates(pem: &[u8], source: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::InvalidInput(format!("bad PEM certificate in {source}: {e}")))?;
    if certs.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{source} holds no PEM certificate"
        )));
    }
    Ok(certs)
}

/// Reads a PEM file; an I/O error names it (and keeps its kind).
fn read_pem_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        AttemptError::wrap(format!("cannot read the {what} file {}", path.display()), e)
    })
}

/// The system's trust store, read once per process.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                log::debug!("reading the system's trust store: {e}");
            }
            let mut roots = RootCertStore::empty();
            let (added, ignored) = roots.add_parsable_certificates(found.certs);
            if ignored > 0 {
                log::debug!("{ignored} certificates of the system's trust store were ignored");
            }
            if added == 0 {
                log::warn!(
                    "no certificate found in the system's trust store: \
                     every server certificate will be rejected"
                );
            }
            Arc::new(roots)
        })
        .clone()
}

/// A client's TLS configuration (asyncio's client `SSLContext`).
///
/// [`new`](TlsClientConfig::new) verifies the server against the system's
/// trust store and checks that its certificate is valid for the host
/// name (`server_hostname`, by default the host connected to), as
/// asyncio's `ssl.create_default_context()` does.
///
/// Options: the trust roots are chosen by the constructor (the system's,
/// [`with_ca_pem`](TlsClientConfig::with_ca_pem),
/// [`with_ca_file`](TlsClientConfig::with_ca_file), an explicit
/// [`RootCertStore`], or a whole rustls configuration with
/// [`from_rustls`](TlsClientConfig::from_rustls));
/// [`alpn_protocols`](TlsClientConfig::alpn_protocols) offers ALPN
/// names. The per-connection settings live in the option structs:
/// [`ConnectOptions`](crate::ConnectOptions)'s `tls`, `server_hostname`,
/// `ssl_handshake_timeout` (60 s by default) and `ssl_shutdown_timeout`
/// (30 s).
///
/// Errors: building fails with [`Error::InvalidInput`] for bad CA data
/// and [`Error::Io`] for an unreadable CA file (naming it); connecting
/// fails with [`Error::Tls`] when the server's certificate is not
/// trusted or not valid for the name, when the handshake breaks, or when
/// it outlasts `ssl_handshake_timeout`
/// ([`Error::is_timeout`](crate::Error::is_timeout)).
///
/// ```no_run
/// use tulip::transport::{ConnectOptions, TlsClientConfig};
///
/// let tls = TlsClientConfig::new()?.alpn_protocols(&[b"h2", b"http/1.1"]);
/// let options = ConnectOptions::new().tls(tls);
/// # Ok::<(), tulip::transport::Error>(())
/// ```
///
/// A server whose certificate the client does not trust is refused:
///
/// ```
/// use tulip::prelude::*;
/// use tulip::transport::rustls::{CertificateError, RootCertStore};
/// use tulip::transport::{ConnectOptions, ServerOptions, TlsClientConfig, TlsServerConfig};
///
/// #[derive(Default)]
/// struct Quiet;
/// impl BaseProtocol for Quiet {}
/// impl Protocol for Quiet {}
///
/// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
/// let server_tls =
///     TlsServerConfig::from_pem(cert.cert.pem().as_bytes(), cert.key_pair.serialize_pem().as_bytes())?;
/// // Trusts nobody.
/// let client_tls = TlsClientConfig::with_roots(RootCertStore::empty())?;
///
/// let res = tulip::run(async move {
///     let lp = get_running_loop()?;
///     let server = lp
///         .create_server(Quiet::default, "127.0.0.1", 0, ServerOptions::new().tls(server_tls))
///         .await?;
///     let port = server.sockets()[0].inet_addr().unwrap().port();
///     let options = ConnectOptions::new().tls(client_tls).server_hostname("localhost");
///     let res = lp.create_connection(Quiet::default, "127.0.0.1", port, options).await;
///     server.close();
///     Ok::<_, tulip::transport::Error>(res.map(|_| ()))
/// })??;
/// let err = res.unwrap_err();
/// let tls = err.as_tls().expect("a TLS error");
/// assert!(matches!(tls.certificate_error(), Some(CertificateError::UnknownIssuer)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TlsClientConfig {
    config: Arc<rustls::ClientConfig>,
}

impl TlsClientConfig {
    /// Verifies servers against the system's trust store (read once per
    /// process, with `rustls-native-certs`; the `SSL_CERT_FILE` and
    /// `SSL_CERT_DIR` environment variables name other certificates, as
    /// for OpenSSL and Python), with TLS 1.2 and 1.3.
    ///
    /// Errors: [`Error::Tls`] if rustls refuses the configuration.
    pub fn new() -> Result<TlsClientConfig> {
        TlsClientConfig::with_roots(system_roots())
    }

    /// Verifies servers against `roots` only.
    ///
    /// Errors: [`Error::Tls`] if rustls refuses the configuration.
    pub fn with_roots(roots: impl Into<Arc<RootCertStore>>) -> Result<TlsClientConfig> {
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsClientConfig::from_rustls(Arc::new(config)))
    }

    /// Verifies servers against the CA certificates of a PEM text
    /// (asyncio's `cadata`).
    ///
    /// Errors: [`Error::InvalidInput`] if the text holds no certificate
    /// or a malformed one.
    ///
    /// ```
    /// use tulip::transport::{Error, TlsClientConfig};
    ///
    /// let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let tls = TlsClientConfig::with_ca_pem(ca.cert.pem().as_bytes())?
    ///     .alpn_protocols(&[b"h2", b"http/1.1"]);
    /// assert_eq!(tls.rustls_config().alpn_protocols.len(), 2);
    ///
    /// let err = TlsClientConfig::with_ca_pem(b"not a certificate").unwrap_err();
    /// assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_ca_pem(pem: &[u8]) -> Result<TlsClientConfig> {
        TlsClientConfig::with_ca_certificates(pem_certificates(pem, "the CA data")?)
    }

    /// Verifies servers against the CA certificates of a PEM file
    /// (asyncio's `cafile`).
    ///
    /// Errors: as [`with_ca_pem`](TlsClientConfig::with_ca_pem), and the
    /// file's I/O error (of the same [`io::ErrorKind`](std::io::ErrorKind)); each message
    /// names the file, and says so when it holds no PEM certificate.
    ///
    /// ```
    /// use tulip::transport::TlsClientConfig;
    ///
    /// let err = TlsClientConfig::with_ca_file("/no/such/ca.pem").unwrap_err();
    /// assert_eq!(err.io_kind(), Some(std::io::ErrorKind::NotFound));
    /// assert!(err.to_string().contains("/no/such/ca.pem"));
    /// ```
    pub fn with_ca_file(path: impl AsRef<Path>) -> Result<TlsClientConfig> {
        let path = path.as_ref();
        let pem = read_pem_file(path, "CA")?;
        let certs = pem_certificates(&pem, &format!("the CA file {}", path.display()))?;
        TlsClientConfig::with_ca_certificates(certs)
    }

    /// Verifies servers against these DER-encoded CA certificates.
    ///
    /// Errors: [`Error::InvalidInput`] if there is none or one does not
    /// parse.
    pub fn with_ca_certificates(certs: Vec<CertificateDer<'static>>) -> Result<TlsClientConfig> {
        if certs.is_empty() {
            return Err(Error::InvalidInput(String::from(
                "no CA certificate was given",
            )));
        }
        let mut roots = RootCertStore::empty();
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| Error::InvalidInput(format!("bad CA certificate: {e}")))?;
        }
        TlsClientConfig::with_roots(roots)
    }

    /// **Dangerous**: accepts any server certificate, for any name. The
    /// connection is encrypted but not authenticated: anyone in the path
    /// can read and change it. For tests against a throwaway server only
    /// (asyncio's `check_hostname = False` with `verify_mode =
    /// CERT_NONE`). This is the only way tulip skips verification.
    ///
    /// The connection is still encrypted, but to whoever answered: here a
    /// self-signed server nobody vouches for is accepted.
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::transport::{ConnectOptions, ServerOptions, TlsClientConfig, TlsServerConfig};
    /// # #[derive(Default)]
    /// # struct Quiet;
    /// # impl BaseProtocol for Quiet {}
    /// # impl Protocol for Quiet {}
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["anything".to_string()])?;
    /// let server_tls = TlsServerConfig::from_pem(
    ///     cert.cert.pem().as_bytes(),
    ///     cert.key_pair.serialize_pem().as_bytes(),
    /// )?;
    /// tulip::run(async move {
    ///     let lp = get_running_loop()?;
    ///     let options = ServerOptions::new().tls(server_tls);
    ///     let server = lp.create_server(Quiet::default, "127.0.0.1", 0, options).await?;
    ///     let port = server.sockets()[0].inet_addr().unwrap().port();
    ///     let tls = TlsClientConfig::dangerous_no_certificate_verification();
    ///     let (t, _) = lp
    ///         .create_connection(Quiet::default, "127.0.0.1", port, ConnectOptions::new().tls(tls))
    ///         .await?;
    ///     assert!(t.tls_info().is_some());
    ///     t.close();
    ///     server.close();
    ///     Ok::<_, tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dangerous_no_certificate_verification() -> TlsClientConfig {
        let provider = provider();
        let verifier = Arc::new(NoVerification(provider.clone()));
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        TlsClientConfig::from_rustls(Arc::new(config))
    }

    /// Wraps a rustls configuration made by hand (client certificates,
    /// another verifier, session resumption settings, ...).
    pub fn from_rustls(config: Arc<rustls::ClientConfig>) -> TlsClientConfig {
        TlsClientConfig { config }
    }

    /// Offers these ALPN protocols, in order of preference (asyncio's
    /// `set_alpn_protocols`).
    pub fn alpn_protocols(mut self, protocols: &[&[u8]]) -> TlsClientConfig {
        Arc::make_mut(&mut self.config).alpn_protocols =
            protocols.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// The rustls configuration.
    pub fn rustls_config(&self) -> &Arc<rustls::ClientConfig> {
        &self.config
    }
}

impl fmt::Debug for TlsClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClientConfig")
            .field("alpn_protocols", &self.config.alpn_protocols)
            .finish_non_exhaustive()
    }
}

/// A server's TLS configuration (asyncio's server `SSLContext` with
/// `load_cert_chain`).
///
/// Options: the certificate chain and key come from the constructor
/// (DER, PEM texts, PEM files, or a whole rustls configuration with
/// [`from_rustls`](TlsServerConfig::from_rustls));
/// [`alpn_protocols`](TlsServerConfig::alpn_protocols) names the
/// protocols it accepts. Per server: [`ServerOptions`](crate::ServerOptions)'s
/// `tls` and `ssl_*` timeouts (or
/// [`AcceptedSocketOptions`](crate::AcceptedSocketOptions)'s for one
/// accepted socket).
///
/// Errors: building fails with [`Error::InvalidInput`] for a malformed
/// PEM text, no certificate or no key, [`Error::Io`] for an unreadable
/// file (naming it), [`Error::Tls`] for a key that does not fit the
/// certificate. A client's failed handshake is no error of the server:
/// that connection is closed and the server goes on.
///
/// ```no_run
/// use tulip::transport::{ServerOptions, TlsServerConfig};
///
/// let tls = TlsServerConfig::from_pem_files("cert.pem", "key.pem")?;
/// let options = ServerOptions::new().tls(tls);
/// # Ok::<(), tulip::transport::Error>(())
/// ```
///
/// A TLS echo round trip over loopback, with a self-signed certificate
/// generated on the spot (by the `rcgen` crate) and trusted by the client:
///
/// ```
/// use tulip::prelude::*;
/// use tulip::transport::{ConnectOptions, Error, ServerOptions, TlsClientConfig, TlsServerConfig};
///
/// #[derive(Default)]
/// struct Echo(Option<Transport>);
/// impl BaseProtocol for Echo {}
/// impl Protocol for Echo {
///     fn connection_made(&mut self, t: Transport) {
///         self.0 = Some(t);
///     }
///     fn data_received(&mut self, data: &[u8]) {
///         if let Some(t) = &self.0 {
///             let _ = t.write(data);
///         }
///     }
/// }
///
/// struct Client(LoopFuture<Vec<u8>>);
/// impl BaseProtocol for Client {}
/// impl Protocol for Client {
///     fn data_received(&mut self, data: &[u8]) {
///         let _ = self.0.set_result(data.to_vec());
///     }
/// }
///
/// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
/// let cert_pem = cert.cert.pem();
/// let server_tls =
///     TlsServerConfig::from_pem(cert_pem.as_bytes(), cert.key_pair.serialize_pem().as_bytes())?;
/// let client_tls = TlsClientConfig::with_ca_pem(cert_pem.as_bytes())?;
///
/// let (reply, version) = tulip::run(async move {
///     let lp = get_running_loop()?;
///     let server = lp
///         .create_server(Echo::default, "127.0.0.1", 0, ServerOptions::new().tls(server_tls))
///         .await?;
///     let port = server.sockets()[0].inet_addr().unwrap().port();
///     let reply = lp.create_future();
///     let factory = {
///         let reply = reply.clone();
///         move || Client(reply.clone())
///     };
///     // The certificate names "localhost", not the address dialled.
///     let options = ConnectOptions::new().tls(client_tls).server_hostname("localhost");
///     let (transport, _) = lp.create_connection(factory, "127.0.0.1", port, options).await?;
///     let version = transport.tls_info().and_then(|i| i.protocol_version);
///     transport.write(b"secret")?;
///     let reply = reply.await?;
///     transport.close();
///     server.close();
///     Ok::<_, Error>((reply, version))
/// })??;
/// assert_eq!(reply, b"secret");
/// assert!(version.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TlsServerConfig {
    config: Arc<rustls::ServerConfig>,
}

impl TlsServerConfig {
    /// A server presenting `cert_chain` (its own certificate first) with
    /// its private `key`, for TLS 1.2 and 1.3, asking no client
    /// certificate.
    ///
    /// Errors: [`Error::Tls`] if the key does not fit the certificate or
    /// is of an unsupported kind.
    pub fn from_der(
        cert_chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<TlsServerConfig> {
        if cert_chain.is_empty() {
            return Err(Error::InvalidInput(String::from(
                "the certificate chain is empty",
            )));
        }
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_no_client_auth()
            .with_single_cert(cert_chain, key)
            .map_err(tls_error)?;
        Ok(TlsServerConfig::from_rustls(Arc::new(config)))
    }

    /// As [`from_der`](TlsServerConfig::from_der), from PEM texts: the
    /// certificates, then a private key (PKCS#8, PKCS#1 or SEC1).
    ///
    /// Errors: [`Error::InvalidInput`] for a malformed text, no
    /// certificate or no key; as `from_der`.
    ///
    /// ```
    /// use tulip::transport::{Error, TlsServerConfig};
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let (cert_pem, key_pem) = (cert.cert.pem(), cert.key_pair.serialize_pem());
    /// let tls = TlsServerConfig::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?
    ///     .alpn_protocols(&[b"h2"]);
    /// assert_eq!(tls.rustls_config().alpn_protocols, vec![b"h2".to_vec()]);
    ///
    /// // The key where the certificate should be: no certificate found.
    /// let err = TlsServerConfig::from_pem(key_pem.as_bytes(), key_pem.as_bytes()).unwrap_err();
    /// assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<TlsServerConfig> {
        TlsServerConfig::from_named_pem(
            cert_chain_pem,
            "the certificate chain",
            key_pem,
            "the private key",
        )
    }

    /// As [`from_pem`](TlsServerConfig::from_pem), from files (asyncio's
    /// `load_cert_chain(certfile, keyfile)`).
    ///
    /// Errors: as `from_pem`, and the files' I/O errors (of the same
    /// [`io::ErrorKind`](std::io::ErrorKind)); each message names the file.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<TlsServerConfig> {
        let (cert_chain, key) = (cert_chain.as_ref(), key.as_ref());
        TlsServerConfig::from_named_pem(
            &read_pem_file(cert_chain, "certificate")?,
            &format!("the certificate file {}", cert_chain.display()),
            &read_pem_file(key, "private key")?,
            &format!("the private key file {}", key.display()),
        )
    }

    /// `from_pem`, with the sources named in its errors.
    fn from_named_pem(
        cert_chain_pem: &[u8],
        chain_source: &str,
        key_pem: &[u8],
        key_source: &str,
    ) -> Result<TlsServerConfig> {
        let chain = pem_certificates(cert_chain_pem, chain_source)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
            Error::InvalidInput(format!("bad PEM private key in {key_source}: {e}"))
        })?;
        TlsServerConfig::from_der(chain, key)
    }

    /// Wraps a rustls configuration made by hand (client certificate
    /// verification, SNI-based certificate selection, ...).
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> TlsServerConfig {
        TlsServerConfig { config }
    }

    /// Accepts these ALPN protocols, in order of preference (asyncio's
    /// `set_alpn_protocols`). A client offering none of them is refused.
    pub fn alpn_protocols(mut self, protocols: &[&[u8]]) -> TlsServerConfig {
        Arc::make_mut(&mut self.config).alpn_protocols =
            protocols.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// The rustls configuration.
    pub fn rustls_config(&self) -> &Arc<rustls::ServerConfig> {
        &self.config
    }
}

impl fmt::Debug for TlsServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServerConfig")
            .field("alpn_protocols", &self.config.alpn_protocols)
            .finish_non_exhaustive()
    }
}

/// A client or a server configuration, for
/// [`LoopNetExt::start_tls`](crate::LoopNetExt::start_tls): asyncio's
/// `sslcontext` with its `server_side` flag, which is which variant this
/// is.
///
/// ```
/// use tulip::transport::{TlsClientConfig, TlsConfig, TlsServerConfig};
///
/// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
/// let server = TlsServerConfig::from_pem(
///     cert.cert.pem().as_bytes(),
///     cert.key_pair.serialize_pem().as_bytes(),
/// )?;
/// let client = TlsClientConfig::with_ca_pem(cert.cert.pem().as_bytes())?;
/// // `start_tls` takes either, by `Into<TlsConfig>`.
/// assert!(matches!(TlsConfig::from(server), TlsConfig::Server(_)));
/// assert!(matches!(TlsConfig::from(client), TlsConfig::Client(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub enum TlsConfig {
    /// The client side: verifies the peer.
    Client(TlsClientConfig),
    /// The server side: presents a certificate.
    Server(TlsServerConfig),
}

impl From<TlsClientConfig> for TlsConfig {
    fn from(config: TlsClientConfig) -> TlsConfig {
        TlsConfig::Client(config)
    }
}

impl From<TlsServerConfig> for TlsConfig {
    fn from(config: TlsServerConfig) -> TlsConfig {
        TlsConfig::Server(config)
    }
}

/// Options of [`LoopNetExt::start_tls`](crate::LoopNetExt::start_tls)
/// (asyncio's keyword arguments; `server_side` is the kind of
/// [`TlsConfig`]).
///
/// ```
/// use std::time::Duration;
/// use tulip::transport::StartTlsOptions;
///
/// let options = StartTlsOptions::new()
///     .server_hostname("example.com")
///     .ssl_handshake_timeout(Duration::from_secs(10));
/// assert_eq!(options.server_hostname.as_deref(), Some("example.com"));
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct StartTlsOptions {
    /// The name to verify the server's certificate against and to send as
    /// SNI. Required on the client side (there is no host to default to);
    /// meaningless, and refused, on the server side.
    pub server_hostname: Option<String>,
    /// How long the handshake may take (default 60 s).
    pub ssl_handshake_timeout: Option<Duration>,
    /// How long the close_notify exchange may take (default 30 s).
    pub ssl_shutdown_timeout: Option<Duration>,
}

impl StartTlsOptions {
    /// The default options.
    pub fn new() -> StartTlsOptions {
        StartTlsOptions::default()
    }

    /// Sets [`server_hostname`](StartTlsOptions::server_hostname).
    pub fn server_hostname(mut self, name: impl Into<String>) -> StartTlsOptions {
        self.server_hostname = Some(name.into());
        self
    }

    /// Sets [`ssl_handshake_timeout`](StartTlsOptions::ssl_handshake_timeout).
    pub fn ssl_handshake_timeout(mut self, timeout: Duration) -> StartTlsOptions {
        self.ssl_handshake_timeout = Some(timeout);
        self
    }

    /// Sets [`ssl_shutdown_timeout`](StartTlsOptions::ssl_shutdown_timeout).
    pub fn ssl_shutdown_timeout(mut self, timeout: Duration) -> StartTlsOptions {
        self.ssl_shutdown_timeout = Some(timeout);
        self
    }
}

/// A rustls error as a transport error.
pub(crate) fn tls_error(e: rustls::Error) -> Error {
    Error::Tls(TlsError::Rustls(e))
}

/// Checks a TLS timeout (asyncio: a positive number).
pub(crate) fn check_timeout(what: &str, timeout: Option<Duration>) -> Result<()> {
    if timeout == Some(Duration::ZERO) {
        return Err(Error::InvalidInput(format!(
            "{what} should be a positive duration"
        )));
    }
    Ok(())
}

/// The rustls name of `host` (a DNS name or an IP address, IPv6 possibly
/// in brackets).
///
/// Errors: [`Error::InvalidInput`] for an empty or malformed name: an
/// empty name never turns verification off.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.is_empty() {
        return Err(Error::InvalidInput(String::from(
            "server_hostname is empty: an empty name never disables certificate \
             verification; use TlsClientConfig::dangerous_no_certificate_verification \
             to connect without verifying",
        )));
    }
    ServerName::try_from(bare.to_owned())
        .map_err(|e| Error::InvalidInput(format!("invalid server_hostname {host:?}: {e}")))
}

/// Accepts every certificate (checking only that the handshake
/// signatures are made with the certificate's key).
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
