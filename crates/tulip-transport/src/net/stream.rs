//! What every connected byte stream of `tulip::net` ([`TcpStream`],
//! [`UnixStream`]) does the same way: the `poll_*` methods and their async
//! forms, `split`/`into_split`, and the I/O traits (futures-io always,
//! tokio-io and hyper's behind the `tokio-io` and `hyper` features), for
//! the stream, for `&stream` (so that one task can read while another
//! writes), and for its halves.
//!
//! Writing: a short write means the socket's buffer is full, so the
//! cached readiness is cleared at once (the next edge brings it back),
//! saving the `EWOULDBLOCK` system call that would otherwise follow.
//! Reading keeps it after a short read: the peer's EOF may have come with
//! the same edge as the last bytes, and no later edge would announce it.
//! `poll_flush` has nothing to do (the streams keep no buffer of their
//! own) and `poll_close` shuts down the writing side.
//!
//! [`TcpStream`]: crate::net::TcpStream
//! [`UnixStream`]: crate::net::UnixStream

/// Implements the stream methods and I/O traits for `$T` (a struct whose
/// `io` field is a [`Registration`](crate::net::registration::Registration)).
/// `$setup` is the start of every doc example: it binds `stream` and its
/// connected `peer` inside `tulip::run(async { ... })`.
macro_rules! stream_impl {
    ($T:ident, $setup:literal) => {
        impl $T {
            /// Reads into `buf`: the count read, 0 at the peer's EOF (or
            /// for an empty `buf`). `Pending` stores the context's waker
            /// for the socket's next readable edge.
            ///
            /// ```
            #[doc = $setup]
            /// peer.write_all(b"hi").await?;
            /// let mut buf = [0; 8];
            /// let n = std::future::poll_fn(|cx| stream.poll_read(cx, &mut buf)).await?;
            /// assert_eq!(&buf[..n], b"hi");
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })??;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn poll_read(
                &self,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_recv(cx, buf)
            }

            /// Writes from `buf`: the count written (the socket's buffer
            /// may take less than all of it).
            ///
            /// ```
            #[doc = $setup]
            /// let n = std::future::poll_fn(|cx| stream.poll_write(cx, b"hello")).await?;
            /// assert_eq!(n, 5);
            /// let mut buf = [0; 5];
            /// peer.read_exact(&mut buf).await?;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })??;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn poll_write(
                &self,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_send(cx, buf)
            }

            /// Writes from several buffers in one system call (`sendmsg`):
            /// the count written.
            ///
            /// ```
            /// use std::io::IoSlice;
            #[doc = $setup]
            /// let bufs = [IoSlice::new(b"hel"), IoSlice::new(b"lo")];
            /// let n = std::future::poll_fn(|cx| stream.poll_write_vectored(cx, &bufs)).await?;
            /// assert_eq!(n, 5);
            /// let mut buf = [0; 5];
            /// peer.read_exact(&mut buf).await?;
            /// assert_eq!(&buf, b"hello");
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })??;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn poll_write_vectored(
                &self,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_send_vectored(cx, bufs)
            }

            /// Flushes: always ready, the stream keeps no buffer (what
            /// `poll_write` accepted is in the kernel's hands).
            ///
            /// ```
            #[doc = $setup]
            /// let flushed = std::future::poll_fn(|cx| stream.poll_flush(cx)).await;
            /// assert!(flushed.is_ok());
            /// # drop(peer);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })??;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn poll_flush(
                &self,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            /// Shuts down the writing side (the peer reads EOF after the
            /// bytes sent); reading goes on. A peer that is already gone is
            /// not an error.
            ///
            /// ```
            #[doc = $setup]
            /// std::future::poll_fn(|cx| stream.poll_close(cx)).await?;
            /// let mut buf = [0; 1];
            /// assert_eq!(peer.read(&mut buf).await?, 0); // EOF
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })??;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn poll_close(
                &self,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.io.close_write())
            }

            /// Reads into `buf` once data is there: the count read, 0 at
            /// the peer's EOF.
            ///
            /// # Cancel safety
            ///
            /// Dropped before it completes, it has read nothing.
            ///
            /// ```
            #[doc = $setup]
            /// peer.write_all(b"ping").await?;
            /// let mut buf = [0; 16];
            /// let n = stream.read(&mut buf).await?;
            /// assert_eq!(&buf[..n], b"ping");
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })??;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub async fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::future::poll_fn(|cx| self.io.poll_recv(cx, buf)).await
            }

            /// Fills `buf` exactly; an EOF first is `UnexpectedEof`.
            ///
            /// # Cancel safety
            ///
            /// Not cancel-safe: dropped midway, the bytes read so far are
            /// lost.
            ///
            /// ```
            #[doc = $setup]
            /// peer.write_all(b"exactly").await?;
            /// let mut buf = [0; 7];
            /// stream.read_exact(&mut buf).await?;
            /// assert_eq!(&buf, b"exactly");
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })??;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub async fn read_exact(&self, mut buf: &mut [u8]) -> std::io::Result<()> {
                while !buf.is_empty() {
                    match self.read(buf).await? {
                        0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                        n => buf = &mut buf[n..],
                    }
                }
                Ok(())
            }

            /// Writes from `buf` once the socket takes data: the count
            /// written.
            ///
            /// # Cancel safety
            ///
            /// Dropped before it completes, it has written nothing.
            ///
            /// ```
            #[doc = $setup]
            /// let n = stream.write(b"pong").await?;
            /// let mut buf = vec![0; n];
            /// peer.read_exact(&mut buf).await?;
            /// assert_eq!(&buf, &b"pong"[..n]);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })??;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub async fn write(&self, buf: &[u8]) -> std::io::Result<usize> {
                std::future::poll_fn(|cx| self.io.poll_send(cx, buf)).await
            }

            /// Writes all of `buf`, waiting for room as often as needed.
            ///
            /// # Cancel safety
            ///
            /// Not cancel-safe: dropped midway, a prefix of `buf` may have
            /// been sent.
            ///
            /// ```
            #[doc = $setup]
            /// stream.write_all(&[7; 100_000]).await?; // more than a socket buffer
            /// # let mut buf = vec![0; 100_000];
            /// # peer.read_exact(&mut buf).await?;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })??;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub async fn write_all(&self, mut buf: &[u8]) -> std::io::Result<()> {
                while !buf.is_empty() {
                    match self.write(buf).await? {
                        0 => return Err(std::io::ErrorKind::WriteZero.into()),
                        n => buf = &buf[n..],
                    }
                }
                Ok(())
            }

            /// Shuts down the writing side: the async form of
            /// [`poll_close`](Self::poll_close).
            ///
            /// ```
            #[doc = $setup]
            /// stream.write_all(b"last words").await?;
            /// stream.close().await?;
            /// let mut buf = Vec::new();
            /// tulip::io::AsyncReadExt::read_to_end(&mut peer, &mut buf).await?;
            /// assert_eq!(buf, b"last words");
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })??;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub async fn close(&self) -> std::io::Result<()> {
                self.io.close_write()
            }

            /// Shuts down reading, writing or both (`shutdown(2)`); the
            /// socket stays open until the stream is dropped.
            ///
            /// ```
            /// use std::net::Shutdown;
            #[doc = $setup]
            /// stream.shutdown(Shutdown::Write)?;
            /// let mut buf = [0; 1];
            /// assert_eq!(peer.read(&mut buf).await?, 0);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })??;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
                self.io.shutdown(how)
            }

            /// Borrows the stream as a reading and a writing half (for a
            /// `select` or `join` of a read and a write in one task).
            ///
            /// With futures' `AsyncReadExt` in scope (`tulip::prelude` and
            /// `tulip::io` have it), method-call syntax `stream.split()`
            /// finds that trait's by-value `split` first: call this one as
            /// `TcpStream::split(&stream)` (or `UnixStream::split`) there.
            ///
            /// ```
            #[doc = $setup]
            /// use tulip::io::{AsyncReadExt, AsyncWriteExt};
            /// // AsyncReadExt is in scope: name the inherent split.
            #[doc = concat!("let (mut reader, mut writer) = ", stringify!($T), "::split(&stream);")]
            /// writer.write_all(b"x").await?;
            /// let mut buf = [0; 1];
            /// peer.read_exact(&mut buf).await?;
            /// peer.write_all(&buf).await?;
            /// reader.read_exact(&mut buf).await?;
            /// assert_eq!(&buf, b"x");
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })??;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn split(
                &self,
            ) -> (
                $crate::net::ReadHalf<'_, $T>,
                $crate::net::WriteHalf<'_, $T>,
            ) {
                (
                    $crate::net::ReadHalf { stream: self },
                    $crate::net::WriteHalf { stream: self },
                )
            }

            /// Splits the stream into halves that own it together, so that
            /// each can move into a task of its own; see
            /// [`OwnedReadHalf::reunite`](crate::net::OwnedReadHalf::reunite).
            ///
            /// ```
            #[doc = $setup]
            /// use tulip::io::AsyncReadExt;
            /// let (mut reader, writer) = stream.into_split();
            /// let reading = tulip::spawn(async move {
            ///     let mut buf = [0; 2];
            ///     reader.read_exact(&mut buf).await.map(|_| buf)
            /// });
            /// peer.write_all(b"ok").await?;
            /// assert_eq!(&reading.await??, b"ok");
            /// # drop(writer);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })??;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn into_split(
                self,
            ) -> (
                $crate::net::OwnedReadHalf<$T>,
                $crate::net::OwnedWriteHalf<$T>,
            ) {
                let stream = std::rc::Rc::new(self);
                (
                    $crate::net::OwnedReadHalf {
                        stream: stream.clone(),
                    },
                    $crate::net::OwnedWriteHalf { stream },
                )
            }

            /// The loop the stream is registered with.
            ///
            /// ```
            #[doc = $setup]
            /// assert!(stream.get_loop().is_running());
            /// # drop(peer);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })??;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn get_loop(&self) -> tulip_executor::Loop {
                self.io.get_loop().clone()
            }
        }

        impl std::os::fd::AsFd for $T {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.io.fd()
            }
        }

        impl std::os::fd::AsRawFd for $T {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&self.io.fd())
            }
        }

        $crate::net::stream::stream_traits!($T);
        $crate::net::stream::stream_traits!(&$T);
    };
}

/// The I/O traits for one type `$S` whose `poll_*` inherent methods (or
/// those of the stream it dereferences to) do the work.
macro_rules! stream_traits {
    (&$T:ident) => {
        $crate::net::stream::stream_traits!(@impl ['a] &'a $T);
    };
    ($T:ident) => {
        $crate::net::stream::stream_traits!(@impl [] $T);
    };
    (@impl [$($lt:lifetime)?] $S:ty) => {
        impl<$($lt)?> futures_io::AsyncRead for $S {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_recv(cx, buf)
            }
        }

        impl<$($lt)?> futures_io::AsyncWrite for $S {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_send(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_send_vectored(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.io.close_write())
            }
        }

        #[cfg(feature = "tokio-io")]
        impl<$($lt)?> tokio::io::AsyncRead for $S {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                $crate::net::io_ext::poll_read_tokio(&self.io, cx, buf)
            }
        }

        #[cfg(feature = "tokio-io")]
        impl<$($lt)?> tokio::io::AsyncWrite for $S {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_send(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_send_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.io.close_write())
            }
        }

        #[cfg(feature = "hyper")]
        impl<$($lt)?> hyper::rt::Read for $S {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: hyper::rt::ReadBufCursor<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                $crate::net::io_ext::poll_read_hyper(&self.io, cx, buf)
            }
        }

        #[cfg(feature = "hyper")]
        impl<$($lt)?> hyper::rt::Write for $S {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_send(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_send_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.io.close_write())
            }
        }
    };
}

pub(crate) use {stream_impl, stream_traits};
