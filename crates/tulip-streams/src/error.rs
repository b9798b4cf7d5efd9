//! The streams layer's error type: asyncio's `IncompleteReadError` and
//! `LimitOverrunError` as typed values, the transport layer's errors
//! wrapped, and asyncio's `ValueError` as [`Error::InvalidInput`].

use std::fmt;
use std::io;

/// The result type of the streams layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error of the streams layer. Cheap to clone: a reader keeps the
/// exception of its connection and returns it from every later read.
///
/// ```
/// use tulip::streams::{Error, StreamReader};
///
/// tulip::run(async {
///     let mut reader = StreamReader::with_limit(8)?;
///     reader.feed_data(b"a line longer than the limit\nabc");
///     reader.feed_eof();
///     // No newline within the limit: asyncio's LimitOverrunError.
///     assert!(matches!(reader.readline().await, Err(Error::LimitOverrun(_))));
///     // EOF before 5 bytes: asyncio's IncompleteReadError, the bytes kept.
///     match reader.readexactly(5).await {
///         Err(Error::IncompleteRead(e)) => assert_eq!(e.partial, b"abc"),
///         other => panic!("expected an incomplete read, got {other:?}"),
///     }
///     Ok::<(), Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// An error of the transport layer: an OS error (the connection was
    /// reset, say, with its `io::ErrorKind` kept), a loop error, a closed
    /// transport.
    Transport(tulip_transport::Error),
    /// EOF came before the read could complete (asyncio's
    /// `IncompleteReadError`).
    IncompleteRead(IncompleteReadError),
    /// The separator was not found within the reader's limit (asyncio's
    /// `LimitOverrunError`).
    LimitOverrun(LimitOverrunError),
    /// An argument is invalid (asyncio's `ValueError`): a zero limit, an
    /// empty separator.
    InvalidInput(String),
}

/// EOF was reached before a read could complete (asyncio's
/// `IncompleteReadError`). The bytes read before EOF are in
/// [`partial`](IncompleteReadError::partial): they are removed from the
/// reader and handed over here, never lost.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IncompleteReadError {
    /// The bytes read before EOF.
    pub partial: Vec<u8>,
    /// How many bytes were expected: `Some(n)` for `readexactly(n)`,
    /// `None` for `readuntil` (the length was unknown).
    pub expected: Option<usize>,
}

impl IncompleteReadError {
    /// An error carrying `partial` bytes out of `expected`.
    pub fn new(partial: Vec<u8>, expected: Option<usize>) -> IncompleteReadError {
        IncompleteReadError { partial, expected }
    }
}

impl fmt::Debug for IncompleteReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncompleteReadError")
            .field("partial_len", &self.partial.len())
            .field("expected", &self.expected)
            .finish()
    }
}

impl fmt::Display for IncompleteReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.expected {
            Some(n) => write!(
                f,
                "{} bytes read on a total of {n} expected bytes",
                self.partial.len()
            ),
            None => write!(
                f,
                "{} bytes read on a total of undefined expected bytes",
                self.partial.len()
            ),
        }
    }
}

impl std::error::Error for IncompleteReadError {}

/// The reader's limit was reached while looking for a separator (asyncio's
/// `LimitOverrunError`).
///
/// From [`readuntil`](crate::StreamReader::readuntil) the data stays in
/// the reader's buffer: read it with another method, or give up.
/// From [`readline`](crate::StreamReader::readline) it has been discarded,
/// as asyncio does: up to and including the newline if one was found, the
/// whole buffer otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimitOverrunError {
    /// What happened.
    pub message: &'static str,
    /// How many bytes can be consumed without reaching the separator (or
    /// the separator's position when it was found past the limit).
    pub consumed: usize,
}

impl LimitOverrunError {
    /// An error with `message` and `consumed`.
    pub fn new(message: &'static str, consumed: usize) -> LimitOverrunError {
        LimitOverrunError { message, consumed }
    }
}

impl fmt::Display for LimitOverrunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (consumed {} bytes)", self.message, self.consumed)
    }
}

impl std::error::Error for LimitOverrunError {}

impl Error {
    /// The I/O error inside, if this is one.
    pub fn as_io(&self) -> Option<&io::Error> {
        match self {
            Error::Transport(e) => e.as_io(),
            _ => None,
        }
    }

    /// The kind of the I/O error inside, if this is one.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        self.as_io().map(io::Error::kind)
    }

    /// The TLS error inside, if this is one (a certificate rejected, a
    /// truncated TLS stream, a TLS timeout), as
    /// [`tulip::transport::Error::as_tls`](tulip_transport::Error::as_tls).
    ///
    /// ```
    /// use tulip::streams::Error;
    /// use tulip::transport::rustls::CertificateError;
    ///
    /// fn expired(e: &Error) -> bool {
    ///     e.as_tls().and_then(|tls| tls.certificate_error())
    ///         == Some(&CertificateError::Expired)
    /// }
    /// # assert!(!expired(&Error::InvalidInput(String::from("limit"))));
    /// ```
    pub fn as_tls(&self) -> Option<&tulip_transport::TlsError> {
        match self {
            Error::Transport(e) => e.as_tls(),
            _ => None,
        }
    }

    /// The [`IncompleteReadError`], if this is one.
    pub fn as_incomplete_read(&self) -> Option<&IncompleteReadError> {
        match self {
            Error::IncompleteRead(e) => Some(e),
            _ => None,
        }
    }

    /// The [`LimitOverrunError`], if this is one.
    pub fn as_limit_overrun(&self) -> Option<&LimitOverrunError> {
        match self {
            Error::LimitOverrun(e) => Some(e),
            _ => None,
        }
    }

    /// Whether this is a cancellation.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Transport(e) if e.is_cancelled())
    }

    /// The error `drain` and `wait_closed` report for a connection that was
    /// lost without an error of its own (asyncio's
    /// `ConnectionResetError('Connection lost')`).
    pub(crate) fn connection_lost() -> Error {
        Error::Transport(tulip_transport::Error::io(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "Connection lost",
        )))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Transport(e) => write!(f, "{e}"),
            Error::IncompleteRead(e) => write!(f, "{e}"),
            Error::LimitOverrun(e) => write!(f, "{e}"),
            Error::InvalidInput(what) => write!(f, "invalid argument: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Transport(e) => Some(e),
            Error::IncompleteRead(e) => Some(e),
            Error::LimitOverrun(e) => Some(e),
            Error::InvalidInput(_) => None,
        }
    }
}

impl From<tulip_transport::Error> for Error {
    fn from(e: tulip_transport::Error) -> Error {
        Error::Transport(e)
    }
}

impl From<tulip_executor::Error> for Error {
    fn from(e: tulip_executor::Error) -> Error {
        Error::Transport(e.into())
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Transport(e.into())
    }
}

impl From<IncompleteReadError> for Error {
    fn from(e: IncompleteReadError) -> Error {
        Error::IncompleteRead(e)
    }
}

impl From<LimitOverrunError> for Error {
    fn from(e: LimitOverrunError) -> Error {
        Error::LimitOverrun(e)
    }
}

impl From<Error> for tulip_executor::Error {
    fn from(e: Error) -> tulip_executor::Error {
        match e {
            Error::Transport(t) => t.into(),
            other => tulip_executor::Error::exception(other),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Transport(t) => t.into(),
            Error::IncompleteRead(e) => io::Error::new(io::ErrorKind::UnexpectedEof, e),
            Error::LimitOverrun(e) => io::Error::new(io::ErrorKind::InvalidData, e),
            Error::InvalidInput(what) => io::Error::new(io::ErrorKind::InvalidInput, what),
        }
    }
}
