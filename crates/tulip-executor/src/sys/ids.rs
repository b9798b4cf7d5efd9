//! The ids `tulip-ps` reports and checks: the calling thread's OS thread id
//! (what `ps -L` and asyncio's `ps` show) and the real user id (whose
//! private directory the sockets live in).

/// The calling thread's OS thread id (Linux's `gettid`); elsewhere the
/// process id, the best stable number a user can match with `ps`.
#[cfg(target_os = "linux")]
pub(crate) fn thread_id() -> u64 {
    // SAFETY: `gettid` takes no arguments, cannot fail and touches no memory.
    let tid = unsafe { libc::gettid() };
    u64::try_from(tid).unwrap_or(0)
}

/// The calling thread's OS thread id (Linux's `gettid`); elsewhere the
/// process id, the best stable number a user can match with `ps`.
#[cfg(all(unix, not(target_os = "linux")))]
pub(crate) fn thread_id() -> u64 {
    u64::from(std::process::id())
}

/// The real user id of the process.
#[cfg(unix)]
pub(crate) fn user_id() -> u32 {
    // SAFETY: `getuid` takes no arguments, cannot fail and touches no memory.
    unsafe { libc::getuid() }
}
