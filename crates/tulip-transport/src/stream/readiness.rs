//! The readiness driver of the stream transport (epoll, polling): a
//! level-triggered reader watch calls [`read_ready`](SocketTransport::read_ready),
//! whose one `recv` lands in the thread's shared read buffer (or, for a
//! `BufferedProtocol`, in the protocol's buffer) and goes to the protocol;
//! `write()` sends at once when nothing is buffered and keeps only what
//! the socket did not take, and a writer watch, on while data is buffered,
//! flushes it with vectored sends. Sends use `MSG_NOSIGNAL`.

use std::io::{self, IoSlice};
use std::os::fd::{AsFd, BorrowedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use tulip_reactor::without_sigpipe;

use crate::error::Error;
use crate::protocols::ProtocolRef;
use crate::sock;
use crate::stream::driver::Driver;
use crate::stream::readbuf::{BufferedRead, READ_SIZE, read_buffered, with_read_buffer};
use crate::stream::socket::{Kind, SocketTransport};
use crate::transports::{NoticeOwner, TransportImpl};

/// At most this many buffers go into one vectored send.
const MAX_IOV: usize = 64;

impl SocketTransport {
    /// Adds the reader watch (reading starts or resumes).
    pub(super) fn add_reader(self: &Rc<Self>) {
        if self.lc.is_reader_on() {
            return;
        }
        let t = self.clone();
        if let Err(e) = self.lc.add_reader(move || t.read_ready()) {
            self.fatal_error(Error::from(e), "Fatal error adding a reader");
        }
    }

    fn add_writer(self: &Rc<Self>) {
        if self.lc.is_writer_on() {
            return;
        }
        let t = self.clone();
        if let Err(e) = self.lc.add_writer(move || t.write_ready()) {
            self.fatal_error(Error::from(e), "Fatal error adding a writer");
        }
    }

    /// The descriptor is readable.
    fn read_ready(self: &Rc<Self>) {
        if self.lc.is_closing() {
            return;
        }
        let Some(proto) = self.protocol.borrow().clone() else {
            return;
        };
        let notices = self.lc.notices();
        if !notices.is_empty() && notices.flush(&proto) {
            return;
        }
        let Some(fd) = self.lc.fd() else { return };
        let outcome = match &proto {
            ProtocolRef::Plain(p) => {
                let Ok(mut p) = p.try_borrow_mut() else {
                    return;
                };
                with_read_buffer(|buf| match self.recv(fd.as_fd(), buf) {
                    Ok(0) => Read::Eof(catch_unwind(AssertUnwindSafe(|| p.eof_received()))),
                    Ok(n) => Read::Data(catch_unwind(AssertUnwindSafe(|| {
                        p.data_received(&buf[..n])
                    }))),
                    Err(e) => Read::Failed(e),
                })
            }
            ProtocolRef::Buffered(p) => {
                let Ok(mut p) = p.try_borrow_mut() else {
                    return;
                };
                match read_buffered(&mut *p, READ_SIZE, |buf| self.recv(fd.as_fd(), buf)) {
                    BufferedRead::Data(_) => Read::Data(Ok(())),
                    BufferedRead::Panicked(payload) => Read::Data(Err(payload)),
                    BufferedRead::EmptyBuffer => Read::EmptyBuffer,
                    BufferedRead::Eof => {
                        Read::Eof(catch_unwind(AssertUnwindSafe(|| p.eof_received())))
                    }
                    BufferedRead::Failed(e) => Read::Failed(e),
                }
            }
        };
        match outcome {
            Read::Data(Ok(())) => {}
            Read::Data(Err(payload)) => self.protocol_panicked("data_received", payload),
            Read::Eof(Ok(keep_open)) => {
                self.read_eof.set(true);
                if keep_open && self.kind == Kind::Socket {
                    self.lc.remove_reader();
                } else {
                    self.close();
                }
            }
            Read::Eof(Err(payload)) => self.protocol_panicked("eof_received", payload),
            Read::Failed(e) if sock::would_block(&e) => {}
            Read::Failed(e) => self.fatal_error(Error::io(e), "Fatal read error on transport"),
            Read::EmptyBuffer => self.fatal_error(
                Error::InvalidInput(String::from("get_buffer() returned an empty buffer")),
                "Fatal error: protocol.get_buffer() call failed",
            ),
        }
        if !self.lc.notices().is_empty() {
            self.flush_notices();
        }
    }

    fn recv(&self, fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
        match self.kind {
            Kind::Socket => Ok(rustix::net::recv(fd, buf, rustix::net::RecvFlags::empty())?.0),
            _ => Ok(rustix::io::read(fd, buf)?),
        }
    }

    fn send(&self, fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
        match self.kind {
            Kind::Socket => sock::send(fd, data),
            // A pipe (or whatever was given as one): no MSG_NOSIGNAL.
            _ => Ok(without_sigpipe(|| rustix::io::write(fd, data))?),
        }
    }

    fn sendv(&self, fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self.kind {
            Kind::Socket => sock::sendv(fd, bufs),
            _ => Ok(without_sigpipe(|| rustix::io::writev(fd, bufs))?),
        }
    }

    /// `write()` on the readiness driver: sends at once when nothing is
    /// buffered; buffers what the socket did not take and adds the writer
    /// watch.
    pub(super) fn write_now_or_buffer(self: &Rc<Self>, bufs: &[&[u8]], total: usize) {
        let Driver::Readiness(buffer) = &self.io else {
            return;
        };
        let mut sent = 0;
        if buffer.borrow().size() == 0 {
            let Some(fd) = self.lc.fd() else { return };
            let res = if bufs.len() == 1 {
                self.send(fd.as_fd(), bufs[0])
            } else {
                let mut slices: [IoSlice<'_>; MAX_IOV] = [IoSlice::new(&[]); MAX_IOV];
                let n = bufs.len().min(MAX_IOV);
                for (slot, b) in slices.iter_mut().zip(bufs) {
                    *slot = IoSlice::new(b);
                }
                self.sendv(fd.as_fd(), &slices[..n])
            };
            drop(fd);
            match res {
                Ok(n) => sent = n,
                Err(e) if sock::would_block(&e) => {}
                Err(e) => {
                    self.fatal_error(Error::io(e), "Fatal write error on transport");
                    return;
                }
            }
            if sent == total {
                return;
            }
            self.add_writer();
        }
        let mut buffer = buffer.borrow_mut();
        let mut skip = sent;
        for b in bufs {
            if skip >= b.len() {
                skip -= b.len();
                continue;
            }
            buffer.push(&b[skip..]);
            skip = 0;
        }
    }

    /// The descriptor is writable: flush the buffer.
    fn write_ready(self: &Rc<Self>) {
        if self.lc.is_lost() {
            return;
        }
        let Some(fd) = self.lc.fd() else { return };
        let Driver::Readiness(buffer) = &self.io else {
            return;
        };
        let res = {
            let buffer = buffer.borrow();
            if buffer.size() == 0 {
                Ok(0)
            } else {
                let mut slices: [IoSlice<'_>; MAX_IOV] = [IoSlice::new(&[]); MAX_IOV];
                let n = buffer.fill_slices(&mut slices);
                if n == 1 {
                    self.send(fd.as_fd(), &slices[0])
                } else {
                    self.sendv(fd.as_fd(), &slices[..n])
                }
            }
        };
        drop(fd);
        match res {
            Ok(n) => buffer.borrow_mut().consume(n),
            Err(e) if sock::would_block(&e) => return,
            Err(e) => {
                self.lc.remove_writer();
                buffer.borrow_mut().clear();
                self.fatal_error(Error::io(e), "Fatal write error on transport");
                return;
            }
        }
        self.maybe_resume_protocol();
        if buffer.borrow().size() == 0 {
            self.lc.remove_writer();
            self.drained();
        }
    }
}

/// What one read produced.
enum Read {
    Data(std::thread::Result<()>),
    Eof(std::thread::Result<bool>),
    Failed(io::Error),
    EmptyBuffer,
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    use std::cell::RefCell;
    use std::os::fd::OwnedFd;

    use super::*;
    use crate::protocols::{BaseProtocol, BufferedProtocol};

    /// Counts `get_buffer` calls against the reads that used them.
    #[derive(Default)]
    struct Counting {
        buf: Vec<u8>,
        asked: usize,
        updates: usize,
        got: usize,
    }

    impl BaseProtocol for Counting {}

    impl BufferedProtocol for Counting {
        fn get_buffer(&mut self, _sizehint: usize) -> &mut [u8] {
            self.asked += 1;
            self.buf.resize(7, 0);
            &mut self.buf
        }

        fn buffer_updated(&mut self, nbytes: usize) {
            self.updates += 1;
            self.got += nbytes;
        }
    }

    /// Each read asks the protocol for its buffer once (it was asked twice,
    /// the second time outside the panic guard).
    #[test]
    fn a_buffered_read_asks_for_the_buffer_once() {
        tulip_executor::run(async {
            let lp = tulip_executor::get_running_loop().unwrap();
            let (ours, mut peer) = UnixStream::pair().unwrap();
            let proto = Rc::new(RefCell::new(Counting::default()));
            let t = SocketTransport::new(
                &lp,
                OwnedFd::from(ours),
                Kind::Socket,
                ProtocolRef::Buffered(proto.clone()),
            )
            .unwrap();
            t.start().unwrap().await.unwrap();
            peer.write_all(b"twenty bytes of data").unwrap();
            for _ in 0..200 {
                if proto.borrow().got == 20 {
                    break;
                }
                tulip_executor::sleep(Duration::from_millis(5)).await;
            }
            let p = proto.borrow();
            assert_eq!(p.got, 20);
            assert_eq!(p.asked, p.updates);
            drop(p);
            t.force_close(None);
        })
        .unwrap();
    }
}
