//! The streams layer's error type: asyncio's `IncompleteReadError` and
//! `LimitOverrunError` as typed values, the transport layer's errors
//! wrapped, and asyncio's `ValueError` as [`Error::InvalidInput`].

use std::fmt;
use std::io;

/// The result type of the streams layer.
///
/// ```
/// use tulip::streams::{Result, StreamReader};
/// async fn first_line(reader: &mut StreamReader) -> Result<Vec<u8>> {
///     reader.readline().await
/// }
/// tulip::run(async {
///     let mut reader = StreamReader::new();
///     reader.feed_data(b"one\ntwo\n");
///     assert_eq!(first_line(&mut reader).await?, b"one\n");
///     Ok::<(), tulip::streams::Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
///
/// ```
/// use tulip::streams::{Error, StreamReader};
/// tulip::run(async {
///     let mut reader = StreamReader::new();
///     reader.feed_data(b"ab");
///     reader.feed_eof();
///     let err = reader.readexactly(4).await.unwrap_err();
///     let incomplete = err.as_incomplete_read().expect("EOF after 2 of 4 bytes");
///     assert_eq!(incomplete.partial, b"ab");
///     assert_eq!(incomplete.expected, Some(4));
///     # let _: &Error = &err;
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
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
    ///
    /// ```
    /// use tulip::streams::IncompleteReadError;
    /// let e = IncompleteReadError::new(b"ab".to_vec(), Some(4));
    /// assert_eq!(e.to_string(), "2 bytes read on a total of 4 expected bytes");
    /// ```
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
///
/// ```
/// use tulip::streams::StreamReader;
/// tulip::run(async {
///     let mut reader = StreamReader::with_limit(4)?;
///     reader.feed_data(b"no separator in sight");
///     let err = reader.readuntil(b"\n").await.unwrap_err();
///     let overrun = err.as_limit_overrun().expect("over the limit");
///     assert!(overrun.consumed > 0);
///     // `readuntil` left the data in the buffer.
///     assert!(reader.bytes_buffered() > 0);
///     Ok::<(), tulip::streams::Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
    ///
    /// ```
    /// use tulip::streams::LimitOverrunError;
    /// let e = LimitOverrunError::new("Separator is not found, and chunk exceed the limit", 8);
    /// assert_eq!(e.consumed, 8);
    /// ```
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
    ///
    /// ```
    /// use tulip::streams::{UnixConnectOptions, open_unix_connection};
    /// tulip::run(async {
    ///     let missing = std::path::Path::new("/nonexistent/tulip.sock");
    ///     let err = open_unix_connection(Some(missing), UnixConnectOptions::new()).await.unwrap_err();
    ///     let io = err.as_io().expect("an OS error");
    ///     assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn as_io(&self) -> Option<&io::Error> {
        match self {
            Error::Transport(e) => e.as_io(),
            _ => None,
        }
    }

    /// The kind of the I/O error inside, if this is one.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use tulip::streams::{Error, UnixConnectOptions, open_unix_connection};
    /// tulip::run(async {
    ///     let missing = std::path::Path::new("/nonexistent/tulip.sock");
    ///     let err = open_unix_connection(Some(missing), UnixConnectOptions::new()).await.unwrap_err();
    ///     assert_eq!(err.io_kind(), Some(ErrorKind::NotFound));
    ///     assert_eq!(Error::InvalidInput(String::from("limit")).io_kind(), None);
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        self.as_io().map(io::Error::kind)
    }

    /// The TLS error inside, if this is one (a certificate rejected, a
    /// truncated TLS stream, a TLS timeout), as
    /// `tulip::transport::Error::as_tls`.
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
    ///
    /// ```
    /// use tulip::streams::{Error, IncompleteReadError};
    /// let e = Error::IncompleteRead(IncompleteReadError::new(b"x".to_vec(), None));
    /// assert_eq!(e.as_incomplete_read().map(|e| e.partial.len()), Some(1));
    /// assert!(e.as_limit_overrun().is_none());
    /// ```
    pub fn as_incomplete_read(&self) -> Option<&IncompleteReadError> {
        match self {
            Error::IncompleteRead(e) => Some(e),
            _ => None,
        }
    }

    /// The [`LimitOverrunError`], if this is one.
    ///
    /// ```
    /// use tulip::streams::{Error, LimitOverrunError};
    /// let e = Error::LimitOverrun(LimitOverrunError::new("too long", 3));
    /// assert_eq!(e.as_limit_overrun().map(|e| e.consumed), Some(3));
    /// assert!(e.as_incomplete_read().is_none());
    /// ```
    pub fn as_limit_overrun(&self) -> Option<&LimitOverrunError> {
        match self {
            Error::LimitOverrun(e) => Some(e),
            _ => None,
        }
    }

    /// Whether this is a cancellation.
    ///
    /// ```
    /// use tulip::streams::Error;
    /// // A read's own errors are not cancellations; a cancelled task's read
    /// // returns an error whose `is_cancelled()` is true.
    /// assert!(!Error::InvalidInput(String::from("limit")).is_cancelled());
    /// ```
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
