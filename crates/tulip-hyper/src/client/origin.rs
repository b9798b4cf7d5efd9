//! [`Origin`]: the scheme, host and port a connection is made to, the key
//! of the client's pool; and [`IntoUri`], what the client's methods take
//! as a URI.

use std::fmt;
use std::net::Ipv6Addr;

use hyper::Uri;

use crate::client::error::ClientError;

/// Whether an origin speaks TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    /// `http://`: plain TCP.
    Http,
    /// `https://`: TLS over TCP.
    Https,
}

/// Where a request goes: scheme, host and port (RFC 6454's origin). The
/// client keeps its connections per origin, and its connection errors name
/// the origin.
///
/// The host is kept lowercase and without the brackets of an IPv6
/// address; the port is the URI's, or the scheme's default (80, 443).
///
/// ```
/// use tulip::hyper::Origin;
///
/// let origin = Origin::from_uri(&"https://Example.COM/path?q=1".parse()?)?;
/// assert_eq!(origin.scheme(), "https");
/// assert_eq!(origin.host(), "example.com");
/// assert_eq!(origin.port(), 443);
/// assert_eq!(origin.to_string(), "https://example.com:443");
///
/// let v6 = Origin::from_uri(&"http://[::1]:8080/".parse()?)?;
/// assert_eq!(v6.host(), "::1");
/// assert_eq!(v6.to_string(), "http://[::1]:8080");
///
/// // Only absolute http and https URIs have an origin.
/// assert!(Origin::from_uri(&"/relative".parse()?).is_err());
/// assert!(Origin::from_uri(&"ftp://example.com/".parse()?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: Scheme,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of an absolute `http` or `https` URI.
    ///
    /// Errors: [`ClientError::InvalidUri`] for a URI with no scheme or no
    /// host, [`ClientError::UnsupportedScheme`] for a scheme other than
    /// `http` and `https`.
    ///
    /// ```
    /// use tulip::hyper::{ClientError, Origin};
    ///
    /// let err = Origin::from_uri(&"ws://localhost/".parse()?).unwrap_err();
    /// assert!(matches!(err, ClientError::UnsupportedScheme { .. }), "{err}");
    /// assert!(err.to_string().contains("ws://localhost/"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_uri(uri: &Uri) -> Result<Origin, ClientError> {
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            Some(other) => {
                return Err(ClientError::UnsupportedScheme {
                    uri: uri.clone(),
                    scheme: other.to_owned(),
                });
            }
            None => {
                return Err(ClientError::InvalidUri {
                    uri: uri.to_string(),
                    reason: String::from("not an absolute URI: it has no scheme and host"),
                });
            }
        };
        let host = uri.host().unwrap_or_default();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(ClientError::InvalidUri {
                uri: uri.to_string(),
                reason: String::from("it has no host"),
            });
        }
        let port = match (uri.port_u16(), scheme) {
            (Some(port), _) => port,
            (None, Scheme::Http) => 80,
            (None, Scheme::Https) => 443,
        };
        Ok(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// `"http"` or `"https"`.
    ///
    /// ```
    /// use tulip::hyper::Origin;
    ///
    /// let origin = Origin::from_uri(&"HTTP://localhost/".parse()?)?;
    /// assert_eq!(origin.scheme(), "http");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scheme(&self) -> &'static str {
        match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The host: a name (lowercase) or an IP address (IPv6 without
    /// brackets). It is what the client resolves, connects to, and sends
    /// as the TLS server name.
    ///
    /// ```
    /// use tulip::hyper::Origin;
    ///
    /// let origin = Origin::from_uri(&"https://[::1]/".parse()?)?;
    /// assert_eq!(origin.host(), "::1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port: the URI's, or the scheme's default.
    ///
    /// ```
    /// use tulip::hyper::Origin;
    ///
    /// assert_eq!(Origin::from_uri(&"http://localhost/".parse()?)?.port(), 80);
    /// assert_eq!(Origin::from_uri(&"http://localhost:8080/".parse()?)?.port(), 8080);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn scheme_kind(&self) -> Scheme {
        self.scheme
    }

    /// The `Host` header of an HTTP/1.1 request to this origin: the host
    /// (IPv6 in brackets) and the port unless it is the scheme's default.
    pub(crate) fn host_header(&self) -> String {
        let default_port = match self.scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        };
        let host = HostDisplay(&self.host);
        if self.port == default_port {
            host.to_string()
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}:{}",
            self.scheme(),
            HostDisplay(&self.host),
            self.port
        )
    }
}

/// A host as it is written in a URI: an IPv6 address in brackets.
struct HostDisplay<'a>(&'a str);

impl fmt::Display for HostDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.parse::<Ipv6Addr>().is_ok() {
            write!(f, "[{}]", self.0)
        } else {
            f.write_str(self.0)
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// What [`Client::get`](crate::Client::get) and
/// [`Client::post`](crate::Client::post) take as a URI: a [`Uri`], or a
/// string parsed into one (a string that does not parse is
/// [`ClientError::InvalidUri`], naming it).
///
/// ```
/// use tulip::hyper::{ClientError, IntoUri};
///
/// let uri = "http://localhost:8080/x".into_uri()?;
/// assert_eq!(uri.path(), "/x");
/// let err = "http://bad host/".into_uri().unwrap_err();
/// assert!(matches!(err, ClientError::InvalidUri { .. }), "{err}");
/// assert!(err.to_string().contains("http://bad host/"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait IntoUri: sealed::Sealed {
    /// The URI.
    ///
    /// Errors: [`ClientError::InvalidUri`] when the text is not a URI.
    fn into_uri(self) -> Result<Uri, ClientError>;
}

fn parse_uri(text: &str) -> Result<Uri, ClientError> {
    text.parse()
        .map_err(|e: hyper::http::uri::InvalidUri| ClientError::InvalidUri {
            uri: text.to_owned(),
            reason: e.to_string(),
        })
}

impl sealed::Sealed for Uri {}
impl IntoUri for Uri {
    fn into_uri(self) -> Result<Uri, ClientError> {
        Ok(self)
    }
}

impl sealed::Sealed for &Uri {}
impl IntoUri for &Uri {
    fn into_uri(self) -> Result<Uri, ClientError> {
        Ok(self.clone())
    }
}

impl sealed::Sealed for &str {}
impl IntoUri for &str {
    fn into_uri(self) -> Result<Uri, ClientError> {
        parse_uri(self)
    }
}

impl sealed::Sealed for String {}
impl IntoUri for String {
    fn into_uri(self) -> Result<Uri, ClientError> {
        parse_uri(&self)
    }
}

impl sealed::Sealed for &String {}
impl IntoUri for &String {
    fn into_uri(self) -> Result<Uri, ClientError> {
        parse_uri(self)
    }
}
