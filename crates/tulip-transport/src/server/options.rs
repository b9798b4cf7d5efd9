//! Options of `create_server` (asyncio's keyword arguments), and the hosts
//! a server listens on.

use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;

use crate::address::AddressFamily;
use crate::server::balance::BalancedAcceptor;
use crate::tls::options::TlsServerConfig;

/// The backlog of a server when none is given (asyncio's default).
pub(crate) const DEFAULT_BACKLOG: u32 = 100;

/// Where [`LoopNetExt::create_server`](crate::LoopNetExt::create_server)
/// listens: asyncio's `host` argument, which may be `None`, one host or a
/// sequence of hosts.
///
/// Every host is resolved (numeric addresses at once, names without
/// blocking the loop) and the server gets one socket per distinct address.
///
/// ```
/// use tulip::transport::Hosts;
///
/// assert_eq!(Hosts::from(None), Hosts::All);
/// assert_eq!(Hosts::from(""), Hosts::All);
/// assert_eq!(Hosts::from("127.0.0.1"), Hosts::One("127.0.0.1".into()));
/// assert_eq!(
///     Hosts::from(["127.0.0.1", "::1"]),
///     Hosts::Many(vec!["127.0.0.1".into(), "::1".into()]),
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Hosts {
    /// Every interface (asyncio's `None` or `""`): an IPv4 socket on
    /// `0.0.0.0` and, where the system has IPv6, an IPv6 socket on `::`
    /// with `IPV6_V6ONLY` set, as asyncio does.
    #[default]
    All,
    /// One host: a numeric address or a name (a name may give several
    /// addresses, `localhost` usually gives `127.0.0.1` and `::1`).
    One(String),
    /// Several hosts; the server listens on every address of each.
    Many(Vec<String>),
}

impl Hosts {
    /// The host names, `None` standing for every interface.
    pub(crate) fn names(&self) -> Vec<Option<&str>> {
        match self {
            Hosts::All => vec![None],
            Hosts::One(h) => vec![non_empty(h)],
            Hosts::Many(hs) => hs.iter().map(|h| non_empty(h)).collect(),
        }
    }
}

fn non_empty(h: &str) -> Option<&str> {
    if h.is_empty() { None } else { Some(h) }
}

impl From<&str> for Hosts {
    fn from(host: &str) -> Hosts {
        if host.is_empty() {
            Hosts::All
        } else {
            Hosts::One(host.to_owned())
        }
    }
}

impl From<String> for Hosts {
    fn from(host: String) -> Hosts {
        Hosts::from(host.as_str())
    }
}

impl From<&String> for Hosts {
    fn from(host: &String) -> Hosts {
        Hosts::from(host.as_str())
    }
}

impl From<Option<&str>> for Hosts {
    fn from(host: Option<&str>) -> Hosts {
        host.map_or(Hosts::All, Hosts::from)
    }
}

impl From<IpAddr> for Hosts {
    fn from(ip: IpAddr) -> Hosts {
        Hosts::One(ip.to_string())
    }
}

impl From<Vec<String>> for Hosts {
    fn from(hosts: Vec<String>) -> Hosts {
        Hosts::Many(hosts)
    }
}

impl From<Vec<&str>> for Hosts {
    fn from(hosts: Vec<&str>) -> Hosts {
        Hosts::from(hosts.as_slice())
    }
}

impl From<&[&str]> for Hosts {
    fn from(hosts: &[&str]) -> Hosts {
        Hosts::Many(hosts.iter().map(|h| (*h).to_owned()).collect())
    }
}

impl From<&[String]> for Hosts {
    fn from(hosts: &[String]) -> Hosts {
        Hosts::Many(hosts.to_vec())
    }
}

impl<const N: usize> From<[&str; N]> for Hosts {
    fn from(hosts: [&str; N]) -> Hosts {
        Hosts::from(&hosts[..])
    }
}

impl From<Vec<IpAddr>> for Hosts {
    fn from(ips: Vec<IpAddr>) -> Hosts {
        Hosts::Many(ips.iter().map(IpAddr::to_string).collect())
    }
}

/// Options of [`LoopNetExt::create_server`](crate::LoopNetExt::create_server)
/// (asyncio's keyword arguments). `None` fields take asyncio's defaults.
///
/// ```
/// use tulip::transport::ServerOptions;
///
/// let options = ServerOptions::new().backlog(1024).reuse_port(true);
/// assert_eq!(options.backlog, Some(1024));
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ServerOptions {
    /// An already bound stream socket to serve on instead of binding one
    /// (the hosts must then be [`Hosts::All`] and the port 0). It is put in
    /// listening mode when serving starts, as in asyncio.
    pub sock: Option<OwnedFd>,
    /// The `listen()` backlog, and the most connections accepted per
    /// readiness of a listening socket. Default 100.
    pub backlog: Option<u32>,
    /// Set `SO_REUSEADDR`, so that a port in `TIME_WAIT` can be bound
    /// again. Default true (asyncio's default on Unix).
    pub reuse_address: Option<bool>,
    /// Set `SO_REUSEPORT`, so that several sockets (of this process or
    /// others) can listen on the same port, the kernel balancing
    /// connections between them. The first listening mode of a loop
    /// group: every loop's `create_server` binds the same address with it
    /// (the kernel picks a socket by a hash of the connection's addresses,
    /// so few clients can leave a loop idle; see
    /// [`acceptor`](ServerOptions::acceptor) for the other mode).
    pub reuse_port: bool,
    /// Set `SO_KEEPALIVE` on the listening sockets; accepted connections
    /// inherit it.
    pub keep_alive: bool,
    /// Start accepting connections at once. Default true; with false, call
    /// [`Server::start_serving`](crate::Server::start_serving) or
    /// [`Server::serve_forever`](crate::Server::serve_forever) later.
    pub start_serving: Option<bool>,
    /// Only listen on addresses of this family (asyncio's `family`;
    /// `None`: any). With [`Hosts::All`], `Inet` listens on `0.0.0.0`
    /// only and `Inet6` on `::` only.
    pub family: Option<AddressFamily>,
    /// `AI_*` flags given to `getaddrinfo` for host names (asyncio's
    /// `flags`; see [`AddrInfoOptions`](crate::AddrInfoOptions)). Default
    /// `AI_PASSIVE`.
    pub flags: Option<i32>,
    /// Speak TLS on every connection with this configuration (asyncio's
    /// `ssl`): each connection's protocol gets `connection_made` once its
    /// handshake is done; a failed handshake only closes that connection.
    pub tls: Option<TlsServerConfig>,
    /// How long a connection's TLS handshake may take before it is
    /// aborted (default 60 s; TLS only).
    pub ssl_handshake_timeout: Option<Duration>,
    /// How long closing waits for the peer's close_notify (default 30 s;
    /// TLS only).
    pub ssl_shutdown_timeout: Option<Duration>,
    /// Serve the connections of a shared listening socket instead of
    /// binding one: this loop's server becomes a target of the
    /// [`BalancedAcceptor`], which hands it its share of the connections
    /// (the hosts must then be [`Hosts::All`] and the port 0, and `sock`
    /// unset). See [`ServerOptions::acceptor`].
    pub acceptor: Option<BalancedAcceptor>,
}

impl ServerOptions {
    /// The default options.
    pub fn new() -> ServerOptions {
        ServerOptions::default()
    }

    /// Sets [`sock`](ServerOptions::sock).
    pub fn sock(mut self, sock: OwnedFd) -> ServerOptions {
        self.sock = Some(sock);
        self
    }

    /// Sets [`backlog`](ServerOptions::backlog).
    pub fn backlog(mut self, backlog: u32) -> ServerOptions {
        self.backlog = Some(backlog);
        self
    }

    /// Sets [`reuse_address`](ServerOptions::reuse_address).
    pub fn reuse_address(mut self, reuse: bool) -> ServerOptions {
        self.reuse_address = Some(reuse);
        self
    }

    /// Sets [`reuse_port`](ServerOptions::reuse_port).
    pub fn reuse_port(mut self, reuse: bool) -> ServerOptions {
        self.reuse_port = reuse;
        self
    }

    /// Sets [`keep_alive`](ServerOptions::keep_alive).
    pub fn keep_alive(mut self, keep_alive: bool) -> ServerOptions {
        self.keep_alive = keep_alive;
        self
    }

    /// Sets [`start_serving`](ServerOptions::start_serving).
    pub fn start_serving(mut self, start: bool) -> ServerOptions {
        self.start_serving = Some(start);
        self
    }

    /// Sets [`family`](ServerOptions::family).
    pub fn family(mut self, family: AddressFamily) -> ServerOptions {
        self.family = Some(family);
        self
    }

    /// Sets [`flags`](ServerOptions::flags).
    pub fn flags(mut self, flags: i32) -> ServerOptions {
        self.flags = Some(flags);
        self
    }

    /// Sets [`tls`](ServerOptions::tls).
    pub fn tls(mut self, config: TlsServerConfig) -> ServerOptions {
        self.tls = Some(config);
        self
    }

    /// Sets [`ssl_handshake_timeout`](ServerOptions::ssl_handshake_timeout).
    pub fn ssl_handshake_timeout(mut self, timeout: Duration) -> ServerOptions {
        self.ssl_handshake_timeout = Some(timeout);
        self
    }

    /// Sets [`acceptor`](ServerOptions::acceptor): the server (made by
    /// `create_server` or streams' `start_server` with the host `""` and
    /// the port 0) serves the connections the acceptor hands to its loop.
    /// The first server to register accepts for every target, each socket
    /// going to the target with the fewest live connections; it lists the
    /// listening sockets in [`Server::sockets`](crate::Server::sockets),
    /// the others list none. When it closes, accepting stops for all (the
    /// other targets keep their connections).
    ///
    /// Errors of `create_server`: [`Error::InvalidInput`](crate::Error::InvalidInput)
    /// with a host or a port, or with [`sock`](ServerOptions::sock).
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::streams::{ConnectOptions, Error, ServerOptions};
    /// use tulip::transport::BalancedAcceptor;
    ///
    /// async fn shout(mut reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    ///     let line = reader.readline().await?;
    ///     writer.write(&line.to_ascii_uppercase())?;
    ///     writer.drain().await
    /// }
    ///
    /// tulip::run(async {
    ///     let acceptor = BalancedAcceptor::bind("127.0.0.1", 0, &ServerOptions::new()).await?;
    ///     // The same line on every loop of a group:
    ///     let options = ServerOptions::new().acceptor(acceptor.clone());
    ///     let server = start_server(shout, "", 0, options).await?;
    ///     let port = acceptor.local_addr().port();
    ///     let (mut reader, writer) = open_connection("127.0.0.1", port, ConnectOptions::new()).await?;
    ///     writer.write(b"hi\n")?;
    ///     assert_eq!(reader.readline().await?, b"HI\n");
    ///     assert_eq!(server.accepted_total(), 1);
    ///     server.close();
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })?
    /// # ; Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn acceptor(mut self, acceptor: BalancedAcceptor) -> ServerOptions {
        self.acceptor = Some(acceptor);
        self
    }

    /// Sets [`ssl_shutdown_timeout`](ServerOptions::ssl_shutdown_timeout).
    pub fn ssl_shutdown_timeout(mut self, timeout: Duration) -> ServerOptions {
        self.ssl_shutdown_timeout = Some(timeout);
        self
    }
}
