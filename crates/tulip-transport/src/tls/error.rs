//! TLS failures (asyncio's `ssl.SSLError` and
//! `ssl.SSLCertVerificationError`): [`TlsError`], which
//! [`Error::Tls`](crate::Error::Tls) carries.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::address::SockAddr;

/// A TLS failure (inside [`Error::Tls`](crate::Error::Tls)).
///
/// ```
/// use std::io;
/// use std::time::Duration;
/// use tulip::transport::rustls::{self, CertificateError};
/// use tulip::transport::{Error, TlsError};
///
/// let expired = TlsError::Rustls(rustls::Error::InvalidCertificate(CertificateError::Expired));
/// assert!(expired.is_certificate_error());
/// assert_eq!(expired.certificate_error(), Some(&CertificateError::Expired));
/// assert_eq!(expired.io_kind(), io::ErrorKind::InvalidData);
///
/// let slow = TlsError::HandshakeTimeout(Duration::from_secs(60));
/// assert!(slow.is_timeout() && !slow.is_certificate_error());
/// // Inside the transport error, and as an `io::Error`.
/// let e = Error::from(slow);
/// assert!(e.is_timeout());
/// assert_eq!(io::Error::from(e).kind(), io::ErrorKind::TimedOut);
/// assert_eq!(TlsError::Truncated.io_kind(), io::ErrorKind::UnexpectedEof);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TlsError {
    /// rustls refused the peer or its data: a certificate that does not
    /// verify ([`certificate_error`](TlsError::certificate_error)), an
    /// alert from the peer, a malformed or undecryptable record, no
    /// common protocol version, cipher suite or ALPN protocol (asyncio's
    /// `ssl.SSLError` and `ssl.SSLCertVerificationError`). A client's
    /// failed handshake is [`ClientHandshake`](TlsError::ClientHandshake)
    /// instead, which names the server.
    Rustls(rustls::Error),
    /// A client's handshake failed: rustls refused the server (its
    /// certificate does not verify for the name, say) or what it sent.
    /// The message names the server: the name the client verified, and
    /// its address when the transport underneath has one.
    ClientHandshake(Box<HandshakeFailure>),
    /// The peer closed the TCP connection without a TLS close_notify
    /// alert: the data received may be cut short (a truncation attack, or
    /// a careless peer). Never reported as a clean EOF.
    Truncated,
    /// The handshake did not finish within `ssl_handshake_timeout`.
    HandshakeTimeout(Duration),
    /// The peer did not answer the close_notify within
    /// `ssl_shutdown_timeout`.
    ShutdownTimeout(Duration),
}

/// A client's failed TLS handshake and the server it was with (inside
/// [`TlsError::ClientHandshake`]).
///
/// ```
/// use tulip::transport::rustls::{self, CertificateError};
/// use tulip::transport::{HandshakeFailure, TlsError};
///
/// let e = TlsError::ClientHandshake(Box::new(HandshakeFailure {
///     server_name: String::from("example.com"),
///     addr: None,
///     error: rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
/// }));
/// assert_eq!(e.certificate_error(), Some(&CertificateError::UnknownIssuer));
/// assert_eq!(
///     e.to_string(),
///     "the TLS handshake with example.com failed: invalid peer certificate: UnknownIssuer"
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct HandshakeFailure {
    /// The name the client verified and sent as SNI (`server_hostname`).
    pub server_name: String,
    /// The server's address, when known.
    pub addr: Option<SockAddr>,
    /// What rustls said.
    pub error: rustls::Error,
}

impl fmt::Display for HandshakeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the TLS handshake with {}", self.server_name)?;
        if let Some(addr) = &self.addr {
            write!(f, " ({addr})")?;
        }
        write!(f, " failed: {}", self.error)
    }
}

impl TlsError {
    /// The rustls error, if this is one.
    pub fn rustls_error(&self) -> Option<&rustls::Error> {
        match self {
            TlsError::Rustls(e) => Some(e),
            TlsError::ClientHandshake(h) => Some(&h.error),
            _ => None,
        }
    }

    /// The server a failed client handshake was with: the name the client
    /// verified, and the server's address when known.
    ///
    /// ```
    /// use tulip::transport::rustls::{self, CertificateError};
    /// use tulip::transport::{HandshakeFailure, TlsError};
    ///
    /// let e = TlsError::ClientHandshake(Box::new(HandshakeFailure {
    ///     server_name: String::from("example.com"),
    ///     addr: None,
    ///     error: rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
    /// }));
    /// assert_eq!(e.server(), Some(("example.com", None)));
    /// assert!(e.to_string().contains("example.com"), "{e}");
    /// ```
    pub fn server(&self) -> Option<(&str, Option<&SockAddr>)> {
        match self {
            TlsError::ClientHandshake(h) => Some((&h.server_name, h.addr.as_ref())),
            _ => None,
        }
    }

    /// Why this side rejected the peer's certificate (unknown issuer,
    /// not valid for the name, expired, ...), if it did.
    pub fn certificate_error(&self) -> Option<&rustls::CertificateError> {
        match self.rustls_error() {
            Some(rustls::Error::InvalidCertificate(e)) => Some(e),
            _ => None,
        }
    }

    /// Whether a certificate was rejected: by this side
    /// ([`certificate_error`](TlsError::certificate_error)), or by the
    /// peer, which said so with a certificate alert.
    pub fn is_certificate_error(&self) -> bool {
        use rustls::AlertDescription as A;
        match self.rustls_error() {
            Some(rustls::Error::InvalidCertificate(_)) => true,
            Some(rustls::Error::AlertReceived(alert)) => matches!(
                alert,
                A::BadCertificate
                    | A::UnsupportedCertificate
                    | A::CertificateRevoked
                    | A::CertificateExpired
                    | A::CertificateUnknown
                    | A::UnknownCA
                    | A::CertificateRequired
            ),
            _ => false,
        }
    }

    /// Whether a TLS timeout ran out.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            TlsError::HandshakeTimeout(_) | TlsError::ShutdownTimeout(_)
        )
    }

    /// The `io::ErrorKind` this error becomes as an `io::Error`.
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
            TlsError::Rustls(_) | TlsError::ClientHandshake(_) => io::ErrorKind::InvalidData,
            TlsError::Truncated => io::ErrorKind::UnexpectedEof,
            TlsError::HandshakeTimeout(_) | TlsError::ShutdownTimeout(_) => io::ErrorKind::TimedOut,
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Rustls(e) => write!(f, "{e}"),
            TlsError::ClientHandshake(h) => write!(f, "{h}"),
            TlsError::Truncated => {
                f.write_str("the peer closed the connection without a TLS close_notify")
            }
            TlsError::HandshakeTimeout(t) => write!(
                f,
                "the TLS handshake is taking longer than {t:?}: aborting the connection"
            ),
            TlsError::ShutdownTimeout(t) => write!(f, "the TLS shutdown timed out after {t:?}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Rustls(e) => Some(e),
            TlsError::ClientHandshake(h) => Some(&h.error),
            _ => None,
        }
    }
}
