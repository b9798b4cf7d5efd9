//! [`Context`]: a copy-on-write mapping of context variables to values,
//! and the thread's current one (what [`ContextVar`] reads and writes).
//!
//! A thread always has a current context (empty at first). Running code in
//! a context ([`Context::run`], a task's poll, a callback) swaps it in and
//! swaps it back out afterwards, keeping what the code set: moves, no
//! reference counting.
//!
//! Until the first [`ContextVar::set`] of the process, every context is
//! empty, and the loop's hot paths (creating a task, polling it, scheduling
//! and running a callback) skip all of this on one load of a process-wide
//! flag ([`in_use`]): a program that never sets a variable pays nothing
//! else. Code that sets the first variable while running on such a fast
//! path has its set moved into its own context when it returns
//! ([`run_fast_or_in`]).

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::map::{Leaf, Map};
use super::var::ContextVar;

/// The source of variable and context identities (never 0).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Whether a context variable was ever set in this process. Until then
/// every context is empty.
static IN_USE: AtomicBool = AtomicBool::new(false);

/// Whether any context may hold a value (a variable was set, ever).
#[inline]
pub(crate) fn in_use() -> bool {
    IN_USE.load(Ordering::Relaxed)
}

/// Records that a variable is being set (before the set).
pub(super) fn mark_in_use() {
    if !in_use() {
        IN_USE.store(true, Ordering::Relaxed);
    }
}

/// Ends a run on the fast path (begun while every context was empty): if
/// the run set the process's first variable, what it set is moved out of
/// the thread's context into `into` (or dropped), also on unwind.
pub(crate) struct FirstSetGuard<'a> {
    pub(crate) into: Option<&'a Cell<Context>>,
}

impl Drop for FirstSetGuard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        if in_use() {
            first_set_out(self.into);
        }
    }
}

#[cold]
#[inline(never)]
fn first_set_out(into: Option<&Cell<Context>>) {
    let set = swap_current(Context::new());
    match into {
        Some(cell) => cell.set(set),
        None => drop(set),
    }
}

/// Runs `f` in the context `slot` holds, keeping what `f` sets there;
/// `slot` is reached through `get` (take) and `put`. Before any variable
/// was set (all contexts empty) nothing is swapped: `f` runs in the
/// thread's (empty) current context, and if `f` set the first variable,
/// what it set is moved out into the slot afterwards.
#[inline]
pub(crate) fn run_fast_or_in<R>(
    get: impl FnOnce() -> Context,
    put: impl FnOnce(Context),
    f: impl FnOnce() -> R,
) -> R {
    /// On the fast path: moves what `f` set (if it set the first variable)
    /// out of the thread's context into the slot, also on unwind.
    struct MoveOut<P: FnOnce(Context)>(Option<P>);
    impl<P: FnOnce(Context)> Drop for MoveOut<P> {
        #[inline]
        fn drop(&mut self) {
            if in_use() {
                if let Some(put) = self.0.take() {
                    put(swap_current(Context::new()));
                }
            }
        }
    }
    if !in_use() {
        let _move_out = MoveOut(Some(put));
        return f();
    }
    let mut ctx = get();
    let out = ctx.run(f);
    put(ctx);
    out
}

pub(super) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

thread_local! {
    /// The context code on this thread runs in.
    static CURRENT: Cell<Context> = const { Cell::new(Context::new()) };
}

/// Makes `ctx` the thread's current context; returns the one it replaced.
/// (A thread being torn down has no current context: `ctx` is returned.)
#[inline]
pub(crate) fn swap_current(ctx: Context) -> Context {
    let mut ctx = Some(ctx);
    CURRENT
        .try_with(|c| c.replace(ctx.take().unwrap_or_default()))
        .unwrap_or_else(|_| ctx.take().unwrap_or_default())
}

/// Calls `f` with the current context, taken out of the thread-local for
/// the call (so `f` must not run user code that could read it).
pub(super) fn with_current<R>(f: impl FnOnce(&mut Context) -> R) -> R {
    let mut f = Some(f);
    let mut call = |ctx: &mut Context| f.take().map(|f| f(ctx));
    let out = CURRENT.try_with(|c| {
        let mut ctx = c.take();
        let out = call(&mut ctx);
        c.set(ctx);
        out
    });
    // A thread being torn down: an empty context stands in.
    match out {
        Ok(Some(out)) => out,
        _ => call(&mut Context::new()).expect("`f` not called yet"),
    }
}

/// A snapshot of context variables and their values: asyncio's
/// `contextvars.Context`, as a value. Copying one ([`Clone`],
/// [`copy`](Context::copy), [`Context::current`]) is O(1) whatever it holds
/// (a persistent map, as CPython's), and an empty one is a null pointer.
///
/// Every task runs in a copy of the context current when it was created,
/// and every callback in the one current when it was scheduled, so a
/// [`ContextVar`] set in a task is seen by the tasks and callbacks it
/// starts afterwards, and never by its parent. [`run`](Context::run) runs
/// code in a context of your choice and keeps what it sets.
///
/// Departing from asyncio, where a `Context` is a shared mutable object,
/// a tulip `Context` is a value: [`Task::get_context`](crate::Task::get_context)
/// and [`Handle::get_context`](crate::Handle::get_context) give a copy, and what is
/// set in a copy stays in that copy.
///
/// ```
/// use tulip::contextvars::{Context, ContextVar};
///
/// static USER: ContextVar<&str> = ContextVar::new("user");
///
/// let _token = USER.set("alice");
/// let mut ctx = Context::current(); // a copy: alice
/// ctx.run(|| {
///     assert_eq!(USER.get(), Some("alice"));
///     USER.set("bob"); // kept in ctx, not seen outside
/// });
/// assert_eq!(USER.get(), Some("alice"));
/// assert_eq!(ctx.get(&USER), Some("bob"));
/// assert_eq!(ctx.len(), 1);
/// ```
pub struct Context {
    pub(super) map: Map,
    /// The identity tokens check against ([`ContextVar::reset`]); 0 until a
    /// token is made in this context. A copy gets a new one.
    pub(super) id: u64,
}

impl Context {
    /// An empty context (asyncio's `contextvars.Context()`).
    ///
    /// ```
    /// use tulip::contextvars::{Context, ContextVar};
    ///
    /// static LEVEL: ContextVar<u8> = ContextVar::new("level");
    /// LEVEL.set(3);
    /// Context::new().run(|| assert_eq!(LEVEL.get(), None));
    /// assert_eq!(LEVEL.get(), Some(3));
    /// ```
    pub const fn new() -> Context {
        Context {
            map: Map::EMPTY,
            id: 0,
        }
    }

    /// A copy of the context code runs in now (asyncio's
    /// `contextvars.copy_context()`).
    ///
    /// ```
    /// use tulip::contextvars::{Context, ContextVar};
    ///
    /// static LEVEL: ContextVar<u8> = ContextVar::new("level");
    /// LEVEL.set(1);
    /// let snapshot = Context::current();
    /// LEVEL.set(2);
    /// assert_eq!(snapshot.get(&LEVEL), Some(1)); // taken before the second set
    /// ```
    #[inline]
    pub fn current() -> Context {
        if !in_use() {
            return Context::new();
        }
        with_current(|c| c.copy())
    }

    /// A copy of this context (asyncio's `Context.copy()`): the same
    /// values, a separate identity. O(1). `Clone` does the same.
    ///
    /// ```
    /// use tulip::contextvars::{Context, ContextVar};
    ///
    /// static N: ContextVar<u32> = ContextVar::new("n");
    /// let mut a = Context::new();
    /// a.run(|| N.set(1));
    /// let mut b = a.copy();
    /// b.run(|| N.set(2));
    /// assert_eq!((a.get(&N), b.get(&N)), (Some(1), Some(2)));
    /// ```
    pub fn copy(&self) -> Context {
        Context {
            map: self.map.clone(),
            id: 0,
        }
    }

    /// Empty and without an identity: nothing to keep.
    #[inline]
    pub(crate) fn is_blank(&self) -> bool {
        self.id == 0 && self.map.is_empty()
    }

    /// The same context, identity included: for the task harness, which
    /// keeps the task's copy while the thread holds this one.
    pub(crate) fn share(&self) -> Context {
        Context {
            map: self.map.clone(),
            id: self.id,
        }
    }

    /// Runs `f` with this context as the current one (asyncio's
    /// `Context.run`): what `f` reads comes from it, and what `f` sets is
    /// kept in it. The context current before comes back afterwards, also
    /// if `f` panics.
    ///
    /// ```
    /// use tulip::contextvars::{Context, ContextVar};
    ///
    /// static REQUEST: ContextVar<u64> = ContextVar::new("request");
    /// let mut ctx = Context::new();
    /// let seen = ctx.run(|| {
    ///     REQUEST.set(7);
    ///     REQUEST.get()
    /// });
    /// assert_eq!(seen, Some(7));
    /// assert_eq!(REQUEST.get(), None); // outside, unchanged
    /// assert_eq!(ctx.get(&REQUEST), Some(7)); // kept in ctx
    /// ```
    pub fn run<R>(&mut self, f: impl FnOnce() -> R) -> R {
        /// Swaps the context back out of the thread-local, also on unwind.
        struct Entered<'a> {
            ctx: &'a mut Context,
            previous: Option<Context>,
        }
        impl Drop for Entered<'_> {
            fn drop(&mut self) {
                let previous = self.previous.take().unwrap_or_default();
                *self.ctx = swap_current(previous);
            }
        }
        let previous = swap_current(std::mem::take(self));
        let _entered = Entered {
            ctx: self,
            previous: Some(previous),
        };
        f()
    }

    /// The value of `var` in this context, if it is set here (asyncio's
    /// `ctx.get(var)`; the variable's own default is not consulted).
    ///
    /// ```
    /// use tulip::contextvars::{Context, ContextVar};
    ///
    /// static MODE: ContextVar<&str> = ContextVar::with_default("mode", "fast");
    /// let mut ctx = Context::new();
    /// assert_eq!(ctx.get(&MODE), None); // the default is the variable's, not the context's
    /// ctx.run(|| MODE.set("safe"));
    /// assert_eq!(ctx.get(&MODE), Some("safe"));
    /// ```
    pub fn get<T: Clone + Send + Sync + 'static>(&self, var: &ContextVar<T>) -> Option<T> {
        self.map
            .get(var.key())
            .and_then(|leaf| leaf.value.downcast_ref::<T>().cloned())
    }

    /// Whether `var` is set in this context (asyncio's `var in ctx`).
    ///
    /// ```
    /// use tulip::contextvars::{Context, ContextVar};
    ///
    /// static FLAG: ContextVar<bool> = ContextVar::new("flag");
    /// assert!(!Context::current().contains(&FLAG));
    /// FLAG.set(true);
    /// assert!(Context::current().contains(&FLAG));
    /// ```
    pub fn contains<T: Send + Sync + 'static>(&self, var: &ContextVar<T>) -> bool {
        self.map.get(var.key()).is_some()
    }

    /// How many variables are set in this context (asyncio's `len(ctx)`).
    ///
    /// ```
    /// use tulip::contextvars::{Context, ContextVar};
    ///
    /// static A: ContextVar<i32> = ContextVar::new("a");
    /// static B: ContextVar<i32> = ContextVar::new("b");
    /// let mut ctx = Context::new();
    /// ctx.run(|| {
    ///     A.set(1);
    ///     B.set(2);
    ///     A.set(3); // the same variable again
    /// });
    /// assert_eq!(ctx.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no variable is set in this context.
    ///
    /// ```
    /// assert!(tulip::contextvars::Context::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The variables set in this context, by name, with their values
    /// type-erased (asyncio's `ctx.items()`), in no particular order.
    /// Downcast a value with
    /// [`downcast_ref`](std::any::Any), or read it typed with
    /// [`get`](Context::get).
    ///
    /// ```
    /// use tulip::contextvars::{Context, ContextVar};
    ///
    /// static USER: ContextVar<String> = ContextVar::new("user");
    /// static TRIES: ContextVar<u32> = ContextVar::new("tries");
    /// let mut ctx = Context::new();
    /// ctx.run(|| {
    ///     USER.set("alice".to_string());
    ///     TRIES.set(3);
    /// });
    /// let mut names: Vec<&str> = ctx.iter().map(|(name, _)| name).collect();
    /// names.sort();
    /// assert_eq!(names, ["tries", "user"]);
    /// let tries = ctx.iter().find(|(name, _)| *name == "tries").unwrap().1;
    /// assert_eq!(tries.downcast_ref::<u32>(), Some(&3));
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &(dyn Any + Send + Sync))> + '_ {
        self.map.iter().map(|leaf: &Leaf| (leaf.name, &*leaf.value))
    }
}

impl Default for Context {
    /// An empty context.
    ///
    /// ```
    /// assert!(tulip::contextvars::Context::default().is_empty());
    /// ```
    fn default() -> Context {
        Context::new()
    }
}

impl Clone for Context {
    /// [`Context::copy`]: the same values, a separate identity.
    ///
    /// ```
    /// use tulip::contextvars::{Context, ContextVar};
    ///
    /// static N: ContextVar<u32> = ContextVar::new("n");
    /// let token = N.set(1);
    /// let mut copy = Context::current().clone();
    /// // The token belongs to this thread's context, not to the copy.
    /// assert!(copy.run(|| N.reset(&token)).is_err());
    /// ```
    fn clone(&self) -> Context {
        self.copy()
    }
}

impl fmt::Debug for Context {
    /// The names of the variables set.
    ///
    /// ```
    /// use tulip::contextvars::{Context, ContextVar};
    ///
    /// static USER: ContextVar<u32> = ContextVar::new("user");
    /// let mut ctx = Context::new();
    /// ctx.run(|| USER.set(1));
    /// assert_eq!(format!("{ctx:?}"), "Context { vars: [\"user\"] }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(|(name, _)| name).collect();
        f.debug_struct("Context").field("vars", &names).finish()
    }
}
