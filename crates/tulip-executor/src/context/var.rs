//! [`ContextVar`]: a typed key into the current [`Context`](super::Context),
//! with [`Token`]s to undo a `set`, and [`TokenError`] for a token that
//! cannot undo it (asyncio's `RuntimeError` and `ValueError` of
//! `ContextVar.reset`).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::current::{mark_in_use, next_id, with_current};
use super::map::Value;
use crate::error::Error;

/// A context variable: asyncio's `contextvars.ContextVar`, typed. Its value
/// belongs to the current [`Context`](super::Context), so each task (and
/// each callback) sees the value of the context it runs in: a copy of its
/// creator's.
///
/// Declare one as a `static` (as Python declares them at module level);
/// values must be `Clone + Send + Sync` because a context reaches the
/// thread pool ([`to_thread`](crate::to_thread)). [`get`](ContextVar::get)
/// gives a clone, so for large values store an `Arc`.
///
/// ```
/// use tulip::contextvars::ContextVar;
/// use tulip::prelude::*;
///
/// static REQUEST_ID: ContextVar<u64> = ContextVar::new("request_id");
///
/// async fn handle(id: u64) -> String {
///     REQUEST_ID.set(id);
///     log("start").await
/// }
///
/// async fn log(what: &str) -> String {
///     // No parameter threading: the task's context knows.
///     format!("[request {}] {what}", REQUEST_ID.get().unwrap_or(0))
/// }
///
/// tulip::run(async {
///     let a = spawn(handle(1));
///     let b = spawn(handle(2));
///     assert_eq!(a.await?, "[request 1] start");
///     assert_eq!(b.await?, "[request 2] start");
///     assert_eq!(REQUEST_ID.get(), None); // the children's sets stay theirs
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
pub struct ContextVar<T> {
    name: &'static str,
    default: Option<T>,
    /// The key in a context's map, assigned on first use (so that `new`
    /// can be `const`); 0 until then.
    id: AtomicU64,
}

impl<T> ContextVar<T> {
    /// A variable without a default (asyncio's `ContextVar(name)`). `const`,
    /// for a `static`.
    ///
    /// ```
    /// use tulip::contextvars::ContextVar;
    ///
    /// static USER: ContextVar<String> = ContextVar::new("user");
    /// assert_eq!(USER.name(), "user");
    /// assert_eq!(USER.get(), None);
    /// ```
    pub const fn new(name: &'static str) -> ContextVar<T> {
        ContextVar {
            name,
            default: None,
            id: AtomicU64::new(0),
        }
    }

    /// A variable whose [`get`](ContextVar::get) gives `default` where it is
    /// not set (asyncio's `ContextVar(name, default=...)`).
    ///
    /// ```
    /// use tulip::contextvars::ContextVar;
    ///
    /// static RETRIES: ContextVar<u32> = ContextVar::with_default("retries", 3);
    /// assert_eq!(RETRIES.get(), Some(3));
    /// RETRIES.set(5);
    /// assert_eq!(RETRIES.get(), Some(5));
    /// ```
    pub const fn with_default(name: &'static str, default: T) -> ContextVar<T> {
        ContextVar {
            name,
            default: Some(default),
            id: AtomicU64::new(0),
        }
    }

    /// The variable's name (asyncio's `ContextVar.name`).
    ///
    /// ```
    /// static V: tulip::contextvars::ContextVar<u8> = tulip::contextvars::ContextVar::new("v");
    /// assert_eq!(V.name(), "v");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The variable's default, if it has one.
    ///
    /// ```
    /// use tulip::contextvars::ContextVar;
    ///
    /// static MODE: ContextVar<&str> = ContextVar::with_default("mode", "fast");
    /// assert_eq!(MODE.default(), Some(&"fast"));
    /// ```
    pub fn default(&self) -> Option<&T> {
        self.default.as_ref()
    }

    /// This variable's key in a context's map.
    pub(super) fn key(&self) -> u64 {
        let id = self.id.load(Ordering::Relaxed);
        if id != 0 {
            return id;
        }
        let fresh = next_id();
        match self
            .id
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh,
            Err(theirs) => theirs,
        }
    }
}

impl<T: Send + Sync + 'static> ContextVar<T> {
    /// The value stored in the current context, with the reference count
    /// of its allocation held (no user code runs while the context is out).
    fn stored(&self) -> Option<Value> {
        let key = self.key();
        with_current(|c| c.map.get(key).map(|leaf| leaf.value.clone()))
    }

    /// The value in the current context, else the variable's default, else
    /// `None` (asyncio's `var.get()`, with `None` for its `LookupError`).
    ///
    /// ```
    /// use tulip::contextvars::ContextVar;
    ///
    /// static NAME: ContextVar<String> = ContextVar::new("name");
    /// assert_eq!(NAME.get(), None);
    /// NAME.set("tulip".to_string());
    /// assert_eq!(NAME.get().as_deref(), Some("tulip"));
    /// ```
    pub fn get(&self) -> Option<T>
    where
        T: Clone,
    {
        self.with(|v| v.cloned())
    }

    /// The value in the current context, else `fallback` (asyncio's
    /// `var.get(default)`: the fallback wins over the variable's default).
    ///
    /// ```
    /// use tulip::contextvars::ContextVar;
    ///
    /// static PORT: ContextVar<u16> = ContextVar::with_default("port", 80);
    /// assert_eq!(PORT.get_or(8080), 8080);
    /// PORT.set(443);
    /// assert_eq!(PORT.get_or(8080), 443);
    /// ```
    pub fn get_or(&self, fallback: T) -> T
    where
        T: Clone,
    {
        match self.stored() {
            Some(v) => v.downcast_ref::<T>().cloned().unwrap_or(fallback),
            None => fallback,
        }
    }

    /// [`get`](ContextVar::get), else `T::default()`.
    ///
    /// ```
    /// use tulip::contextvars::ContextVar;
    ///
    /// static TAGS: ContextVar<Vec<String>> = ContextVar::new("tags");
    /// assert!(TAGS.get_or_default().is_empty());
    /// ```
    pub fn get_or_default(&self) -> T
    where
        T: Clone + Default,
    {
        self.get().unwrap_or_default()
    }

    /// Calls `f` with a reference to what [`get`](ContextVar::get) would
    /// clone: for values that are costly to clone.
    ///
    /// ```
    /// use tulip::contextvars::ContextVar;
    ///
    /// static BODY: ContextVar<Vec<u8>> = ContextVar::new("body");
    /// BODY.set(vec![0; 4096]);
    /// let len = BODY.with(|body| body.map_or(0, Vec::len)); // no copy of the body
    /// assert_eq!(len, 4096);
    /// ```
    pub fn with<R>(&self, f: impl FnOnce(Option<&T>) -> R) -> R {
        let stored = self.stored();
        match stored.as_deref().and_then(|v| v.downcast_ref::<T>()) {
            Some(v) => f(Some(v)),
            None => f(self.default.as_ref()),
        }
    }

    /// Sets the variable in the current context (asyncio's `var.set`);
    /// the [`Token`] undoes it with [`reset`](ContextVar::reset).
    ///
    /// ```
    /// use tulip::contextvars::ContextVar;
    ///
    /// static DEPTH: ContextVar<u32> = ContextVar::new("depth");
    /// let token = DEPTH.set(1);
    /// assert_eq!(token.old_value(), None); // it was not set before
    /// assert_eq!(DEPTH.get(), Some(1));
    /// ```
    pub fn set(&self, value: T) -> Token<T> {
        let key = self.key();
        let value: Value = Arc::new(value);
        mark_in_use();
        let (old, context) = with_current(|c| {
            if c.id == 0 {
                c.id = next_id();
            }
            (c.map.insert(key, self.name, value), c.id)
        });
        Token {
            var: key,
            var_name: self.name,
            context,
            old,
            used: AtomicBool::new(false),
            _type: PhantomData,
        }
    }

    /// Puts the variable back as it was before the `set` that gave `token`
    /// (asyncio's `var.reset(token)`): to the old value, or unset.
    ///
    /// Errors, as asyncio's: [`TokenError::AlreadyUsed`] for a token that
    /// already reset (asyncio's `RuntimeError`), [`TokenError::WrongVar`]
    /// for another variable's token and [`TokenError::WrongContext`] for a
    /// token made in another context, e.g. another task (asyncio's
    /// `ValueError`s). On an error nothing changes.
    ///
    /// ```
    /// use tulip::contextvars::{ContextVar, TokenError};
    ///
    /// static DEPTH: ContextVar<u32> = ContextVar::new("depth");
    /// static OTHER: ContextVar<u32> = ContextVar::new("other");
    /// let first = DEPTH.set(1);
    /// let second = DEPTH.set(2);
    /// assert_eq!(second.old_value(), Some(1));
    /// assert!(matches!(OTHER.reset(&second), Err(TokenError::WrongVar { .. })));
    /// DEPTH.reset(&second)?;
    /// assert_eq!(DEPTH.get(), Some(1));
    /// assert_eq!(DEPTH.reset(&second), Err(TokenError::AlreadyUsed { var: "depth" }));
    /// DEPTH.reset(&first)?;
    /// assert_eq!(DEPTH.get(), None); // unset again
    /// # Ok::<(), TokenError>(())
    /// ```
    pub fn reset(&self, token: &Token<T>) -> Result<(), TokenError> {
        if token.used.load(Ordering::Acquire) {
            return Err(TokenError::AlreadyUsed { var: self.name });
        }
        let key = self.key();
        if token.var != key {
            return Err(TokenError::WrongVar {
                token_var: token.var_name,
                var: self.name,
            });
        }
        let displaced = with_current(|c| {
            if c.id == 0 || c.id != token.context {
                return Err(TokenError::WrongContext { var: self.name });
            }
            Ok(match &token.old {
                Some(old) => c.map.insert(key, self.name, old.clone()),
                None => c.map.remove(key),
            })
        })?;
        token.used.store(true, Ordering::Release);
        // Dropped with the context back in place: a value's destructor may
        // read variables.
        drop(displaced);
        Ok(())
    }
}

impl<T> fmt::Debug for ContextVar<T> {
    /// The variable's name.
    ///
    /// ```
    /// static V: tulip::contextvars::ContextVar<u8> = tulip::contextvars::ContextVar::new("v");
    /// assert_eq!(format!("{V:?}"), "ContextVar { name: \"v\" }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextVar")
            .field("name", &self.name)
            .finish()
    }
}

/// What [`ContextVar::set`] returns: the means to undo that `set` with
/// [`ContextVar::reset`], once, in the context it was made in (asyncio's
/// `contextvars.Token`).
///
/// ```
/// use tulip::contextvars::ContextVar;
///
/// static LEVEL: ContextVar<&str> = ContextVar::with_default("level", "info");
/// let token = LEVEL.set("debug");
/// assert_eq!(token.var_name(), "level");
/// assert_eq!(token.old_value(), None); // unset before (the default is not a value)
/// LEVEL.reset(&token)?;
/// assert!(token.used());
/// assert_eq!(LEVEL.get(), Some("info"));
/// # Ok::<(), tulip::contextvars::TokenError>(())
/// ```
pub struct Token<T> {
    var: u64,
    var_name: &'static str,
    context: u64,
    old: Option<Value>,
    used: AtomicBool,
    _type: PhantomData<fn() -> T>,
}

impl<T> Token<T> {
    /// The name of the variable the token is for (asyncio's `Token.var`).
    ///
    /// ```
    /// static V: tulip::contextvars::ContextVar<u8> = tulip::contextvars::ContextVar::new("v");
    /// assert_eq!(V.set(1).var_name(), "v");
    /// ```
    pub fn var_name(&self) -> &'static str {
        self.var_name
    }

    /// Whether the token already reset its variable.
    ///
    /// ```
    /// static V: tulip::contextvars::ContextVar<u8> = tulip::contextvars::ContextVar::new("v");
    /// let token = V.set(1);
    /// assert!(!token.used());
    /// V.reset(&token)?;
    /// assert!(token.used());
    /// # Ok::<(), tulip::contextvars::TokenError>(())
    /// ```
    pub fn used(&self) -> bool {
        self.used.load(Ordering::Acquire)
    }
}

impl<T: Clone + 'static> Token<T> {
    /// The value the variable had before the `set`, `None` if it was not
    /// set (asyncio's `Token.old_value`, with `None` for `Token.MISSING`).
    ///
    /// ```
    /// static V: tulip::contextvars::ContextVar<u8> = tulip::contextvars::ContextVar::new("v");
    /// V.set(1);
    /// assert_eq!(V.set(2).old_value(), Some(1));
    /// ```
    pub fn old_value(&self) -> Option<T> {
        self.old
            .as_deref()
            .and_then(|v| v.downcast_ref::<T>())
            .cloned()
    }
}

impl<T> fmt::Debug for Token<T> {
    /// The variable's name and whether the token was used.
    ///
    /// ```
    /// static V: tulip::contextvars::ContextVar<u8> = tulip::contextvars::ContextVar::new("v");
    /// assert_eq!(format!("{:?}", V.set(1)), "Token { var: \"v\", used: false }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("var", &self.var_name)
            .field("used", &self.used())
            .finish()
    }
}

/// Why [`ContextVar::reset`] refused a token (asyncio's `RuntimeError` and
/// `ValueError`s of `ContextVar.reset`). Converts into
/// [`Error::Exception`](crate::Error::Exception) for `?` in code that
/// returns [`tulip::Error`](crate::Error).
///
/// ```
/// use tulip::contextvars::{ContextVar, TokenError};
/// use tulip::prelude::*;
///
/// static USER: ContextVar<&str> = ContextVar::new("user");
///
/// tulip::run(async {
///     let token = USER.set("alice");
///     // Another task runs in a copy of this context, not in this context.
///     let err = spawn(async move { USER.reset(&token) }).await?.unwrap_err();
///     assert_eq!(err, TokenError::WrongContext { var: "user" });
///     assert!(err.to_string().contains("different context"));
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The token already reset its variable (asyncio's `RuntimeError:
    /// Token has already been used once`).
    AlreadyUsed {
        /// The variable's name.
        var: &'static str,
    },
    /// The token is another variable's (asyncio's `ValueError: Token was
    /// created by a different ContextVar`).
    WrongVar {
        /// The name of the variable the token is for.
        token_var: &'static str,
        /// The name of the variable `reset` was called on.
        var: &'static str,
    },
    /// The token was made in another context (another task, callback or
    /// [`Context::run`](super::Context::run)) than the current one
    /// (asyncio's `ValueError: Token was created in a different Context`).
    WrongContext {
        /// The variable's name.
        var: &'static str,
    },
}

impl fmt::Display for TokenError {
    /// Names the variable and what was wrong.
    ///
    /// ```
    /// use tulip::contextvars::TokenError;
    ///
    /// let err = TokenError::AlreadyUsed { var: "user" };
    /// assert_eq!(
    ///     err.to_string(),
    ///     "the token of context variable 'user' has already been used once"
    /// );
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::AlreadyUsed { var } => write!(
                f,
                "the token of context variable '{var}' has already been used once"
            ),
            TokenError::WrongVar { token_var, var } => write!(
                f,
                "a token of context variable '{token_var}' cannot reset context variable '{var}'"
            ),
            TokenError::WrongContext { var } => write!(
                f,
                "the token of context variable '{var}' was created in a different context"
            ),
        }
    }
}

impl std::error::Error for TokenError {}

impl From<TokenError> for Error {
    /// [`Error::Exception`] holding the token error.
    ///
    /// ```
    /// let err = tulip::Error::from(tulip::contextvars::TokenError::AlreadyUsed { var: "v" });
    /// assert!(matches!(err, tulip::Error::Exception(_)));
    /// ```
    fn from(e: TokenError) -> Error {
        Error::Exception(Arc::new(e))
    }
}
