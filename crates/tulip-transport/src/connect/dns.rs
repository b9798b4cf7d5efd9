//! Name resolution without blocking the loop (asyncio's `loop.getaddrinfo`
//! and `loop.getnameinfo`).
//!
//! The C library's `getaddrinfo` and `getnameinfo` block, so they run on the
//! loop's default executor (a worker thread) and the loop goes on meanwhile.
//! asyncio's keyword arguments become [`AddrInfoOptions`] with typed fields
//! ([`AddressFamily`], [`SockType`]) and raw `AI_*` flags; asyncio's `NI_*` flags
//! become [`NameInfoFlags`]. A failed lookup (asyncio's `socket.gaierror`)
//! is an [`Error::Io`] whose `io::Error` carries a [`GaiError`].

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::ops::{BitOr, BitOrAssign};

use dns_lookup::{LookupError, LookupErrorKind};
use tulip_executor::Loop;

use crate::address::{AddressFamily, SockAddr};
use crate::error::{Error, Result};

/// The C library's value of `family` (`AF_INET`, ...).
fn family_raw(family: AddressFamily) -> i32 {
    i32::from(family.to_rustix().as_raw())
}

/// The family of an IP address.
pub(crate) fn family_of(addr: &SocketAddr) -> AddressFamily {
    SockAddr::Inet(*addr).family()
}

/// A socket type of [`getaddrinfo`](crate::LoopNetExt::getaddrinfo)
/// (asyncio's `socket.SOCK_STREAM`, ...).
///
/// ```
/// use tulip::transport::SockType;
///
/// assert_eq!(SockType::from_raw(SockType::Datagram.raw()), SockType::Datagram);
/// // A value tulip has no name for is kept as it is.
/// assert_eq!(SockType::from_raw(12345), SockType::Other(12345));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SockType {
    /// A byte stream (`SOCK_STREAM`: TCP).
    #[doc(alias = "SOCK_STREAM")]
    Stream,
    /// Datagrams (`SOCK_DGRAM`: UDP).
    #[doc(alias = "SOCK_DGRAM")]
    Datagram,
    /// Raw packets (`SOCK_RAW`).
    #[doc(alias = "SOCK_RAW")]
    Raw,
    /// Any other value the C library returned.
    Other(i32),
}

impl SockType {
    /// The C library's value.
    pub fn raw(self) -> i32 {
        match self {
            SockType::Stream => libc::SOCK_STREAM,
            SockType::Datagram => libc::SOCK_DGRAM,
            SockType::Raw => libc::SOCK_RAW,
            SockType::Other(raw) => raw,
        }
    }

    /// The type of the C library's value `raw`.
    pub fn from_raw(raw: i32) -> SockType {
        match raw {
            libc::SOCK_STREAM => SockType::Stream,
            libc::SOCK_DGRAM => SockType::Datagram,
            libc::SOCK_RAW => SockType::Raw,
            other => SockType::Other(other),
        }
    }
}

/// Options of [`getaddrinfo`](crate::LoopNetExt::getaddrinfo): asyncio's
/// keyword arguments `family`, `type`, `proto` and `flags` (all zero, that
/// is "any", by default).
///
/// ```
/// use tulip::transport::{AddrInfoOptions, AddressFamily, SockType};
/// let options = AddrInfoOptions::new()
///     .family(AddressFamily::Inet)
///     .socktype(SockType::Stream)
///     .flags(AddrInfoOptions::AI_NUMERICSERV);
/// assert_eq!(options.family, Some(AddressFamily::Inet));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddrInfoOptions {
    /// Only addresses of this family (`None`: `AF_UNSPEC`, any;
    /// [`AddressFamily::Unix`] fails with `EAI_FAMILY`).
    pub family: Option<AddressFamily>,
    /// Only this socket type (`None`: any; the C library then returns one
    /// entry per type).
    pub socktype: Option<SockType>,
    /// Only this protocol (`IPPROTO_TCP`, ...; 0: any).
    pub protocol: i32,
    /// `AI_*` flags or-ed together (0: none).
    pub flags: i32,
}

impl AddrInfoOptions {
    /// `AI_PASSIVE`: addresses to bind a listening socket to (the wildcard
    /// address when the host is `None`).
    pub const AI_PASSIVE: i32 = libc::AI_PASSIVE;
    /// `AI_CANONNAME`: fill [`AddrInfo::canonname`] of the first entry.
    pub const AI_CANONNAME: i32 = libc::AI_CANONNAME;
    /// `AI_NUMERICHOST`: the host must be a numeric address (no lookup).
    pub const AI_NUMERICHOST: i32 = libc::AI_NUMERICHOST;
    /// `AI_NUMERICSERV`: the port must be numeric (no service lookup).
    pub const AI_NUMERICSERV: i32 = libc::AI_NUMERICSERV;
    /// `AI_ADDRCONFIG`: only families the host has an address of.
    pub const AI_ADDRCONFIG: i32 = libc::AI_ADDRCONFIG;
    /// `AI_V4MAPPED`: IPv4-mapped IPv6 addresses when no IPv6 one exists.
    pub const AI_V4MAPPED: i32 = libc::AI_V4MAPPED;
    /// `AI_ALL`: with `AI_V4MAPPED`, both IPv6 and mapped IPv4 addresses.
    pub const AI_ALL: i32 = libc::AI_ALL;

    /// The default options: any family, type and protocol, no flags.
    pub fn new() -> AddrInfoOptions {
        AddrInfoOptions::default()
    }

    /// Sets [`family`](AddrInfoOptions::family).
    pub fn family(mut self, family: AddressFamily) -> AddrInfoOptions {
        self.family = Some(family);
        self
    }

    /// Sets [`socktype`](AddrInfoOptions::socktype).
    pub fn socktype(mut self, socktype: SockType) -> AddrInfoOptions {
        self.socktype = Some(socktype);
        self
    }

    /// Sets [`protocol`](AddrInfoOptions::protocol).
    pub fn protocol(mut self, protocol: i32) -> AddrInfoOptions {
        self.protocol = protocol;
        self
    }

    /// Sets [`flags`](AddrInfoOptions::flags).
    pub fn flags(mut self, flags: i32) -> AddrInfoOptions {
        self.flags = flags;
        self
    }
}

/// One entry of [`getaddrinfo`](crate::LoopNetExt::getaddrinfo)'s answer:
/// asyncio's `(family, type, proto, canonname, sockaddr)` tuple.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct AddrInfo {
    /// The address family (that of [`address`](AddrInfo::address)).
    pub family: AddressFamily,
    /// The socket type to use.
    pub socktype: SockType,
    /// The protocol to use (`IPPROTO_TCP`, ...).
    pub protocol: i32,
    /// The host's canonical name, on the first entry when
    /// [`AddrInfoOptions::AI_CANONNAME`] was given (asyncio gives `''`
    /// where this is `None`).
    pub canonname: Option<String>,
    /// The address and port.
    pub address: SocketAddr,
}

/// Flags of [`getnameinfo`](crate::LoopNetExt::getnameinfo): asyncio's
/// `NI_*` values, combined with `|`.
///
/// ```
/// use tulip::transport::NameInfoFlags;
/// let flags = NameInfoFlags::NUMERICHOST | NameInfoFlags::NUMERICSERV;
/// assert!(flags.contains(NameInfoFlags::NUMERICSERV));
/// assert!(!flags.contains(NameInfoFlags::NAMEREQD));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NameInfoFlags(i32);

impl NameInfoFlags {
    /// No flag: names are looked up, numbers returned where none exists.
    pub const NONE: NameInfoFlags = NameInfoFlags(0);
    /// `NI_NUMERICHOST`: the host as a numeric address.
    #[doc(alias = "NI_NUMERICHOST")]
    pub const NUMERICHOST: NameInfoFlags = NameInfoFlags(libc::NI_NUMERICHOST);
    /// `NI_NUMERICSERV`: the port as a number.
    #[doc(alias = "NI_NUMERICSERV")]
    pub const NUMERICSERV: NameInfoFlags = NameInfoFlags(libc::NI_NUMERICSERV);
    /// `NI_NOFQDN`: only the host part of a local host's name.
    #[doc(alias = "NI_NOFQDN")]
    pub const NOFQDN: NameInfoFlags = NameInfoFlags(libc::NI_NOFQDN);
    /// `NI_NAMEREQD`: fail when the host has no name.
    #[doc(alias = "NI_NAMEREQD")]
    pub const NAMEREQD: NameInfoFlags = NameInfoFlags(libc::NI_NAMEREQD);
    /// `NI_DGRAM`: the service is a datagram one (UDP's port names).
    #[doc(alias = "NI_DGRAM")]
    pub const DGRAM: NameInfoFlags = NameInfoFlags(libc::NI_DGRAM);

    /// Flags from the C library's value (asyncio passes an `int`).
    pub fn from_bits(bits: i32) -> NameInfoFlags {
        NameInfoFlags(bits)
    }

    /// The C library's value.
    pub fn bits(self) -> i32 {
        self.0
    }

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: NameInfoFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for NameInfoFlags {
    type Output = NameInfoFlags;

    fn bitor(self, rhs: NameInfoFlags) -> NameInfoFlags {
        NameInfoFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for NameInfoFlags {
    fn bitor_assign(&mut self, rhs: NameInfoFlags) {
        self.0 |= rhs.0;
    }
}

/// A failed `getaddrinfo` or `getnameinfo` (asyncio's `socket.gaierror`):
/// the `io::Error` inside the [`Error`] carries it, and
/// [`GaiError::find`] gets it back. Its `io::ErrorKind` is `NotFound`
/// when the name does not exist, `InvalidInput` for bad flags, family or
/// service, `Other` otherwise.
///
/// ```
/// use tulip::prelude::*;
/// use tulip::transport::{AddrInfoOptions, GaiError};
///
/// let err = tulip::run(async {
///     let lp = get_running_loop()?;
///     // `AI_NUMERICHOST` forbids a lookup: a name fails at once, with no
///     // DNS server asked.
///     let options = AddrInfoOptions::new().flags(AddrInfoOptions::AI_NUMERICHOST);
///     let res = lp.getaddrinfo(Some("example.invalid"), None, options).await;
///     Ok::<_, tulip::transport::Error>(res.unwrap_err())
/// })??;
/// let gai = GaiError::find(&err).expect("a resolution error");
/// assert!(gai.is_not_found() && !gai.is_temporary());
/// assert_eq!(err.io_kind(), Some(std::io::ErrorKind::NotFound));
/// assert!(!gai.message().is_empty());
/// assert_ne!(gai.code(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "gaierror")]
#[derive(Debug)]
pub struct GaiError {
    code: i32,
    kind: LookupErrorKind,
    message: String,
    what: String,
}

impl GaiError {
    /// The C library's `EAI_*` code (asyncio's `gaierror.errno`).
    pub fn code(&self) -> i32 {
        self.code
    }

    /// The C library's message for the code (`gai_strerror`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the name (or service) does not exist (`EAI_NONAME`,
    /// `EAI_NODATA`).
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, LookupErrorKind::NoName | LookupErrorKind::NoData)
    }

    /// Whether trying again later may succeed (`EAI_AGAIN`).
    pub fn is_temporary(&self) -> bool {
        matches!(self.kind, LookupErrorKind::Again)
    }

    /// The resolution error inside `err`, if it is one.
    pub fn find(err: &Error) -> Option<&GaiError> {
        err.as_io()?.get_ref()?.downcast_ref::<GaiError>()
    }

    /// Converts dns-lookup's error; `what` names the lookup for the message.
    fn into_error(err: LookupError, what: String) -> Error {
        let code = err.error_num();
        let kind = err.kind();
        let io_kind = match kind {
            // EAI_SYSTEM: the OS error (errno) is the real cause. (A code
            // dns-lookup has no name for, `EAI_ADDRFAMILY` say, is its
            // `IO` kind: that one is a resolution error like the rest.)
            LookupErrorKind::System => return Error::io(err.into()),
            LookupErrorKind::NoName | LookupErrorKind::NoData => io::ErrorKind::NotFound,
            LookupErrorKind::Badflags
            | LookupErrorKind::Family
            | LookupErrorKind::Socktype
            | LookupErrorKind::Service => io::ErrorKind::InvalidInput,
            LookupErrorKind::Memory => io::ErrorKind::OutOfMemory,
            _ => io::ErrorKind::Other,
        };
        let full = io::Error::from(err).to_string();
        let message = full
            .strip_prefix("failed to lookup address information: ")
            .unwrap_or(&full)
            .to_owned();
        let gai = GaiError {
            code,
            kind,
            message,
            what,
        };
        Error::io(io::Error::new(io_kind, gai))
    }
}

impl fmt::Display for GaiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (EAI {})", self.what, self.message, self.code)
    }
}

impl std::error::Error for GaiError {}

/// Rejects names the C library cannot be given.
fn check_name(what: &str, name: Option<&str>) -> Result<()> {
    match name {
        Some(n) if n.contains('\0') => Err(Error::InvalidInput(format!(
            "{what} contains a NUL byte: {n:?}"
        ))),
        _ => Ok(()),
    }
}

/// `getaddrinfo(host, port, family, type, proto, flags)` on the loop's
/// default executor.
pub(crate) async fn getaddrinfo(
    lp: &Loop,
    host: Option<&str>,
    port: Option<&str>,
    options: AddrInfoOptions,
) -> Result<Vec<AddrInfo>> {
    check_name("host", host)?;
    check_name("port", port)?;
    let hints = dns_lookup::AddrInfoHints {
        flags: options.flags,
        address: options.family.map_or(libc::AF_UNSPEC, family_raw),
        socktype: options.socktype.map_or(0, SockType::raw),
        protocol: options.protocol,
    };
    let host = host.map(str::to_owned);
    let port = port.map(str::to_owned);
    let job_host = host.clone();
    let job_port = port.clone();
    let answer = lp
        .run_in_executor(None, move || {
            let iter =
                dns_lookup::getaddrinfo(job_host.as_deref(), job_port.as_deref(), Some(hints))?;
            // Entries of a family other than IPv4/IPv6 cannot be named by a
            // SocketAddr; they cannot come back with these hints anyway.
            Ok::<_, LookupError>(iter.filter_map(io::Result::ok).collect::<Vec<_>>())
        })
        .await?;
    let entries = answer.map_err(|e| {
        let what = format!(
            "getaddrinfo({}, {})",
            host.as_deref().map_or("None".into(), |h| format!("{h:?}")),
            port.as_deref().map_or("None".into(), |p| format!("{p:?}")),
        );
        GaiError::into_error(e, what)
    })?;
    Ok(entries
        .into_iter()
        .map(|e| AddrInfo {
            family: family_of(&e.sockaddr),
            socktype: SockType::from_raw(e.socktype),
            protocol: e.protocol,
            canonname: e.canonname,
            address: e.sockaddr,
        })
        .collect())
}

/// `getnameinfo(addr, flags)` on the loop's default executor.
pub(crate) async fn getnameinfo(
    lp: &Loop,
    addr: SocketAddr,
    flags: NameInfoFlags,
) -> Result<(String, String)> {
    let bits = flags.bits();
    let answer = lp
        .run_in_executor(None, move || dns_lookup::getnameinfo(&addr, bits))
        .await?;
    answer.map_err(|e| GaiError::into_error(e, format!("getnameinfo({addr})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_combine() {
        let mut f = NameInfoFlags::NONE;
        assert!(!f.contains(NameInfoFlags::NUMERICHOST));
        f |= NameInfoFlags::NUMERICHOST;
        assert!(f.contains(NameInfoFlags::NUMERICHOST));
        assert_eq!(
            NameInfoFlags::from_bits(f.bits() | NameInfoFlags::DGRAM.bits()),
            f | NameInfoFlags::DGRAM
        );
    }

    #[test]
    fn socktype_round_trips() {
        for t in [SockType::Stream, SockType::Datagram, SockType::Raw] {
            assert_eq!(SockType::from_raw(t.raw()), t);
        }
        assert_eq!(SockType::from_raw(12345), SockType::Other(12345));
    }

    #[test]
    fn lookup_error_becomes_typed() {
        let err = GaiError::into_error(
            LookupError::new(libc::EAI_NONAME),
            "getaddrinfo(\"x\", None)".into(),
        );
        assert_eq!(err.io_kind(), Some(io::ErrorKind::NotFound));
        let gai = GaiError::find(&err).unwrap();
        assert!(gai.is_not_found() && !gai.is_temporary());
        assert_eq!(gai.code(), libc::EAI_NONAME);
        assert!(err.to_string().starts_with("getaddrinfo(\"x\", None): "));
        let bad = GaiError::into_error(LookupError::new(libc::EAI_BADFLAGS), "x".into());
        assert_eq!(bad.io_kind(), Some(io::ErrorKind::InvalidInput));
    }
}
