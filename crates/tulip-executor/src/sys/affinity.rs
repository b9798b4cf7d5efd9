//! CPU affinity of threads, for
//! [`LoopGroupBuilder::pin_cores`](crate::LoopGroupBuilder::pin_cores): the CPUs this thread may run on,
//! and pinning the calling thread to one of them. Linux only (through the
//! C library's `sched_getaffinity` / `sched_setaffinity`); elsewhere both
//! report [`io::ErrorKind::Unsupported`].

use std::io;

/// The CPUs the calling thread may run on, in increasing order (its
/// affinity mask: a container's or `taskset`'s restriction shows here).
#[cfg(target_os = "linux")]
pub(crate) fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: `cpu_set_t` is a plain bit array, for which all zeroes is a
    // valid (empty) value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable `cpu_set_t` of the size passed;
    // pid 0 is the calling thread.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let setsize = usize::try_from(libc::CPU_SETSIZE).unwrap_or(0);
    // SAFETY: every index is below `CPU_SETSIZE`, the bit size of `set`.
    Ok((0..setsize)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Pins the calling thread to `cpu`.
#[cfg(target_os = "linux")]
pub(crate) fn pin_current_thread(cpu: usize) -> io::Result<()> {
    let setsize = usize::try_from(libc::CPU_SETSIZE).unwrap_or(0);
    if cpu >= setsize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("CPU {cpu} is beyond the {setsize} CPUs an affinity mask holds"),
        ));
    }
    // SAFETY: all zeroes is the empty `cpu_set_t`, as above.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` was checked to be below `CPU_SETSIZE`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid `cpu_set_t` of the size passed; pid 0 is the
    // calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "pinning threads to CPUs is only supported on Linux",
    )
}

/// The CPUs the calling thread may run on: unsupported here.
#[cfg(not(target_os = "linux"))]
pub(crate) fn allowed_cpus() -> io::Result<Vec<usize>> {
    Err(unsupported())
}

/// Pins the calling thread to `cpu`: unsupported here.
#[cfg(not(target_os = "linux"))]
pub(crate) fn pin_current_thread(_cpu: usize) -> io::Result<()> {
    Err(unsupported())
}
