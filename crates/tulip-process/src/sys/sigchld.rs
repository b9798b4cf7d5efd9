//! The SIGCHLD child watcher: a SIGCHLD handler (signal-hook's self-pipe)
//! wakes the loop; the loop then tries `waitpid(pid, WNOHANG)` on each of
//! its own live children (never `waitpid(-1)`, which would steal other
//! code's children).
//!
//! One watcher per loop (kept per thread): it exists while the loop has
//! children to watch, and unregisters its handler when the last one is
//! reaped. Each watcher has its own pipe, so several loops (threads) each
//! see every SIGCHLD and each checks only its own children.

use std::cell::{Cell, RefCell};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::rc::{Rc, Weak};

use rustix::pipe::{PipeFlags, pipe_with};
use signal_hook::SigId;
use tulip_executor::Loop;

use crate::child_watcher::Child;
use crate::error::Result;

/// A loop's SIGCHLD watcher.
struct Watcher {
    lp: Loop,
    read: OwnedFd,
    id: Cell<Option<SigId>>,
    children: RefCell<Vec<Rc<Child>>>,
    retired: Cell<bool>,
}

thread_local! {
    /// The watcher of the loop that last started a child on this thread.
    static CURRENT: RefCell<Option<Weak<Watcher>>> = const { RefCell::new(None) };
}

/// Watches `child` (on `lp`'s watcher, made if needed).
pub(crate) fn watch(lp: &Loop, child: &Rc<Child>) -> Result<()> {
    let watcher = current(lp)?;
    watcher.children.borrow_mut().push(child.clone());
    // The child may have exited before the handler was installed (its
    // SIGCHLD then woke nobody): look once now.
    let w = watcher.clone();
    lp.call_soon(move || w.check())?;
    Ok(())
}

/// The live watcher of `lp` on this thread, or a new one.
fn current(lp: &Loop) -> Result<Rc<Watcher>> {
    let existing = CURRENT.with(|c| c.borrow().as_ref().and_then(Weak::upgrade));
    if let Some(w) = existing {
        if w.lp.same_loop(lp) && !w.retired.get() {
            return Ok(w);
        }
    }
    let (read, write) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    let id = signal_hook::low_level::pipe::register(signal_hook::consts::SIGCHLD, write)?;
    let watcher = Rc::new(Watcher {
        lp: lp.clone(),
        read,
        id: Cell::new(Some(id)),
        children: RefCell::new(Vec::new()),
        retired: Cell::new(false),
    });
    let w = watcher.clone();
    if let Err(e) = lp.add_reader(watcher.read.as_fd(), move || w.ready()) {
        watcher.unregister();
        return Err(e.into());
    }
    CURRENT.with(|c| *c.borrow_mut() = Some(Rc::downgrade(&watcher)));
    Ok(watcher)
}

impl Watcher {
    /// SIGCHLD arrived: empty the pipe first (a SIGCHLD arriving after
    /// this point writes again), then look at every child.
    fn ready(self: &Rc<Self>) {
        let mut buf = [0u8; 64];
        while let Ok(n) = rustix::io::read(&self.read, &mut buf) {
            if n == 0 {
                break;
            }
        }
        self.check();
    }

    /// Reaps the children that exited and runs their exit callbacks;
    /// retires the watcher when none is left.
    fn check(self: &Rc<Self>) {
        if self.retired.get() {
            return;
        }
        let exited: Vec<Rc<Child>> = {
            let mut children = self.children.borrow_mut();
            let (exited, running) = std::mem::take(&mut *children)
                .into_iter()
                .partition(|c| c.poll_exit());
            *children = running;
            exited
        };
        // The callbacks may start children (added to `children`).
        for child in exited {
            child.notify_exit();
        }
        if self.children.borrow().is_empty() {
            self.retire();
        }
    }

    /// No child left: stop watching (a later child makes a new watcher).
    fn retire(&self) {
        self.retired.set(true);
        self.lp.remove_reader(self.read.as_raw_fd());
        self.unregister();
    }

    fn unregister(&self) {
        if let Some(id) = self.id.take() {
            signal_hook::low_level::unregister(id);
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // The loop was closed with children still running: they are
        // reaped in the background.
        for child in self.children.get_mut().drain(..) {
            child.abandon();
        }
        self.unregister();
    }
}
