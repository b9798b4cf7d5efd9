//! Debug mode (asyncio's `loop.set_debug`, `PYTHONASYNCIODEBUG`): slow
//! callback warnings naming where the callback or task was created, plus the
//! one place tulip writes its diagnostics.
//!
//! Diagnostics go through the `log` facade when a logger is installed;
//! otherwise they are printed to standard error, as Python's logging does
//! with its last-resort handler, so that a panic in a callback is never
//! silent.

use std::cell::Cell;
use std::time::Duration;

/// The environment variable that turns debug mode on for new loops (`1`).
pub const DEBUG_ENV: &str = "TULIP_DEBUG";

/// The default `slow_callback_duration` (asyncio's 100 ms).
pub const DEFAULT_SLOW_CALLBACK_DURATION: Duration = Duration::from_millis(100);

pub(crate) struct DebugSettings {
    enabled: Cell<bool>,
    slow: Cell<Duration>,
}

/// Whether `TULIP_DEBUG` asks for debug mode.
pub(crate) fn env_debug() -> bool {
    std::env::var(DEBUG_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

impl DebugSettings {
    pub(crate) fn new(enabled: bool) -> DebugSettings {
        DebugSettings {
            enabled: Cell::new(enabled),
            slow: Cell::new(DEFAULT_SLOW_CALLBACK_DURATION),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled.get()
    }

    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.set(on);
    }

    pub(crate) fn slow_callback_duration(&self) -> Duration {
        self.slow.get()
    }

    pub(crate) fn set_slow_callback_duration(&self, d: Duration) {
        self.slow.set(d);
    }
}

/// Writes a warning through `log`, or to standard error without a logger.
pub(crate) fn warn(msg: &str) {
    if log::max_level() >= log::Level::Warn {
        log::warn!(target: "tulip", "{msg}");
    } else {
        eprintln!("tulip: WARNING: {msg}");
    }
}

/// Writes an error through `log`, or to standard error without a logger.
pub(crate) fn error(msg: &str) {
    if log::max_level() >= log::Level::Error {
        log::error!(target: "tulip", "{msg}");
    } else {
        eprintln!("tulip: ERROR: {msg}");
    }
}
