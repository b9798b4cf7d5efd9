//! Servers: asyncio's `loop.create_server` and its `Server` object.
//!
//! A [`Server`] owns listening sockets. While it serves, each socket has a
//! level-triggered reader on the loop, each readiness accepting up to
//! `backlog` connections (see `accept.rs`), or, on a loop with completions
//! (io_uring), a multishot accept whose every completion is one connection
//! (see `accept_ops.rs`); each connection is wrapped in a socket transport
//! with a protocol from the server's factory. The server keeps
//! its live connections, so that [`Server::wait_closed`] can wait for them
//! and [`Server::close_clients`] / [`Server::abort_clients`] can end them.
//!
//! Lifetime: a serving server is kept alive by its readers (or accepts) on
//! the loop,
//! as in asyncio, even when every [`Server`] handle is dropped; it stops at
//! [`Server::close`] or when the loop closes. A server that is not serving
//! closes its sockets when its last handle is dropped.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::rc::Rc;

use rustix::net::{SocketType, sockopt};
use tulip_executor::{Error as LoopError, ExceptionContext, Loop, LoopFuture, TimerHandle};

use crate::address::SockAddr;
use crate::connect::dns::{self, AddrInfoOptions, SockType};
use crate::error::{Error, Result, bind_error};
use crate::protocols::{ProtocolFactory, ProtocolRef};
use crate::sock;
use crate::sock::check_stream_socket;
use crate::stream::socket::SocketTransport;
use crate::transports::TransportImpl;

use crate::server::balance::BalanceHook;
pub(crate) use crate::server::listener::{Listener, ServerSocket};
use crate::server::options::DEFAULT_BACKLOG;
use crate::server::options::{Hosts, ServerOptions};

/// Makes the protocol of each accepted connection (or fails to).
pub(crate) type Factory = Box<dyn FnMut() -> Result<ProtocolRef>>;

/// A listening server (asyncio's `Server`), returned by
/// [`LoopNetExt::create_server`](crate::LoopNetExt::create_server) and
/// [`LoopNetExt::create_unix_server`](crate::LoopNetExt::create_unix_server).
/// A cheap, clonable handle: clones refer to the same server.
///
/// ```no_run
/// use tulip::EventLoop;
/// use tulip::transport::{BaseProtocol, LoopNetExt, Protocol, ServerOptions, Transport};
///
/// #[derive(Default)]
/// struct Echo(Option<Transport>);
/// impl BaseProtocol for Echo {}
/// impl Protocol for Echo {
///     fn connection_made(&mut self, t: Transport) {
///         self.0 = Some(t);
///     }
///     fn data_received(&mut self, data: &[u8]) {
///         let _ = self.0.as_ref().map(|t| t.write(data));
///     }
/// }
///
/// let event_loop = EventLoop::new()?;
/// let lp = event_loop.handle();
/// event_loop.run_until_complete(async move {
///     let server = lp
///         .create_server(Echo::default, "127.0.0.1", 8888, ServerOptions::new())
///         .await?;
///     println!("serving on {:?}", server.sockets()[0].local_addr());
///     server.serve_forever().await
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Its life, all on loopback: bound without accepting, then serving in a
/// task, its clients closed, and the server closed:
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use tulip::prelude::*;
/// use tulip::transport::{ConnectOptions, Error, ServerOptions};
///
/// #[derive(Default)]
/// struct Quiet;
/// impl BaseProtocol for Quiet {}
/// impl Protocol for Quiet {}
///
/// /// Counts its connection's end in `lost`.
/// struct Client(Rc<Cell<u32>>);
/// impl BaseProtocol for Client {
///     fn connection_lost(&mut self, _exc: Option<Error>) {
///         self.0.set(self.0.get() + 1);
///     }
/// }
/// impl Protocol for Client {}
///
/// tulip::run(async {
///     let lp = get_running_loop()?;
///     let options = ServerOptions::new().start_serving(false);
///     let server = lp.create_server(Quiet::default, "127.0.0.1", 0, options).await?;
///     // Bound, but not listening yet: a client would be refused.
///     assert!(!server.is_serving());
///     let port = server.sockets()[0].inet_addr().unwrap().port();
///     server.start_serving().await?;
///     assert!(server.is_serving());
///
///     let serving = spawn({
///         let server = server.clone();
///         async move { server.serve_forever().await }
///     });
///     let lost = Rc::new(Cell::new(0));
///     let factory = {
///         let lost = lost.clone();
///         move || Client(lost.clone())
///     };
///     let (_transport, _) = lp
///         .create_connection(factory, "127.0.0.1", port, ConnectOptions::new())
///         .await?;
///
///     // Stop accepting; the accepted connection stays until closed too.
///     server.close();
///     assert!(server.sockets().is_empty());
///     server.close_clients();
///     server.wait_closed().await;
///     serving.await??;
///     while lost.get() == 0 {
///         yield_now().await;
///     }
///     Ok::<_, Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A server belongs to its loop's thread:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<tulip::transport::Server>();
/// ```
#[derive(Clone)]
pub struct Server {
    inner: Rc<ServerInner>,
}

/// The server's state, shared by its handles, its readers and timer.
pub(crate) struct ServerInner {
    pub(crate) lp: Loop,
    pub(crate) factory: RefCell<Factory>,
    /// `None` once the server is closed.
    pub(crate) listeners: RefCell<Option<Vec<Listener>>>,
    pub(crate) backlog: u32,
    serving: Cell<bool>,
    /// The live connections, by accept order.
    pub(crate) clients: RefCell<BTreeMap<u64, Rc<SocketTransport>>>,
    pub(crate) next_id: Cell<u64>,
    /// `wait_closed` waiters; `None` once they are woken.
    waiters: RefCell<Option<Vec<LoopFuture<()>>>>,
    serving_forever: RefCell<Option<LoopFuture<()>>>,
    /// Accepting is paused after running out of descriptors or memory.
    pub(crate) accept_paused: Cell<bool>,
    /// An out-of-resources episode was reported and has not ended.
    pub(crate) starved: Cell<bool>,
    /// The back-off timer that resumes accepting.
    pub(crate) retry: RefCell<Option<TimerHandle>>,
    /// Connections started, in all.
    pub(crate) accepted: Cell<u64>,
    /// The registration with a balanced acceptor, for a server made with
    /// [`ServerOptions::acceptor`].
    pub(crate) balance: Option<BalanceHook>,
}

impl Server {
    /// A server over bound `listeners`; starts serving unless
    /// `start_serving` is `Some(false)`.
    pub(crate) async fn launch<F: ProtocolFactory>(
        lp: &Loop,
        listeners: Vec<Listener>,
        mut factory: F,
        backlog: Option<u32>,
        start_serving: Option<bool>,
        balance: Option<BalanceHook>,
    ) -> Result<Server> {
        let factory: Factory = Box::new(move || factory.build().map(|(_, shared)| shared));
        let server = Server {
            inner: Rc::new(ServerInner {
                lp: lp.clone(),
                factory: RefCell::new(factory),
                listeners: RefCell::new(Some(listeners)),
                backlog: backlog.unwrap_or(DEFAULT_BACKLOG),
                serving: Cell::new(false),
                clients: RefCell::new(BTreeMap::new()),
                next_id: Cell::new(0),
                waiters: RefCell::new(Some(Vec::new())),
                serving_forever: RefCell::new(None),
                accept_paused: Cell::new(false),
                starved: Cell::new(false),
                retry: RefCell::new(None),
                accepted: Cell::new(0),
                balance,
            }),
        };
        if let Some(hook) = &server.inner.balance {
            hook.attach(&server.inner);
        }
        if start_serving.unwrap_or(true) {
            server.start_serving().await?;
        }
        Ok(server)
    }

    /// The listening sockets; empty once the server is closed (asyncio's
    /// `Server.sockets`).
    pub fn sockets(&self) -> Vec<ServerSocket> {
        match &*self.inner.listeners.borrow() {
            Some(listeners) => listeners
                .iter()
                .map(|l| ServerSocket {
                    addr: sock::local_addr(l.fd.as_fd()),
                    fd: l.fd.as_raw_fd(),
                })
                .collect(),
            None => Vec::new(),
        }
    }

    /// The loop the server runs on.
    pub fn get_loop(&self) -> Loop {
        self.inner.lp.clone()
    }

    /// How many connections of the server are open now (accepted and not
    /// lost yet): the per-loop report of a loop group, for any server.
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::transport::ServerOptions;
    /// # #[derive(Default)]
    /// # struct Quiet;
    /// # impl BaseProtocol for Quiet {}
    /// # impl Protocol for Quiet {}
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let server = lp.create_server(Quiet::default, "127.0.0.1", 0, ServerOptions::new()).await?;
    ///     assert_eq!(server.live_connections(), 0);
    ///     let addr = server.sockets()[0].inet_addr().unwrap();
    ///     let client = std::net::TcpStream::connect(addr)?;
    ///     while server.live_connections() == 0 {
    ///         yield_now().await;
    ///     }
    ///     drop(client);
    ///     while server.live_connections() == 1 {
    ///         yield_now().await;
    ///     }
    ///     assert_eq!(server.accepted_total(), 1);
    ///     server.close();
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })?
    /// # ; Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn live_connections(&self) -> usize {
        self.inner.clients.borrow().len()
    }

    /// How many connections the server has started since it was made
    /// (each accepted socket whose protocol was made, including those a
    /// [`BalancedAcceptor`](crate::BalancedAcceptor) handed it).
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::transport::ServerOptions;
    /// # #[derive(Default)]
    /// # struct Quiet;
    /// # impl BaseProtocol for Quiet {}
    /// # impl Protocol for Quiet {}
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let server = lp.create_server(Quiet::default, "127.0.0.1", 0, ServerOptions::new()).await?;
    ///     let addr = server.sockets()[0].inet_addr().unwrap();
    ///     for _ in 0..3 {
    ///         drop(std::net::TcpStream::connect(addr)?);
    ///     }
    ///     while server.accepted_total() < 3 {
    ///         yield_now().await;
    ///     }
    ///     server.close();
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })?
    /// # ; Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn accepted_total(&self) -> u64 {
        self.inner.accepted.get()
    }

    /// Whether the server accepts new connections.
    pub fn is_serving(&self) -> bool {
        self.inner.serving.get()
    }

    /// Stops serving: closes the listening sockets (connections already
    /// accepted stay open) and ends a running
    /// [`serve_forever`](Server::serve_forever). Idempotent.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Closes every connection of the server as its `close()` does: each
    /// flushes its buffered data first, and a TLS connection sends its
    /// close_notify (the clients see a clean close, not a truncation).
    pub fn close_clients(&self) {
        for t in self.inner.client_list() {
            t.close_top();
        }
    }

    /// Aborts every connection of the server: buffered data is dropped and
    /// TCP connections are reset (the clients see `ECONNRESET`; a TLS
    /// client sees no close_notify).
    pub fn abort_clients(&self) {
        for t in self.inner.client_list() {
            TransportImpl::abort(&*t);
        }
    }

    /// Completes once the server is closed and every one of its
    /// connections is gone (asyncio 3.12's `wait_closed`). Called before
    /// [`close`](Server::close), it waits for the close too.
    pub async fn wait_closed(&self) {
        let waiter = match &mut *self.inner.waiters.borrow_mut() {
            None => return,
            Some(waiters) => {
                let w = self.inner.lp.create_future();
                waiters.push(w.clone());
                w
            }
        };
        // Only the server completes it, with a result.
        let _ = waiter.await;
    }

    /// Starts accepting connections (when the server was made with
    /// `start_serving` false); does nothing if it already serves. Returns
    /// after one loop iteration, once the readers are in place, as asyncio.
    /// [`Error::Closed`] on a closed server.
    pub async fn start_serving(&self) -> Result<()> {
        self.inner.start_serving()?;
        tulip_executor::yield_now().await;
        Ok(())
    }

    /// Serves until the server is closed (asyncio's `serve_forever`):
    /// starts serving if needed, then waits. When [`close`](Server::close)
    /// is called, waits for the connections to end (as
    /// [`wait_closed`](Server::wait_closed)) and returns `Ok(())`.
    /// Cancelling it (dropping the future, or cancelling its task) closes
    /// the server; the connections are left to end on their own.
    ///
    /// Errors: [`Error::Closed`] if the server is closed; an invalid-state
    /// error if another `serve_forever` is running.
    pub async fn serve_forever(&self) -> Result<()> {
        if self.inner.serving_forever.borrow().is_some() {
            return Err(Error::Loop(LoopError::InvalidState(
                "the server is already being awaited on serve_forever()",
            )));
        }
        self.inner.start_serving()?;
        let forever = self.inner.lp.create_future::<()>();
        *self.inner.serving_forever.borrow_mut() = Some(forever.clone());
        let guard = CloseOnDrop(self);
        // Completed by close(), with a result.
        let _ = forever.await;
        self.wait_closed().await;
        drop(guard);
        Ok(())
    }
}

/// Closes the server when `serve_forever` ends or is cancelled.
struct CloseOnDrop<'a>(&'a Server);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.inner.close();
        drop(self.0.inner.serving_forever.borrow_mut().take());
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addrs: Vec<Option<SockAddr>> = self.sockets().into_iter().map(|s| s.addr).collect();
        f.debug_struct("Server")
            .field("sockets", &addrs)
            .field("serving", &self.is_serving())
            .field("connections", &self.inner.clients.borrow().len())
            .finish()
    }
}

impl ServerInner {
    fn start_serving(self: &Rc<Self>) -> Result<()> {
        if self.serving.get() {
            return Ok(());
        }
        {
            let listeners = self.listeners.borrow();
            let Some(listeners) = listeners.as_ref() else {
                return Err(Error::Closed);
            };
            let backlog = i32::try_from(self.backlog).unwrap_or(i32::MAX);
            for l in listeners {
                rustix::net::listen(&l.fd, backlog)?;
            }
        }
        if !self.accept_paused.get() {
            if let Err(e) = self.watch_listeners() {
                self.unwatch_listeners();
                return Err(e);
            }
        }
        self.serving.set(true);
        if let Some(hook) = &self.balance {
            hook.open();
        }
        Ok(())
    }

    /// Watches every listening socket for incoming connections.
    /// Watches every listener for connections: a reader each, or a
    /// multishot accept each on a loop with completions.
    pub(crate) fn watch_listeners(self: &Rc<Self>) -> Result<()> {
        if self.lp.has_completions() {
            return self.arm_accepts();
        }
        let listeners = self.listeners.borrow();
        for (idx, l) in listeners.iter().flatten().enumerate() {
            if l.reading.get() {
                continue;
            }
            let server = self.clone();
            self.lp
                .add_reader(&l.fd, move || server.accept_ready(idx))?;
            l.reading.set(true);
        }
        Ok(())
    }

    /// Stops watching the listeners (readers removed, accepts cancelled).
    pub(crate) fn unwatch_listeners(&self) {
        let listeners = self.listeners.borrow();
        for l in listeners.iter().flatten() {
            if l.reading.replace(false) {
                self.lp.remove_reader(l.fd.as_raw_fd());
            }
            let op = l.accept.borrow().as_ref().and_then(std::rc::Weak::upgrade);
            if let Some(op) = op {
                op.cancel(&self.lp);
            }
        }
    }

    pub(crate) fn is_serving(&self) -> bool {
        self.serving.get()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.listeners.borrow().is_none()
    }

    fn client_list(&self) -> Vec<Rc<SocketTransport>> {
        self.clients.borrow().values().cloned().collect()
    }

    fn close(&self) {
        let Some(listeners) = self.listeners.borrow_mut().take() else {
            return;
        };
        self.serving.set(false);
        self.accept_paused.set(false);
        if let Some(hook) = &self.balance {
            hook.close();
        }
        if let Some(timer) = self.retry.borrow_mut().take() {
            timer.cancel();
        }
        for l in listeners {
            l.close(&self.lp);
        }
        let forever = self.serving_forever.borrow_mut().take();
        if let Some(f) = forever {
            let _ = f.set_result(());
        }
        if self.clients.borrow().is_empty() {
            self.wakeup();
        }
    }

    /// A connection of the server is gone.
    pub(crate) fn detach(self: &Rc<Self>, id: u64) {
        let removed = self.clients.borrow_mut().remove(&id);
        drop(removed);
        if self.accept_paused.get() {
            // A descriptor was just freed: try accepting again.
            self.resume_accepting();
        }
        if self.clients.borrow().is_empty() && self.is_closed() {
            self.wakeup();
        }
    }

    fn wakeup(&self) {
        let waiters = self.waiters.borrow_mut().take();
        for w in waiters.into_iter().flatten() {
            let _ = w.set_result(());
        }
    }

    /// Reports an error that has nobody to return to.
    pub(crate) fn report(&self, message: &str, err: Error, listener: Option<usize>) {
        let mut ctx = ExceptionContext::new(message).with_error(LoopError::from(err));
        if let Some(addr) = listener.and_then(|i| self.listener_addr(i)) {
            ctx = ctx.with_extra("socket", addr.to_string());
        }
        self.lp.call_exception_handler(&ctx);
    }

    fn listener_addr(&self, idx: usize) -> Option<SockAddr> {
        let listeners = self.listeners.borrow();
        let l = listeners.as_ref()?.get(idx)?;
        sock::local_addr(l.fd.as_fd())
    }
}

impl Drop for ServerInner {
    fn drop(&mut self) {
        if let Some(listeners) = self.listeners.get_mut().take() {
            for l in listeners {
                l.close(&self.lp);
            }
        }
        if let Some(timer) = self.retry.get_mut().take() {
            timer.cancel();
        }
        if let Some(hook) = &self.balance {
            hook.close();
        }
    }
}

/// `create_server`.
pub(crate) async fn create_server<F: ProtocolFactory>(
    lp: &Loop,
    factory: F,
    hosts: Hosts,
    port: u16,
    mut options: ServerOptions,
) -> Result<Server> {
    let tls = crate::tls::transport::TlsStart::server(
        options.tls.take(),
        options.ssl_handshake_timeout,
        options.ssl_shutdown_timeout,
    )?;
    let mut balance = None;
    let listeners = match (options.sock.take(), options.acceptor.take()) {
        (Some(_), Some(_)) => {
            return Err(Error::InvalidInput(String::from(
                "acceptor and sock can not be specified at the same time",
            )));
        }
        (None, Some(acceptor)) => {
            if hosts != Hosts::All || port != 0 {
                return Err(Error::InvalidInput(String::from(
                    "host/port and acceptor can not be specified at the same time",
                )));
            }
            let (listeners, hook) = acceptor.register(lp);
            balance = Some(hook);
            listeners
        }
        (Some(sock), None) => {
            if hosts != Hosts::All || port != 0 {
                return Err(Error::InvalidInput(String::from(
                    "host/port and sock can not be specified at the same time",
                )));
            }
            check_stream_socket(&sock)?;
            sock::set_nonblocking(sock.as_fd())?;
            vec![Listener::new(sock)]
        }
        (None, None) => bind_all(lp, &hosts, port, &options).await?,
    };
    match tls {
        None => {
            Server::launch(
                lp,
                listeners,
                factory,
                options.backlog,
                options.start_serving,
                balance,
            )
            .await
        }
        Some(tls) => {
            Server::launch(
                lp,
                listeners,
                tls.server_factory(lp, factory),
                options.backlog,
                options.start_serving,
                balance,
            )
            .await
        }
    }
}

/// Resolves `hosts` and binds one socket per distinct address.
pub(crate) async fn bind_all(
    lp: &Loop,
    hosts: &Hosts,
    port: u16,
    options: &ServerOptions,
) -> Result<Vec<Listener>> {
    let mut addrs: Vec<(SocketAddr, bool)> = Vec::new();
    for host in hosts.names() {
        let found = match host {
            None => [
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
                SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
            ]
            .into_iter()
            .filter(|a| options.family.is_none_or(|f| f == dns::family_of(a)))
            .collect(),
            Some(h) => resolve(lp, h, port, options).await?,
        };
        for addr in found {
            if !addrs.iter().any(|(a, _)| *a == addr) {
                addrs.push((addr, host.is_none()));
            }
        }
    }
    if addrs.is_empty() {
        return Err(Error::InvalidInput(String::from("no host to listen on")));
    }
    let mut listeners = Vec::with_capacity(addrs.len());
    for (addr, wildcard) in addrs {
        match bind_one(addr, options) {
            Ok(fd) => listeners.push(Listener::new(fd)),
            // Every interface, on a system without IPv6: IPv4 only.
            Err(e) if wildcard && addr.is_ipv6() && no_ipv6(&e) => {
                log::debug!("not listening on {addr}: {e}");
            }
            Err(e) => return Err(bind_error(&addr, e)),
        }
    }
    Ok(listeners)
}

fn no_ipv6(e: &io::Error) -> bool {
    let code = e.raw_os_error();
    code == Some(rustix::io::Errno::AFNOSUPPORT.raw_os_error())
        || code == Some(rustix::io::Errno::ADDRNOTAVAIL.raw_os_error())
}

/// A socket bound to `addr` with the server's options.
pub(crate) fn bind_one(addr: SocketAddr, options: &ServerOptions) -> io::Result<OwnedFd> {
    let fd = sock::new_socket(dns::family_of(&addr).to_rustix(), SocketType::STREAM)?;
    if options.reuse_address.unwrap_or(true) {
        sockopt::set_socket_reuseaddr(&fd, true)?;
    }
    if options.reuse_port {
        sockopt::set_socket_reuseport(&fd, true)?;
    }
    if options.keep_alive {
        sockopt::set_socket_keepalive(&fd, true)?;
    }
    if addr.is_ipv6() {
        // Each family gets its own socket, as asyncio does.
        sockopt::set_ipv6_v6only(&fd, true)?;
    }
    rustix::net::bind(&fd, &addr)?;
    Ok(fd)
}

/// The addresses of `host`: a numeric address at once, a name through
/// `getaddrinfo` on the executor (asyncio's `_create_server_getaddrinfo`).
pub(crate) async fn resolve(
    lp: &Loop,
    host: &str,
    port: u16,
    options: &ServerOptions,
) -> Result<Vec<SocketAddr>> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        let addr = SocketAddr::new(ip, port);
        if options.family.is_none_or(|f| f == dns::family_of(&addr)) {
            return Ok(vec![addr]);
        }
    }
    let mut hints = AddrInfoOptions::new()
        .socktype(SockType::Stream)
        .flags(options.flags.unwrap_or(AddrInfoOptions::AI_PASSIVE));
    if let Some(family) = options.family {
        hints = hints.family(family);
    }
    let port = port.to_string();
    let infos = dns::getaddrinfo(lp, Some(bare), Some(&port), hints).await?;
    Ok(infos.into_iter().map(|info| info.address).collect())
}
