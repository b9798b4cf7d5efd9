//! A small pooled HTTP client on hyper's `client::conn`, on the running
//! loop: [`Client`] (`get`, `post`, `request`), its [`ClientOptions`], its
//! [`ClientResponse`] and [`ClientError`]. The connections are kept per
//! [`Origin`] by the pool (`pool.rs`); [`Client`]'s documentation says
//! how they are made and reused.

mod body;
mod error;
mod options;
mod origin;
mod pool;
mod response;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use hyper::client::conn::{http1, http2};
use hyper::header::{HOST, HeaderValue};
use hyper::rt::{Executor, Read, Write};
use hyper::{Method, Request, Uri, Version};
use tulip_executor::{get_running_loop, timeout_at, wait_for};
use tulip_transport::TlsClientConfig;
use tulip_transport::net::{TcpStream, TlsStream};

use crate::rt::{TulipExecutor, TulipTimer};

pub use body::RequestBody;
pub use error::ClientError;
pub use options::ClientOptions;
pub use origin::{IntoUri, Origin};
pub use response::ClientResponse;

use origin::Scheme;
use pool::{FirstConnection, Pool, Release};
use response::Deadline;

/// ALPN protocol names.
const H2: &[u8] = b"h2";
const HTTP11: &[u8] = b"http/1.1";

/// A pooled HTTP/1.1 and HTTP/2 client on the running loop.
///
/// Cheap to clone (an `Rc` inside: clones share the pool); `!Send`, as
/// everything of a loop. [`ClientOptions`] holds its settings.
///
/// - **Connecting**: [`TcpStream::connect`] (asyncio's address handling,
///   Happy Eyeballs between a name's addresses) with `TCP_NODELAY`, then
///   for `https://` a [`TlsStream`] with the URI's host as the server name
///   (SNI and certificate check) and ALPN `h2`, `http/1.1`.
/// - **HTTP/1.1**: keep-alive connections pooled per [`Origin`]: one goes
///   back to the pool once its response's body has been read to its end
///   (when [`bytes`](ClientResponse::bytes) or [`text`](ClientResponse::text)
///   return, it is there), is reused while hyper says it is ready, and is
///   closed after the idle timeout or when the origin keeps the maximum.
/// - **HTTP/2** (the server picked `h2` by ALPN, or
///   [prior knowledge](ClientOptions::http2_prior_knowledge) for
///   `http://`): one connection per origin, shared by concurrent requests;
///   requests that come while it is being made wait for it.
/// - Each connection is a task of the loop ([`TulipExecutor`]); HTTP/2's
///   timers are the loop's ([`TulipTimer`]).
/// - Redirects are returned, not followed. Nothing is retried but a
///   request that never left: one sent on a pooled connection the server
///   had just closed goes again on a new connection.
///
/// ```
/// use std::convert::Infallible;
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use hyper::body::Incoming;
/// use hyper::service::service_fn;
/// use hyper::{Request, Response};
/// use tulip::hyper::Client;
/// use tulip::net::TcpListener;
/// use tulip::prelude::*;
///
/// async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
///     Ok(Response::new(Full::new(Bytes::from(format!("{} {}", req.method(), req.uri())))))
/// }
///
/// tulip::run(async {
///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
///     let port = listener.local_addr()?.port();
///     spawn(tulip::hyper::serve_hyper(listener, service_fn(hello)).into_future());
///
///     let client = Client::new();
///     let response = client.get(format!("http://127.0.0.1:{port}/hello")).await?;
///     assert_eq!(response.status(), 200);
///     assert_eq!(response.text().await?, "GET /hello");
///     let response = client.post(format!("http://127.0.0.1:{port}/form"), "a=1").await?;
///     assert_eq!(response.text().await?, "POST /form");
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Rc<Inner>,
}

struct Inner {
    options: ClientOptions,
    pool: Rc<Pool>,
    /// The TLS configuration with its ALPN list, made at the first
    /// `https://` connection.
    tls: RefCell<Option<TlsClientConfig>>,
}

/// A connection ready for one request.
enum Sender {
    Http1 {
        sender: http1::SendRequest<RequestBody>,
        /// Taken from the pool (a request that fails before it is sent
        /// goes again on a new connection).
        reused: bool,
    },
    Http2(http2::SendRequest<RequestBody>),
}

impl Client {
    /// A client with the default [`ClientOptions`]: TLS verified against
    /// the system's trust store, ALPN `h2` and `http/1.1`, redirects not
    /// followed, a 30 s connect timeout and a 60 s request timeout.
    ///
    /// ```no_run
    /// use tulip::hyper::Client;
    ///
    /// tulip::run(async {
    ///     let response = Client::new().get("https://www.rust-lang.org/").await?;
    ///     println!("{} {:?}", response.status(), response.version());
    ///     Ok::<(), tulip::hyper::ClientError>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Client {
        Client::with_options(ClientOptions::new())
    }

    /// A client with these options.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::hyper::{Client, ClientOptions};
    ///
    /// let client = Client::with_options(ClientOptions::new().request_timeout(Duration::from_secs(5)));
    /// assert_eq!(client.options().request_timeout, Some(Duration::from_secs(5)));
    /// ```
    pub fn with_options(options: ClientOptions) -> Client {
        let pool = Rc::new(Pool::new(
            options.pool_idle_timeout,
            options.max_idle_per_origin,
        ));
        Client {
            inner: Rc::new(Inner {
                options,
                pool,
                tls: RefCell::new(None),
            }),
        }
    }

    /// The client's options.
    ///
    /// ```
    /// use tulip::hyper::{Client, ClientOptions};
    ///
    /// assert_eq!(Client::new().options().max_idle_per_origin, ClientOptions::DEFAULT_MAX_IDLE_PER_ORIGIN);
    /// ```
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// How many idle HTTP/1.1 connections the pool keeps for the origin
    /// of `uri` (0 for an HTTP/2 origin, whose one connection is shared
    /// rather than idle).
    ///
    /// Errors: those of [`Origin::from_uri`], and an unparsable URI.
    ///
    /// ```
    /// use tulip::hyper::Client;
    ///
    /// assert_eq!(Client::new().idle_connections("http://localhost/")?, 0);
    /// # Ok::<(), tulip::hyper::ClientError>(())
    /// ```
    pub fn idle_connections(&self, uri: impl IntoUri) -> Result<usize, ClientError> {
        let origin = Origin::from_uri(&uri.into_uri()?)?;
        Ok(self.inner.pool.idle_count(&origin))
    }

    /// Sends a `GET` (no body).
    ///
    /// Errors: see [`ClientError`].
    ///
    /// ```no_run
    /// use tulip::hyper::Client;
    ///
    /// tulip::run(async {
    ///     let text = Client::new().get("http://127.0.0.1:8080/").await?.text().await?;
    ///     println!("{text}");
    ///     Ok::<(), tulip::hyper::ClientError>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get(&self, uri: impl IntoUri) -> Result<ClientResponse, ClientError> {
        let uri = uri.into_uri()?;
        let mut request = Request::new(RequestBody::empty());
        *request.uri_mut() = uri;
        self.request(request).await
    }

    /// Sends a `POST` with `body` (bytes are sent with their
    /// `Content-Length`; see [`RequestBody`]). Set a `Content-Type` with
    /// [`request`](Client::request).
    ///
    /// Errors: see [`ClientError`].
    ///
    /// ```no_run
    /// use tulip::hyper::Client;
    ///
    /// tulip::run(async {
    ///     let response = Client::new().post("http://127.0.0.1:8080/echo", "hello").await?;
    ///     assert_eq!(response.status(), 200);
    ///     Ok::<(), tulip::hyper::ClientError>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn post(
        &self,
        uri: impl IntoUri,
        body: impl Into<RequestBody>,
    ) -> Result<ClientResponse, ClientError> {
        let uri = uri.into_uri()?;
        let mut request = Request::new(body.into());
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        self.request(request).await
    }

    /// Sends any request: its method, absolute URI, headers and body as
    /// given. For HTTP/1.1 the client adds the `Host` header when it is
    /// missing and sends the URI's path and query; for HTTP/2 the URI
    /// gives `:scheme` and `:authority`.
    ///
    /// Errors: see [`ClientError`].
    ///
    /// ```no_run
    /// use hyper::Request;
    /// use tulip::hyper::Client;
    ///
    /// tulip::run(async {
    ///     let request = Request::put("http://127.0.0.1:8080/items/7")
    ///         .header("content-type", "application/json")
    ///         .body(r#"{"name":"tulip"}"#)?;
    ///     let response = Client::new().request(request).await?;
    ///     println!("{}", response.status());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn request<B: Into<RequestBody>>(
        &self,
        request: Request<B>,
    ) -> Result<ClientResponse, ClientError> {
        let request = request.map(Into::into);
        let uri = request.uri().clone();
        let origin = Origin::from_uri(&uri)?;
        let lp = get_running_loop().map_err(ClientError::Loop)?;
        let deadline = self.inner.options.request_timeout.map(|timeout| Deadline {
            at: lp.time() + timeout,
            timeout,
        });
        let exchange = self.inner.send(origin, request);
        let (response, release) = match deadline {
            Some(d) => timeout_at(d.at).run(exchange).await.unwrap_or_else(|_| {
                Err(ClientError::RequestTimeout {
                    uri: uri.clone(),
                    after: d.timeout,
                })
            })?,
            None => exchange.await?,
        };
        Ok(ClientResponse::new(
            response,
            uri,
            deadline,
            self.inner.options.max_body_size,
            release,
        ))
    }
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// Sends the request on a connection to `origin` and waits for the
    /// response's head; with an HTTP/1.1 connection, the release that puts
    /// it back in the pool once the body has been read.
    async fn send(
        &self,
        origin: Origin,
        mut request: Request<RequestBody>,
    ) -> Result<(hyper::Response<hyper::body::Incoming>, Option<Release>), ClientError> {
        let uri = request.uri().clone();
        // An HTTP/2 connection found closed as the request was handed to
        // it is replaced once (a server that closes every new connection
        // at once fails the request, rather than loop).
        let mut http2_retried = false;
        loop {
            match self.sender_for(&origin, &uri).await? {
                Sender::Http2(mut sender) => {
                    *request.version_mut() = Version::HTTP_2;
                    match sender.try_send_request(request).await {
                        Ok(response) => return Ok((response, None)),
                        Err(mut e) => match e.take_message() {
                            Some(unsent) if sender.is_closed() && !http2_retried => {
                                log::debug!(
                                    "the HTTP/2 connection to {origin} closed; sending again: {}",
                                    e.error()
                                );
                                http2_retried = true;
                                request = unsent;
                            }
                            _ => {
                                return Err(ClientError::Http {
                                    uri,
                                    source: e.into_error(),
                                });
                            }
                        },
                    }
                }
                Sender::Http1 { mut sender, reused } => {
                    prepare_http1(&mut request, &origin);
                    match sender.try_send_request(request).await {
                        Ok(response) => {
                            let release = (self.options.max_idle_per_origin > 0)
                                .then(|| Release::new(&self.pool, origin, sender));
                            return Ok((response, release));
                        }
                        Err(mut e) => match e.take_message() {
                            // The request never left: a pooled connection
                            // the server had closed. Again on another one.
                            Some(unsent) if reused => {
                                log::debug!(
                                    "a pooled connection to {origin} was closed; sending again: {}",
                                    e.error()
                                );
                                request = unsent;
                                *request.uri_mut() = uri.clone();
                            }
                            _ => {
                                return Err(ClientError::Http {
                                    uri,
                                    source: e.into_error(),
                                });
                            }
                        },
                    }
                }
            }
        }
    }

    /// A connection for one request to `origin`: the shared HTTP/2 one, an
    /// idle HTTP/1.1 one, or a new one.
    async fn sender_for(&self, origin: &Origin, uri: &Uri) -> Result<Sender, ClientError> {
        loop {
            if let Some(sender) = self.pool.http2(origin) {
                return Ok(Sender::Http2(sender));
            }
            if let Some(sender) = self.pool.checkout_http1(origin) {
                return Ok(Sender::Http1 {
                    sender,
                    reused: true,
                });
            }
            if !self.may_be_http2(origin) {
                return self.connect(origin, uri).await;
            }
            // Whether it is HTTP/2 is known once connected: one request
            // connects, the others wait for it to share its connection.
            let connecting = match self.pool.first_connection(origin) {
                FirstConnection::Wait(attempt) => {
                    attempt.wait().await?;
                    continue;
                }
                FirstConnection::Make(connecting) => connecting,
            };
            let sender = match self.connect(origin, uri).await {
                Ok(sender) => sender,
                Err(e) => {
                    connecting.failed(&e);
                    return Err(e);
                }
            };
            match &sender {
                Sender::Http2(h2) => self.pool.set_http2(origin, h2.clone()),
                Sender::Http1 { .. } => self.pool.set_http1_only(origin),
            }
            return Ok(sender);
        }
    }

    /// Whether a new connection to `origin` may be HTTP/2.
    fn may_be_http2(&self, origin: &Origin) -> bool {
        match origin.scheme_kind() {
            Scheme::Http => self.options.http2_prior_knowledge,
            Scheme::Https => match &self.options.tls {
                Some(tls) if !tls.rustls_config().alpn_protocols.is_empty() => {
                    tls.rustls_config().alpn_protocols.iter().any(|p| p == H2)
                        && self.pool.may_be_http2(origin)
                }
                _ => self.pool.may_be_http2(origin),
            },
        }
    }

    /// The TLS configuration, with ALPN `h2` and `http/1.1` unless it
    /// names its own protocols.
    fn tls_config(&self) -> Result<TlsClientConfig, tulip_transport::Error> {
        let mut tls = self.tls.borrow_mut();
        if let Some(config) = tls.as_ref() {
            return Ok(config.clone());
        }
        let config = match &self.options.tls {
            Some(config) => config.clone(),
            None => TlsClientConfig::new()?,
        };
        let config = if config.rustls_config().alpn_protocols.is_empty() {
            config.alpn_protocols(&[H2, HTTP11])
        } else {
            config
        };
        *tls = Some(config.clone());
        Ok(config)
    }

    /// A new connection to `origin`, within the connect timeout.
    async fn connect(&self, origin: &Origin, uri: &Uri) -> Result<Sender, ClientError> {
        let connecting = self.connect_now(origin, uri);
        match self.options.connect_timeout {
            Some(timeout) => wait_for(connecting, timeout).await.unwrap_or_else(|_| {
                Err(ClientError::ConnectTimeout {
                    origin: origin.clone(),
                    after: timeout,
                })
            }),
            None => connecting.await,
        }
    }

    async fn connect_now(&self, origin: &Origin, uri: &Uri) -> Result<Sender, ClientError> {
        let connect_error = |source| ClientError::Connect {
            origin: origin.clone(),
            source,
        };
        let tcp = TcpStream::connect(origin.host(), origin.port())
            .await
            .map_err(connect_error)?;
        tcp.set_nodelay(true)
            .map_err(|e| connect_error(tulip_transport::Error::io(e)))?;
        match origin.scheme_kind() {
            Scheme::Http if self.options.http2_prior_knowledge => {
                handshake_http2(tcp, origin, uri).await
            }
            Scheme::Http => handshake_http1(tcp, origin, uri).await,
            Scheme::Https => {
                let tls_error = |source| ClientError::Tls {
                    origin: origin.clone(),
                    source,
                };
                let config = self.tls_config().map_err(tls_error)?;
                let tls = TlsStream::connect(tcp, origin.host(), &config)
                    .await
                    .map_err(tls_error)?;
                if tls.alpn_protocol() == Some(H2) {
                    handshake_http2(tls, origin, uri).await
                } else {
                    handshake_http1(tls, origin, uri).await
                }
            }
        }
    }
}

/// HTTP/1.1 wants the `Host` header and the URI's path and query (the
/// origin form); its version is 1.0 or 1.1.
fn prepare_http1(request: &mut Request<RequestBody>, origin: &Origin) {
    if !request.headers().contains_key(HOST) {
        if let Ok(host) = HeaderValue::try_from(origin.host_header()) {
            request.headers_mut().insert(HOST, host);
        }
    }
    let origin_form = request
        .uri()
        .path_and_query()
        .map_or_else(|| Uri::from_static("/"), |pq| Uri::from(pq.clone()));
    *request.uri_mut() = origin_form;
    if request.version() != Version::HTTP_10 {
        *request.version_mut() = Version::HTTP_11;
    }
}

/// hyper's HTTP/1.1 handshake over `io`; the connection becomes a task of
/// the loop.
async fn handshake_http1<T>(io: T, origin: &Origin, uri: &Uri) -> Result<Sender, ClientError>
where
    T: Read + Write + Unpin + 'static,
{
    let (sender, connection) = http1::Builder::new()
        .handshake(io)
        .await
        .map_err(|source| ClientError::Http {
            uri: uri.clone(),
            source,
        })?;
    spawn_connection(connection, origin, "HTTP/1.1");
    Ok(Sender::Http1 {
        sender,
        reused: false,
    })
}

/// hyper's HTTP/2 handshake over `io` (its streams and timers on the
/// loop); the connection becomes a task of the loop.
async fn handshake_http2<T>(io: T, origin: &Origin, uri: &Uri) -> Result<Sender, ClientError>
where
    T: Read + Write + Unpin + 'static,
{
    let (sender, connection) = http2::Builder::new(TulipExecutor::new())
        .timer(TulipTimer::new())
        .handshake(io)
        .await
        .map_err(|source| ClientError::Http {
            uri: uri.clone(),
            source,
        })?;
    spawn_connection(connection, origin, "HTTP/2");
    Ok(Sender::Http2(sender))
}

/// Runs a connection to its end as a task of the loop (it ends when the
/// server closes it or when its sender is dropped).
fn spawn_connection<C>(connection: C, origin: &Origin, protocol: &'static str)
where
    C: Future<Output = hyper::Result<()>> + 'static,
{
    let origin = origin.clone();
    TulipExecutor::new().execute(async move {
        match connection.await {
            Ok(()) => log::trace!("{protocol} connection to {origin} closed"),
            Err(e) => log::debug!("{protocol} connection to {origin} failed: {e}"),
        }
    });
}
