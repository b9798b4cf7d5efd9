//! The typed errors of [`tulip::channel`](crate::channel): a failed send
//! gives its value back.

use std::error::Error as StdError;
use std::fmt;

/// [`Sender::send`](super::Sender::send) (or
/// [`send_blocking`](super::Sender::send_blocking)) on a closed channel:
/// the value comes back in field `0`.
///
/// ```
/// use tulip::channel;
///
/// let (tx, rx) = channel::unbounded::<String>();
/// drop(rx); // the receiver is gone: the channel is closed
/// let err = tx.send_blocking("hello".to_string()).unwrap_err();
/// assert_eq!(err.into_inner(), "hello");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let (tx, rx) = tulip::channel::unbounded();
    /// rx.close();
    /// assert_eq!(tx.try_send(7).unwrap_err().into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a closed channel")
    }
}

impl<T> StdError for SendError<T> {}

/// [`Sender::try_send`](super::Sender::try_send) could not send now: the
/// bounded channel is full, or the channel is closed. Either way the value
/// comes back.
///
/// ```
/// use tulip::channel::{self, TrySendError};
///
/// let (tx, rx) = channel::bounded(1);
/// tx.try_send(1).unwrap();
/// assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
/// rx.close();
/// assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The bounded channel holds `capacity` messages already.
    Full(T),
    /// The channel is closed (by [`close`](super::Sender::close), the last
    /// sender's drop or the receiver's drop).
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let (tx, _rx) = tulip::channel::bounded(1);
    /// tx.try_send("a").unwrap();
    /// assert_eq!(tx.try_send("b").unwrap_err().into_inner(), "b");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }

    /// Whether the channel was full (rather than closed).
    ///
    /// ```
    /// let (tx, _rx) = tulip::channel::bounded(1);
    /// tx.try_send(()).unwrap();
    /// assert!(tx.try_send(()).unwrap_err().is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// Whether the channel was closed.
    ///
    /// ```
    /// let (tx, rx) = tulip::channel::unbounded();
    /// drop(rx);
    /// assert!(tx.try_send(()).unwrap_err().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("sending on a full channel"),
            TrySendError::Closed(_) => f.write_str("sending on a closed channel"),
        }
    }
}

impl<T> StdError for TrySendError<T> {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        TrySendError::Closed(e.0)
    }
}

/// [`Receiver::recv`](super::Receiver::recv): the channel is closed and
/// every message sent before was received.
///
/// ```
/// let (tx, rx) = tulip::channel::unbounded::<u8>();
/// drop(tx);
/// tulip::run(async move {
///     assert_eq!(rx.recv().await, Err(tulip::channel::RecvError));
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("receiving on a closed and empty channel")
    }
}

impl StdError for RecvError {}

/// [`Receiver::try_recv`](super::Receiver::try_recv) has nothing to give.
///
/// ```
/// use tulip::channel::{self, TryRecvError};
///
/// let (tx, rx) = channel::unbounded::<u8>();
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// No message now; the channel is still open.
    Empty,
    /// The channel is closed and every message was received.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Closed => f.write_str("receiving on a closed and empty channel"),
        }
    }
}

impl StdError for TryRecvError {}

impl From<RecvError> for TryRecvError {
    fn from(_: RecvError) -> Self {
        TryRecvError::Closed
    }
}
