//! tokio-console's view of tulip's tasks (the `tracing` feature): each
//! task's future runs inside a `runtime.spawn` span, and the waker its
//! future sees reports `waker.*` events, following the conventions that
//! `console-subscriber` reads.
//!
//! - Spawn: a span named `runtime.spawn`, target `runtime::task`, with
//!   `kind = "task"`, `task.name`, `task.id` (tulip's id) and
//!   `loc.file`/`loc.line`/`loc.col` (where the task was created). It is
//!   entered for each poll (the console's poll times, busy and idle time)
//!   and closed when the task's future is dropped (completion or
//!   cancellation).
//! - Wakers: events of target `runtime::waker` with `op` one of
//!   `waker.wake`, `waker.wake_by_ref`, `waker.clone`, `waker.drop` and
//!   `task.id` = the span's id (what the console keys tasks by).
//!
//! Compiled only with the feature: without it the task's future is the
//! user's own, with no wrapper and no field.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use pin_project_lite::pin_project;

pin_project! {
    /// A task's future inside its `runtime.spawn` span.
    pub(crate) struct Traced<F> {
        #[pin]
        inner: F,
        span: tracing::Span,
        // The waker handed to `inner`: the task's own, wrapped so that its
        // uses are reported; remade when the task's waker changes.
        waker: Option<ManuallyDrop<Waker>>,
        // The task's waker the one above wraps.
        wraps: Option<Waker>,
    }
    impl<F> PinnedDrop for Traced<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(w) = this.waker.take() {
                release_silently(w);
            }
        }
    }
}

impl<F> Traced<F> {
    /// `inner` in a new `runtime.spawn` span.
    pub(crate) fn new(
        inner: F,
        id: u64,
        name: Option<&str>,
        site: &'static Location<'static>,
    ) -> Traced<F> {
        let default_name;
        let name = match name {
            Some(n) => n,
            None => {
                default_name = format!("Task-{id}");
                &default_name
            }
        };
        let span = tracing::trace_span!(
            target: "runtime::task",
            "runtime.spawn",
            kind = "task",
            task.name = name,
            task.id = id,
            loc.file = site.file(),
            loc.line = site.line(),
            loc.col = site.column(),
        );
        Traced {
            inner,
            span,
            waker: None,
            wraps: None,
        }
    }
}

impl<F: Future> Future for Traced<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let Some(span_id) = this.span.id().map(|id| id.into_u64()) else {
            // No subscriber wants the span: nothing to report.
            return this.inner.poll(cx);
        };
        let fresh = match this.wraps.as_ref() {
            Some(w) => !w.will_wake(cx.waker()),
            None => true,
        };
        if fresh {
            if let Some(old) = this.waker.take() {
                release_silently(old);
            }
            *this.waker = Some(ManuallyDrop::new(reporting_waker(
                cx.waker().clone(),
                span_id,
            )));
            *this.wraps = Some(cx.waker().clone());
        }
        match this.waker.as_ref() {
            Some(w) => this.inner.poll(&mut Context::from_waker(w)),
            None => this.inner.poll(cx),
        }
    }
}

/// What a reporting waker points at.
struct Reporting {
    inner: Waker,
    span_id: u64,
}

fn event(op: &'static str, span_id: u64) {
    tracing::trace!(target: "runtime::waker", op, task.id = span_id);
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

fn reporting_waker(inner: Waker, span_id: u64) -> Waker {
    let data = Arc::into_raw(Arc::new(Reporting { inner, span_id })).cast::<()>();
    // SAFETY: `data` is an `Arc<Reporting>` turned into a raw pointer, which
    // is what every function of `VTABLE` expects; the new waker owns the
    // one reference `into_raw` leaked.
    unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
}

/// Drops tulip's own handle without reporting a `waker.drop` (it is not a
/// waker the user's future made or kept).
fn release_silently(w: ManuallyDrop<Waker>) {
    let w = ManuallyDrop::into_inner(w);
    let data = w.data().cast::<Reporting>();
    std::mem::forget(w);
    // SAFETY: `w` was made by `reporting_waker` (only such wakers are kept
    // in `Traced::waker`): its data is one reference to an
    // `Arc<Reporting>`, given back here exactly once (the waker was
    // forgotten above).
    unsafe { drop(Arc::from_raw(data)) };
}

unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` comes from `reporting_waker` (the vtable is only ever
    // paired with such pointers) and the waker being cloned still holds its
    // reference, so the `Arc` is alive.
    let r = unsafe { &*data.cast::<Reporting>() };
    event("waker.clone", r.span_id);
    // SAFETY: as above; the new waker owns the reference added here.
    unsafe { Arc::increment_strong_count(data.cast::<Reporting>()) };
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: `data` is the reference of the waker consumed by this call
    // (see `clone`); it is taken back exactly once, here.
    let r = unsafe { Arc::from_raw(data.cast::<Reporting>()) };
    event("waker.wake", r.span_id);
    r.inner.wake_by_ref();
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: see `clone`: the waker holds its reference during the call.
    let r = unsafe { &*data.cast::<Reporting>() };
    event("waker.wake_by_ref", r.span_id);
    r.inner.wake_by_ref();
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: the reference of the waker being dropped, taken back exactly
    // once, here.
    let r = unsafe { Arc::from_raw(data.cast::<Reporting>()) };
    event("waker.drop", r.span_id);
}
