//! Reads into the uninitialised buffers of tokio's `ReadBuf` and hyper's
//! `ReadBufCursor`, for the `tokio-io` and `hyper` features: the socket
//! fills the buffer's unfilled part in place, with no zeroing and no copy.
//!
//! The only `unsafe` code of `tulip-transport`: both APIs hand out their
//! unfilled part as `&mut [MaybeUninit<u8>]` and take back the count of
//! bytes the caller initialised, on the caller's word.

#![allow(unsafe_code)]

use std::io;
use std::task::{Context, Poll, ready};

use crate::net::registration::Registration;

/// tokio's `AsyncRead::poll_read` for a socket.
#[cfg(feature = "tokio-io")]
pub(crate) fn poll_read_tokio(
    io: &Registration,
    cx: &mut Context<'_>,
    buf: &mut tokio::io::ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    // SAFETY: `unfilled_mut` is unsafe because the caller must not
    // de-initialise bytes; `poll_recv_uninit` only writes (through the
    // kernel's `recv`), never uninitialises.
    let unfilled = unsafe { buf.unfilled_mut() };
    let n = ready!(io.poll_recv_uninit(cx, unfilled))?;
    // SAFETY: `poll_recv_uninit` returned `n`, the count of bytes `recv`
    // wrote at the start of the unfilled part: they are initialised.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Poll::Ready(Ok(()))
}

/// hyper's `rt::Read::poll_read` for a socket.
#[cfg(feature = "hyper")]
pub(crate) fn poll_read_hyper(
    io: &Registration,
    cx: &mut Context<'_>,
    mut buf: hyper::rt::ReadBufCursor<'_>,
) -> Poll<io::Result<()>> {
    // SAFETY: `as_mut` is unsafe because the caller must not
    // de-initialise bytes; `poll_recv_uninit` only writes (through the
    // kernel's `recv`), never uninitialises.
    let unfilled = unsafe { buf.as_mut() };
    let n = ready!(io.poll_recv_uninit(cx, unfilled))?;
    // SAFETY: `poll_recv_uninit` returned `n`, the count of bytes `recv`
    // wrote at the start of the cursor's unfilled part: they are
    // initialised, as `advance` requires.
    unsafe { buf.advance(n) };
    Poll::Ready(Ok(()))
}
