//! The Rust ecosystem's I/O traits on streams: `futures_io::AsyncRead`
//! and `AsyncBufRead` on [`StreamReader`], `AsyncWrite` on
//! [`StreamWriter`] (their semantics are in the crate documentation).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};

use crate::reader::StreamReader;
use crate::writer::StreamWriter;

impl AsyncRead for StreamReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.lent.is_empty() {
            let n = buf.len().min(this.lent.len());
            buf[..n].copy_from_slice(&this.lent.data()[..n]);
            this.lent.consume(n);
            this.shared.borrow_mut().reader.consumed_lent(n);
            return Poll::Ready(Ok(n));
        }
        this.merge_lent();
        let res = ready!(this.shared.borrow_mut().reader.poll_read_into(cx, buf));
        Poll::Ready(res.map_err(io::Error::from))
    }
}

impl AsyncBufRead for StreamReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.lent.is_empty() {
            let mut p = this.shared.borrow_mut();
            let core = &mut p.reader;
            if let Err(e) = ready!(core.poll_data(cx)) {
                return Poll::Ready(Err(e.into()));
            }
            if core.buffer.is_empty() {
                return Poll::Ready(Ok(&[])); // EOF
            }
            // Lend the whole buffer: the protocol starts a fresh one.
            this.lent.release();
            std::mem::swap(&mut core.buffer, &mut this.lent);
            core.lent = this.lent.len();
        }
        Poll::Ready(Ok(this.lent.data()))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        let n = amt.min(this.lent.len());
        if n == 0 {
            return;
        }
        this.lent.consume(n);
        this.shared.borrow_mut().reader.consumed_lent(n);
    }
}

impl AsyncWrite for StreamWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_writable(cx))?;
        self.write(buf)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_writable(cx))?;
        let slices: Vec<&[u8]> = bufs.iter().map(|b| &**b).collect();
        self.transport()
            .writelines(&slices)
            .map_err(io::Error::from)?;
        Poll::Ready(Ok(total))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let res = ready!(self.poll_flush_inner(cx));
        Poll::Ready(res.map_err(io::Error::from))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let res = ready!(self.get_mut().poll_close_inner(cx));
        Poll::Ready(res.map_err(io::Error::from))
    }
}
