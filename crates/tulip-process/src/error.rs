//! The subprocess layer's error type: spawn failures stay
//! [`std::io::Error`] (a missing program is `ErrorKind::NotFound`), the
//! transport and streams layers' errors are wrapped, and asyncio's
//! `ProcessLookupError` is [`Error::ProcessLookup`].

use std::fmt;
use std::io;
use std::sync::Arc;

/// The result type of the subprocess layer.
///
/// ```
/// use tulip::process::{Result, SubprocessOptions, create_subprocess_exec};
/// async fn exit_code(program: &str) -> Result<i32> {
///     let proc = create_subprocess_exec(program, [] as [&str; 0], SubprocessOptions::new()).await?;
///     Ok(proc.wait().await)
/// }
/// tulip::run(async {
///     assert_eq!(exit_code("false").await?, 1);
///     Ok::<(), tulip::process::Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error of the subprocess layer. Cheap to clone.
///
/// ```
/// use std::io::ErrorKind;
/// use tulip::process::{Error, SubprocessOptions, create_subprocess_exec};
///
/// tulip::run(async {
///     let no_args = std::iter::empty::<&str>;
///     // A program that cannot be started: the spawn's io::Error, kept.
///     let missing =
///         create_subprocess_exec("/nonexistent/tulip-demo", no_args(), SubprocessOptions::new()).await;
///     assert_eq!(missing.unwrap_err().io_kind(), Some(ErrorKind::NotFound));
///     // A child that exited and was reaped cannot be signalled any more.
///     let proc = create_subprocess_exec("true", no_args(), SubprocessOptions::new()).await?;
///     assert_eq!(proc.wait().await, 0);
///     assert!(matches!(proc.kill(), Err(Error::ProcessLookup)));
///     Ok::<(), Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system error: the program could not be started
    /// (`NotFound`, `PermissionDenied`, ...), a pipe could not be made, a
    /// signal could not be sent. The OS error code is kept.
    Io(Arc<io::Error>),
    /// An error of the transport layer (a pipe transport's).
    Transport(tulip_transport::Error),
    /// An error of the streams layer (a read or write of a pipe stream).
    Stream(tulip_streams::Error),
    /// An error of the loop: cancelled, closed, timed out.
    Loop(tulip_executor::Error),
    /// The process has exited and was reaped, so it cannot be signalled
    /// any more (asyncio's `ProcessLookupError`). Its process id may
    /// already belong to another process: nothing was sent.
    ProcessLookup,
    /// An argument is invalid (asyncio's `ValueError`): `STDOUT` for
    /// stdin or stdout, an unknown signal number, a zero stream limit,
    /// `communicate` input without a stdin pipe.
    InvalidInput(String),
}

impl Error {
    /// Wraps an I/O error.
    ///
    /// ```
    /// use std::io;
    /// use tulip::process::Error;
    /// let e = Error::io(io::Error::from(io::ErrorKind::PermissionDenied));
    /// assert_eq!(e.io_kind(), Some(io::ErrorKind::PermissionDenied));
    /// ```
    pub fn io(err: io::Error) -> Error {
        Error::Io(Arc::new(err))
    }

    /// The I/O error inside, if there is one (at any layer).
    ///
    /// ```
    /// use tulip::process::{SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let no_args = [] as [&str; 0];
    ///     let err = create_subprocess_exec("/nonexistent/program", no_args, SubprocessOptions::new())
    ///         .await
    ///         .unwrap_err();
    ///     let io = err.as_io().expect("the spawn's OS error");
    ///     assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn as_io(&self) -> Option<&io::Error> {
        match self {
            Error::Io(e) => Some(e),
            Error::Transport(e) => e.as_io(),
            Error::Stream(e) => e.as_io(),
            Error::Loop(tulip_executor::Error::Io(e)) => Some(e),
            _ => None,
        }
    }

    /// The kind of the I/O error inside, if there is one.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use tulip::process::Error;
    /// assert_eq!(Error::io(ErrorKind::NotFound.into()).io_kind(), Some(ErrorKind::NotFound));
    /// assert_eq!(Error::ProcessLookup.io_kind(), None);
    /// ```
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        self.as_io().map(io::Error::kind)
    }

    /// The TLS error inside, if there is one (at any layer), as
    /// `tulip::transport::Error::as_tls`.
    ///
    /// ```
    /// use tulip::process::Error;
    ///
    /// fn is_tls(e: &Error) -> bool {
    ///     e.as_tls().is_some()
    /// }
    /// # assert!(!is_tls(&Error::ProcessLookup));
    /// ```
    pub fn as_tls(&self) -> Option<&tulip_transport::TlsError> {
        match self {
            Error::Transport(e) => e.as_tls(),
            Error::Stream(e) => e.as_tls(),
            _ => None,
        }
    }

    /// The error of a fallible protocol factory
    /// (`tulip::transport::Fallible`), if this is one: the
    /// subprocess was not spawned.
    ///
    /// ```
    /// use tulip::process::Error;
    ///
    /// fn refused_by_the_factory(e: &Error) -> bool {
    ///     e.as_protocol_factory().is_some()
    /// }
    /// # assert!(!refused_by_the_factory(&Error::ProcessLookup));
    /// ```
    pub fn as_protocol_factory(&self) -> Option<&tulip_transport::FactoryError> {
        match self {
            Error::Transport(e) => e.as_protocol_factory(),
            _ => None,
        }
    }

    /// Whether this is a cancellation.
    ///
    /// ```
    /// use tulip::process::Error;
    /// // Cancellation comes from the loop; the layer's own errors are not one.
    /// assert!(!Error::ProcessLookup.is_cancelled());
    /// assert!(!Error::InvalidInput(String::from("signal 0")).is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        match self {
            Error::Loop(e) => e.is_cancelled(),
            Error::Transport(e) => e.is_cancelled(),
            Error::Stream(e) => e.is_cancelled(),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Transport(e) => write!(f, "{e}"),
            Error::Stream(e) => write!(f, "{e}"),
            Error::Loop(e) => write!(f, "{e}"),
            Error::ProcessLookup => f.write_str("the process has exited: no such process"),
            Error::InvalidInput(what) => write!(f, "invalid argument: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(&**e),
            Error::Transport(e) => Some(e),
            Error::Stream(e) => Some(e),
            Error::Loop(e) => Some(e),
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

impl From<tulip_transport::Error> for Error {
    fn from(e: tulip_transport::Error) -> Error {
        match e {
            tulip_transport::Error::Io(io) => Error::Io(io),
            tulip_transport::Error::Loop(l) => Error::from(l),
            other => Error::Transport(other),
        }
    }
}

impl From<tulip_streams::Error> for Error {
    fn from(e: tulip_streams::Error) -> Error {
        match e {
            tulip_streams::Error::Transport(t) => Error::from(t),
            other => Error::Stream(other),
        }
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
            // The transport layer's conversion keeps the OS error code.
            Error::Io(io) => tulip_transport::Error::Io(io).into(),
            Error::Transport(t) => t.into(),
            Error::Stream(s) => s.into(),
            Error::ProcessLookup => {
                io::Error::from_raw_os_error(rustix::io::Errno::SRCH.raw_os_error())
            }
            Error::InvalidInput(what) => io::Error::new(io::ErrorKind::InvalidInput, what),
            Error::Loop(l) => io::Error::other(l),
        }
    }
}
