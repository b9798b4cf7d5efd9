//! The halves of a `tulip::net` stream: [`ReadHalf`] and [`WriteHalf`]
//! borrow the stream, [`OwnedReadHalf`] and [`OwnedWriteHalf`] share it (an
//! `Rc`, so that two tasks of the loop can read and write at once), and
//! [`reunite`](OwnedReadHalf::reunite) puts the stream back together.
//!
//! A half does what the stream does in its direction: the traits of the
//! stream (futures-io, and tokio-io and hyper's behind their features)
//! are implemented for the half whose direction they name. The writing
//! side of the stream stays open when an owned write half is dropped (the
//! socket closes when both halves are gone); shut it down first with
//! `close`/`poll_close` to send the peer an EOF.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// The reading half of a borrowed stream, from
/// [`TcpStream::split`](crate::net::TcpStream::split) or
/// [`UnixStream::split`](crate::net::UnixStream::split).
///
/// ```
/// use tulip::io::{AsyncReadExt, AsyncWriteExt};
/// use tulip::net::UnixStream;
///
/// tulip::run(async {
///     let (stream, mut peer) = UnixStream::pair()?;
///     let (mut reader, mut writer) = stream.split();
///     writer.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     peer.read_exact(&mut buf).await?;
///     peer.write_all(&buf).await?;
///     reader.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ReadHalf<'a, T> {
    pub(crate) stream: &'a T,
}

/// The writing half of a borrowed stream (see [`ReadHalf`]).
///
/// ```
/// use tulip::io::AsyncWriteExt;
/// use tulip::net::UnixStream;
///
/// tulip::run(async {
///     let (stream, peer) = UnixStream::pair()?;
///     let (_reader, mut writer) = stream.split();
///     writer.write_all(b"hello").await?;
///     let mut buf = [0; 5];
///     peer.read(&mut buf).await?;
///     assert_eq!(&buf, b"hello");
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct WriteHalf<'a, T> {
    pub(crate) stream: &'a T,
}

/// The reading half of a stream, owned: it can move into a task of its
/// own (on the same loop).
///
/// ```
/// use tulip::io::{AsyncReadExt, AsyncWriteExt};
/// use tulip::net::UnixStream;
///
/// tulip::run(async {
///     let (stream, peer) = UnixStream::pair()?;
///     let (mut reader, mut writer) = stream.into_split();
///     let echo = tulip::spawn(async move {
///         let mut buf = [0; 4];
///         reader.read_exact(&mut buf).await.map(|_| buf)
///     });
///     peer.write_all(b"ping").await?;
///     assert_eq!(&echo.await??, b"ping");
///     writer.close().await?;
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct OwnedReadHalf<T> {
    pub(crate) stream: Rc<T>,
}

/// The writing half of a stream, owned (see [`OwnedReadHalf`]).
///
/// ```
/// use tulip::io::AsyncWriteExt;
/// use tulip::net::UnixStream;
///
/// tulip::run(async {
///     let (stream, peer) = UnixStream::pair()?;
///     let (_reader, mut writer) = stream.into_split();
///     writer.write_all(b"bye").await?;
///     writer.close().await?; // the peer reads EOF after the bytes
///     let mut buf = Vec::new();
///     let mut peer = peer;
///     tulip::io::AsyncReadExt::read_to_end(&mut peer, &mut buf).await?;
///     assert_eq!(buf, b"bye");
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct OwnedWriteHalf<T> {
    pub(crate) stream: Rc<T>,
}

impl<T> OwnedReadHalf<T> {
    /// Puts the stream back together from its two halves; fails (handing
    /// both back) when they came from different streams.
    ///
    /// ```
    /// use tulip::net::UnixStream;
    ///
    /// tulip::run(async {
    ///     let (a, b) = UnixStream::pair()?;
    ///     let (a_read, a_write) = a.into_split();
    ///     let (b_read, b_write) = b.into_split();
    ///     let mismatched = a_read.reunite(b_write).unwrap_err();
    ///     let (a_read, b_write) = (mismatched.0, mismatched.1);
    ///     let _a: UnixStream = a_read.reunite(a_write)?;
    ///     let _b: UnixStream = b_read.reunite(b_write)?;
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reunite(self, other: OwnedWriteHalf<T>) -> Result<T, ReuniteError<T>> {
        if !Rc::ptr_eq(&self.stream, &other.stream) {
            return Err(ReuniteError(self, other));
        }
        drop(other);
        match Rc::try_unwrap(self.stream) {
            Ok(stream) => Ok(stream),
            Err(_) => unreachable!("only the two halves hold the stream"),
        }
    }
}

impl<T> OwnedWriteHalf<T> {
    /// [`OwnedReadHalf::reunite`] from the other side.
    ///
    /// ```
    /// use tulip::net::UnixStream;
    ///
    /// tulip::run(async {
    ///     let (a, _b) = UnixStream::pair()?;
    ///     let (read, write) = a.into_split();
    ///     let _a: UnixStream = write.reunite(read)?;
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reunite(self, other: OwnedReadHalf<T>) -> Result<T, ReuniteError<T>> {
        other.reunite(self)
    }
}

/// The halves given to `reunite` came from two different streams: both
/// are handed back.
///
/// ```
/// use tulip::net::UnixStream;
///
/// tulip::run(async {
///     let (a, b) = UnixStream::pair()?;
///     let (a_read, _a_write) = a.into_split();
///     let (_b_read, b_write) = b.into_split();
///     let err = a_read.reunite(b_write).unwrap_err();
///     assert_eq!(err.to_string(), "tried to reunite halves of different streams");
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ReuniteError<T>(pub OwnedReadHalf<T>, pub OwnedWriteHalf<T>);

impl<T> fmt::Debug for ReuniteError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<T> fmt::Display for ReuniteError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of different streams")
    }
}

impl<T> std::error::Error for ReuniteError<T> {}

/// The I/O traits of a half: the reading ones for a read half, the
/// writing ones for a write half, each done by `&T`'s implementation.
macro_rules! half_traits {
    ($Read:ident $(<$lt:lifetime>)?, $Write:ident, $stream:ident) => {
        impl<$($lt,)? T> futures_io::AsyncRead for $Read<$($lt,)? T>
        where
            for<'b> &'b T: futures_io::AsyncRead,
        {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut &*self.$stream).poll_read(cx, buf)
            }
        }

        impl<$($lt,)? T> futures_io::AsyncWrite for $Write<$($lt,)? T>
        where
            for<'b> &'b T: futures_io::AsyncWrite,
        {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut &*self.$stream).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut &*self.$stream).poll_write_vectored(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut &*self.$stream).poll_flush(cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut &*self.$stream).poll_close(cx)
            }
        }

        #[cfg(feature = "tokio-io")]
        impl<$($lt,)? T> tokio::io::AsyncRead for $Read<$($lt,)? T>
        where
            for<'b> &'b T: tokio::io::AsyncRead,
        {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                Pin::new(&mut &*self.$stream).poll_read(cx, buf)
            }
        }

        #[cfg(feature = "tokio-io")]
        impl<$($lt,)? T> tokio::io::AsyncWrite for $Write<$($lt,)? T>
        where
            for<'b> &'b T: tokio::io::AsyncWrite,
        {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut &*self.$stream).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut &*self.$stream).poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                tokio::io::AsyncWrite::is_write_vectored(&&*self.$stream)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut &*self.$stream).poll_flush(cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut &*self.$stream).poll_shutdown(cx)
            }
        }

        #[cfg(feature = "hyper")]
        impl<$($lt,)? T> hyper::rt::Read for $Read<$($lt,)? T>
        where
            for<'b> &'b T: hyper::rt::Read,
        {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: hyper::rt::ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                Pin::new(&mut &*self.$stream).poll_read(cx, buf)
            }
        }

        #[cfg(feature = "hyper")]
        impl<$($lt,)? T> hyper::rt::Write for $Write<$($lt,)? T>
        where
            for<'b> &'b T: hyper::rt::Write,
        {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut &*self.$stream).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut &*self.$stream).poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                hyper::rt::Write::is_write_vectored(&&*self.$stream)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut &*self.$stream).poll_flush(cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut &*self.$stream).poll_shutdown(cx)
            }
        }
    };
}

half_traits!(ReadHalf<'a>, WriteHalf, stream);
half_traits!(OwnedReadHalf, OwnedWriteHalf, stream);
