//! The executor's operating-system boundary: what needs `unsafe` calls into
//! the C library. Every OS-specific `cfg` of the crate belongs under this
//! module.

pub(crate) mod affinity;
#[cfg(unix)]
pub(crate) mod ids;
#[cfg(unix)]
pub(crate) mod signals;
