//! The side of a [`LoopGroup`](crate::LoopGroup) on its loop threads: the
//! body of a loop thread (make the loop, run the initialiser, serve until
//! the group stops, then clean up as a [`Runner`] closes), starting a run's
//! main task there, and the slots through which each loop's result
//! reaches the thread that called `run`.

use std::cell::RefCell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use tulip_reactor::BackendKind;

use crate::error::{Error, PanicError};
use crate::event_loop::base_events::{Loop, get_running_loop};
use crate::event_loop::events::EventLoop;
use crate::event_loop::exception_handler::ExceptionContext;
use crate::event_loop::remote::RemoteLoop;
use crate::futures::LoopFuture;
use crate::group::builder::{OnLoopStart, PanicPolicy};
use crate::runners::Runner;
use crate::task::{Task, TaskOptions, TaskRef};

/// What every loop of a group and its handles share.
pub(crate) struct Shared {
    pub(crate) remotes: Vec<RemoteLoop>,
    pub(crate) panic_policy: PanicPolicy,
    /// The group was stopped (by `stop`, Ctrl-C, a `StopGroup` panic or
    /// the drop): its loops are shutting down or closed.
    pub(crate) stopped: AtomicBool,
    /// Ctrl-C stopped it: main tasks cancelled then are `Interrupted`.
    pub(crate) interrupted: AtomicBool,
}

impl Shared {
    /// Stops every loop (once): each cancels its main task, ends serving,
    /// cancels its remaining tasks and closes; its thread then ends.
    pub(crate) fn stop(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        for remote in &self.remotes {
            // A closed loop has nothing left to stop.
            let _ = remote.call_soon_threadsafe(shut_down_this_loop);
        }
    }
}

/// A loop thread's own state, reached by the callbacks other threads send.
struct LoopState {
    /// Set when the group stops: the loop's serving future.
    shutdown: LoopFuture<()>,
    /// The current run's main task.
    main: Option<TaskRef>,
}

thread_local! {
    static THIS_LOOP: RefCell<Option<LoopState>> = const { RefCell::new(None) };
}

/// On a loop thread: cancel the main task, end serving.
fn shut_down_this_loop() {
    let _ = THIS_LOOP.try_with(|state| {
        if let Some(state) = &mut *state.borrow_mut() {
            if let Some(main) = state.main.take() {
                main.cancel();
            }
            let _ = state.shutdown.set_result(());
        }
    });
}

/// How a loop thread is set up.
pub(crate) struct LoopConfig {
    pub(crate) index: usize,
    pub(crate) cpu: Option<usize>,
    pub(crate) backend: Option<BackendKind>,
    pub(crate) on_loop_start: Option<OnLoopStart>,
}

/// The body of loop thread `config.index`: makes the loop, sends its
/// remote (or why it could not) on `ready`, serves until the group stops,
/// then cancels what is left, shuts the default executor down and closes
/// the loop (what [`Runner::close`] does).
pub(crate) fn serve(config: LoopConfig, ready: SyncSender<Result<RemoteLoop, Error>>) {
    let runner = match open(&config) {
        Ok(runner) => runner,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let Ok(lp) = runner.get_loop() else {
        let _ = ready.send(Err(Error::LoopClosed));
        return;
    };
    let shutdown = lp.create_future::<()>();
    THIS_LOOP.with(|state| {
        *state.borrow_mut() = Some(LoopState {
            shutdown: shutdown.clone(),
            main: None,
        });
    });
    if ready.send(Ok(lp.remote())).is_err() {
        // `build` gave up on the group (another loop failed).
        return;
    }
    drop(ready);
    // User code may stop the loop (`lp.stop()`): serving goes on until
    // the group stops.
    while let Err(Error::StoppedBeforeComplete) = runner.run(shutdown.clone()) {}
    if let Err(e) = runner.close() {
        log::warn!(
            "loop {} of a LoopGroup did not close cleanly: {e}",
            config.index
        );
    }
    let _ = THIS_LOOP.try_with(|state| state.borrow_mut().take());
}

/// Pins the thread, makes the loop, runs the initialiser.
fn open(config: &LoopConfig) -> Result<Runner, Error> {
    if let Some(cpu) = config.cpu {
        crate::sys::affinity::pin_current_thread(cpu).map_err(|e| {
            Error::from(std::io::Error::new(
                e.kind(),
                format!("pinning loop {} to CPU {cpu}: {e}", config.index),
            ))
        })?;
    }
    let mut builder = EventLoop::builder();
    if let Some(kind) = config.backend {
        builder = builder.backend(kind);
    }
    let event_loop = builder.build()?;
    if let Some(init) = &config.on_loop_start {
        let lp = event_loop.handle();
        catch_unwind(AssertUnwindSafe(|| init(&lp, config.index)))
            .map_err(|payload| Error::Panicked(PanicError::new(payload)))?;
    }
    Runner::with_loop(event_loop)
}

/// One run's results, filled by the loops, awaited (or waited for) by the
/// thread that called `run`.
pub(crate) struct RunState<T> {
    inner: Mutex<RunInner<T>>,
    all_done: Condvar,
}

struct RunInner<T> {
    results: Vec<Option<Result<T, Error>>>,
    remaining: usize,
    waker: Option<Waker>,
}

impl<T> RunState<T> {
    pub(crate) fn new(loops: usize) -> RunState<T> {
        RunState {
            inner: Mutex::new(RunInner {
                results: (0..loops).map(|_| None).collect(),
                remaining: loops,
                waker: None,
            }),
            all_done: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, RunInner<T>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets loop `index`'s result, unless it has one.
    fn fill(&self, index: usize, result: Result<T, Error>) {
        let mut inner = self.lock();
        let Some(slot) = inner.results.get_mut(index) else {
            return;
        };
        if slot.is_some() {
            return;
        }
        *slot = Some(result);
        inner.remaining -= 1;
        if inner.remaining == 0 {
            if let Some(waker) = inner.waker.take() {
                waker.wake();
            }
            self.all_done.notify_all();
        }
    }

    /// Blocks until every loop has its result.
    pub(crate) fn wait_blocking(&self) {
        let mut inner = self.lock();
        while inner.remaining > 0 {
            inner = self
                .all_done
                .wait(inner)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The results, in loop order (after every loop has one).
    pub(crate) fn take_results(&self) -> Vec<Result<T, Error>> {
        self.lock()
            .results
            .iter_mut()
            .map(|r| r.take().unwrap_or(Err(Error::LoopClosed)))
            .collect()
    }
}

/// Completes when every loop of a run has its result.
pub(crate) struct AllDone<T>(pub(crate) Arc<RunState<T>>);

impl<T> Future for AllDone<T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = self.0.lock();
        if inner.remaining == 0 {
            return Poll::Ready(());
        }
        inner.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Where loop `index` puts its result: whatever happens to the run on
/// that loop (the main task ends, the loop closes before it started,
/// the callback carrying it is dropped), the slot is filled, on drop at
/// the latest, so `run` never waits for a result that cannot come.
pub(crate) struct Slot<T> {
    state: Arc<RunState<T>>,
    shared: Arc<Shared>,
    index: usize,
    /// The result if the slot is dropped unfilled.
    fallback: Error,
    filled: bool,
}

impl<T> Slot<T> {
    pub(crate) fn new(state: Arc<RunState<T>>, shared: Arc<Shared>, index: usize) -> Slot<T> {
        Slot {
            state,
            shared,
            index,
            // Until the main task exists, only a closed loop drops a slot.
            fallback: Error::LoopClosed,
            filled: false,
        }
    }

    fn fill(&mut self, result: Result<T, Error>) {
        if self.filled {
            return;
        }
        self.filled = true;
        let result = match result {
            Err(Error::Cancelled) if self.shared.interrupted.load(Ordering::SeqCst) => {
                Err(Error::Interrupted)
            }
            other => other,
        };
        self.state.fill(self.index, result);
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        let fallback = std::mem::replace(&mut self.fallback, Error::Cancelled);
        self.fill(Err(fallback));
    }
}

/// On loop `index`'s thread: starts the run's main task `main(lp, index)`
/// and a task that reports its outcome into `slot`.
pub(crate) fn start_main<F, Fut, T>(main: Arc<F>, index: usize, mut slot: Slot<T>)
where
    F: Fn(Loop, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    let Ok(lp) = get_running_loop() else {
        return; // not on a running loop: the slot says the loop is closed
    };
    if slot.shared.stopped.load(Ordering::SeqCst) {
        slot.fill(Err(Error::Cancelled));
        return;
    }
    slot.fallback = Error::Cancelled;
    let main_lp = lp.clone();
    let name = format!("LoopGroup main task of loop {index}");
    // `main` itself is called inside the task: a panic in it is the task's.
    let task = lp.create_task_with(
        async move { main(main_lp, index).await },
        TaskOptions::new().name(name),
    );
    let main_ref = task.task_ref();
    let _ = THIS_LOOP.try_with(|state| {
        if let Some(state) = &mut *state.borrow_mut() {
            state.main = Some(main_ref.clone());
        }
    });
    let mut report = Report {
        task,
        main_ref,
        slot: Some(slot),
        index,
    };
    lp.create_task(async move {
        let out = (&mut report.task).await;
        report.finish(out);
    })
    .detach();
}

/// What reports a main task's outcome into its slot: once the task ends,
/// or, if the loop closes before the reporting task ran, when it is
/// dropped (then a finished main task's outcome is still taken).
struct Report<T> {
    task: Task<T>,
    main_ref: TaskRef,
    slot: Option<Slot<T>>,
    index: usize,
}

impl<T> Report<T> {
    /// Reports `out`: a panic to the loop's exception handler (and the
    /// group stops under `StopGroup`), the outcome to the slot.
    fn finish(&mut self, out: Result<T, Error>) {
        let Some(mut slot) = self.slot.take() else {
            return;
        };
        let _ = THIS_LOOP.try_with(|state| {
            if let Some(state) = &mut *state.borrow_mut() {
                state.main = None;
            }
        });
        let panicked = matches!(out, Err(Error::Panicked(_)));
        if let (Err(Error::Panicked(p)), Some(lp)) = (&out, self.main_ref.get_loop()) {
            lp.call_exception_handler(
                &ExceptionContext::new(format!(
                    "panic in the main task of loop {} of a LoopGroup",
                    self.index
                ))
                .with_error(Error::Panicked(p.clone()))
                .with_task(self.main_ref.clone()),
            );
        }
        let shared = slot.shared.clone();
        slot.fill(out);
        if panicked && shared.panic_policy == PanicPolicy::StopGroup {
            shared.stop();
        }
    }
}

impl<T> Drop for Report<T> {
    fn drop(&mut self) {
        if self.slot.is_some() && self.task.done() {
            let out = self.task.result();
            self.finish(out);
        }
        // Otherwise the slot, dropped, says the main task was cancelled.
    }
}
