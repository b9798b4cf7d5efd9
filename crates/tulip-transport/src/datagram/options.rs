//! Options of `create_datagram_endpoint` (asyncio's keyword arguments),
//! and the opening of the endpoint's socket from them: family, socket
//! options, bind, connect.

use std::os::fd::{AsFd, OwnedFd};

use rustix::net::SocketType;

use crate::address::{AddressFamily, SockAddr, UnixAddr};
use crate::error::{Error, Result, bind_error};
use crate::sock;

/// Options of
/// [`LoopNetExt::create_datagram_endpoint`](crate::LoopNetExt::create_datagram_endpoint)
/// (asyncio's keyword arguments).
///
/// Addresses are socket addresses ([`SockAddr`], or a
/// [`SocketAddr`](std::net::SocketAddr) through `From`): unlike asyncio,
/// host names are not resolved here. Resolve them first with
/// [`getaddrinfo`](crate::LoopNetExt::getaddrinfo) if needed.
///
/// asyncio's `reuse_address` is absent on purpose: asyncio 3.8 removed it
/// for UDP because `SO_REUSEADDR` lets another process bind the same
/// address and steal datagrams. [`reuse_port`](DatagramOptions::reuse_port)
/// is the safe replacement (only sockets of the same user share the
/// port). asyncio's `proto` and `flags` are absent too: a datagram socket's
/// protocol is always the family's default and no address is resolved.
///
/// ```
/// use std::net::SocketAddr;
/// use tulip::transport::DatagramOptions;
///
/// let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
/// let options = DatagramOptions::new().local_addr(addr).reuse_port(true);
/// assert!(options.reuse_port);
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct DatagramOptions {
    /// Bind the socket to this address. A Unix path that names an existing
    /// socket file is removed first (a stale socket of an earlier run), as
    /// asyncio does.
    pub local_addr: Option<SockAddr>,
    /// Connect the socket to this address: it becomes the default (and the
    /// only allowed) destination of
    /// [`sendto`](crate::DatagramTransport::sendto), and the kernel only
    /// delivers datagrams from it. With
    /// [`allow_broadcast`](DatagramOptions::allow_broadcast) the socket is
    /// not connected (as in asyncio) but the address is still the default
    /// destination.
    pub remote_addr: Option<SockAddr>,
    /// The address family. Needed only when neither address is given;
    /// otherwise it must agree with them.
    pub family: Option<AddressFamily>,
    /// Set `SO_REUSEPORT`: several sockets may bind the same address and
    /// the kernel spreads the datagrams over them.
    pub reuse_port: bool,
    /// Set `SO_BROADCAST`: datagrams may be sent to broadcast addresses.
    pub allow_broadcast: bool,
    /// An existing datagram socket to use (bound or connected as the
    /// caller wants). It is put in non-blocking mode. No other option may
    /// be set with it.
    pub sock: Option<OwnedFd>,
}

impl DatagramOptions {
    /// The default options.
    pub fn new() -> DatagramOptions {
        DatagramOptions::default()
    }

    /// Sets [`local_addr`](DatagramOptions::local_addr).
    pub fn local_addr(mut self, addr: impl Into<SockAddr>) -> DatagramOptions {
        self.local_addr = Some(addr.into());
        self
    }

    /// Sets [`remote_addr`](DatagramOptions::remote_addr).
    pub fn remote_addr(mut self, addr: impl Into<SockAddr>) -> DatagramOptions {
        self.remote_addr = Some(addr.into());
        self
    }

    /// Sets [`family`](DatagramOptions::family).
    pub fn family(mut self, family: AddressFamily) -> DatagramOptions {
        self.family = Some(family);
        self
    }

    /// Sets [`reuse_port`](DatagramOptions::reuse_port).
    pub fn reuse_port(mut self, reuse_port: bool) -> DatagramOptions {
        self.reuse_port = reuse_port;
        self
    }

    /// Sets [`allow_broadcast`](DatagramOptions::allow_broadcast).
    pub fn allow_broadcast(mut self, allow_broadcast: bool) -> DatagramOptions {
        self.allow_broadcast = allow_broadcast;
        self
    }

    /// Sets [`sock`](DatagramOptions::sock).
    pub fn sock(mut self, sock: OwnedFd) -> DatagramOptions {
        self.sock = Some(sock);
        self
    }
}

/// A socket ready for a datagram transport, and the destination `sendto`
/// uses by default (asyncio's `r_addr`).
pub(crate) struct OpenedSocket {
    pub(crate) fd: OwnedFd,
    pub(crate) remote: Option<SockAddr>,
}

/// Opens (or checks) the socket the options describe. Datagram sockets
/// connect at once (the kernel only records the peer), so nothing here
/// waits.
pub(crate) fn open_socket(options: DatagramOptions) -> Result<OpenedSocket> {
    let DatagramOptions {
        local_addr,
        remote_addr,
        family,
        reuse_port,
        allow_broadcast,
        sock,
    } = options;
    if let Some(fd) = sock {
        if local_addr.is_some()
            || remote_addr.is_some()
            || family.is_some()
            || reuse_port
            || allow_broadcast
        {
            return Err(Error::InvalidInput(String::from(
                "socket modifier options can not be used when sock is specified",
            )));
        }
        check_datagram_socket(&fd)?;
        sock::set_nonblocking(fd.as_fd())?;
        return Ok(OpenedSocket { fd, remote: None });
    }
    let family = endpoint_family(family, local_addr.as_ref(), remote_addr.as_ref())?;
    let local = local_addr.as_ref().map(SockAddr::to_any).transpose()?;
    let remote = remote_addr.as_ref().map(SockAddr::to_any).transpose()?;
    let fd = sock::new_socket(family.to_rustix(), SocketType::DGRAM)?;
    if reuse_port {
        rustix::net::sockopt::set_socket_reuseport(&fd, true)?;
    }
    if allow_broadcast {
        rustix::net::sockopt::set_socket_broadcast(&fd, true)?;
    }
    if let (Some(local), Some(named)) = (&local, &local_addr) {
        if let SockAddr::Unix(UnixAddr::Path(path)) = named {
            crate::sock::remove_stale_socket(path);
        }
        rustix::net::bind(&fd, local).map_err(|e| bind_error(named, e.into()))?;
    }
    if let Some(remote) = &remote {
        if !allow_broadcast {
            rustix::net::connect(&fd, remote)?;
        }
    }
    Ok(OpenedSocket {
        fd,
        remote: remote_addr,
    })
}

/// The family of the new socket: from the addresses, checked against the
/// `family` option (asyncio's "unexpected address family" and
/// "family mismatch" errors).
fn endpoint_family(
    family: Option<AddressFamily>,
    local: Option<&SockAddr>,
    remote: Option<&SockAddr>,
) -> Result<AddressFamily> {
    let mut found = family;
    for addr in [local, remote].into_iter().flatten() {
        let f = addr.family();
        match found {
            Some(g) if g != f => {
                return Err(Error::InvalidInput(format!(
                    "address family mismatch: {addr} is {f:?}, expected {g:?}"
                )));
            }
            _ => found = Some(f),
        }
    }
    found.ok_or_else(|| {
        Error::InvalidInput(String::from(
            "unexpected address family: give local_addr, remote_addr or family",
        ))
    })
}

/// Checks that `fd` is a datagram socket (asyncio's "A datagram socket was
/// expected" ValueError).
fn check_datagram_socket(fd: &OwnedFd) -> Result<()> {
    match rustix::net::sockopt::socket_type(fd) {
        Ok(SocketType::DGRAM) => Ok(()),
        Ok(other) => Err(Error::InvalidInput(format!(
            "a datagram socket was expected, got {other:?}"
        ))),
        Err(e) => Err(e.into()),
    }
}
