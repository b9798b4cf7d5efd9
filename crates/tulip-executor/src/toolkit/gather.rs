//! `gather`: run futures concurrently, as tasks, and collect their results in
//! input order (asyncio's `asyncio.gather`).
//!
//! - [`gather`] takes a `Vec` of futures of one type, or a tuple (arity 1 to
//!   8) of futures of different types; it yields `Ok(values)` (a `Vec` or a
//!   tuple) or the first task error ([`Error::Cancelled`],
//!   [`Error::Panicked`]).
//! - [`Gather::return_exceptions`] is `return_exceptions=True`: every
//!   outcome, each as a `Result`, in input order.
//! - [`try_gather`] is for futures yielding `Result<T, E>`: the first `Err`
//!   (or task error, converted with `E: From<Error>`) is returned at once.
//!
//! Each future is spawned as a task on the running loop when `gather` is
//! called, in input order, as asyncio wraps coroutines with
//! `ensure_future`. When the gather fails fast, the other children **keep
//! running** (detached), as in asyncio, and their outcomes count as
//! retrieved: a later panic in one of them is not reported as "Task
//! exception was never retrieved" (asyncio's gather marks them so too).
//! Dropping the gather future before it completes (which is what cancelling
//! the task awaiting it, or a timeout around it, does) cancels every child
//! still running, as cancelling asyncio's gather does: each child's future
//! is dropped (its destructors run) and its task finishes as cancelled
//! before that drop returns (it is done, and no longer listed by
//! [`all_tasks`](crate::all_tasks)).

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::Error;
use crate::graph::AwaitVia;
use crate::toolkit::task_set::{Child, TaskSet, spawn_child, spawn_children};

/// What [`gather`] accepts: a `Vec` of futures, or a tuple of futures of
/// different types (arity 1 to 8).
///
/// ```
/// use tulip::{GatherInput, gather};
///
/// // Generic over what gather accepts: a Vec or a tuple.
/// async fn all_of<G: GatherInput>(input: G) -> Result<G::Output, tulip::Error> {
///     gather(input).await
/// }
///
/// tulip::run(async {
///     assert_eq!(all_of(vec![async { 1 }]).await?, [1]);
///     assert_eq!(all_of((async { 1 }, async { 'b' })).await?, (1, 'b'));
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
pub trait GatherInput {
    /// The output of one child task, as the gather stores it.
    type Item: 'static;
    /// The values on success: a `Vec` or a tuple, in input order.
    type Output;
    /// Every outcome as a `Result`, for [`Gather::return_exceptions`].
    type Outcomes;
    /// Spawns one child task per future, in input order, each future kept
    /// where the gather can drop it at once. (Implemented for `Vec`s and
    /// tuples only: `Child` cannot be built outside tulip.)
    #[doc(hidden)]
    #[track_caller]
    fn spawn_children(self) -> Vec<Child<Self::Item>>;
    /// Puts the values back in shape.
    fn assemble(items: Vec<Self::Item>) -> Self::Output;
    /// Puts the outcomes back in shape.
    fn assemble_outcomes(items: Vec<Result<Self::Item, Error>>) -> Self::Outcomes;
}

impl<F> GatherInput for Vec<F>
where
    F: Future + 'static,
    F::Output: 'static,
{
    type Item = F::Output;
    type Output = Vec<F::Output>;
    type Outcomes = Vec<Result<F::Output, Error>>;
    #[track_caller]
    fn spawn_children(self) -> Vec<Child<F::Output>> {
        spawn_children(self)
    }
    fn assemble(items: Vec<F::Output>) -> Vec<F::Output> {
        items
    }
    fn assemble_outcomes(items: Vec<Result<F::Output, Error>>) -> Self::Outcomes {
        items
    }
}

/// What [`try_gather`] accepts: a `Vec` of futures yielding `Result<T, E>`,
/// or a tuple of futures yielding `Result<_, E>` with one error type.
///
/// ```
/// use tulip::{Error, try_gather};
///
/// tulip::run(async {
///     // A tuple: different value types, one error type.
///     let (n, s) = try_gather((async { Ok::<_, Error>(1) }, async { Ok::<_, Error>("one") })).await?;
///     assert_eq!((n, s), (1, "one"));
///     Ok::<(), Error>(())
/// })??;
/// # Ok::<(), Error>(())
/// ```
pub trait TryGatherInput {
    /// The `Ok` value of one child, as the gather stores it.
    type Value: 'static;
    /// The children's error type.
    type Error: From<Error> + 'static;
    /// The values on success: a `Vec` or a tuple, in input order.
    type Output;
    /// Spawns one child task per future, in input order (as
    /// `GatherInput::spawn_children`).
    #[doc(hidden)]
    #[allow(clippy::type_complexity)]
    #[track_caller]
    fn spawn_children(self) -> Vec<Child<Result<Self::Value, Self::Error>>>;
    /// Puts the values back in shape.
    fn assemble(items: Vec<Self::Value>) -> Self::Output;
}

impl<F, T, E> TryGatherInput for Vec<F>
where
    F: Future<Output = Result<T, E>> + 'static,
    T: 'static,
    E: From<Error> + 'static,
{
    type Value = T;
    type Error = E;
    type Output = Vec<T>;
    #[track_caller]
    fn spawn_children(self) -> Vec<Child<Result<T, E>>> {
        spawn_children(self)
    }
    fn assemble(items: Vec<T>) -> Vec<T> {
        items
    }
}

fn unbox<T: 'static>(b: Box<dyn Any>) -> T {
    match b.downcast::<T>() {
        Ok(v) => *v,
        Err(_) => unreachable!("gather: a child's output has the type of its position"),
    }
}

macro_rules! tuple_gather {
    ($($F:ident),+) => {
        #[allow(non_snake_case)]
        impl<$($F),+> GatherInput for ($($F,)+)
        where
            $($F: Future + 'static, $F::Output: 'static,)+
        {
            type Item = Box<dyn Any>;
            type Output = ($($F::Output,)+);
            type Outcomes = ($(Result<$F::Output, Error>,)+);
            #[track_caller]
            fn spawn_children(self) -> Vec<Child<Box<dyn Any>>> {
                let ($($F,)+) = self;
                vec![$(spawn_child(async move { Box::new($F.await) as Box<dyn Any> })),+]
            }
            fn assemble(items: Vec<Box<dyn Any>>) -> Self::Output {
                let mut it = items.into_iter();
                ($(unbox::<$F::Output>(it.next().expect("one item per child")),)+)
            }
            fn assemble_outcomes(items: Vec<Result<Box<dyn Any>, Error>>) -> Self::Outcomes {
                let mut it = items.into_iter();
                ($(it.next().expect("one item per child").map(unbox::<$F::Output>),)+)
            }
        }

    };
}

/// A `Result<T, E>` seen through its parts, for the tuple impls of
/// [`TryGatherInput`].
///
/// ```
/// use tulip::TryOutput;
///
/// let r: Result<u8, String> = Ok(1);
/// assert_eq!(r.into_result(), Ok(1));
/// ```
pub trait TryOutput: 'static {
    /// The `Ok` type.
    type Ok: 'static;
    /// The `Err` type.
    type Err: 'static;
    /// Converts into the `Result`.
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
}

impl<T: 'static, E: 'static> TryOutput for Result<T, E> {
    type Ok = T;
    type Err = E;
    fn into_result(self) -> Result<T, E> {
        self
    }
}

macro_rules! tuple_try_gather {
    ($A:ident $(, $F:ident)*) => {
        #[allow(non_snake_case)]
        impl<$A, $($F),*> TryGatherInput for ($A, $($F,)*)
        where
            $A: Future + 'static,
            $A::Output: TryOutput,
            <$A::Output as TryOutput>::Err: From<Error>,
            $($F: Future + 'static, $F::Output: TryOutput<Err = <$A::Output as TryOutput>::Err>,)*
        {
            type Value = Box<dyn Any>;
            type Error = <$A::Output as TryOutput>::Err;
            type Output = (<$A::Output as TryOutput>::Ok, $(<$F::Output as TryOutput>::Ok,)*);
            #[allow(clippy::type_complexity)]
            #[track_caller]
            fn spawn_children(self) -> Vec<Child<Result<Box<dyn Any>, Self::Error>>> {
                let ($A, $($F,)*) = self;
                vec![
                    spawn_child(async move { $A.await.into_result().map(|v| Box::new(v) as Box<dyn Any>) }),
                    $(spawn_child(async move { $F.await.into_result().map(|v| Box::new(v) as Box<dyn Any>) }),)*
                ]
            }
            fn assemble(items: Vec<Box<dyn Any>>) -> Self::Output {
                let mut it = items.into_iter();
                (
                    unbox::<<$A::Output as TryOutput>::Ok>(it.next().expect("one item per child")),
                    $(unbox::<<$F::Output as TryOutput>::Ok>(it.next().expect("one item per child")),)*
                )
            }
        }
    };
}

tuple_try_gather!(A);
tuple_try_gather!(A, B);
tuple_try_gather!(A, B, C);
tuple_try_gather!(A, B, C, D);
tuple_try_gather!(A, B, C, D, E);
tuple_try_gather!(A, B, C, D, E, F);
tuple_try_gather!(A, B, C, D, E, F, G);
tuple_try_gather!(A, B, C, D, E, F, G, H);

tuple_gather!(A);
tuple_gather!(A, B);
tuple_gather!(A, B, C);
tuple_gather!(A, B, C, D);
tuple_gather!(A, B, C, D, E);
tuple_gather!(A, B, C, D, E, F);
tuple_gather!(A, B, C, D, E, F, G);
tuple_gather!(A, B, C, D, E, F, G, H);

/// Runs the futures concurrently (each spawned as a task on the running
/// loop, in input order) and yields their values in input order; the first
/// child to fail (cancelled or panicked) makes the gather return that error
/// at once while the others keep running (asyncio's `gather`).
///
/// Accepts a `Vec` of futures or a tuple of up to 8 futures of different
/// types.
///
/// ```
/// use std::time::Duration;
/// use tulip::{gather, sleep};
/// tulip::run(async {
///     let (a, b) = gather((
///         async { sleep(Duration::from_millis(2)).await; 1 },
///         async { "two" },
///     ))
///     .await?;
///     assert_eq!((a, b), (1, "two"));
///     let v = gather((1..=3).map(|i| async move { i * 10 }).collect::<Vec<_>>()).await?;
///     assert_eq!(v, [10, 20, 30]);
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// # Cancel safety
///
/// Dropping the returned future before it completes cancels every child
/// still running; their results are lost. Their futures are dropped inside
/// that drop, and their tasks are done (cancelled) when it returns. After
/// it failed fast, the remaining children are detached and run on (a later
/// panic of theirs is not reported as never retrieved).
#[track_caller]
pub fn gather<G: GatherInput>(input: G) -> Gather<G> {
    let mut g = Gather {
        input: Some(input),
        set: TaskSet::new(Vec::new(), AwaitVia::Gather),
        results: Vec::new(),
    };
    if crate::get_running_loop().is_ok() {
        g.start();
    }
    g
}

/// The future of [`gather`].
///
/// ```
/// use std::time::Duration;
/// use tulip::prelude::*;
///
/// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
/// event_loop.run_until_complete(async {
///     let both = gather((sleep(Duration::from_secs(60)), sleep(Duration::from_secs(90))));
///     assert_eq!(all_tasks().len(), 3); // the children started at the call
///     drop(both); // dropping a Gather cancels its children
///     assert_eq!(all_tasks().len(), 1);
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited; dropping a Gather cancels its children"]
pub struct Gather<G: GatherInput> {
    /// The futures, until they are spawned: at once inside a running loop,
    /// else at the first poll.
    input: Option<G>,
    set: TaskSet<G::Item>,
    results: Vec<Option<Result<G::Item, Error>>>,
}

impl<G: GatherInput> Unpin for Gather<G> {}

impl<G: GatherInput> Gather<G> {
    /// asyncio's `return_exceptions=True`: waits for every child and yields
    /// each outcome as a `Result`, in input order; a failing child does not
    /// end the gather.
    ///
    /// ```
    /// use tulip::{Error, gather};
    /// tulip::run(async {
    ///     let out = gather(vec![
    ///         Box::pin(async { 1 }) as std::pin::Pin<Box<dyn Future<Output = i32>>>,
    ///         Box::pin(async { if true { panic!("boom") } 2 }),
    ///     ])
    ///     .return_exceptions()
    ///     .await;
    ///     assert_eq!(*out[0].as_ref().unwrap(), 1);
    ///     assert!(out[1].as_ref().unwrap_err().is_panic());
    /// })?;
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Cancel safety
    ///
    /// As [`gather`]: dropping it before it completes cancels the children.
    pub fn return_exceptions(self) -> GatherOutcomes<G> {
        GatherOutcomes { inner: self }
    }

    // The children's creation site is the caller's (`gather(..)`).
    #[track_caller]
    fn start(&mut self) {
        if let Some(input) = self.input.take() {
            let tasks: Vec<_> = input.spawn_children();
            self.results = (0..tasks.len()).map(|_| None).collect();
            self.set = TaskSet::new(tasks, AwaitVia::Gather);
        }
    }

    fn poll_events(&mut self, cx: &mut Context<'_>, fail_fast: bool) -> Poll<Result<(), Error>> {
        self.start();
        loop {
            match self.set.poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Ready(Some((_, Err(e)))) if fail_fast => {
                    self.set.detach();
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Some((i, out))) => self.results[i] = Some(out),
            }
        }
    }

    fn take_results(&mut self) -> Vec<Result<G::Item, Error>> {
        self.results
            .iter_mut()
            .map(|r| {
                r.take()
                    .unwrap_or(Err(Error::InvalidState("gather polled after completion")))
            })
            .collect()
    }
}

impl<G: GatherInput> Future for Gather<G> {
    type Output = Result<G::Output, Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        match this.poll_events(cx, true) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {
                let items: Result<Vec<_>, Error> = this.take_results().into_iter().collect();
                Poll::Ready(items.map(G::assemble))
            }
        }
    }
}

/// The future of [`Gather::return_exceptions`].
///
/// ```
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let (a, b) = gather((async { 1 }, async { "two" })).return_exceptions().await;
///     assert_eq!((a?, b?), (1, "two"));
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited; dropping it cancels the children"]
pub struct GatherOutcomes<G: GatherInput> {
    inner: Gather<G>,
}

impl<G: GatherInput> Future for GatherOutcomes<G> {
    type Output = G::Outcomes;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.inner;
        match inner.poll_events(cx, false) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(G::assemble_outcomes(inner.take_results())),
        }
    }
}

/// [`gather`] for futures yielding `Result<T, E>`: the values in input
/// order, or the first error at once — a child's `Err(e)`, or a child task's
/// own failure converted with `E::from(Error)` — while the other children
/// keep running (detached), as asyncio's `gather` does with the first
/// exception.
///
/// ```
/// use tulip::{Error, try_gather};
/// tulip::run(async {
///     let ok: Result<(i32, &str), Error> = try_gather((async { Ok(1) }, async { Ok("x") })).await;
///     assert_eq!(ok?, (1, "x"));
///     let err = try_gather((async { Ok(1) }, async { Err::<u8, _>(Error::Timeout) })).await;
///     assert!(err.unwrap_err().is_timeout());
///     Ok::<(), Error>(())
/// })??;
/// # Ok::<(), Error>(())
/// ```
///
/// # Cancel safety
///
/// As [`gather`]: dropping it before it completes cancels the children.
#[track_caller]
pub fn try_gather<G: TryGatherInput>(input: G) -> TryGather<G> {
    let mut g = TryGather {
        input: Some(input),
        set: TaskSet::new(Vec::new(), AwaitVia::Gather),
        values: Vec::new(),
    };
    if crate::get_running_loop().is_ok() {
        g.start();
    }
    g
}

/// The future of [`try_gather`].
///
/// ```
/// use tulip::prelude::*;
///
/// // The error type converts from tulip::Error (a child task's own failure).
/// tulip::run(async {
///     let names = ["a", "b"].map(|s| async move { Ok::<_, tulip::Error>(s) });
///     let lines = try_gather(Vec::from(names)).await?;
///     assert_eq!(lines, ["a", "b"]);
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited; dropping a TryGather cancels its children"]
pub struct TryGather<G: TryGatherInput> {
    input: Option<G>,
    set: TaskSet<Result<G::Value, G::Error>>,
    values: Vec<Option<G::Value>>,
}

impl<G: TryGatherInput> Unpin for TryGather<G> {}

impl<G: TryGatherInput> TryGather<G> {
    // The children's creation site is the caller's (`gather(..)`).
    #[track_caller]
    fn start(&mut self) {
        if let Some(input) = self.input.take() {
            let tasks: Vec<_> = input.spawn_children();
            self.values = (0..tasks.len()).map(|_| None).collect();
            self.set = TaskSet::new(tasks, AwaitVia::Gather);
        }
    }
}

impl<G: TryGatherInput> Future for TryGather<G> {
    type Output = Result<G::Output, G::Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.start();
        loop {
            match this.set.poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some((i, Ok(Ok(v))))) => this.values[i] = Some(v),
                Poll::Ready(Some((_, Ok(Err(e))))) => {
                    this.set.detach();
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Some((_, Err(e)))) => {
                    this.set.detach();
                    return Poll::Ready(Err(G::Error::from(e)));
                }
                Poll::Ready(None) => {
                    let values: Option<Vec<_>> = this.values.iter_mut().map(Option::take).collect();
                    return Poll::Ready(match values {
                        Some(v) => Ok(G::assemble(v)),
                        None => Err(G::Error::from(Error::InvalidState(
                            "try_gather polled after completion",
                        ))),
                    });
                }
            }
        }
    }
}
