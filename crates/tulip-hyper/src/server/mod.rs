//! [`serve`]: accept connections from a [`Listener`] and serve each in its
//! own task with hyper-util's auto builder (HTTP/1.1 with keep-alive and
//! pipelining, HTTP/2 by prior knowledge, or the version the listener's
//! handshake chose by ALPN), on [`TulipExecutor`]'s loop and
//! [`TulipTimer`]'s clock.
//!
//! The server's tasks (connections, and the HTTP/2 streams hyper spawns)
//! are tracked, so that a graceful shutdown can tell every connection to
//! finish (hyper's `graceful_shutdown`), wait for them up to a deadline,
//! and cancel the rest; dropping the serve future cancels them all.

pub(crate) mod conn;
pub(crate) mod listener;
pub(crate) mod tls;
pub(crate) mod tracker;

use std::error::Error as StdError;
use std::fmt;
use std::future::{Future, IntoFuture, Pending, pending, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
#[cfg(doc)]
use tulip_executor::{Loop, Runner, run as tulip_run};
use tulip_executor::{get_running_loop, sleep, timeout, yield_now};

use crate::rt::TulipTimer;
use conn::{Builders, ConnParams, serve_connection};
use listener::Listener;
use tracker::Tracker;

/// How long accepting pauses after an accept error that is not about one
/// connection (out of descriptors or memory, say): asyncio's
/// `ACCEPT_RETRY_DELAY`, which tulip's own servers use too.
pub const ACCEPT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// How many connections the accept loop takes in a row before it lets
/// the loop run the others (the transport's servers take up to their
/// backlog per readiness, for the same reason).
const ACCEPT_BURST: u32 = 128;

/// How long a graceful shutdown waits for in-flight requests by default
/// ([`Serve::shutdown_timeout`]).
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a connection may take to send a request head by default
/// ([`Serve::header_read_timeout`]); hyper's own default.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `service`, any tower `Service` (an axum `Router` as it is), on
/// every connection `listener` accepts, each in its own task on the running
/// loop: HTTP/1.1 (keep-alive, pipelining) or HTTP/2 by prior knowledge,
/// told apart by the first bytes, or the version a TLS listener's ALPN
/// chose ([`TlsListener`](crate::TlsListener), [`Listener::protocol`]).
///
/// The service is cloned per connection and need not be `Send`; its
/// response body is any `http_body::Body`. The returned [`Serve`] is
/// configured with builder methods and runs when awaited: until the
/// [shutdown signal](Serve::with_graceful_shutdown) (forever without one),
/// or until it is dropped, which closes the listener and cancels every
/// connection.
///
/// ```
/// use std::convert::Infallible;
/// use std::future::{Ready, ready};
/// use std::task::{Context, Poll};
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use hyper::{Request, Response};
/// use tulip::net::{TcpListener, TcpStream};
/// use tulip::prelude::*;
///
/// /// A tower service (an axum Router would do the same).
/// #[derive(Clone)]
/// struct Hello;
///
/// impl<B> tower_service::Service<Request<B>> for Hello {
///     type Response = Response<Full<Bytes>>;
///     type Error = Infallible;
///     type Future = Ready<Result<Self::Response, Infallible>>;
///     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
///         Poll::Ready(Ok(()))
///     }
///     fn call(&mut self, _: Request<B>) -> Self::Future {
///         ready(Ok(Response::new(Full::new(Bytes::from_static(b"Hello, World!")))))
///     }
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     tulip::run(async {
///         let listener = TcpListener::bind("127.0.0.1", 0).await?;
///         let port = listener.local_addr()?.port();
///         let lp = get_running_loop()?;
///         let stop = lp.create_future::<()>();
///         let server = spawn(
///             tulip::hyper::serve(listener, Hello).with_graceful_shutdown(stop.clone()).into_future(),
///         );
///
///         // A client: one HTTP/1.1 request.
///         let client = TcpStream::connect("127.0.0.1", port).await?;
///         client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await?;
///         let mut reply = String::new();
///         (&client).read_to_string(&mut reply).await?;
///         assert!(reply.ends_with("Hello, World!"));
///
///         stop.set_result(())?;
///         server.await??;
///         Ok(())
///     })?
/// }
/// ```
pub fn serve<L, S, B>(listener: L, service: S) -> Serve<L, TowerToHyperService<S>>
where
    L: Listener,
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone + 'static,
    S::Future: 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    serve_hyper(listener, TowerToHyperService::new(service))
}

/// [`serve`] for a hyper `Service` (hyper's own `service_fn`, say) rather
/// than a tower one. It is cloned per connection; wrap one that is not
/// `Clone` in an `Rc`.
///
/// ```
/// use std::convert::Infallible;
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use hyper::body::Incoming;
/// use hyper::service::service_fn;
/// use hyper::{Request, Response};
/// use tulip::net::{TcpListener, TcpStream};
/// use tulip::prelude::*;
///
/// async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
///     Ok(Response::new(Full::new(Bytes::from_static(b"Hello, World!"))))
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     tulip::run(async {
///         let listener = TcpListener::bind("127.0.0.1", 0).await?;
///         let port = listener.local_addr()?.port();
///         let server = spawn(tulip::hyper::serve_hyper(listener, service_fn(hello)).into_future());
///
///         // A client: one HTTP/1.1 request.
///         let client = TcpStream::connect("127.0.0.1", port).await?;
///         client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await?;
///         let mut reply = String::new();
///         (&client).read_to_string(&mut reply).await?;
///         assert!(reply.starts_with("HTTP/1.1 200 OK"));
///
///         server.cancel(); // dropping the server closes it
///         Ok(())
///     })?
/// }
/// ```
pub fn serve_hyper<L, H, B>(listener: L, service: H) -> Serve<L, H>
where
    L: Listener,
    H: Service<Request<Incoming>, Response = Response<B>> + Clone + 'static,
    H::Future: 'static,
    H::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    Serve {
        listener,
        service,
        signal: pending(),
        shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        header_read_timeout: Some(DEFAULT_HEADER_READ_TIMEOUT),
    }
}

/// A server being configured: what [`serve`] and [`serve_hyper`] return.
/// Await it (it is [`IntoFuture`]) to run it.
///
/// `H` is the hyper service (for [`serve`], hyper-util's
/// `TowerToHyperService` around the tower service); `G` is the graceful
/// shutdown signal.
///
/// ```
/// use std::time::Duration;
/// use hyper::service::service_fn;
/// use tulip::net::TcpListener;
///
/// tulip::run(async {
///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
///     let hello = service_fn(|_req| async {
///         Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("hi")))
///     });
///     let server = tulip::hyper::serve_hyper(listener, hello)
///         .header_read_timeout(Some(Duration::from_secs(5)))
///         .shutdown_timeout(Duration::from_secs(10))
///         .with_graceful_shutdown(tulip::sleep(Duration::from_millis(10)));
///     server.await?; // serves until the signal, then shuts down
///     Ok::<(), std::io::Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a server does nothing until awaited"]
pub struct Serve<L, H, G = Pending<()>> {
    listener: L,
    service: H,
    signal: G,
    shutdown_timeout: Duration,
    header_read_timeout: Option<Duration>,
}

impl<L: Listener, H, G> fmt::Debug for Serve<L, H, G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("local_addr", &self.listener.local_addr().ok())
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("header_read_timeout", &self.header_read_timeout)
            .finish_non_exhaustive()
    }
}

impl<L: Listener, H, G> Serve<L, H, G> {
    /// Shuts the server down gracefully when `signal` completes (its output
    /// is ignored): the listener is closed at once (new connections are
    /// refused), every connection is told to finish (hyper's
    /// `graceful_shutdown`: an idle HTTP/1 connection closes, one with a
    /// request in flight closes after its response, HTTP/2 sends `GOAWAY`
    /// and finishes its open streams), and the serve future completes once
    /// they have, or once [`shutdown_timeout`](Serve::shutdown_timeout) has
    /// passed, when the remaining connections are closed.
    ///
    /// ## Ctrl-C
    ///
    /// Under [`tulip::run`](tulip_run) (or a
    /// [`Runner`]), Ctrl-C cancels the main future:
    /// the serve future is dropped, which closes the listener and every
    /// connection at once, requests in flight included. For a graceful
    /// Ctrl-C, make the signal a loop future set by a `SIGINT` handler
    /// ([`Loop::add_signal_handler`]),
    /// and remove the handler when it fires, so that a second Ctrl-C falls
    /// back to the runner's (which cancels the main future):
    ///
    /// ```no_run
    /// use hyper::service::service_fn;
    /// use tulip::net::TcpListener;
    /// use tulip::prelude::*;
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     tulip::run(async {
    ///         let lp = get_running_loop()?;
    ///         let ctrl_c = lp.create_future::<()>();
    ///         let (fired, handlers) = (ctrl_c.clone(), lp.clone());
    ///         lp.add_signal_handler(tulip::signal::SIGINT, move || {
    ///             let _ = fired.set_result(());
    ///             handlers.remove_signal_handler(tulip::signal::SIGINT);
    ///         })?;
    ///
    ///         let listener = TcpListener::bind("127.0.0.1", 8080).await?;
    ///         let hello = service_fn(|_req| async {
    ///             Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("hi")))
    ///         });
    ///         tulip::hyper::serve_hyper(listener, hello).with_graceful_shutdown(ctrl_c).await?;
    ///         Ok(())
    ///     })?
    /// }
    /// ```
    ///
    /// A signal set from a callback:
    ///
    /// ```
    /// use std::time::Duration;
    /// use hyper::service::service_fn;
    /// use tulip::net::TcpListener;
    /// use tulip::prelude::*;
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let stop = lp.create_future::<()>();
    ///     let setter = stop.clone();
    ///     lp.call_later(Duration::from_millis(20), move || {
    ///         let _ = setter.set_result(());
    ///     })?;
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let hello = service_fn(|_req| async {
    ///         Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("hi")))
    ///     });
    ///     tulip::hyper::serve_hyper(listener, hello).with_graceful_shutdown(stop).await?;
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_graceful_shutdown<G2>(self, signal: G2) -> Serve<L, H, G2>
    where
        G2: Future + 'static,
    {
        Serve {
            listener: self.listener,
            service: self.service,
            signal,
            shutdown_timeout: self.shutdown_timeout,
            header_read_timeout: self.header_read_timeout,
        }
    }

    /// How long a graceful shutdown waits for the connections to finish
    /// before it closes them (default [`DEFAULT_SHUTDOWN_TIMEOUT`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use hyper::service::service_fn;
    /// use tulip::net::TcpListener;
    ///
    /// tulip::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let hello = service_fn(|_req| async {
    ///         Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("hi")))
    ///     });
    ///     let server = tulip::hyper::serve_hyper(listener, hello)
    ///         .shutdown_timeout(Duration::from_secs(2))
    ///         .with_graceful_shutdown(std::future::ready(()));
    ///     server.await?; // no connection: done at once
    ///     Ok::<(), std::io::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// How long a new connection may take, from its accept, to finish its
    /// handshake and send the start of its first request, and (for HTTP/1,
    /// through hyper's own timeout) how long each request head may take,
    /// the wait for the next request on a keep-alive connection included.
    /// A connection that misses it is closed. `None` disables it; the
    /// default is [`DEFAULT_HEADER_READ_TIMEOUT`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use hyper::service::service_fn;
    /// use tulip::net::TcpListener;
    ///
    /// tulip::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let hello = service_fn(|_req| async {
    ///         Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("hi")))
    ///     });
    ///     let server = tulip::hyper::serve_hyper(listener, hello)
    ///         .header_read_timeout(Some(Duration::from_secs(5)))
    ///         .with_graceful_shutdown(std::future::ready(()));
    ///     server.await?;
    ///     Ok::<(), std::io::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn header_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// The address the listener is bound to.
    ///
    /// ```
    /// use hyper::service::service_fn;
    /// use tulip::net::TcpListener;
    ///
    /// tulip::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
    ///     let hello = service_fn(|_req| async {
    ///         Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("hi")))
    ///     });
    ///     let server = tulip::hyper::serve_hyper(listener, hello);
    ///     assert!(server.local_addr()?.ip().is_loopback());
    ///     Ok::<(), std::io::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<L::Addr> {
        self.listener.local_addr()
    }
}

/// The future of an awaited [`Serve`]: `Ok(())` once a graceful shutdown
/// has finished; an error only if it is polled outside a running tulip
/// loop.
pub type ServeFuture = Pin<Box<dyn Future<Output = io::Result<()>>>>;

impl<L, H, B, G> IntoFuture for Serve<L, H, G>
where
    L: Listener,
    H: Service<Request<Incoming>, Response = Response<B>> + Clone + 'static,
    H::Future: 'static,
    H::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    G: Future + 'static,
{
    type Output = io::Result<()>;
    type IntoFuture = ServeFuture;

    fn into_future(self) -> ServeFuture {
        Box::pin(async move {
            let lp = get_running_loop().map_err(|e| {
                io::Error::other(format!(
                    "tulip_hyper::serve must be awaited on a running tulip loop: {e}"
                ))
            })?;
            let Serve {
                mut listener,
                service,
                signal,
                shutdown_timeout,
                header_read_timeout,
            } = self;
            let tracker = Rc::new(Tracker::default());
            let cancel_on_drop = CancelOnDrop(tracker.clone());
            let mut builder = Builder::new(ServerExecutor {
                tracker: tracker.clone(),
            });
            builder
                .http1()
                .timer(TulipTimer)
                .header_read_timeout(header_read_timeout);
            builder.http2().timer(TulipTimer);
            let builders = Rc::new(Builders::new(builder));

            let mut signal = pin!(signal);
            let mut starved = false;
            let mut burst = 0;
            loop {
                // A flood of connections must not hold the loop: yield to
                // the connections' tasks every so many accepts in a row.
                if burst == ACCEPT_BURST {
                    burst = 0;
                    yield_now().await;
                }
                let mut waited = false;
                let event = poll_fn(|cx| {
                    if signal.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Event::Shutdown);
                    }
                    let accepted = listener.poll_accept(cx).map(Event::Accepted);
                    waited |= accepted.is_pending();
                    accepted
                })
                .await;
                burst = if waited { 0 } else { burst + 1 };
                let error = match event {
                    Event::Shutdown => break,
                    Event::Accepted(Ok((conn, peer))) => {
                        starved = false;
                        let handshake = listener.handshake(conn);
                        let params = ConnParams {
                            builders: builders.clone(),
                            service: service.clone(),
                            header_read_timeout,
                        };
                        let accepted_at = lp.time();
                        tracker.spawn(&lp, move |guard| {
                            serve_connection(
                                handshake,
                                L::protocol,
                                peer,
                                accepted_at,
                                params,
                                guard,
                            )
                        });
                        continue;
                    }
                    Event::Accepted(Err(e)) => e,
                };
                match classify(&error) {
                    AcceptError::Connection => {
                        log::debug!(
                            "tulip_hyper::serve: a connection failed before its accept: {error}"
                        );
                        continue;
                    }
                    AcceptError::Starved => {
                        if !std::mem::replace(&mut starved, true) {
                            log::error!(
                                "tulip_hyper::serve: accept failed, out of resources ({error}); \
                                 accepting again in {ACCEPT_RETRY_DELAY:?}"
                            );
                        }
                    }
                    AcceptError::Other => log::error!(
                        "tulip_hyper::serve: accept failed ({error}); accepting again in \
                         {ACCEPT_RETRY_DELAY:?}"
                    ),
                }
                // Pause (never a busy loop), still listening for the signal.
                let mut pause = pin!(sleep(ACCEPT_RETRY_DELAY));
                let stop = poll_fn(|cx| {
                    if signal.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(true);
                    }
                    pause.as_mut().poll(cx).map(|()| false)
                })
                .await;
                if stop {
                    break;
                }
            }

            // Stop accepting: the listening socket closes, new connections are
            // refused.
            drop(listener);
            tracker.start_shutdown();
            if timeout(shutdown_timeout).run(tracker.idle()).await.is_err() {
                log::warn!(
                    "tulip_hyper::serve: {} connection task(s) still running after the shutdown \
                     timeout ({shutdown_timeout:?}): closing them",
                    tracker.len()
                );
                tracker.cancel_all();
                tracker.idle().await;
            }
            drop(cancel_on_drop);
            Ok(())
        })
    }
}

/// The executor of one server's connections: hyper's spawned futures (the
/// HTTP/2 streams) become tracked tasks of the running loop.
#[derive(Clone)]
pub(crate) struct ServerExecutor {
    tracker: Rc<Tracker>,
}

impl<F> hyper::rt::Executor<F> for ServerExecutor
where
    F: Future<Output = ()> + 'static,
{
    fn execute(&self, fut: F) {
        match get_running_loop() {
            Ok(lp) => self.tracker.spawn(&lp, |guard| async move {
                let _guard = guard;
                fut.await;
            }),
            Err(e) => log::error!(
                "tulip_hyper::serve: no running tulip loop ({e}); the future hyper asked to \
                 spawn is dropped"
            ),
        }
    }
}

/// Cancels every task of the server when the serve future is dropped
/// before its shutdown finished.
struct CancelOnDrop(Rc<Tracker>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.start_shutdown();
        self.0.cancel_all();
    }
}

/// What the accept loop woke up for.
enum Event<T> {
    Accepted(io::Result<T>),
    Shutdown,
}

/// What an accept error is about.
enum AcceptError {
    /// One connection, gone before it was accepted: go on at once.
    Connection,
    /// The process or the system ran out of descriptors or memory.
    Starved,
    /// Anything else.
    Other,
}

fn classify(e: &io::Error) -> AcceptError {
    match e.raw_os_error() {
        Some(
            libc::EINTR
            | libc::ECONNABORTED
            | libc::ECONNRESET
            | libc::EPROTO
            | libc::EPERM
            | libc::ENETDOWN
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::ENONET
            | libc::EHOSTUNREACH
            | libc::EOPNOTSUPP
            | libc::ENETUNREACH,
        ) => AcceptError::Connection,
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => AcceptError::Starved,
        _ => AcceptError::Other,
    }
}
