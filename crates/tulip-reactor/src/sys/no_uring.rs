//! Stand-in for the io_uring backend off Linux: a type with no values, so
//! the backend enum needs no `cfg` and `Uring::new` reports `Unsupported`
//! (the reactor then falls back to the default backend).

use std::io;
use std::os::fd::BorrowedFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::completion::{Completion, Op, OpHandler, OpId};
use crate::interest::{Interest, Readiness};
use crate::notify::Notifier;

/// Completions collected by a poll (never any here).
pub(crate) type Done = Vec<(usize, Rc<dyn OpHandler>, Completion)>;

/// No io_uring here: this type has no values.
#[derive(Debug)]
pub(crate) enum Uring {}

/// No ring buffers here: this type has no values.
pub(crate) enum RingLease {}

impl RingLease {
    pub(crate) fn data(&self) -> &[u8] {
        match *self {}
    }
}

impl Uring {
    pub(crate) fn new() -> io::Result<Uring> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "io_uring is not available on this system",
        ))
    }

    pub(crate) fn notifier(&self) -> &Arc<Notifier> {
        match *self {}
    }

    pub(crate) fn ops_in_flight(&self) -> usize {
        match *self {}
    }

    pub(crate) fn add(
        &mut self,
        _: BorrowedFd<'_>,
        _: u64,
        _: Interest,
        _: bool,
    ) -> io::Result<()> {
        match *self {}
    }

    pub(crate) fn modify(
        &mut self,
        _: BorrowedFd<'_>,
        _: u64,
        _: Interest,
        _: bool,
    ) -> io::Result<()> {
        match *self {}
    }

    pub(crate) fn delete(&mut self, _: BorrowedFd<'_>) -> io::Result<()> {
        match *self {}
    }

    pub(crate) fn wait(
        &mut self,
        _: Option<Duration>,
        _: &mut Vec<(u64, Readiness)>,
        _: &mut Done,
    ) -> io::Result<()> {
        match *self {}
    }

    pub(crate) fn submit(&mut self, _: Op, _: Rc<dyn OpHandler>) -> io::Result<OpId> {
        match *self {}
    }

    pub(crate) fn cancel(&mut self, _: OpId) -> io::Result<()> {
        match *self {}
    }

    pub(crate) fn cancel_all(&mut self, _: &mut Done) {
        match *self {}
    }
}
