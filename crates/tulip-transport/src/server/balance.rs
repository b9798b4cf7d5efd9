//! The balanced acceptor: one listening socket shared by the servers of
//! several loops (one per thread), each accepted connection handed to the
//! loop with the fewest live connections.
//!
//! A [`BalancedAcceptor`] is `Send + Sync + Clone`: an `Arc` of the bound
//! listening sockets and a registry of targets. A target is one loop's
//! [`Server`](crate::Server) made by `create_server` with
//! [`ServerOptions::acceptor`]: its loop's [`RemoteLoop`], an inbox of
//! handed sockets, and atomic counters (live, accepted). The first server
//! to register takes the listening sockets as its own: its loop watches
//! them and accepts (with the accept loop's back-off on `EMFILE`), and each
//! accepted socket goes to the open target with the fewest live
//! connections (ties in turn). A socket for the accepting loop itself
//! starts at once; one for another loop goes to that target's inbox and a
//! `call_soon_threadsafe` callback (at most one pending per target) starts
//! the inbox's sockets on the target's thread, with the target server's
//! protocol factory, as the server's own accepted sockets start, so the
//! server's `close`, `close_clients` and `wait_closed` cover them.
//!
//! A target is skipped once its server is closed (or dropped) or its loop
//! is closed; the sockets waiting in its inbox go to the other targets, or
//! are closed when none is left: a socket is never leaked. The accepting
//! server owns the listening sockets: when it closes, accepting stops for
//! every target (the other targets keep their connections until these
//! end).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tulip_executor::{Loop, RemoteLoop};

use crate::address::SockAddr;
use crate::error::{Error, Result};
use crate::server::base::{Listener, ServerInner, bind_all};
use crate::server::options::{DEFAULT_BACKLOG, Hosts, ServerOptions};
use crate::sock;

/// One listening socket shared by the servers of several loops, handing
/// each accepted connection to the loop with the fewest live connections
/// (the second listening mode of a loop group; the first is
/// [`ServerOptions::reuse_port`]).
///
/// Bind it once, clone it to every loop's thread, and give it to each
/// loop's `create_server` (or `start_server`) with
/// [`ServerOptions::acceptor`]; the host must then be [`Hosts::All`] (or
/// `""`) and the port 0. The first server to register accepts for all;
/// when it closes, accepting stops.
///
/// ```
/// use std::io::{Read, Write};
/// use tulip::EventLoop;
/// use tulip::transport::{
///     BalancedAcceptor, BaseProtocol, Error, LoopNetExt, Protocol, ServerOptions, Transport,
/// };
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
/// let acceptor = event_loop.run_until_complete(async {
///     BalancedAcceptor::bind("127.0.0.1", 0, &ServerOptions::new()).await
/// })??;
/// let addr = acceptor.local_addr();
///
/// // A second loop on its own thread serves its share.
/// let (ready_tx, ready_rx) = std::sync::mpsc::channel();
/// let other = std::thread::spawn({
///     let acceptor = acceptor.clone();
///     move || -> Result<(), Error> {
///         let event_loop = EventLoop::new()?;
///         let lp = event_loop.handle();
///         let options = ServerOptions::new().acceptor(acceptor);
///         let made = async move { lp.create_server(Echo::default, "", 0, options).await };
///         let server = event_loop.run_until_complete(made)??;
///         ready_tx.send(event_loop.remote()).unwrap();
///         event_loop.run_forever()?;
///         server.close();
///         Ok(())
///     }
/// });
/// let other_remote = ready_rx.recv().unwrap();
///
/// event_loop.run_until_complete(async move {
///     let options = ServerOptions::new().acceptor(acceptor.clone());
///     let server = lp.create_server(Echo::default, "", 0, options).await?;
///     // Two blocking clients, served by the two loops in turn.
///     tulip::to_thread(move || -> std::io::Result<()> {
///         for _ in 0..2 {
///             let mut c = std::net::TcpStream::connect(addr)?;
///             c.write_all(b"ping")?;
///             let mut buf = [0; 4];
///             c.read_exact(&mut buf)?;
///             assert_eq!(&buf, b"ping");
///         }
///         Ok(())
///     })
///     .await??;
///     let total: u64 = acceptor.loads().iter().map(|l| l.accepted).sum();
///     assert_eq!(total, 2);
///     server.close();
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })??;
/// other_remote.stop()?;
/// other.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct BalancedAcceptor {
    inner: Arc<AcceptorInner>,
}

/// The load of one target of a [`BalancedAcceptor`] (see
/// [`BalancedAcceptor::loads`]).
///
/// ```
/// use tulip::transport::LoopLoad;
///
/// let idle = LoopLoad::default();
/// assert_eq!((idle.live, idle.accepted), (0, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoopLoad {
    /// Connections handed to the target and not ended yet (those on their
    /// way to its loop included).
    pub live: usize,
    /// Connections the target's server started, in all.
    pub accepted: u64,
}

pub(crate) struct AcceptorInner {
    /// The bound (and listening) sockets, until the first target takes
    /// them.
    listeners: Mutex<Option<Vec<OwnedFd>>>,
    addrs: Vec<SocketAddr>,
    targets: Mutex<Vec<Arc<Target>>>,
    /// Where the search for the least-loaded target starts: ties go round.
    cursor: AtomicUsize,
}

/// A socket on its way to a target, and the peer's address.
type Handed = (OwnedFd, Option<SockAddr>, LiveGuard);

/// One loop's server registered with the acceptor.
pub(crate) struct Target {
    id: u64,
    remote: RemoteLoop,
    /// Serving (started and not closed).
    open: AtomicBool,
    live: AtomicUsize,
    accepted: AtomicU64,
    /// Connections handed to it, in all (the tie-break).
    handed: AtomicU64,
    inbox: Mutex<VecDeque<Handed>>,
    /// A delivery callback is queued on the target's loop.
    scheduled: AtomicBool,
}

/// One live connection counted on its target; dropping it (when the
/// connection ends, or the socket is closed or handed elsewhere) uncounts
/// it.
pub(crate) struct LiveGuard(Arc<Target>);

impl LiveGuard {
    fn new(target: Arc<Target>) -> LiveGuard {
        target.live.fetch_add(1, Ordering::SeqCst);
        target.handed.fetch_add(1, Ordering::SeqCst);
        LiveGuard(target)
    }

    /// Counts the connection as started by the target's server.
    pub(crate) fn started(&self) {
        self.0.accepted.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A server's registration with an acceptor (held by the server).
pub(crate) struct BalanceHook {
    acceptor: Arc<AcceptorInner>,
    target: Arc<Target>,
}

/// How many more live connections than the least-loaded target a target
/// may have and still be chosen (see `AcceptorInner::pick`).
const LIVE_SLACK: usize = 1;

static NEXT_TARGET: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The servers of this thread's loop that are acceptor targets, by
    /// target id: where a delivery callback finds its server.
    static LOCAL_TARGETS: std::cell::RefCell<HashMap<u64, Weak<ServerInner>>> =
        std::cell::RefCell::new(HashMap::new());
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded data stays consistent at every step; a panic elsewhere
    // does not make it unusable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BalancedAcceptor {
    /// Binds the listening sockets as `create_server` binds them (every
    /// address of `host`, with `options`' `reuse_address`, `reuse_port`,
    /// `keep_alive`, `family`, `flags`) and starts listening with its
    /// `backlog`. Its other options (`tls`, `start_serving`, ...) belong to
    /// each target's `create_server`.
    ///
    /// Errors: [`Error::InvalidInput`] if `options` holds a `sock` or an
    /// `acceptor`; otherwise as `create_server` (the address is in use, a
    /// host does not resolve). Must run on a loop (host names resolve
    /// there).
    ///
    /// ```
    /// use tulip::transport::{BalancedAcceptor, ServerOptions};
    ///
    /// tulip::run(async {
    ///     let acceptor = BalancedAcceptor::bind("127.0.0.1", 0, &ServerOptions::new()).await?;
    ///     assert_ne!(acceptor.local_addr().port(), 0);
    ///     assert!(acceptor.loads().is_empty(), "no loop serves it yet");
    ///     Ok::<_, tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn bind(
        host: impl Into<Hosts>,
        port: u16,
        options: &ServerOptions,
    ) -> Result<BalancedAcceptor> {
        if options.sock.is_some() {
            return Err(Error::InvalidInput(String::from(
                "BalancedAcceptor::bind binds its own socket: sock can not be given",
            )));
        }
        if options.acceptor.is_some() {
            return Err(Error::InvalidInput(String::from(
                "BalancedAcceptor::bind can not take an acceptor option",
            )));
        }
        let lp = tulip_executor::get_running_loop()?;
        let listeners = bind_all(&lp, &host.into(), port, options).await?;
        let backlog = i32::try_from(options.backlog.unwrap_or(DEFAULT_BACKLOG)).unwrap_or(i32::MAX);
        let mut fds = Vec::with_capacity(listeners.len());
        let mut addrs = Vec::with_capacity(listeners.len());
        for l in listeners {
            let fd = l.into_fd();
            rustix::net::listen(&fd, backlog)?;
            sock::set_nonblocking(fd.as_fd())?;
            if let Some(addr) = sock::local_addr(fd.as_fd()).and_then(|a| a.as_inet()) {
                addrs.push(addr);
            }
            fds.push(fd);
        }
        if addrs.len() != fds.len() {
            return Err(Error::InvalidInput(String::from(
                "a listening socket of the acceptor has no IP address",
            )));
        }
        Ok(BalancedAcceptor {
            inner: Arc::new(AcceptorInner {
                listeners: Mutex::new(Some(fds)),
                addrs,
                targets: Mutex::new(Vec::new()),
                cursor: AtomicUsize::new(0),
            }),
        })
    }

    /// The address of the (first) listening socket: where clients
    /// connect.
    ///
    /// ```
    /// use tulip::transport::{BalancedAcceptor, ServerOptions};
    ///
    /// tulip::run(async {
    ///     let acceptor = BalancedAcceptor::bind("127.0.0.1", 0, &ServerOptions::new()).await?;
    ///     assert!(acceptor.local_addr().ip().is_loopback());
    ///     Ok::<_, tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.addrs[0]
    }

    /// The addresses of every listening socket (a host name may give
    /// several, `localhost` often `127.0.0.1` and `::1`).
    ///
    /// ```
    /// use tulip::transport::{BalancedAcceptor, ServerOptions};
    ///
    /// tulip::run(async {
    ///     let acceptor = BalancedAcceptor::bind("127.0.0.1", 0, &ServerOptions::new()).await?;
    ///     assert_eq!(acceptor.local_addrs(), [acceptor.local_addr()]);
    ///     Ok::<_, tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.inner.addrs
    }

    /// The load of every target, in the order the servers registered
    /// (closed targets included, so that an index keeps naming the same
    /// server): the per-loop report of a loop group.
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::transport::{BalancedAcceptor, LoopLoad, ServerOptions};
    /// # #[derive(Default)]
    /// # struct Quiet;
    /// # impl BaseProtocol for Quiet {}
    /// # impl Protocol for Quiet {}
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let acceptor = BalancedAcceptor::bind("127.0.0.1", 0, &ServerOptions::new()).await?;
    ///     let options = ServerOptions::new().acceptor(acceptor.clone());
    ///     let server = lp.create_server(Quiet::default, "", 0, options).await?;
    ///     let _client = std::net::TcpStream::connect(acceptor.local_addr())?;
    ///     while server.accepted_total() == 0 {
    ///         yield_now().await;
    ///     }
    ///     assert_eq!(acceptor.loads(), [LoopLoad { live: 1, accepted: 1 }]);
    ///     server.close();
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })?
    /// # ; Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn loads(&self) -> Vec<LoopLoad> {
        lock(&self.inner.targets)
            .iter()
            .map(|t| LoopLoad {
                live: t.live.load(Ordering::SeqCst),
                accepted: t.accepted.load(Ordering::SeqCst),
            })
            .collect()
    }

    /// Registers a server of `lp` as a target: the listening sockets if
    /// this is the first, and the hook the server keeps.
    pub(crate) fn register(&self, lp: &Loop) -> (Vec<Listener>, BalanceHook) {
        let target = Arc::new(Target {
            id: NEXT_TARGET.fetch_add(1, Ordering::Relaxed),
            remote: lp.remote(),
            open: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            handed: AtomicU64::new(0),
            inbox: Mutex::new(VecDeque::new()),
            scheduled: AtomicBool::new(false),
        });
        lock(&self.inner.targets).push(target.clone());
        let listeners = lock(&self.inner.listeners)
            .take()
            .unwrap_or_default()
            .into_iter()
            .map(Listener::new)
            .collect();
        let hook = BalanceHook {
            acceptor: self.inner.clone(),
            target,
        };
        (listeners, hook)
    }
}

impl fmt::Debug for BalancedAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BalancedAcceptor")
            .field("addrs", &self.inner.addrs)
            .field("loads", &self.loads())
            .finish()
    }
}

impl AcceptorInner {
    /// The least-loaded open target, counted for a new connection;
    /// `None` if no target is open. The targets within [`LIVE_SLACK`] of
    /// the fewest live connections are candidates, and the candidate
    /// handed the fewest connections so far wins (ties: the next in
    /// turn). A difference of one live connection is timing, not load:
    /// with short connections every live count is 0 or 1, and the
    /// accepting loop (whose connections last a little longer, since it
    /// also accepts) would otherwise lose a share out of proportion to
    /// its extra work; a loop that really falls behind gathers live
    /// connections and is passed over. Targets found on a closed loop
    /// give their inbox back.
    fn pick(self: &Arc<Self>) -> Option<LiveGuard> {
        let mut stale = Vec::new();
        let chosen = {
            let targets = lock(&self.targets);
            let n = targets.len();
            let start = self.cursor.fetch_add(1, Ordering::Relaxed) % n.max(1);
            let mut open = Vec::with_capacity(n);
            for i in 0..n {
                let t = &targets[(start + i) % n];
                if t.is_open() {
                    open.push((t, t.live.load(Ordering::SeqCst)));
                } else if t.remote.is_closed() {
                    t.open.store(false, Ordering::SeqCst);
                    if !lock(&t.inbox).is_empty() {
                        stale.push(t.clone());
                    }
                }
            }
            let fewest = open.iter().map(|&(_, live)| live).min();
            fewest.and_then(|fewest| {
                open.iter()
                    .filter(|&&(_, live)| live <= fewest + LIVE_SLACK)
                    .min_by_key(|&&(t, _)| t.handed.load(Ordering::SeqCst))
                    .map(|&(t, _)| LiveGuard::new(t.clone()))
            })
        };
        for t in stale {
            self.reclaim(&t);
        }
        chosen
    }

    /// Hands `fd` to the least-loaded open target through its inbox (the
    /// caller may be on any thread); closes it if no target is open.
    fn redistribute(self: &Arc<Self>, fd: OwnedFd, peer: Option<SockAddr>) {
        if let Some(guard) = self.pick() {
            self.hand(fd, peer, guard);
        }
    }

    /// Puts a socket in its target's inbox and makes sure a delivery is
    /// queued on the target's loop.
    fn hand(self: &Arc<Self>, fd: OwnedFd, peer: Option<SockAddr>, guard: LiveGuard) {
        let target = guard.0.clone();
        lock(&target.inbox).push_back((fd, peer, guard));
        if target.scheduled.swap(true, Ordering::SeqCst) {
            return;
        }
        let acceptor = self.clone();
        let t = target.clone();
        if target
            .remote
            .call_soon_threadsafe(move || acceptor.deliver(&t))
            .is_err()
        {
            // The loop is closed: its share goes elsewhere.
            target.open.store(false, Ordering::SeqCst);
            self.reclaim(&target);
        }
    }

    /// On the target's thread: starts the sockets of its inbox.
    fn deliver(self: &Arc<Self>, target: &Arc<Target>) {
        target.scheduled.store(false, Ordering::SeqCst);
        let server = LOCAL_TARGETS
            .with(|m| m.borrow().get(&target.id).cloned())
            .and_then(|w| w.upgrade());
        let Some(server) = server.filter(|s| !s.is_closed()) else {
            target.open.store(false, Ordering::SeqCst);
            self.reclaim(target);
            return;
        };
        loop {
            let next = lock(&target.inbox).pop_front();
            let Some((fd, peer, guard)) = next else { break };
            server.start_connection(fd, peer, Some(guard));
        }
    }

    /// Gives a closed target's waiting sockets to the others (or closes
    /// them).
    fn reclaim(self: &Arc<Self>, target: &Target) {
        let waiting: Vec<Handed> = lock(&target.inbox).drain(..).collect();
        for (fd, peer, guard) in waiting {
            drop(guard);
            self.redistribute(fd, peer);
        }
    }
}

impl Target {
    fn is_open(&self) -> bool {
        self.open.load(Ordering::SeqCst) && !self.remote.is_closed()
    }
}

impl BalanceHook {
    /// The server `server` (this hook's) exists: deliveries find it.
    pub(crate) fn attach(&self, server: &Rc<ServerInner>) {
        LOCAL_TARGETS.with(|m| {
            m.borrow_mut().insert(self.target.id, Rc::downgrade(server));
        });
    }

    /// The server serves: it gets connections.
    pub(crate) fn open(&self) {
        self.target.open.store(true, Ordering::SeqCst);
    }

    /// The server is closed (or dropped): it gets no more connections and
    /// the ones on their way go elsewhere.
    pub(crate) fn close(&self) {
        self.target.open.store(false, Ordering::SeqCst);
        // During the thread's teardown the map may be gone already.
        let _ = LOCAL_TARGETS.try_with(|m| m.borrow_mut().remove(&self.target.id));
        self.acceptor.reclaim(&self.target);
    }

    /// An accepted connection: starts it here if this loop is the least
    /// loaded, or hands it to the loop that is.
    pub(crate) fn route(&self, server: &Rc<ServerInner>, fd: OwnedFd, peer: Option<SockAddr>) {
        match self.acceptor.pick() {
            Some(guard) if guard.0.id == self.target.id => {
                server.start_connection(fd, peer, Some(guard));
            }
            Some(guard) => self.acceptor.hand(fd, peer, guard),
            // No target serves (the fd closes).
            None => drop(fd),
        }
    }
}
