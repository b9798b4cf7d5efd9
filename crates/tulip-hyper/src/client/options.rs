//! [`ClientOptions`]: the settings of a [`Client`](crate::Client), an
//! option struct with `Default` (as tulip's other options are).

use std::time::Duration;

use tulip_transport::TlsClientConfig;

/// The settings of a [`Client`](crate::Client):
/// [`Client::with_options`](crate::Client::with_options) takes them, and
/// [`Client::new`](crate::Client::new) uses the defaults.
///
/// | field | default |
/// |---|---|
/// | [`tls`](ClientOptions::tls) | the system's trust store, tulip's rustls defaults, ALPN `h2` and `http/1.1` |
/// | [`connect_timeout`](ClientOptions::connect_timeout) | 30 s |
/// | [`request_timeout`](ClientOptions::request_timeout) | 60 s |
/// | [`pool_idle_timeout`](ClientOptions::pool_idle_timeout) | 90 s |
/// | [`max_idle_per_origin`](ClientOptions::max_idle_per_origin) | 32 |
/// | [`http2_prior_knowledge`](ClientOptions::http2_prior_knowledge) | off |
/// | [`max_body_size`](ClientOptions::max_body_size) | 64 MiB |
///
/// Redirects are never followed: a `3xx` response is returned as it
/// came, with its `Location` header.
///
/// ```
/// use std::time::Duration;
/// use tulip::hyper::{Client, ClientOptions};
/// use tulip::transport::TlsClientConfig;
///
/// let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
/// let options = ClientOptions::new()
///     .tls(TlsClientConfig::with_ca_pem(ca.cert.pem().as_bytes())?)
///     .connect_timeout(Duration::from_secs(5))
///     .request_timeout(Duration::from_secs(10))
///     .max_idle_per_origin(4);
/// let client = Client::with_options(options);
/// assert_eq!(client.options().max_idle_per_origin, 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The TLS configuration of `https://` connections (a private CA, a
    /// client certificate...). `None`: [`TlsClientConfig::new`], the
    /// system's trust store, made at the first `https://` connection.
    /// When the configuration offers no ALPN protocol, the client offers
    /// `h2` and `http/1.1`; a configuration that offers its own list is
    /// used as it is (offer only `http/1.1` to keep to HTTP/1.1).
    pub tls: Option<TlsClientConfig>,
    /// How long connecting may take: name resolution, TCP (Happy
    /// Eyeballs between the name's addresses) and the TLS handshake.
    /// Past it: [`ClientError::ConnectTimeout`](crate::ClientError::ConnectTimeout).
    /// `None`: no limit but the request timeout.
    pub connect_timeout: Option<Duration>,
    /// How long a request may take, from the call to the response's head,
    /// and then again for [`bytes`](crate::ClientResponse::bytes) or
    /// [`text`](crate::ClientResponse::text) to read its body (the same
    /// deadline). Past it: [`ClientError::RequestTimeout`](crate::ClientError::RequestTimeout).
    /// `None`: no limit. A body streamed from
    /// [`into_http`](crate::ClientResponse::into_http) has no deadline.
    pub request_timeout: Option<Duration>,
    /// How long an idle HTTP/1.1 connection stays in the pool; it is
    /// closed then. `None`: until the server closes it.
    pub pool_idle_timeout: Option<Duration>,
    /// How many idle HTTP/1.1 connections the pool keeps per origin (the
    /// oldest is closed to make room). Zero: no connection is reused.
    pub max_idle_per_origin: usize,
    /// Speak HTTP/2 to `http://` origins without asking (RFC 9113's
    /// "prior knowledge"; `curl --http2-prior-knowledge`). `https://`
    /// origins use HTTP/2 when the server picks `h2` by ALPN.
    pub http2_prior_knowledge: bool,
    /// The largest body [`bytes`](crate::ClientResponse::bytes) and
    /// [`text`](crate::ClientResponse::text) read; a larger one is
    /// [`ClientError::BodyTooLarge`](crate::ClientError::BodyTooLarge).
    /// `None`: no limit. (Stream a large body from
    /// [`into_http`](crate::ClientResponse::into_http).)
    pub max_body_size: Option<usize>,
}

impl ClientOptions {
    /// The default [`connect_timeout`](ClientOptions::connect_timeout): 30 s.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default [`request_timeout`](ClientOptions::request_timeout): 60 s.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
    /// The default [`pool_idle_timeout`](ClientOptions::pool_idle_timeout):
    /// 90 s.
    pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
    /// The default [`max_idle_per_origin`](ClientOptions::max_idle_per_origin): 32.
    pub const DEFAULT_MAX_IDLE_PER_ORIGIN: usize = 32;
    /// The default [`max_body_size`](ClientOptions::max_body_size): 64 MiB.
    pub const DEFAULT_MAX_BODY_SIZE: usize = 64 << 20;

    /// The defaults (see the table above).
    ///
    /// ```
    /// use tulip::hyper::ClientOptions;
    ///
    /// let options = ClientOptions::new();
    /// assert_eq!(options.connect_timeout, Some(ClientOptions::DEFAULT_CONNECT_TIMEOUT));
    /// assert!(!options.http2_prior_knowledge);
    /// ```
    pub fn new() -> ClientOptions {
        ClientOptions::default()
    }

    /// Sets [`tls`](ClientOptions::tls).
    ///
    /// ```
    /// use tulip::hyper::ClientOptions;
    /// use tulip::transport::TlsClientConfig;
    ///
    /// let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let options = ClientOptions::new().tls(TlsClientConfig::with_ca_pem(ca.cert.pem().as_bytes())?);
    /// assert!(options.tls.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tls(mut self, tls: TlsClientConfig) -> ClientOptions {
        self.tls = Some(tls);
        self
    }

    /// Sets [`connect_timeout`](ClientOptions::connect_timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::hyper::ClientOptions;
    ///
    /// let options = ClientOptions::new().connect_timeout(Duration::from_secs(2));
    /// assert_eq!(options.connect_timeout, Some(Duration::from_secs(2)));
    /// ```
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> ClientOptions {
        self.connect_timeout = timeout.into();
        self
    }

    /// Sets [`request_timeout`](ClientOptions::request_timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::hyper::ClientOptions;
    ///
    /// let options = ClientOptions::new().request_timeout(None);
    /// assert_eq!(options.request_timeout, None);
    /// ```
    pub fn request_timeout(mut self, timeout: impl Into<Option<Duration>>) -> ClientOptions {
        self.request_timeout = timeout.into();
        self
    }

    /// Sets [`pool_idle_timeout`](ClientOptions::pool_idle_timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::hyper::ClientOptions;
    ///
    /// let options = ClientOptions::new().pool_idle_timeout(Duration::from_secs(5));
    /// assert_eq!(options.pool_idle_timeout, Some(Duration::from_secs(5)));
    /// ```
    pub fn pool_idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> ClientOptions {
        self.pool_idle_timeout = timeout.into();
        self
    }

    /// Sets [`max_idle_per_origin`](ClientOptions::max_idle_per_origin).
    ///
    /// ```
    /// use tulip::hyper::ClientOptions;
    ///
    /// // No keep-alive reuse at all.
    /// let options = ClientOptions::new().max_idle_per_origin(0);
    /// assert_eq!(options.max_idle_per_origin, 0);
    /// ```
    pub fn max_idle_per_origin(mut self, max: usize) -> ClientOptions {
        self.max_idle_per_origin = max;
        self
    }

    /// Sets [`http2_prior_knowledge`](ClientOptions::http2_prior_knowledge).
    ///
    /// ```
    /// use tulip::hyper::ClientOptions;
    ///
    /// let options = ClientOptions::new().http2_prior_knowledge(true);
    /// assert!(options.http2_prior_knowledge);
    /// ```
    pub fn http2_prior_knowledge(mut self, enabled: bool) -> ClientOptions {
        self.http2_prior_knowledge = enabled;
        self
    }

    /// Sets [`max_body_size`](ClientOptions::max_body_size).
    ///
    /// ```
    /// use tulip::hyper::ClientOptions;
    ///
    /// let options = ClientOptions::new().max_body_size(1 << 20);
    /// assert_eq!(options.max_body_size, Some(1 << 20));
    /// ```
    pub fn max_body_size(mut self, limit: impl Into<Option<usize>>) -> ClientOptions {
        self.max_body_size = limit.into();
        self
    }
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            tls: None,
            connect_timeout: Some(ClientOptions::DEFAULT_CONNECT_TIMEOUT),
            request_timeout: Some(ClientOptions::DEFAULT_REQUEST_TIMEOUT),
            pool_idle_timeout: Some(ClientOptions::DEFAULT_POOL_IDLE_TIMEOUT),
            max_idle_per_origin: ClientOptions::DEFAULT_MAX_IDLE_PER_ORIGIN,
            http2_prior_knowledge: false,
            max_body_size: Some(ClientOptions::DEFAULT_MAX_BODY_SIZE),
        }
    }
}
