//! Stand-in for the `epoll` backend on systems without epoll: a type with no
//! values, so the backend enum needs no `cfg` and `Epoll::new` reports
//! `Unsupported` (the reactor then uses `polling`).

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::time::Duration;

use crate::interest::{Interest, Readiness};
use crate::notify::Notifier;

/// No epoll here: this type has no values.
#[derive(Debug)]
pub(crate) enum Epoll {}

impl Epoll {
    pub(crate) fn new() -> io::Result<Epoll> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "epoll is not available on this system",
        ))
    }

    pub(crate) fn notifier(&self) -> &Arc<Notifier> {
        match *self {}
    }

    pub(crate) fn add(&self, _: BorrowedFd<'_>, _: u64, _: Interest, _: bool) -> io::Result<()> {
        match *self {}
    }

    pub(crate) fn modify(&self, _: BorrowedFd<'_>, _: u64, _: Interest, _: bool) -> io::Result<()> {
        match *self {}
    }

    pub(crate) fn delete(&self, _: BorrowedFd<'_>) -> io::Result<()> {
        match *self {}
    }

    pub(crate) fn wait(
        &mut self,
        _: Option<Duration>,
        _: &mut Vec<(u64, Readiness)>,
    ) -> io::Result<()> {
        match *self {}
    }
}
