//! Socket addresses of every family a transport can have: IPv4 and IPv6
//! ([`SocketAddr`]) and Unix-domain ([`UnixAddr`]: a path, a Linux
//! abstract name, or unnamed).

use std::fmt;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::net::{SocketAddrAny, SocketAddrUnix};

use crate::error::{Error, Result};

/// The address of a socket: asyncio's `peername` / `sockname` values.
///
/// ```
/// use std::net::SocketAddr;
/// use tulip::transport::{AddressFamily, SockAddr, UnixAddr};
///
/// let inet = SockAddr::Inet("[::1]:8080".parse::<SocketAddr>()?);
/// assert_eq!(inet.family(), AddressFamily::Inet6);
/// assert_eq!(inet.as_inet().map(|a| a.port()), Some(8080));
/// assert!(inet.as_unix().is_none());
///
/// let unix = SockAddr::Unix(UnixAddr::path("/run/app.sock"));
/// assert_eq!(unix.family(), AddressFamily::Unix);
/// assert!(unix.as_inet().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SockAddr {
    /// An IPv4 or IPv6 address and port.
    Inet(SocketAddr),
    /// A Unix-domain address.
    Unix(UnixAddr),
}

/// An address family (asyncio's `socket.AF_INET`, `AF_INET6`, `AF_UNIX`).
///
/// ```
/// use tulip::transport::{AddressFamily, ConnectOptions};
///
/// // Connect over IPv4 only, as asyncio's `family=socket.AF_INET`.
/// let options = ConnectOptions::new().family(AddressFamily::Inet);
/// assert_eq!(options.family, Some(AddressFamily::Inet));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressFamily {
    /// IPv4 (`AF_INET`).
    Inet,
    /// IPv6 (`AF_INET6`).
    Inet6,
    /// Unix-domain sockets (`AF_UNIX`).
    Unix,
}

impl AddressFamily {
    pub(crate) fn to_rustix(self) -> rustix::net::AddressFamily {
        match self {
            AddressFamily::Inet => rustix::net::AddressFamily::INET,
            AddressFamily::Inet6 => rustix::net::AddressFamily::INET6,
            AddressFamily::Unix => rustix::net::AddressFamily::UNIX,
        }
    }
}

/// A Unix-domain socket address.
///
/// ```
/// use tulip::transport::UnixAddr;
///
/// assert_eq!(UnixAddr::from_asyncio("/tmp/s"), UnixAddr::path("/tmp/s"));
/// // asyncio's leading NUL byte: Linux's abstract namespace.
/// assert_eq!(UnixAddr::from_asyncio("\0tulip"), UnixAddr::Abstract(b"tulip".to_vec()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnixAddr {
    /// A path in the file system.
    Path(PathBuf),
    /// A name in Linux's abstract namespace (asyncio spells it with a
    /// leading NUL byte; here the name is given without it).
    Abstract(Vec<u8>),
    /// An unnamed socket (the client end of a connection, a socketpair).
    Unnamed,
}

impl SockAddr {
    /// The IP address and port, if this is one.
    pub fn as_inet(&self) -> Option<SocketAddr> {
        match self {
            SockAddr::Inet(a) => Some(*a),
            SockAddr::Unix(_) => None,
        }
    }

    /// The address's family.
    pub fn family(&self) -> AddressFamily {
        match self {
            SockAddr::Inet(a) if a.is_ipv4() => AddressFamily::Inet,
            SockAddr::Inet(_) => AddressFamily::Inet6,
            SockAddr::Unix(_) => AddressFamily::Unix,
        }
    }

    /// The Unix-domain address, if this is one.
    pub fn as_unix(&self) -> Option<&UnixAddr> {
        match self {
            SockAddr::Unix(a) => Some(a),
            SockAddr::Inet(_) => None,
        }
    }

    pub(crate) fn from_any(any: SocketAddrAny) -> Option<SockAddr> {
        if let Ok(inet) = SocketAddr::try_from(any.clone()) {
            return Some(SockAddr::Inet(inet));
        }
        SocketAddrUnix::try_from(any)
            .ok()
            .map(|u| SockAddr::Unix(UnixAddr::from_rustix(&u)))
    }

    pub(crate) fn to_any(&self) -> Result<SocketAddrAny> {
        Ok(match self {
            SockAddr::Inet(a) => SocketAddrAny::from(*a),
            SockAddr::Unix(u) => SocketAddrAny::from(u.to_rustix()?),
        })
    }
}

impl UnixAddr {
    /// A path address.
    pub fn path(path: impl AsRef<Path>) -> UnixAddr {
        UnixAddr::Path(path.as_ref().to_path_buf())
    }

    /// Parses asyncio's spelling: a leading NUL byte names the abstract
    /// namespace, anything else is a path.
    pub fn from_asyncio(spelling: impl AsRef<Path>) -> UnixAddr {
        let bytes = spelling.as_ref().as_os_str().as_bytes();
        match bytes.split_first() {
            Some((0, name)) => UnixAddr::Abstract(name.to_vec()),
            _ => UnixAddr::path(spelling),
        }
    }

    fn from_rustix(u: &SocketAddrUnix) -> UnixAddr {
        if let Some(path) = u.path_bytes() {
            let path = path.split(|b| *b == 0).next().unwrap_or(&[]);
            if !path.is_empty() {
                return UnixAddr::Path(PathBuf::from(std::ffi::OsStr::from_bytes(path)));
            }
        }
        // An unnamed socket's address (the family alone) reads as an empty
        // abstract name: it is unnamed.
        if let Some(name) = u.abstract_name().filter(|name| !name.is_empty()) {
            return UnixAddr::Abstract(name.to_vec());
        }
        UnixAddr::Unnamed
    }

    pub(crate) fn to_rustix(&self) -> Result<SocketAddrUnix> {
        let made = match self {
            UnixAddr::Path(p) => SocketAddrUnix::new(p.as_path()),
            UnixAddr::Abstract(name) => SocketAddrUnix::new_abstract_name(name),
            UnixAddr::Unnamed => {
                return Err(Error::InvalidInput(String::from(
                    "an unnamed Unix address cannot be bound or connected to",
                )));
            }
        };
        made.map_err(|e| match e {
            rustix::io::Errno::NAMETOOLONG | rustix::io::Errno::INVAL => {
                Error::InvalidInput(format!("Unix socket address too long or invalid: {self}"))
            }
            other => other.into(),
        })
    }
}

impl fmt::Display for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SockAddr::Inet(a) => write!(f, "{a}"),
            SockAddr::Unix(u) => write!(f, "{u}"),
        }
    }
}

impl fmt::Display for UnixAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixAddr::Path(p) => write!(f, "{}", p.display()),
            UnixAddr::Abstract(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
            UnixAddr::Unnamed => f.write_str("(unnamed)"),
        }
    }
}

impl From<SocketAddr> for SockAddr {
    fn from(a: SocketAddr) -> SockAddr {
        SockAddr::Inet(a)
    }
}

impl From<UnixAddr> for SockAddr {
    fn from(a: UnixAddr) -> SockAddr {
        SockAddr::Unix(a)
    }
}
