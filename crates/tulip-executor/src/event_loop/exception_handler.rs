//! Error handling in the loop (asyncio's `set_exception_handler`,
//! `call_exception_handler`, `default_exception_handler`): errors that have
//! nobody to return to — a panic in a callback, a task error never
//! retrieved — are described by an [`ExceptionContext`] and handed to the
//! loop's handler. The loop goes on.

use std::fmt;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::rc::Rc;

use crate::error::Error;
use crate::event_loop::base_events::Loop;
use crate::event_loop::handle::Handle;
use crate::task::header::TaskRef;

/// An exception handler as [`Loop::get_exception_handler`] returns it: the
/// closure given to [`Loop::set_exception_handler`], shared.
pub type ExceptionHandler = Rc<dyn Fn(&Loop, &ExceptionContext)>;

/// What went wrong, asyncio's context dictionary as a struct.
///
/// ```
/// use tulip::{Error, ExceptionContext};
/// let ctx = ExceptionContext::new("something failed").with_error(Error::Timeout);
/// assert_eq!(ctx.message, "something failed");
/// assert!(ctx.error.as_ref().unwrap().is_timeout());
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ExceptionContext {
    /// A description of the problem (asyncio's `message`).
    pub message: String,
    /// The error, if any (asyncio's `exception`); a panic is
    /// [`Error::Panicked`].
    pub error: Option<Error>,
    /// The task concerned (asyncio's `task` / `future`).
    pub task: Option<TaskRef>,
    /// The callback concerned (asyncio's `handle`).
    pub handle: Option<Handle>,
    /// Where the task or callback was created (asyncio's `source_traceback`).
    pub source_location: Option<&'static Location<'static>>,
    /// Anything else, as (key, value) text pairs (asyncio's `protocol`,
    /// `transport`, `socket`, ... keys).
    pub extra: Vec<(&'static str, String)>,
}

impl ExceptionContext {
    /// A context with `message`.
    ///
    /// ```
    /// let ctx = tulip::ExceptionContext::new("socket read failed");
    /// assert_eq!(ctx.message, "socket read failed");
    /// assert!(ctx.error.is_none() && ctx.task.is_none());
    /// ```
    pub fn new(message: impl Into<String>) -> ExceptionContext {
        ExceptionContext {
            message: message.into(),
            ..ExceptionContext::default()
        }
    }

    /// The context with `error` set.
    ///
    /// ```
    /// use std::io;
    ///
    /// let ctx = tulip::ExceptionContext::new("socket read failed")
    ///     .with_error(io::Error::from(io::ErrorKind::ConnectionReset).into());
    /// assert!(matches!(ctx.error, Some(tulip::Error::Io(_))));
    /// ```
    pub fn with_error(mut self, error: Error) -> ExceptionContext {
        self.error = Some(error);
        self
    }

    /// The context with `task` set.
    ///
    /// ```
    /// tulip::run(async {
    ///     let task = tulip::spawn(async {});
    ///     let ctx = tulip::ExceptionContext::new("task failed").with_task(task.task_ref());
    ///     assert!(ctx.task.unwrap().same_task(&task.task_ref()));
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn with_task(mut self, task: TaskRef) -> ExceptionContext {
        self.task = Some(task);
        self
    }

    /// The context with an extra key.
    ///
    /// ```
    /// let ctx = tulip::ExceptionContext::new("write failed").with_extra("peer", "127.0.0.1:8080");
    /// assert_eq!(ctx.extra, [("peer", String::from("127.0.0.1:8080"))]);
    /// ```
    pub fn with_extra(mut self, key: &'static str, value: impl Into<String>) -> ExceptionContext {
        self.extra.push((key, value.into()));
        self
    }
}

impl fmt::Display for ExceptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(task) = &self.task {
            write!(f, "\ntask: {task:?}")?;
        }
        if let Some(handle) = &self.handle {
            write!(f, "\nhandle: {handle:?}")?;
        }
        if let Some(loc) = self.source_location {
            write!(f, "\ncreated at: {loc}")?;
        }
        for (k, v) in &self.extra {
            write!(f, "\n{k}: {v}")?;
        }
        if let Some(e) = &self.error {
            write!(f, "\nerror: {e}")?;
        }
        Ok(())
    }
}

impl Loop {
    /// Sets the loop's exception handler (asyncio's
    /// `set_exception_handler`): it is called, on the loop thread, with the
    /// loop and the context of every error nobody else can receive.
    /// [`reset_exception_handler`](Loop::reset_exception_handler) restores
    /// the default.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// let seen = Rc::new(RefCell::new(Vec::new()));
    /// let s = seen.clone();
    /// lp.set_exception_handler(move |_lp, ctx| s.borrow_mut().push(ctx.message.clone()));
    /// lp.call_soon(|| panic!("boom"))?;
    /// lp.call_soon({ let lp = lp.clone(); move || lp.stop() })?;
    /// event_loop.run_forever()?; // the loop survives the panic
    /// assert_eq!(seen.borrow().len(), 1);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn set_exception_handler(&self, handler: impl Fn(&Loop, &ExceptionContext) + 'static) {
        *self.inner.exception_handler.borrow_mut() = Some(Rc::new(handler));
    }

    /// Restores the default exception handler
    /// ([`default_exception_handler`](Loop::default_exception_handler);
    /// asyncio's `set_exception_handler(None)`).
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// event_loop.set_exception_handler(|_lp, _ctx| {});
    /// event_loop.reset_exception_handler();
    /// assert!(event_loop.get_exception_handler().is_none());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn reset_exception_handler(&self) {
        self.inner.exception_handler.borrow_mut().take();
    }

    /// The handler set with [`set_exception_handler`](Loop::set_exception_handler)
    /// (`None`: the default one). A saved handler `h` is set again with
    /// `lp.set_exception_handler(move |lp, ctx| h(lp, ctx))`.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// assert!(event_loop.get_exception_handler().is_none()); // the default one
    /// event_loop.set_exception_handler(|_, _| ());
    /// let saved = event_loop.get_exception_handler().unwrap();
    /// event_loop.reset_exception_handler();
    /// event_loop.set_exception_handler(move |lp, ctx| saved(lp, ctx)); // set again
    /// assert!(event_loop.get_exception_handler().is_some());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn get_exception_handler(&self) -> Option<ExceptionHandler> {
        self.inner.exception_handler.borrow().clone()
    }

    /// The default handler: logs the context (through `log` at error level,
    /// or on standard error when no logger is installed).
    ///
    /// ```
    /// use tulip::ExceptionContext;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// // A custom handler that filters, then defers to the default one (which logs).
    /// event_loop.set_exception_handler(|lp, ctx| {
    ///     if !ctx.message.contains("expected") {
    ///         lp.default_exception_handler(ctx);
    ///     }
    /// });
    /// event_loop.call_exception_handler(&ExceptionContext::new("an expected hiccup"));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn default_exception_handler(&self, context: &ExceptionContext) {
        let mut msg = context.to_string();
        if msg.is_empty() {
            msg = String::from("Unhandled exception in event loop");
        }
        crate::event_loop::debug::error(&msg);
    }

    /// Reports `context` to the loop's handler (or the default one). A panic
    /// in a custom handler is caught and reported by the default handler.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use tulip::ExceptionContext;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let seen = Rc::new(RefCell::new(Vec::new()));
    /// let log = seen.clone();
    /// event_loop.set_exception_handler(move |_, ctx| log.borrow_mut().push(ctx.message.clone()));
    /// event_loop.call_exception_handler(&ExceptionContext::new("protocol error"));
    /// assert_eq!(*seen.borrow(), ["protocol error"]);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn call_exception_handler(&self, context: &ExceptionContext) {
        let handler = self.inner.exception_handler.borrow().clone();
        match handler {
            None => self.default_exception_handler(context),
            Some(h) => {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| h(self, context))) {
                    let err = Error::Panicked(crate::error::PanicError::new(payload));
                    self.default_exception_handler(
                        &ExceptionContext::new("Unhandled error in exception handler")
                            .with_error(err)
                            .with_extra("context", context.to_string()),
                    );
                }
            }
        }
    }
}
