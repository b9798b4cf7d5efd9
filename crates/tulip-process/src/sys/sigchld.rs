//! The SIGCHLD child watcher: the loop's own SIGCHLD handler
//! ([`Loop::add_signal_handler`]) runs on the loop, which then tries
//! `waitpid(pid, WNOHANG)` on each of its own live children (never
//! `waitpid(-1)`, which would steal other code's children).
//!
//! One watcher per loop (kept per thread): it exists while the loop has
//! children to watch, owns the loop's SIGCHLD handler meanwhile, and
//! removes that handler when the last child is reaped (so SIGCHLD's
//! disposition from before comes back). Every loop handling SIGCHLD sees
//! every SIGCHLD, and each checks only its own children.
//!
//! A handler the user sets for SIGCHLD on the same loop replaces the
//! watcher's (as with asyncio's `SafeChildWatcher`): the watcher then
//! hears nothing until the loop starts another child, which installs the
//! watcher's handler again and looks at every child once.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use tulip_executor::Loop;
use tulip_executor::signal::SIGCHLD;

use crate::child_watcher::Child;
use crate::error::Result;

/// A loop's SIGCHLD watcher.
struct Watcher {
    lp: Loop,
    /// The token of the installed handler ([`Keeper`]), 0 when the
    /// watcher's handler is not the loop's SIGCHLD handler.
    listening: Cell<u64>,
    children: RefCell<Vec<Rc<Child>>>,
    retired: Cell<bool>,
}

thread_local! {
    /// The live watchers of this thread's loops.
    static WATCHERS: RefCell<Vec<Rc<Watcher>>> = const { RefCell::new(Vec::new()) };
    /// The last handler token handed out.
    static TOKENS: Cell<u64> = const { Cell::new(0) };
}

/// Watches `child` (on `lp`'s watcher, made if needed).
pub(crate) fn watch(lp: &Loop, child: &Rc<Child>) -> Result<()> {
    let watcher = current(lp);
    if let Err(e) = watcher.listen() {
        watcher.retire_if_idle();
        return Err(e);
    }
    watcher.children.borrow_mut().push(child.clone());
    // The child may have exited before the handler was installed (its
    // SIGCHLD then reached nobody): look once now.
    let w = watcher.clone();
    if let Err(e) = lp.call_soon(move || w.check()) {
        watcher
            .children
            .borrow_mut()
            .retain(|c| !Rc::ptr_eq(c, child));
        watcher.retire_if_idle();
        return Err(e.into());
    }
    Ok(())
}

/// The live watcher of `lp` on this thread, or a new one. Watchers of
/// closed loops are let go of on the way (their children reaped in the
/// background).
fn current(lp: &Loop) -> Rc<Watcher> {
    let (found, closed) = WATCHERS.with(|ws| {
        let mut ws = ws.borrow_mut();
        let (closed, open): (Vec<_>, Vec<_>) = std::mem::take(&mut *ws)
            .into_iter()
            .partition(|w| w.lp.is_closed());
        *ws = open;
        let found = ws.iter().find(|w| w.lp.same_loop(lp)).cloned();
        (found, closed)
    });
    // Outside the borrow: abandoning runs other code.
    for w in closed {
        w.shut_down();
    }
    if let Some(w) = found {
        return w;
    }
    let watcher = Rc::new(Watcher {
        lp: lp.clone(),
        listening: Cell::new(0),
        children: RefCell::new(Vec::new()),
        retired: Cell::new(false),
    });
    WATCHERS.with(|ws| ws.borrow_mut().push(watcher.clone()));
    watcher
}

/// Captured by the SIGCHLD handler: notes when the handler goes away
/// (replaced, removed, or the loop closed), and on close reaps the
/// remaining children in the background.
struct Keeper {
    watcher: Rc<Watcher>,
    token: u64,
}

impl Drop for Keeper {
    fn drop(&mut self) {
        let w = &self.watcher;
        if w.listening.get() == self.token {
            w.listening.set(0);
        }
        if w.lp.is_closed() {
            w.shut_down();
        }
    }
}

impl Watcher {
    /// Makes the watcher's handler the loop's SIGCHLD handler, unless it
    /// is already.
    fn listen(self: &Rc<Self>) -> Result<()> {
        if self.listening.get() != 0 {
            return Ok(());
        }
        let token = TOKENS.with(|t| {
            t.set(t.get() + 1);
            t.get()
        });
        let keeper = Keeper {
            watcher: self.clone(),
            token,
        };
        self.lp
            .add_signal_handler(SIGCHLD, move || keeper.watcher.check())?;
        self.listening.set(token);
        Ok(())
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
        self.retire_if_idle();
    }

    /// No child left: stop watching and give SIGCHLD back (a later child
    /// makes a new watcher).
    fn retire_if_idle(&self) {
        if self.retired.get() || !self.children.borrow().is_empty() {
            return;
        }
        self.retired.set(true);
        self.forget();
        if self.listening.get() != 0 {
            // Still the loop's SIGCHLD handler (a replacement would have
            // cleared `listening`): remove it.
            self.listening.set(0);
            self.lp.remove_signal_handler(SIGCHLD);
        }
    }

    /// The loop was closed: the children still running are reaped in the
    /// background.
    fn shut_down(&self) {
        self.retired.set(true);
        self.forget();
        let children = std::mem::take(&mut *self.children.borrow_mut());
        for child in children {
            child.abandon();
        }
    }

    /// Removes the watcher from this thread's list.
    fn forget(&self) {
        let me: *const Watcher = self;
        let removed = WATCHERS.try_with(|ws| {
            let mut ws = ws.borrow_mut();
            let at = ws.iter().position(|w| std::ptr::eq(Rc::as_ptr(w), me));
            at.map(|at| ws.swap_remove(at))
        });
        // Dropped outside the borrow.
        drop(removed);
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // Let go of with children still running (the thread is ending):
        // they are reaped in the background.
        for child in self.children.get_mut().drain(..) {
            child.abandon();
        }
    }
}
