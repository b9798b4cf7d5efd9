//! The loop's monotonic clock: real (`Instant::now`), or paused and moved by
//! hand for tests (the virtual clock).
//!
//! Times are kept as nanoseconds since the loop's epoch (`u64`, 584 years),
//! which makes the timer heap's comparisons plain integer compares.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Nanoseconds since the loop's epoch.
pub(crate) type Nanos = u64;

pub(crate) struct Clock {
    epoch: Instant,
    /// `Some(now)` when the clock is paused.
    paused: Option<Cell<Nanos>>,
}

pub(crate) fn to_nanos(d: Duration) -> Nanos {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Clock {
    pub(crate) fn new(paused: bool) -> Clock {
        Clock {
            epoch: Instant::now(),
            paused: paused.then(|| Cell::new(0)),
        }
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.is_some()
    }

    pub(crate) fn now(&self) -> Nanos {
        match &self.paused {
            Some(t) => t.get(),
            None => to_nanos(self.epoch.elapsed()),
        }
    }

    /// The `Instant` a loop time stands for (saturating far in the future).
    pub(crate) fn instant(&self, t: Nanos) -> Instant {
        let d = Duration::from_nanos(t);
        self.epoch
            .checked_add(d)
            .unwrap_or_else(|| self.epoch + Duration::from_secs(u32::MAX as u64))
    }

    /// The loop time of an `Instant` (an instant before the epoch is 0: due).
    pub(crate) fn nanos_of(&self, when: Instant) -> Nanos {
        when.checked_duration_since(self.epoch).map_or(0, to_nanos)
    }

    /// Moves a paused clock forward; false if the clock is real.
    pub(crate) fn advance(&self, d: Duration) -> bool {
        match &self.paused {
            Some(t) => {
                t.set(t.get().saturating_add(to_nanos(d)));
                true
            }
            None => false,
        }
    }

    /// Moves a paused clock forward to `t` if it is behind.
    pub(crate) fn advance_to(&self, t: Nanos) {
        if let Some(now) = &self.paused {
            if now.get() < t {
                now.set(t);
            }
        }
    }
}
