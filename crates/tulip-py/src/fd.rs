//! Descriptor numbers from the Python side: checked (`ValueError` for a
//! negative one, as asyncio raises), duplicated, or adopted when the
//! Python side made a duplicate for the native transport alone.

use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// `fd` if it can be a descriptor: asyncio's `ValueError` otherwise.
pub(crate) fn check_fd(fd: RawFd) -> PyResult<RawFd> {
    if fd < 0 {
        return Err(PyValueError::new_err(format!(
            "Invalid file descriptor: {fd}"
        )));
    }
    Ok(fd)
}

/// An owned duplicate of descriptor `fd` (the caller's object keeps its
/// own); `EBADF` for a closed one.
pub(crate) fn dup_fd(fd: RawFd) -> PyResult<OwnedFd> {
    let fd = check_fd(fd)?;
    // SAFETY: the borrow lasts for this `dup` call only; a number that is
    // not an open descriptor makes `dup` fail with `EBADF` (an error, not
    // undefined behaviour), and the duplicate is a new descriptor owned
    // by the returned `OwnedFd`.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    Ok(borrowed.try_clone_to_owned()?)
}

/// Takes ownership of descriptor `fd`, handed over by the Python side.
///
/// # Safety
///
/// `fd` is an open descriptor made for the callee alone (an `os.dup` or an
/// accepted connection the Python side gives up), so the result is its
/// only owner.
pub(crate) unsafe fn adopt_fd(fd: RawFd) -> PyResult<OwnedFd> {
    let fd = check_fd(fd)?;
    // SAFETY: as the function's contract says.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
