//! Interest and readiness: which directions of a file descriptor are watched,
//! and which ones the OS reported ready.

use std::fmt;

/// The directions of a file descriptor the reactor watches.
///
/// ```
/// use tulip::reactor::Interest;
/// let both = Interest::READ | Interest::WRITE;
/// assert!(both.is_readable() && both.is_writable());
/// assert!(Interest::NONE.is_empty());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interest(u8);

impl Interest {
    /// No direction.
    pub const NONE: Interest = Interest(0);
    /// Readability (asyncio's `EVENT_READ`).
    pub const READ: Interest = Interest(1);
    /// Writability (asyncio's `EVENT_WRITE`).
    pub const WRITE: Interest = Interest(2);
    /// Both directions.
    pub const BOTH: Interest = Interest(3);

    /// Whether read interest is included.
    ///
    /// ```
    /// use tulip::reactor::Interest;
    /// assert!(Interest::READ.is_readable());
    /// assert!(!Interest::WRITE.is_readable());
    /// ```
    pub const fn is_readable(self) -> bool {
        self.0 & 1 != 0
    }

    /// Whether write interest is included.
    ///
    /// ```
    /// use tulip::reactor::Interest;
    /// assert!(Interest::BOTH.is_writable());
    /// assert!(!Interest::READ.is_writable());
    /// ```
    pub const fn is_writable(self) -> bool {
        self.0 & 2 != 0
    }

    /// Whether no direction is included.
    ///
    /// ```
    /// use tulip::reactor::Interest;
    /// assert!(Interest::NONE.is_empty());
    /// assert!(!Interest::READ.is_empty());
    /// ```
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The interest with `other`'s directions added.
    ///
    /// ```
    /// use tulip::reactor::Interest;
    /// assert_eq!(Interest::READ.add(Interest::WRITE), Interest::BOTH);
    /// ```
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// The interest with `other`'s directions removed.
    ///
    /// ```
    /// use tulip::reactor::Interest;
    /// assert_eq!(Interest::BOTH.remove(Interest::READ), Interest::WRITE);
    /// assert!(Interest::READ.remove(Interest::READ).is_empty());
    /// ```
    pub const fn remove(self, other: Interest) -> Interest {
        Interest(self.0 & !other.0)
    }

    /// Whether every direction of `other` is included.
    ///
    /// ```
    /// use tulip::reactor::Interest;
    /// assert!(Interest::BOTH.contains(Interest::READ));
    /// assert!(!Interest::READ.contains(Interest::BOTH));
    /// assert!(Interest::READ.contains(Interest::NONE));
    /// ```
    pub const fn contains(self, other: Interest) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Interest {
    type Output = Interest;
    fn bitor(self, rhs: Interest) -> Interest {
        self.add(rhs)
    }
}

impl std::ops::BitOrAssign for Interest {
    fn bitor_assign(&mut self, rhs: Interest) {
        *self = self.add(rhs);
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (false, false) => f.write_str("NONE"),
            (true, false) => f.write_str("READ"),
            (false, true) => f.write_str("WRITE"),
            (true, true) => f.write_str("READ | WRITE"),
        }
    }
}

/// What the OS reported for one file descriptor in one poll.
///
/// As in asyncio's selectors, an error or hang-up condition makes a file
/// descriptor both readable and writable, so that whoever waits on it runs
/// and learns the error from its next system call.
///
/// ```
/// use tulip::reactor::{Interest, Readiness};
/// let r = Readiness { readable: true, writable: false, read_closed: false };
/// assert_eq!(r, Readiness::from_interest(Interest::READ));
/// assert!(!r.is_empty());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct Readiness {
    /// The descriptor can be read without blocking (or has an error or hang-up).
    pub readable: bool,
    /// The descriptor can be written without blocking (or has an error or hang-up).
    pub writable: bool,
    /// The peer closed its end of the stream, or an error or hang-up was
    /// reported (epoll's `EPOLLRDHUP`, `EPOLLHUP`, `EPOLLERR`): reading
    /// will not block again, and no later edge would say so. The portable
    /// backend cannot tell a close from data, so it sets this with every
    /// readable event.
    pub read_closed: bool,
}

impl Readiness {
    /// Readiness in the directions of `interest`.
    ///
    /// ```
    /// use tulip::reactor::{Interest, Readiness};
    /// let both = Readiness::from_interest(Interest::BOTH);
    /// assert!(both.readable && both.writable);
    /// ```
    pub const fn from_interest(interest: Interest) -> Readiness {
        Readiness {
            readable: interest.is_readable(),
            writable: interest.is_writable(),
            read_closed: false,
        }
    }

    /// Whether neither direction is ready.
    ///
    /// ```
    /// use tulip::reactor::{Interest, Readiness};
    /// assert!(Readiness::default().is_empty());
    /// assert!(!Readiness::from_interest(Interest::WRITE).is_empty());
    /// ```
    pub const fn is_empty(self) -> bool {
        !self.readable && !self.writable
    }
}
