//! [`ClientError`]: what can go wrong with a request of the
//! [`Client`](crate::Client), each case naming the URI or the origin it
//! was about.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use hyper::Uri;
use tulip_transport::Error as TransportError;

use crate::client::origin::Origin;

/// An error of the [`Client`](crate::Client): each variant names what it
/// was about (the URI of the request, or the origin of the connection).
///
/// Connection errors ([`Connect`](ClientError::Connect),
/// [`Tls`](ClientError::Tls), [`ConnectTimeout`](ClientError::ConnectTimeout))
/// name the origin; the others the request's URI.
///
/// ```
/// use tulip::hyper::{Client, ClientError};
/// use tulip::net::TcpListener;
///
/// tulip::run(async {
///     // A port nobody listens on (bound, then closed).
///     let port = TcpListener::bind("127.0.0.1", 0).await?.local_addr()?.port();
///     let err = Client::new().get(format!("http://127.0.0.1:{port}/")).await.unwrap_err();
///     assert!(matches!(err, ClientError::Connect { .. }), "{err}");
///     assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
///     assert_eq!(err.origin().unwrap().port(), port);
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The text is not a URI, or the URI cannot be requested (relative, no
    /// host).
    InvalidUri {
        /// The URI as it was given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A scheme other than `http` and `https`.
    UnsupportedScheme {
        /// The URI.
        uri: Uri,
        /// Its scheme.
        scheme: String,
    },
    /// Resolving the host or connecting to it failed (refused,
    /// unreachable, an unknown name); the transport error names the
    /// address.
    Connect {
        /// Where the connection was going.
        origin: Origin,
        /// The error of `tulip::net::TcpStream::connect`.
        source: TransportError,
    },
    /// The TLS handshake failed: the server's certificate was not trusted
    /// or not valid for the host, the server sent an alert, the
    /// connection broke.
    Tls {
        /// The origin whose server failed the handshake (its host is the
        /// name the certificate was checked for).
        origin: Origin,
        /// The error of `tulip::net::TlsStream::connect`
        /// ([`as_tls`](TransportError::as_tls) gives the TLS error).
        source: TransportError,
    },
    /// Connecting (TCP and TLS handshake) outlasted the
    /// [connect timeout](crate::ClientOptions::connect_timeout).
    ConnectTimeout {
        /// Where the connection was going.
        origin: Origin,
        /// The timeout.
        after: Duration,
    },
    /// The request (connecting, sending, the response head, and the body
    /// read by [`bytes`](crate::ClientResponse::bytes) or
    /// [`text`](crate::ClientResponse::text)) outlasted the
    /// [request timeout](crate::ClientOptions::request_timeout).
    RequestTimeout {
        /// The request's URI.
        uri: Uri,
        /// The timeout.
        after: Duration,
    },
    /// hyper failed the exchange: the connection closed before the
    /// response, a malformed response, a broken body, the request's own
    /// body failed.
    Http {
        /// The request's URI.
        uri: Uri,
        /// hyper's error (its `source` says more).
        source: hyper::Error,
    },
    /// The response body is larger than
    /// [`max_body_size`](crate::ClientOptions::max_body_size).
    BodyTooLarge {
        /// The request's URI.
        uri: Uri,
        /// The limit, in bytes.
        limit: usize,
    },
    /// [`text`](crate::ClientResponse::text) on a body that is not UTF-8.
    InvalidUtf8 {
        /// The request's URI.
        uri: Uri,
        /// Where the bytes stop being UTF-8.
        source: std::str::Utf8Error,
    },
    /// There is no running tulip loop to do the request on.
    Loop(tulip_executor::Error),
}

impl ClientError {
    /// Whether this is a timeout (of connecting or of the request).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::hyper::ClientError;
    ///
    /// let err = ClientError::RequestTimeout { uri: "http://x/".parse()?, after: Duration::from_secs(1) };
    /// assert!(err.is_timeout());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            ClientError::ConnectTimeout { .. } | ClientError::RequestTimeout { .. }
        )
    }

    /// The origin of a connection error
    /// ([`Connect`](ClientError::Connect), [`Tls`](ClientError::Tls),
    /// [`ConnectTimeout`](ClientError::ConnectTimeout)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::hyper::{ClientError, Origin};
    ///
    /// let origin = Origin::from_uri(&"https://localhost:8443/".parse()?)?;
    /// let err = ClientError::ConnectTimeout { origin, after: Duration::from_secs(1) };
    /// assert_eq!(err.origin().unwrap().host(), "localhost");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            ClientError::Connect { origin, .. }
            | ClientError::Tls { origin, .. }
            | ClientError::ConnectTimeout { origin, .. } => Some(origin),
            _ => None,
        }
    }
}

impl ClientError {
    /// A copy of a connection error ([`Connect`](ClientError::Connect),
    /// [`Tls`](ClientError::Tls), [`ConnectTimeout`](ClientError::ConnectTimeout)),
    /// for the requests that waited on the same connection attempt.
    pub(crate) fn clone_connect_error(&self) -> Option<ClientError> {
        match self {
            ClientError::Connect { origin, source } => Some(ClientError::Connect {
                origin: origin.clone(),
                source: source.clone(),
            }),
            ClientError::Tls { origin, source } => Some(ClientError::Tls {
                origin: origin.clone(),
                source: source.clone(),
            }),
            ClientError::ConnectTimeout { origin, after } => Some(ClientError::ConnectTimeout {
                origin: origin.clone(),
                after: *after,
            }),
            _ => None,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::InvalidUri { uri, reason } => write!(f, "invalid URI {uri:?}: {reason}"),
            ClientError::UnsupportedScheme { uri, scheme } => write!(
                f,
                "unsupported scheme {scheme:?} in {uri} (the client speaks http and https)"
            ),
            ClientError::Connect { origin, source } => {
                write!(f, "cannot connect to {origin}: {source}")
            }
            ClientError::Tls { origin, source } => {
                // The transport's error names the server as well: say the
                // origin once, then what rustls said.
                let rustls = source.as_tls().and_then(|tls| tls.rustls_error());
                let reason: &dyn fmt::Display = match rustls {
                    Some(e) => e,
                    None => source,
                };
                write!(
                    f,
                    "the TLS handshake with {origin} (host {}) failed: {reason}",
                    origin.host()
                )
            }
            ClientError::ConnectTimeout { origin, after } => {
                write!(f, "connecting to {origin} timed out after {after:?}")
            }
            ClientError::RequestTimeout { uri, after } => {
                write!(f, "the request to {uri} timed out after {after:?}")
            }
            ClientError::Http { uri, source } => {
                write!(f, "HTTP error on {uri}: {source}")?;
                if let Some(inner) = source.source() {
                    write!(f, ": {inner}")?;
                }
                Ok(())
            }
            ClientError::BodyTooLarge { uri, limit } => write!(
                f,
                "the response body of {uri} is larger than the limit of {limit} bytes"
            ),
            ClientError::InvalidUtf8 { uri, source } => {
                write!(f, "the response body of {uri} is not UTF-8: {source}")
            }
            ClientError::Loop(e) => write!(f, "the client needs a running tulip loop: {e}"),
        }
    }
}

impl StdError for ClientError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            ClientError::Connect { source, .. } | ClientError::Tls { source, .. } => Some(source),
            ClientError::Http { source, .. } => Some(source),
            ClientError::InvalidUtf8 { source, .. } => Some(source),
            ClientError::Loop(e) => Some(e),
            _ => None,
        }
    }
}
