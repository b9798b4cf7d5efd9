//! [`without_sigpipe`]: the one place where tulip makes a write that has
//! no `MSG_NOSIGNAL` (`write`, `writev`, `sendfile`) safe from `SIGPIPE`.

/// Runs `call`, one system call that may write to a pipe or socket whose
/// other end is gone, so that it can never deliver `SIGPIPE`, whatever the
/// process's disposition: the call fails with `EPIPE` instead.
///
/// Rust programs ignore `SIGPIPE`, but a C or Python host embedding tulip
/// may have left it at `SIG_DFL`, where such a write kills the process.
/// `SIGPIPE` is blocked on the calling thread for the call only (the
/// process's disposition and other threads are untouched); when the call
/// fails with `EPIPE`, the signal it raised (thread-directed, so it is
/// ours) is taken from the pending set before the mask is restored. A
/// `SIGPIPE` pending before the call is left alone.
///
/// Cost: one `rt_sigaction` query when `SIGPIPE` is ignored (as in every
/// Rust program), else two `rt_sigprocmask` calls around `call` (two more
/// on `EPIPE`). Sockets need none of this: send with `MSG_NOSIGNAL`
/// instead.
///
/// ```
/// use std::io::ErrorKind;
/// use tulip::reactor::without_sigpipe;
///
/// let (reader, writer) = rustix::pipe::pipe()?;
/// drop(reader);
/// let err = without_sigpipe(|| rustix::io::write(&writer, b"x")).unwrap_err();
/// assert_eq!(std::io::Error::from(err).kind(), ErrorKind::BrokenPipe);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn without_sigpipe<T>(call: impl FnOnce() -> rustix::io::Result<T>) -> rustix::io::Result<T> {
    crate::sys::without_sigpipe(call)
}
