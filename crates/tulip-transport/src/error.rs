//! The transport layer's error type.
//!
//! I/O errors stay [`std::io::Error`] (shared behind an `Arc` so that one
//! error can be reported to a protocol and to every waiter), loop errors stay
//! `tulip::Error`, and asyncio's networking exceptions get named
//! variants.

use std::fmt;
use std::io;
use std::sync::Arc;

/// The result type of the transport layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error of the transport layer. Cheap to clone.
///
/// Most failures of the OS (refused, reset, address in use) are
/// [`Error::Io`], read back with [`io_kind`](Error::io_kind); the other
/// variants are tulip's own. The enum is `#[non_exhaustive]`: a `match`
/// keeps a catch-all arm.
///
/// ```
/// use std::io;
/// use tulip::transport::Error;
///
/// /// Whether trying again later might help.
/// fn transient(e: &Error) -> bool {
///     match e {
///         Error::AllAttemptsFailed(all) => all.iter().any(transient),
///         Error::Io(_) => matches!(
///             e.io_kind(),
///             Some(io::ErrorKind::ConnectionRefused | io::ErrorKind::TimedOut)
///         ),
///         _ => e.is_timeout(),
///     }
/// }
///
/// let refused = Error::from(io::Error::from(io::ErrorKind::ConnectionRefused));
/// assert!(transient(&refused));
/// assert!(transient(&Error::AllAttemptsFailed(vec![Error::Closed, refused])));
/// assert!(!transient(&Error::WriteAfterEof));
/// assert!(!transient(&Error::InvalidInput("no host to listen on".into())));
/// // Back to an `io::Error` for code that speaks std's errors.
/// let e: io::Error = Error::Closed.into();
/// assert!(!e.to_string().is_empty());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system error (the OS error code is kept).
    Io(Arc<io::Error>),
    /// An error of the loop: cancelled, closed, timed out, a panic.
    Loop(tulip_executor::Error),
    /// `create_connection` with `all_errors`: every attempt's error, in the
    /// order the attempts were made (asyncio's `ExceptionGroup`).
    AllAttemptsFailed(Vec<Error>),
    /// `sendfile` without fallback on a transport or file where the
    /// zero-copy system call cannot be used (asyncio's
    /// `SendfileNotAvailableError`).
    SendfileNotAvailable(String),
    /// `write()` after `write_eof()` (asyncio's RuntimeError).
    WriteAfterEof,
    /// The transport cannot do this (writing to a read pipe, say).
    Unsupported(&'static str),
    /// An argument is invalid (asyncio's ValueError or TypeError).
    InvalidInput(String),
    /// The operation needs an open transport or server, and it is closed.
    Closed,
    /// A TLS failure: a certificate rejected, a protocol error, a
    /// truncated stream, a TLS timeout (asyncio's `ssl.SSLError`).
    Tls(crate::tls::error::TlsError),
    /// A fallible protocol factory ([`Fallible`](crate::Fallible))
    /// returned an error: the connection, endpoint or pipe was not made
    /// and its descriptor is closed (asyncio: the exception the
    /// `protocol_factory` raised).
    ProtocolFactory(FactoryError),
}

/// The error a fallible protocol factory returned (inside
/// [`Error::ProtocolFactory`]); the factory's own error is its
/// [`source`](std::error::Error::source) and can be downcast back.
///
/// ```
/// use tulip::transport::{Error, FactoryError};
///
/// #[derive(Debug)]
/// struct TooManyClients;
/// impl std::fmt::Display for TooManyClients {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("too many clients")
///     }
/// }
/// impl std::error::Error for TooManyClients {}
///
/// let err = Error::ProtocolFactory(FactoryError::new(TooManyClients));
/// assert_eq!(err.to_string(), "the protocol factory failed: too many clients");
/// let factory_error = err.as_protocol_factory().unwrap();
/// assert!(factory_error.downcast_ref::<TooManyClients>().is_some());
/// ```
#[derive(Clone, Debug)]
pub struct FactoryError(Arc<dyn std::error::Error + Send + Sync>);

impl FactoryError {
    /// Wraps the factory's error (any error type, or a message).
    pub fn new(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> FactoryError {
        FactoryError(Arc::from(err.into()))
    }

    /// The factory's own error.
    pub fn get_ref(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }

    /// The factory's own error, if it is a `T`.
    pub fn downcast_ref<T: std::error::Error + 'static>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }
}

impl fmt::Display for FactoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the protocol factory failed: {}", self.0)
    }
}

impl std::error::Error for FactoryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

impl Error {
    /// Wraps an I/O error.
    pub fn io(err: io::Error) -> Error {
        Error::Io(Arc::new(err))
    }

    /// The I/O error inside, if this is one.
    pub fn as_io(&self) -> Option<&io::Error> {
        match self {
            Error::Io(e) => Some(e),
            Error::Loop(tulip_executor::Error::Io(e)) => Some(e),
            _ => None,
        }
    }

    /// The kind of the I/O error inside, if this is one.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        self.as_io().map(io::Error::kind)
    }

    /// The TLS error inside, if this is one.
    pub fn as_tls(&self) -> Option<&crate::tls::error::TlsError> {
        match self {
            Error::Tls(e) => Some(e),
            _ => None,
        }
    }

    /// The error of a fallible protocol factory, if this is one.
    pub fn as_protocol_factory(&self) -> Option<&FactoryError> {
        match self {
            Error::ProtocolFactory(e) => Some(e),
            _ => None,
        }
    }

    /// Whether this is a cancellation.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Loop(e) if e.is_cancelled())
    }

    /// Whether this is a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Loop(e) if e.is_timeout())
            || self.io_kind() == Some(io::ErrorKind::TimedOut)
            || matches!(self, Error::Tls(e) if e.is_timeout())
    }

    /// A fresh `io::Error` carrying the same OS error code (or kind and
    /// message), for APIs that need an owned `io::Error`.
    pub fn to_io_error(&self) -> io::Error {
        match self.as_io() {
            Some(e) => match e.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(e.kind(), e.to_string()),
            },
            None => io::Error::other(self.to_string()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Loop(e) => write!(f, "{e}"),
            Error::AllAttemptsFailed(errs) => {
                write!(f, "multiple exceptions: ")?;
                for (i, e) in errs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
            Error::SendfileNotAvailable(why) => write!(f, "sendfile is not available: {why}"),
            Error::WriteAfterEof => f.write_str("cannot call write() after write_eof()"),
            Error::Unsupported(what) => write!(f, "not supported: {what}"),
            Error::InvalidInput(what) => write!(f, "invalid argument: {what}"),
            Error::Closed => f.write_str("the transport or server is closed"),
            Error::Tls(e) => write!(f, "TLS error: {e}"),
            Error::ProtocolFactory(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(&**e),
            Error::Loop(e) => Some(e),
            Error::Tls(e) => Some(e),
            Error::ProtocolFactory(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::io(e)
    }
}

impl From<rustix::io::Errno> for Error {
    fn from(e: rustix::io::Errno) -> Error {
        Error::io(e.into())
    }
}

impl From<tulip_executor::Error> for Error {
    fn from(e: tulip_executor::Error) -> Error {
        match e {
            tulip_executor::Error::Io(io) => Error::Io(io),
            other => Error::Loop(other),
        }
    }
}

impl From<Error> for tulip_executor::Error {
    fn from(e: Error) -> tulip_executor::Error {
        match e {
            Error::Io(io) => tulip_executor::Error::Io(io),
            Error::Loop(l) => l,
            other => tulip_executor::Error::exception(other),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(io) => Arc::try_unwrap(io).unwrap_or_else(|shared| {
                let fresh = Error::Io(shared);
                fresh.to_io_error()
            }),
            other => {
                let kind = match &other {
                    Error::Loop(l) if l.is_timeout() => io::ErrorKind::TimedOut,
                    Error::InvalidInput(_) => io::ErrorKind::InvalidInput,
                    Error::Unsupported(_) | Error::SendfileNotAvailable(_) => {
                        io::ErrorKind::Unsupported
                    }
                    Error::Closed | Error::WriteAfterEof => io::ErrorKind::BrokenPipe,
                    Error::Tls(e) => e.io_kind(),
                    _ => io::ErrorKind::Other,
                };
                io::Error::new(kind, other)
            }
        }
    }
}

/// A failed bind or connect with what was attempted (asyncio puts the
/// address in the message); the OS error is its `source`, and the
/// `io::Error` wrapping it has the OS error's kind.
#[derive(Debug)]
pub(crate) struct AttemptError {
    what: String,
    source: io::Error,
}

impl AttemptError {
    /// `source`, as the error of attempting `what`.
    pub(crate) fn wrap(what: String, source: io::Error) -> Error {
        let kind = source.kind();
        Error::io(io::Error::new(kind, AttemptError { what, source }))
    }
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.source)
    }
}

impl std::error::Error for AttemptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// A failed `bind` naming the address (asyncio's "error while attempting
/// to bind on address ...").
pub(crate) fn bind_error(addr: &dyn fmt::Display, source: io::Error) -> Error {
    AttemptError::wrap(
        format!("error while attempting to bind on address {addr}"),
        source,
    )
}

impl From<crate::tls::error::TlsError> for Error {
    fn from(e: crate::tls::error::TlsError) -> Error {
        Error::Tls(e)
    }
}
