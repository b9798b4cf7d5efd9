//! The protocol under [`Process`](crate::Process) (asyncio's
//! `SubprocessStreamProtocol`): it puts a stream on each pipe, a
//! [`StreamWriter`] on stdin and a [`StreamReader`] on stdout and stderr.
//!
//! Each stream has a [`StreamReaderProtocol`] of its own, connected to
//! the pipe's transport, which gives it asyncio's flow control for free:
//! a reader pauses its pipe when more than twice its limit is buffered
//! (the child then blocks on a full pipe, as under asyncio), and the
//! writer's `drain` waits while the stdin pipe's buffer is over its
//! high-water mark. Data from the pipe is copied once, from the loop's
//! read buffer into the reader's buffer.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use tulip_streams::{StreamReader, StreamReaderProtocol, StreamWriter};
use tulip_transport::{BaseProtocol, BufferedProtocol, Error as TransportError, ProtocolFactory};

use crate::base_subprocess::SubprocessTransport;
use crate::error::{Error, Result};
use crate::protocol::SubprocessProtocol;

/// A call the stream protocol could not make at once (its stream's
/// protocol was borrowed), kept in order.
enum Deferred {
    Data(usize, Vec<u8>),
    Lost(usize, Option<TransportError>),
    PauseWriting,
    ResumeWriting,
}

/// The streams of a process, until [`Process`](crate::Process) takes them.
pub(crate) type Streams = (
    Option<StreamWriter>,
    Option<StreamReader>,
    Option<StreamReader>,
);

/// asyncio's `SubprocessStreamProtocol`.
pub(crate) struct SubprocessStreamProtocol {
    limit: usize,
    this: Weak<RefCell<SubprocessStreamProtocol>>,
    /// The stream protocol of each pipe, until the pipe is lost.
    pipes: [Option<Rc<RefCell<StreamReaderProtocol>>>; 3],
    streams: Option<Streams>,
    error: Option<Error>,
    backlog: VecDeque<Deferred>,
}

impl SubprocessStreamProtocol {
    /// A protocol whose readers have `limit`.
    pub(crate) fn new(limit: usize) -> Rc<RefCell<SubprocessStreamProtocol>> {
        Rc::new_cyclic(|this| {
            RefCell::new(SubprocessStreamProtocol {
                limit,
                this: this.clone(),
                pipes: [None, None, None],
                streams: None,
                error: None,
                backlog: VecDeque::new(),
            })
        })
    }

    /// The streams made in `connection_made`.
    pub(crate) fn take_streams(&mut self) -> Result<Streams> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        Ok(self.streams.take().unwrap_or((None, None, None)))
    }

    fn make_streams(&mut self, transport: &SubprocessTransport) -> Result<Streams> {
        let mut factory = StreamReaderProtocol::factory(self.limit)?;
        let mut streams: Streams = (None, None, None);
        for fd in 0..3 {
            let Some(pipe) = transport.get_pipe_transport(fd as i32) else {
                continue;
            };
            let (proto, _) = factory.build();
            BufferedProtocol::connection_made(&mut *proto.borrow_mut(), pipe);
            let (reader, writer) = StreamReaderProtocol::into_streams(proto.clone())?;
            // Each stream alone keeps its pipe open: dropping it closes
            // the pipe.
            match fd {
                0 => streams.0 = Some(writer),
                1 => streams.1 = Some(reader),
                _ => streams.2 = Some(reader),
            }
            self.pipes[fd] = Some(proto);
        }
        Ok(streams)
    }

    /// Makes `op` now if the stream's protocol is free and nothing waits
    /// before it; else keeps it for later. Whether it was kept.
    fn apply(&mut self, op: Deferred) {
        if !self.backlog.is_empty() {
            self.backlog.push_back(op);
            return;
        }
        if let Err(op) = self.try_apply(op) {
            self.backlog.push_back(op);
            self.schedule_retry();
        }
    }

    fn try_apply(&mut self, op: Deferred) -> std::result::Result<(), Deferred> {
        let slot = match &op {
            Deferred::Data(fd, _) | Deferred::Lost(fd, _) => *fd,
            Deferred::PauseWriting | Deferred::ResumeWriting => 0,
        };
        let Some(proto) = self.pipes[slot].clone() else {
            return Ok(());
        };
        let Ok(mut p) = proto.try_borrow_mut() else {
            return Err(op);
        };
        match op {
            Deferred::Data(_, data) => feed(&mut p, &data),
            Deferred::Lost(fd, exc) => {
                p.connection_lost(exc);
                drop(p);
                self.pipes[fd] = None;
            }
            Deferred::PauseWriting => p.pause_writing(),
            Deferred::ResumeWriting => p.resume_writing(),
        }
        Ok(())
    }

    fn schedule_retry(&self) {
        let Some(this) = self.this.upgrade() else {
            return;
        };
        let Ok(lp) = tulip_executor::get_running_loop() else {
            return;
        };
        let _ = lp.call_soon(move || {
            let Ok(mut me) = this.try_borrow_mut() else {
                return;
            };
            while let Some(op) = me.backlog.pop_front() {
                if let Err(op) = me.try_apply(op) {
                    me.backlog.push_front(op);
                    me.schedule_retry();
                    break;
                }
            }
        });
    }
}

/// Copies `data` into the reader's buffer, as the pipe transport would
/// have read it there.
fn feed(proto: &mut StreamReaderProtocol, mut data: &[u8]) {
    while !data.is_empty() {
        let room = proto.get_buffer(data.len());
        let n = room.len().min(data.len());
        if n == 0 {
            break;
        }
        room[..n].copy_from_slice(&data[..n]);
        proto.buffer_updated(n);
        data = &data[n..];
    }
}

impl BaseProtocol for SubprocessStreamProtocol {
    fn pause_writing(&mut self) {
        self.apply(Deferred::PauseWriting);
    }

    fn resume_writing(&mut self) {
        self.apply(Deferred::ResumeWriting);
    }
}

impl SubprocessProtocol for SubprocessStreamProtocol {
    fn connection_made(&mut self, transport: SubprocessTransport) {
        match self.make_streams(&transport) {
            Ok(streams) => self.streams = Some(streams),
            Err(e) => self.error = Some(e),
        }
    }

    fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
        let Ok(fd) = usize::try_from(fd) else { return };
        if fd == 1 || fd == 2 {
            if self.backlog.is_empty() {
                if let Some(proto) = &self.pipes[fd] {
                    if let Ok(mut p) = proto.try_borrow_mut() {
                        feed(&mut p, data);
                        return;
                    }
                }
            }
            self.apply(Deferred::Data(fd, data.to_vec()));
        }
    }

    fn pipe_connection_lost(&mut self, fd: i32, exc: Option<TransportError>) {
        if let Ok(fd) = usize::try_from(fd) {
            if fd < 3 {
                self.apply(Deferred::Lost(fd, exc));
            }
        }
    }
}
