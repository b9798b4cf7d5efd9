//! The executor layer's error type: asyncio's exceptions as Rust values.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, Mutex};

/// What can go wrong in the event loop, a future or a task.
///
/// asyncio raises these as exceptions; tulip returns them. `Clone`, `Send`
/// and `Sync`, so one outcome can be handed to every awaiter of a
/// [`LoopFuture`](crate::LoopFuture) and across threads.
///
/// ```
/// use std::time::Duration;
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let slow = sleep(Duration::from_secs(3600));
///     match wait_for(slow, Duration::from_millis(1)).await {
///         Err(tulip::Error::Timeout) => {} // asyncio's TimeoutError
///         other => panic!("expected a timeout, got {other:?}"),
///     }
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// asyncio's `CancelledError`: the task or future was cancelled.
    Cancelled,
    /// asyncio's `TimeoutError`.
    Timeout,
    /// asyncio's `InvalidStateError`: e.g. setting the result of a future that
    /// is already done, or asking for the result of one that is not.
    InvalidState(&'static str),
    /// The event loop is closed (asyncio's `RuntimeError('Event loop is closed')`).
    LoopClosed,
    /// The event loop is already running (asyncio's
    /// `RuntimeError('This event loop is already running')`), or another loop
    /// runs on this thread.
    LoopRunning,
    /// No event loop is running on this thread (asyncio's
    /// `RuntimeError('no running event loop')`).
    NoRunningLoop,
    /// No event loop is running or set on this thread (asyncio's
    /// `RuntimeError('There is no current event loop')`).
    NoCurrentLoop,
    /// The loop stopped before the future given to `run_until_complete`
    /// completed.
    StoppedBeforeComplete,
    /// The code ran panicked; the payload is kept so that it can be resumed.
    Panicked(PanicError),
    /// An I/O error, with the OS error kept.
    Io(Arc<std::io::Error>),
    /// An error set on a future with
    /// [`LoopFuture::set_exception`](crate::LoopFuture::set_exception).
    Exception(Arc<dyn std::error::Error + Send + Sync>),
    /// Not a signal a handler can be set for (asyncio's `ValueError` from
    /// `add_signal_handler`): out of range, unknown to the system, or
    /// `SIGKILL`, `SIGSTOP`, `SIGSEGV`, `SIGBUS`, `SIGFPE`, `SIGILL`.
    InvalidSignal(i32),
    /// Ctrl-C (`SIGINT`) interrupted [`run`](crate::run) or
    /// [`Runner::run`](crate::Runner::run), which cancelled the main future:
    /// asyncio's `KeyboardInterrupt`.
    Interrupted,
}

impl Error {
    /// Whether this is [`Error::Cancelled`].
    ///
    /// ```
    /// tulip::run(async {
    ///     let task = tulip::spawn(std::future::pending::<()>());
    ///     task.cancel();
    ///     assert!(task.await.unwrap_err().is_cancelled());
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled)
    }

    /// Whether this is [`Error::Panicked`].
    ///
    /// ```
    /// tulip::run(async {
    ///     let task = tulip::spawn(async { panic!("boom") });
    ///     let err = task.await.unwrap_err();
    ///     assert!(err.is_panic());
    ///     assert_eq!(err.to_string(), "panicked: boom");
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, Error::Panicked(_))
    }

    /// Whether this is [`Error::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::prelude::*;
    ///
    /// tulip::run(async {
    ///     let err = wait_for(std::future::pending::<()>(), Duration::from_millis(1)).await.unwrap_err();
    ///     assert!(err.is_timeout());
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout)
    }

    /// Wraps any error as [`Error::Exception`].
    ///
    /// ```
    /// use std::io;
    ///
    /// let err = tulip::Error::exception(io::Error::other("disk full"));
    /// assert!(matches!(err, tulip::Error::Exception(_)));
    /// assert_eq!(err.to_string(), "disk full");
    /// ```
    pub fn exception(err: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::Exception(Arc::new(err))
    }

    /// Resumes the panic this error carries, if it is a [`Error::Panicked`]
    /// whose payload was not taken yet; otherwise returns the error.
    ///
    /// ```
    /// use std::panic::{AssertUnwindSafe, catch_unwind};
    ///
    /// let caught = catch_unwind(|| panic!("boom")).unwrap_err();
    /// let err = tulip::Error::Panicked(tulip::PanicError::new(caught));
    /// let resumed = catch_unwind(AssertUnwindSafe(|| err.resume_panic()));
    /// assert!(resumed.is_err()); // the panic carried on
    ///
    /// // Any other error comes back as it was.
    /// assert!(tulip::Error::Timeout.resume_panic().is_timeout());
    /// ```
    pub fn resume_panic(self) -> Error {
        if let Error::Panicked(p) = &self {
            if let Some(payload) = p.take_payload() {
                std::panic::resume_unwind(payload);
            }
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Cancelled => f.write_str("cancelled"),
            Error::Timeout => f.write_str("timed out"),
            Error::InvalidState(msg) => write!(f, "invalid state: {msg}"),
            Error::LoopClosed => f.write_str("event loop is closed"),
            Error::LoopRunning => f.write_str("this event loop is already running"),
            Error::NoRunningLoop => f.write_str("no running event loop"),
            Error::NoCurrentLoop => f.write_str("there is no current event loop in this thread"),
            Error::StoppedBeforeComplete => {
                f.write_str("event loop stopped before the future completed")
            }
            Error::Panicked(p) => write!(f, "panicked: {}", p.message()),
            Error::Io(e) => write!(f, "{e}"),
            Error::Exception(e) => write!(f, "{e}"),
            Error::InvalidSignal(signum) => {
                write!(
                    f,
                    "signal {signum} cannot be handled: not a signal, or one that cannot be caught"
                )
            }
            Error::Interrupted => f.write_str("interrupted by Ctrl-C (SIGINT)"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(&**e),
            Error::Exception(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(Arc::new(e))
    }
}

/// The payload of a caught panic, with its message kept as text.
///
/// The payload can be taken once (to resume the panic); clones share it.
///
/// ```
/// tulip::run(async {
///     let task = tulip::spawn(async { panic!("boom") });
///     let Err(tulip::Error::Panicked(p)) = task.await else { unreachable!() };
///     assert_eq!(p.message(), "boom");
///     assert!(p.take_payload().is_some()); // once: for resume_unwind
///     assert!(p.take_payload().is_none());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone)]
pub struct PanicError {
    message: Arc<str>,
    payload: Arc<Mutex<Option<Box<dyn Any + Send>>>>,
}

impl PanicError {
    /// Wraps a payload caught by `catch_unwind`.
    ///
    /// ```
    /// let payload = std::panic::catch_unwind(|| panic!("oops {}", 1)).unwrap_err();
    /// let err = tulip::PanicError::new(payload);
    /// assert_eq!(err.message(), "oops 1");
    /// ```
    pub fn new(payload: Box<dyn Any + Send>) -> PanicError {
        let message: Arc<str> = if let Some(s) = payload.downcast_ref::<&'static str>() {
            Arc::from(*s)
        } else if let Some(s) = payload.downcast_ref::<String>() {
            Arc::from(s.as_str())
        } else {
            Arc::from("Box<dyn Any>")
        };
        PanicError {
            message,
            payload: Arc::new(Mutex::new(Some(payload))),
        }
    }

    /// The panic's message (`"Box<dyn Any>"` if it was not a string).
    ///
    /// ```
    /// let err = tulip::PanicError::new(Box::new(42_u8)); // not a string
    /// assert_eq!(err.message(), "Box<dyn Any>");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Takes the payload, for `std::panic::resume_unwind`; `None` once taken.
    ///
    /// ```
    /// let err = tulip::PanicError::new(Box::new("boom"));
    /// let copy = err.clone(); // clones share the payload
    /// let payload = err.take_payload().unwrap();
    /// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    /// assert!(copy.take_payload().is_none()); // taken once
    /// ```
    pub fn take_payload(&self) -> Option<Box<dyn Any + Send>> {
        match self.payload.lock() {
            Ok(mut g) => g.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }
}

impl fmt::Debug for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PanicError").field(&self.message).finish()
    }
}

/// The result type of the executor layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;
