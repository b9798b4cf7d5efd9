//! What the completion drivers (stream, datagram, server) share: the slot
//! of one operation in flight, and reading a completion's error.

use std::cell::Cell;
use std::io;

use tulip_executor::Loop;
use tulip_reactor::OpId;

/// One operation in flight (or none), and whether its cancel was asked.
#[derive(Default)]
pub(crate) struct Slot(Cell<Option<(OpId, bool)>>);

impl Slot {
    pub(crate) fn id(&self) -> Option<OpId> {
        self.0.get().map(|(id, _)| id)
    }

    pub(crate) fn is_busy(&self) -> bool {
        self.0.get().is_some()
    }

    pub(crate) fn is(&self, id: OpId) -> bool {
        self.id() == Some(id)
    }

    pub(crate) fn set(&self, id: OpId) {
        self.0.set(Some((id, false)));
    }

    pub(crate) fn clear(&self) {
        self.0.set(None);
    }

    /// Asks the kernel to cancel the operation, once (its final
    /// completion still comes).
    pub(crate) fn cancel(&self, lp: &Loop) {
        if let Some((id, false)) = self.0.get() {
            self.0.set(Some((id, true)));
            lp.cancel_op(id);
        }
    }
}

/// Whether a completion's error is the cancel that was asked for.
pub(crate) fn is_cancelled(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::CANCELED.raw_os_error())
}

/// An owned copy of a completion's error (an OS error keeps its code, so
/// it maps to the same typed error as on readiness).
pub(crate) fn own_error(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}
