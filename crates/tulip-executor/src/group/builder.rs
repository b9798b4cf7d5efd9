//! [`LoopGroupBuilder`], the options of a [`LoopGroup`], and
//! [`PanicPolicy`].

use std::fmt;
use std::io;
use std::sync::Arc;
use std::thread;

use tulip_reactor::BackendKind;

use crate::error::Error;
use crate::event_loop::base_events::Loop;
use crate::group::loop_group::LoopGroup;

/// The per-loop initialiser of [`LoopGroupBuilder::on_loop_start`].
pub(crate) type OnLoopStart = Arc<dyn Fn(&Loop, usize) + Send + Sync + 'static>;

/// What a panic in one loop's main task does to the rest of a
/// [`LoopGroup`]. Either way the panic is reported through that loop's
/// exception handler, and that loop's result in [`LoopGroup::run`] is the
/// [`Error::Panicked`] of the panic.
///
/// ```
/// use tulip::{LoopGroup, PanicPolicy};
///
/// let group = LoopGroup::builder().loops(2).panic_policy(PanicPolicy::StopGroup).build()?;
/// let results = group.run(|_lp, index| async move {
///     if index == 0 {
///         panic!("loop 0 fails");
///     }
///     std::future::pending::<()>().await // stopped with the group
/// })?;
/// assert!(results[0].as_ref().unwrap_err().is_panic());
/// assert!(results[1].as_ref().unwrap_err().is_cancelled());
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PanicPolicy {
    /// The other loops go on; `run` returns when every main task ended.
    /// The loop whose main task panicked stays alive too (the panic was
    /// caught with its task), serving its other tasks.
    #[default]
    KeepServing,
    /// The group stops, as [`LoopGroup::stop`] stops it: every other
    /// loop's main task is cancelled.
    StopGroup,
}

/// Builds a [`LoopGroup`]: [`LoopGroup::builder`] or
/// [`LoopGroupBuilder::new`], the options, then [`build`](Self::build).
///
/// ```
/// use tulip::LoopGroup;
///
/// let group = LoopGroup::builder().loops(2).thread_name("worker").build()?;
/// let names = group.run(|_lp, _index| async {
///     std::thread::current().name().unwrap().to_owned()
/// })?;
/// assert_eq!(names[0].as_ref().unwrap(), "worker-0");
/// assert_eq!(names[1].as_ref().unwrap(), "worker-1");
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone)]
pub struct LoopGroupBuilder {
    pub(crate) loops: Option<usize>,
    pub(crate) pin_cores: bool,
    pub(crate) thread_name: String,
    pub(crate) on_loop_start: Option<OnLoopStart>,
    pub(crate) backend: Option<BackendKind>,
    pub(crate) panic_policy: PanicPolicy,
}

impl Default for LoopGroupBuilder {
    fn default() -> LoopGroupBuilder {
        LoopGroupBuilder::new()
    }
}

impl LoopGroupBuilder {
    /// The default options: one loop per available CPU, not pinned,
    /// threads named `tulip-loop-{i}`, no initialiser, the default
    /// backend, [`PanicPolicy::KeepServing`].
    ///
    /// ```
    /// let group = tulip::LoopGroupBuilder::new().loops(1).build()?;
    /// assert_eq!(group.len(), 1);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn new() -> LoopGroupBuilder {
        LoopGroupBuilder {
            loops: None,
            pin_cores: false,
            thread_name: String::from("tulip-loop"),
            on_loop_start: None,
            backend: None,
            panic_policy: PanicPolicy::KeepServing,
        }
    }

    /// The number of loops (threads), 1 to [`LoopGroup::MAX_LOOPS`];
    /// default: [`std::thread::available_parallelism`]. Out of range,
    /// [`build`](Self::build) fails with an [`Error::Io`] of kind
    /// `InvalidInput` naming the limit.
    ///
    /// ```
    /// use tulip::LoopGroup;
    ///
    /// assert_eq!(LoopGroup::builder().loops(3).build()?.len(), 3);
    /// let err = LoopGroup::builder().loops(0).build().unwrap_err();
    /// assert!(err.to_string().contains("1 to 1024"), "{err}");
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn loops(mut self, n: usize) -> LoopGroupBuilder {
        self.loops = Some(n);
        self
    }

    /// Pins loop `i`'s thread to one CPU: the `i mod n`-th of the `n` CPUs
    /// the building thread may run on (its affinity mask, so a `taskset`
    /// or container restriction is kept). Default: not pinned. Linux only:
    /// elsewhere, or if the system refuses, [`build`](Self::build) fails
    /// with the [`Error::Io`] naming the loop and the CPU.
    ///
    /// ```
    /// use tulip::LoopGroup;
    ///
    /// # #[cfg(target_os = "linux")] {
    /// let group = LoopGroup::builder().loops(2).pin_cores(true).build()?;
    /// group.run(|_lp, _index| async { /* runs on one CPU */ })?;
    /// # }
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn pin_cores(mut self, pin: bool) -> LoopGroupBuilder {
        self.pin_cores = pin;
        self
    }

    /// The threads' names: `{prefix}-{i}` for loop `i` (default prefix:
    /// `tulip-loop`). A prefix with a NUL byte makes
    /// [`build`](Self::build) fail with an [`Error::Io`] of kind
    /// `InvalidInput`.
    ///
    /// ```
    /// use tulip::LoopGroup;
    ///
    /// let group = LoopGroup::builder().loops(1).thread_name("net").build()?;
    /// let names = group.run(|_lp, _i| async { std::thread::current().name().map(String::from) })?;
    /// assert_eq!(names[0].as_ref().unwrap().as_deref(), Some("net-0"));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn thread_name(mut self, prefix: impl Into<String>) -> LoopGroupBuilder {
        self.thread_name = prefix.into();
        self
    }

    /// A per-loop initialiser: `f(&lp, i)` runs on loop `i`'s thread, once,
    /// when the loop is made (before [`build`](Self::build) returns, the
    /// loop not yet running): set an exception handler, debug mode,
    /// thread-local state, or spawn tasks that serve for the group's whole
    /// life. A panic in it makes `build` fail with that
    /// [`Error::Panicked`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use tulip::LoopGroup;
    ///
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let count = started.clone();
    /// let group = LoopGroup::builder()
    ///     .loops(2)
    ///     .on_loop_start(move |lp, _index| {
    ///         lp.set_debug(true);
    ///         count.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()?;
    /// assert_eq!(started.load(Ordering::SeqCst), 2);
    /// let debug = group.run(|lp, _i| async move { lp.get_debug() })?;
    /// assert!(debug.iter().all(|d| *d.as_ref().unwrap()));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn on_loop_start<F>(mut self, f: F) -> LoopGroupBuilder
    where
        F: Fn(&Loop, usize) + Send + Sync + 'static,
    {
        self.on_loop_start = Some(Arc::new(f));
        self
    }

    /// The reactor backend of every loop (default: as
    /// [`EventLoopBuilder::backend`](crate::EventLoopBuilder::backend)).
    ///
    /// ```
    /// use tulip::{BackendKind, LoopGroup};
    ///
    /// let group = LoopGroup::builder().loops(2).backend(BackendKind::Polling).build()?;
    /// let kinds = group.run(|lp, _i| async move { lp.backend_kind() })?;
    /// assert!(kinds.iter().all(|k| *k.as_ref().unwrap() == BackendKind::Polling));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn backend(mut self, kind: BackendKind) -> LoopGroupBuilder {
        self.backend = Some(kind);
        self
    }

    /// What a panic in one loop's main task does to the others (default:
    /// [`PanicPolicy::KeepServing`]).
    ///
    /// ```
    /// use tulip::{LoopGroup, PanicPolicy};
    ///
    /// let group = LoopGroup::builder().loops(2).panic_policy(PanicPolicy::KeepServing).build()?;
    /// let results = group.run(|_lp, index| async move {
    ///     assert_ne!(index, 1, "loop 1 fails");
    ///     index
    /// })?;
    /// assert_eq!(*results[0].as_ref().unwrap(), 0);
    /// assert!(results[1].as_ref().unwrap_err().is_panic());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn panic_policy(mut self, policy: PanicPolicy) -> LoopGroupBuilder {
        self.panic_policy = policy;
        self
    }

    /// Starts the threads, each making its own loop (and running the
    /// initialiser on it); returns when every loop is ready. The loops run
    /// from then on (serving what the initialisers spawned and
    /// [`RemoteLoop`](crate::RemoteLoop) callbacks) until the group is
    /// stopped or dropped. On any error the threads already started are
    /// stopped and joined.
    ///
    /// Errors ([`Error::Io`] unless said): the number of loops out of
    /// range, a thread name with a NUL byte (kind `InvalidInput`); a
    /// thread that cannot be spawned; a loop that cannot be made; pinning
    /// refused or unsupported; [`Error::Panicked`] from an initialiser.
    ///
    /// ```
    /// let group = tulip::LoopGroup::builder().loops(2).build()?;
    /// assert_eq!(group.remotes().len(), 2);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn build(self) -> Result<LoopGroup, Error> {
        let loops = match self.loops {
            Some(n) => n,
            None => thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if loops == 0 || loops > LoopGroup::MAX_LOOPS {
            return Err(invalid_input(format!(
                "LoopGroupBuilder::loops({loops}): a LoopGroup has 1 to {} loops",
                LoopGroup::MAX_LOOPS
            )));
        }
        if self.thread_name.contains('\0') {
            return Err(invalid_input(format!(
                "LoopGroupBuilder::thread_name({:?}): a thread name cannot hold a NUL byte",
                self.thread_name
            )));
        }
        LoopGroup::start(self, loops)
    }
}

/// An [`Error::Io`] of kind `InvalidInput`.
fn invalid_input(message: String) -> Error {
    Error::from(io::Error::new(io::ErrorKind::InvalidInput, message))
}

impl fmt::Debug for LoopGroupBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopGroupBuilder")
            .field("loops", &self.loops)
            .field("pin_cores", &self.pin_cores)
            .field("thread_name", &self.thread_name)
            .field("on_loop_start", &self.on_loop_start.is_some())
            .field("backend", &self.backend)
            .field("panic_policy", &self.panic_policy)
            .finish()
    }
}
