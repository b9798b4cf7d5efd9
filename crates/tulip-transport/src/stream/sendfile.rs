//! Sending files: asyncio's `loop.sock_sendfile` (a file to a socket the
//! caller owns) and `loop.sendfile` (a file to a transport).
//!
//! The zero-copy path is Linux's `sendfile(2)`: the kernel moves the
//! file's pages to the socket, the bytes never visit user space. It needs a
//! regular file and a stream socket; when it cannot be used (the file is a
//! pipe, the transport is not a plain socket transport, the system call is
//! refused before anything was sent) the operation fails with
//! [`Error::SendfileNotAvailable`], or, with `fallback`, reads the file in
//! chunks (on the loop's worker threads, so a slow disk never stalls the
//! loop) and sends them.
//!
//! The file's position, as in asyncio: the data is read from `offset`,
//! whatever the position was; afterwards (on success, error or
//! cancellation alike) a file that can seek is left at `offset` plus the
//! bytes sent, when any were sent, so that its position tells how far the
//! transfer went. A file that cannot seek (a pipe) is read from where it
//! is, and is simply consumed.
//!
//! # Cancel safety
//!
//! Dropping the future stops the transfer between two system calls: the
//! peer may have received part of the file (the file's position says how
//! much was handed to the kernel). A transport gets its state back (writes
//! allowed, reading resumed, its protocol restored).

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::future::{Future, poll_fn};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};

use rustix::fs::{OFlags, SeekFrom};
use rustix::io::Errno;
use tulip_executor::{Error as LoopError, Loop, LoopFuture};
use tulip_reactor::without_sigpipe;

use crate::error::{Error, Result};
use crate::protocols::{BaseProtocol, Protocol, ProtocolRef};
use crate::sock::wait_fd;
use crate::sock_ops::{check_nonblocking, retry, send_all};
use crate::stream::readbuf::{BufferedRead, read_buffered};
use crate::stream::socket::{Kind, SocketTransport};
use crate::transports::Transport;

/// The read buffer of [`sock_sendfile`]'s fallback (asyncio's
/// `SENDFILE_FALLBACK_READBUFFER_SIZE`).
const SOCK_FALLBACK_CHUNK: usize = 256 * 1024;

/// The chunk [`sendfile`]'s fallback writes to a transport at a time: the
/// default high-water mark, so the transport's buffer stays near it.
const TRANSPORT_FALLBACK_CHUNK: usize = crate::transports::DEFAULT_HIGH_WATER;

/// The most Linux's `sendfile` moves in one call.
const MAX_SENDFILE: u64 = 0x7fff_f000;

/// asyncio's `sock_sendfile`: sends `count` bytes of `file` from `offset`
/// (up to its end when `None`) over the connected stream socket `sock`;
/// the number of bytes sent (fewer than `count` only when the file ends
/// first).
///
/// Errors: [`Error::InvalidInput`] for a blocking or non-stream socket
/// or a `count` of 0; [`Error::SendfileNotAvailable`] when `fallback` is
/// off and the zero-copy path cannot be used; I/O errors of the transfer.
///
/// # Cancel safety
///
/// Dropped midway, part of the file may have been sent; the file's
/// position is left after the last byte handed to the kernel.
pub(crate) async fn sock_sendfile(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    file: &File,
    offset: u64,
    count: Option<u64>,
    fallback: bool,
) -> Result<u64> {
    check_nonblocking(sock)?;
    if rustix::net::sockopt::socket_type(sock)? != rustix::net::SocketType::STREAM {
        return Err(Error::InvalidInput(String::from(
            "only SOCK_STREAM type sockets are supported",
        )));
    }
    check_count(count)?;
    let progress = Progress::new(file, offset)?;
    match send_native(lp, sock, file, offset, count, None, &progress).await {
        Err(Error::SendfileNotAvailable(_)) if fallback => {}
        done => return done,
    }
    let mut reader = ChunkReader::new(file, offset, count, SOCK_FALLBACK_CHUNK)?;
    loop {
        let data = reader.next(lp, progress.sent.get()).await?;
        if data.is_empty() {
            break;
        }
        send_all(lp, sock, data).await?;
        progress.add(data.len());
    }
    Ok(progress.sent.get())
}

/// asyncio's `loop.sendfile`: sends `count` bytes of `file` from `offset`
/// (up to its end when `None`) over `transport`, after everything written
/// to it before; the number of bytes sent.
///
/// A socket transport uses the zero-copy path: it waits until its write
/// buffer is flushed, refuses writes and pauses reading while the kernel
/// sends the file, then resumes. Any other transport (or a file the kernel
/// cannot send) takes the fallback when `fallback` is on: the file is read
/// in chunks and written through the transport with its flow control
/// respected, while a stand-in protocol keeps the transport's
/// `pause_writing`/`resume_writing` to itself (the transport's protocol is
/// restored afterwards, and told of any change of state it missed).
///
/// Errors: [`Error::Closed`] if the transport is closing (or closes during
/// the transfer); [`Error::Unsupported`] for a read-only transport or a
/// second `sendfile` running on the same transport;
/// [`Error::SendfileNotAvailable`] when `fallback` is off and the
/// zero-copy path cannot be used; [`Error::InvalidInput`] for a `count`
/// of 0; I/O errors of the transfer.
///
/// # Cancel safety
///
/// As [`sock_sendfile`]; the transport gets its state back.
pub(crate) async fn sendfile(
    lp: &Loop,
    transport: &Transport,
    file: &File,
    offset: u64,
    count: Option<u64>,
    fallback: bool,
) -> Result<u64> {
    check_count(count)?;
    if transport.is_closing() {
        return Err(Error::Closed);
    }
    let progress = Progress::new(file, offset)?;
    match transport.inner().as_any().downcast_ref::<SocketTransport>() {
        Some(t) if t.kind() == Kind::ReadPipe => {
            return Err(Error::Unsupported("sendfile on a read pipe"));
        }
        Some(t) if t.kind() == Kind::Socket => {
            match send_native_transport(lp, t, transport, file, offset, count, &progress).await {
                Err(Error::SendfileNotAvailable(_)) if fallback => {}
                done => return done,
            }
        }
        _ if !fallback => {
            return Err(Error::SendfileNotAvailable(String::from(
                "the transport is not a socket transport",
            )));
        }
        _ => {}
    }
    let swap = ProtocolSwap::install(lp, transport)?;
    let mut reader = ChunkReader::new(file, offset, count, TRANSPORT_FALLBACK_CHUNK)?;
    loop {
        let data = reader.next(lp, progress.sent.get()).await?;
        if data.is_empty() {
            break;
        }
        swap.drain().await?;
        transport.write(data)?;
        progress.add(data.len());
    }
    Ok(progress.sent.get())
}

/// asyncio's "count must be a positive integer".
fn check_count(count: Option<u64>) -> Result<()> {
    if count == Some(0) {
        return Err(Error::InvalidInput(String::from(
            "count must be a positive integer (got 0)",
        )));
    }
    Ok(())
}

/// How far a transfer went, and the file position it leaves behind: when
/// dropped (after success, error or cancellation), a seekable file that
/// had bytes sent is moved to `offset` plus those bytes, as asyncio does.
struct Progress<'f> {
    file: &'f File,
    offset: u64,
    seekable: bool,
    sent: Cell<u64>,
}

impl<'f> Progress<'f> {
    fn new(file: &'f File, offset: u64) -> Result<Progress<'f>> {
        Ok(Progress {
            file,
            offset,
            seekable: is_positional(file)?,
            sent: Cell::new(0),
        })
    }

    fn add(&self, n: usize) {
        self.sent.set(self.sent.get() + n as u64);
    }
}

impl Drop for Progress<'_> {
    fn drop(&mut self) {
        let sent = self.sent.get();
        if sent > 0 && self.seekable {
            let _ = rustix::fs::seek(self.file, SeekFrom::Start(self.offset + sent));
        }
    }
}

/// Whether `file` is read at explicit offsets (a regular file or a block
/// device) rather than from its current position (a pipe, a character
/// device, a socket).
fn is_positional(file: &File) -> Result<bool> {
    let kind = file.metadata()?.file_type();
    Ok(kind.is_file() || kind.is_block_device())
}

/// Errors of a first `sendfile(2)` that mean "not with these descriptors"
/// rather than a failure of the connection: the fallback can do it.
fn is_unavailable(e: Errno) -> bool {
    matches!(
        e,
        Errno::INVAL | Errno::NOSYS | Errno::SPIPE | Errno::OPNOTSUPP | Errno::OVERFLOW
    )
}

/// The zero-copy transfer. `stop`, when given, is a transport's "lost"
/// signal: the transfer ends with its error when it completes.
async fn send_native(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    file: &File,
    offset: u64,
    count: Option<u64>,
    stop: Option<&LoopFuture<()>>,
    progress: &Progress<'_>,
) -> Result<u64> {
    let size = native_file_size(file)?;
    let mut off = offset;
    loop {
        let sent = progress.sent.get();
        let want = match count {
            Some(c) => c - sent,
            None => MAX_SENDFILE,
        }
        .min(MAX_SENDFILE) as usize;
        if want == 0 {
            break;
        }
        if let Some(err) = stop.and_then(stopped) {
            return Err(err);
        }
        // sendfile(2) has no MSG_NOSIGNAL: a reset peer would raise SIGPIPE.
        match without_sigpipe(|| rustix::fs::sendfile(sock, file, Some(&mut off), want)) {
            // The end of the file.
            Ok(0) => break,
            Ok(n) => {
                progress.add(n);
                // Short of what was asked: the socket's buffer is full, or
                // the file ended (then the next call says so at once).
                if n < want && off < size {
                    wait_writable(lp, sock, stop).await?;
                }
            }
            Err(Errno::AGAIN | Errno::INTR) => wait_writable(lp, sock, stop).await?,
            Err(e) if progress.sent.get() == 0 && is_unavailable(e) => {
                return Err(Error::SendfileNotAvailable(format!(
                    "the sendfile system call failed: {}",
                    io::Error::from(e)
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(progress.sent.get())
}

/// The size of `file`, which must be a regular file for the zero-copy
/// path.
fn native_file_size(file: &File) -> Result<u64> {
    match file.metadata() {
        Ok(meta) if meta.file_type().is_file() => Ok(meta.len()),
        _ => Err(Error::SendfileNotAvailable(String::from(
            "not a regular file",
        ))),
    }
}

/// The error of a completed `stop` signal (a lost connection); `None`
/// while it is pending (or if it completed without an error).
fn stopped(stop: &LoopFuture<()>) -> Option<Error> {
    if !stop.done() {
        return None;
    }
    stop.result().err().map(loop_error)
}

/// Turns a loop error back into the transport error it carries.
fn loop_error(e: LoopError) -> Error {
    if let LoopError::Exception(inner) = &e {
        if let Some(err) = inner.downcast_ref::<Error>() {
            return err.clone();
        }
    }
    Error::from(e)
}

/// Waits until `sock` is writable or, when given, `stop` completes with an
/// error.
async fn wait_writable(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    stop: Option<&LoopFuture<()>>,
) -> Result<()> {
    let Some(stop) = stop else {
        return wait_fd(lp, sock, false).await;
    };
    let mut ready = wait_fd(lp, sock, false);
    let mut stop = stop.clone();
    poll_fn(|cx| {
        if let Poll::Ready(res) = Pin::new(&mut ready).poll(cx) {
            return Poll::Ready(res);
        }
        match Pin::new(&mut stop).poll(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(loop_error(e))),
            _ => Poll::Pending,
        }
    })
    .await
}

/// The zero-copy path over a socket transport (asyncio's
/// `_sendfile_native` of the selector loop).
#[expect(
    clippy::await_holding_refcell_ref,
    reason = "the socket's shared borrow is held on purpose: the transport only ever \
              borrows it mutably to close it, and tolerates this borrow"
)]
async fn send_native_transport(
    lp: &Loop,
    t: &SocketTransport,
    transport: &Transport,
    file: &File,
    offset: u64,
    count: Option<u64>,
    progress: &Progress<'_>,
) -> Result<u64> {
    if t.is_sendfile_active() {
        return Err(Error::Unsupported(
            "a sendfile is already in progress on this transport",
        ));
    }
    // Fail before touching the transport when the file rules it out.
    native_file_size(file)?;
    let _active = SendfileActive::start(t, transport);
    t.wait_flushed().await.map_err(loop_error)?;
    let lost = LostSignal(t.wait_drained_or_lost());
    // The descriptor stays borrowed while the kernel sends: a transport
    // closed meanwhile cannot close it under the watch (it is closed when
    // `_active` ends the sendfile, after this borrow is gone).
    let sock = t.socket().ok_or(Error::Closed)?;
    let sent = send_native(
        lp,
        sock.as_fd(),
        file,
        offset,
        count,
        Some(&lost.0),
        progress,
    )
    .await;
    drop(sock);
    sent
}

/// A transport's "connection lost" signal, withdrawn (cancelled, so the
/// transport forgets it) when dropped.
struct LostSignal(LoopFuture<()>);

impl Drop for LostSignal {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A socket transport's state during a zero-copy sendfile: writes refused,
/// reading paused; restored when dropped.
struct SendfileActive<'t> {
    t: &'t SocketTransport,
    transport: &'t Transport,
    resume_reading: bool,
}

impl<'t> SendfileActive<'t> {
    fn start(t: &'t SocketTransport, transport: &'t Transport) -> SendfileActive<'t> {
        t.set_sendfile_active(true);
        let resume_reading = transport.is_reading();
        transport.pause_reading();
        SendfileActive {
            t,
            transport,
            resume_reading,
        }
    }
}

impl Drop for SendfileActive<'_> {
    fn drop(&mut self) {
        self.t.set_sendfile_active(false);
        if self.resume_reading {
            self.transport.resume_reading();
        }
    }
}

/// Reads a file chunk by chunk for the fallbacks: at explicit offsets for
/// a regular file (on a worker thread), from the current position
/// otherwise (a non-blocking descriptor is read on the loop when it is
/// readable, a blocking one on a worker thread).
struct ChunkReader<'f> {
    file: &'f File,
    /// The next offset of a positional read; `None` for sequential reads.
    at: Option<u64>,
    nonblocking: bool,
    /// How many bytes to read in all (`None`: up to the end).
    count: Option<u64>,
    /// A duplicate of the file for the worker thread (taken while a read
    /// runs there).
    worker_file: Option<File>,
    /// One chunk: `max_chunk` bytes, or `count` if smaller.
    buf: Vec<u8>,
}

impl<'f> ChunkReader<'f> {
    fn new(
        file: &'f File,
        offset: u64,
        count: Option<u64>,
        max_chunk: usize,
    ) -> Result<ChunkReader<'f>> {
        let at = if is_positional(file)? {
            Some(offset)
        } else {
            if offset > 0 {
                // As asyncio's `file.seek(offset)`: fails on a pipe.
                rustix::fs::seek(file, SeekFrom::Start(offset))?;
            }
            None
        };
        Ok(ChunkReader {
            file,
            at,
            nonblocking: rustix::fs::fcntl_getfl(file)?.contains(OFlags::NONBLOCK),
            count,
            worker_file: None,
            buf: vec![0; count.map_or(max_chunk, |c| c.min(max_chunk as u64) as usize)],
        })
    }

    /// Reads the next chunk, `sent` bytes having been sent: empty at the
    /// end of the file or once `count` bytes are read.
    async fn next(&mut self, lp: &Loop, sent: u64) -> Result<&[u8]> {
        let want = match self.count {
            Some(c) => (c - sent).min(self.buf.len() as u64) as usize,
            None => self.buf.len(),
        };
        if want == 0 {
            return Ok(&[]);
        }
        if self.at.is_none() && self.nonblocking {
            let (file, buf) = (self.file, &mut self.buf[..want]);
            let n = retry(lp, file.as_fd(), true, || {
                Ok(rustix::io::read(file, &mut *buf)?)
            })
            .await?;
            return Ok(&self.buf[..n]);
        }
        let worker_file = match self.worker_file.take() {
            Some(f) => f,
            None => self.file.try_clone()?,
        };
        let mut buf = std::mem::take(&mut self.buf);
        let at = self.at;
        let (worker_file, buf, res) = lp
            .run_in_executor(None, move || {
                let res = loop {
                    let res = match at {
                        Some(at) => worker_file.read_at(&mut buf[..want], at),
                        None => (&worker_file).read(&mut buf[..want]),
                    };
                    match res {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        res => break res,
                    }
                };
                (worker_file, buf, res)
            })
            .await
            .map_err(loop_error)?;
        self.worker_file = Some(worker_file);
        self.buf = buf;
        let n = res?;
        if let Some(at) = &mut self.at {
            *at += n as u64;
        }
        Ok(&self.buf[..n])
    }
}

/// What the stand-in protocol of a transport fallback learns.
#[derive(Default)]
struct SwapState {
    /// The first flow-control notice received: `true` for a pause.
    first: Cell<Option<bool>>,
    /// The last one.
    last: Cell<Option<bool>>,
    /// `Some(exc)` once the connection is lost.
    lost: RefCell<Option<Option<Error>>>,
    waker: RefCell<Option<Waker>>,
}

impl SwapState {
    fn note(&self, paused: bool) {
        if self.first.get().is_none() {
            self.first.set(Some(paused));
        }
        self.last.set(Some(paused));
        if !paused {
            self.wake();
        }
    }

    fn wake(&self) {
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

/// The protocol a transport has during a fallback sendfile (asyncio's
/// `_SendfileFallbackProtocol`): it takes the flow-control notices and
/// hands everything else (data, if reading was resumed meanwhile, EOF,
/// `connection_lost`) to the transport's own protocol.
struct FallbackProtocol {
    lp: Loop,
    state: Rc<SwapState>,
    original: ProtocolRef,
}

impl BaseProtocol for FallbackProtocol {
    fn connection_lost(&mut self, exc: Option<Error>) {
        *self.state.lost.borrow_mut() = Some(exc.clone());
        self.state.wake();
        deliver(
            &self.lp,
            self.original.clone(),
            Box::new(move |p| p.connection_lost(exc)),
        );
    }

    fn pause_writing(&mut self) {
        self.state.note(true);
    }

    fn resume_writing(&mut self) {
        self.state.note(false);
    }
}

impl Protocol for FallbackProtocol {
    fn data_received(&mut self, data: &[u8]) {
        match &self.original {
            ProtocolRef::Plain(p) => match p.try_borrow_mut() {
                Ok(mut p) => p.data_received(data),
                Err(_) => log::error!("sendfile: data received while the protocol is busy: lost"),
            },
            ProtocolRef::Buffered(p) => match p.try_borrow_mut() {
                Ok(mut p) => {
                    let mut rest = data;
                    while !rest.is_empty() {
                        let copy = |buf: &mut [u8]| {
                            let n = buf.len().min(rest.len());
                            buf[..n].copy_from_slice(&rest[..n]);
                            Ok::<usize, std::convert::Infallible>(n)
                        };
                        match read_buffered(&mut *p, rest.len(), copy) {
                            BufferedRead::Data(n) => rest = &rest[n..],
                            BufferedRead::EmptyBuffer | BufferedRead::Eof => {
                                log::error!("sendfile: get_buffer() returned an empty buffer");
                                break;
                            }
                            BufferedRead::Failed(never) => match never {},
                            // The transport's own guard reports it, as
                            // for a panic in data_received.
                            BufferedRead::Panicked(payload) => std::panic::resume_unwind(payload),
                        }
                    }
                }
                Err(_) => log::error!("sendfile: data received while the protocol is busy: lost"),
            },
        }
    }

    fn eof_received(&mut self) -> bool {
        let keep_open = match &self.original {
            ProtocolRef::Plain(p) => p.try_borrow_mut().map(|mut p| p.eof_received()),
            ProtocolRef::Buffered(p) => p.try_borrow_mut().map(|mut p| p.eof_received()),
        };
        keep_open.unwrap_or(false)
    }
}

/// A call to make on a protocol.
type ProtocolCall = Box<dyn FnOnce(&mut dyn BaseProtocol)>;

/// Calls `f` on `proto` now if it is free, else on a later loop pass.
fn deliver(lp: &Loop, proto: ProtocolRef, f: ProtocolCall) {
    if proto.is_free() {
        proto.try_base(f);
        return;
    }
    let again = lp.clone();
    let _ = lp.call_soon(move || deliver(&again, proto, f));
}

/// A transport's protocol replaced by a [`FallbackProtocol`], and reading
/// paused, until dropped.
struct ProtocolSwap<'t> {
    lp: Loop,
    transport: &'t Transport,
    original: ProtocolRef,
    state: Rc<SwapState>,
    resume_reading: bool,
}

impl<'t> ProtocolSwap<'t> {
    fn install(lp: &Loop, transport: &'t Transport) -> Result<ProtocolSwap<'t>> {
        let original = transport.get_protocol().ok_or(Error::Closed)?;
        let state = Rc::new(SwapState::default());
        let resume_reading = transport.is_reading();
        transport.pause_reading();
        let stand_in = FallbackProtocol {
            lp: lp.clone(),
            state: state.clone(),
            original: original.clone(),
        };
        transport.set_protocol(ProtocolRef::plain(Rc::new(RefCell::new(stand_in))));
        Ok(ProtocolSwap {
            lp: lp.clone(),
            transport,
            original,
            state,
            resume_reading,
        })
    }

    /// Waits until the transport takes more data (asyncio's `drain`):
    /// while it is paused, or its buffer is over the high-water mark
    /// before any notice came (it was paused before the swap).
    async fn drain(&self) -> Result<()> {
        poll_fn(|cx| {
            if let Some(exc) = &*self.state.lost.borrow() {
                return Poll::Ready(Err(exc.clone().unwrap_or(Error::Closed)));
            }
            if self.transport.is_closing() {
                return Poll::Ready(Err(Error::Closed));
            }
            let paused = match self.state.last.get() {
                Some(paused) => paused,
                None => {
                    let (_, high) = self.transport.get_write_buffer_limits();
                    self.transport.get_write_buffer_size() > high
                }
            };
            if !paused {
                return Poll::Ready(Ok(()));
            }
            *self.state.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

impl Drop for ProtocolSwap<'_> {
    fn drop(&mut self) {
        if self.state.lost.borrow().is_some() {
            return;
        }
        self.transport.set_protocol(self.original.clone());
        if self.resume_reading {
            self.transport.resume_reading();
        }
        // The notices went to the stand-in. The first one tells what the
        // protocol last heard (a resume first: it had been paused), the
        // last one what the transport is now; tell it the difference.
        if let (Some(first), Some(last)) = (self.state.first.get(), self.state.last.get()) {
            let protocol_paused = !first;
            if protocol_paused != last {
                let f: ProtocolCall = if last {
                    Box::new(|p| p.pause_writing())
                } else {
                    Box::new(|p| p.resume_writing())
                };
                deliver(&self.lp, self.original.clone(), f);
            }
        }
    }
}
