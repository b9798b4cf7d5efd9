//! Running a test body on a fresh event loop, with a deadline that turns a
//! hang into a failure, and waiting on the loop until a condition holds.

use std::future::Future;
use std::time::Duration;

use tulip_executor::{EventLoop, Loop, sleep, wait_for, yield_now};

/// How long a test body may run before [`run`] fails it: far above what
/// any test takes (the tests never assert speed).
pub const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// How long [`wait_until`] waits for its condition.
pub const WAIT_DEADLINE: Duration = Duration::from_secs(20);

/// Runs `body` on a fresh event loop until it completes and returns its
/// output, then closes the loop.
///
/// ```
/// use std::time::Duration;
/// use tulip_test::run;
///
/// let out = run(async {
///     tulip::sleep(Duration::from_millis(1)).await;
///     7
/// });
/// assert_eq!(out, 7);
/// ```
///
/// # Panics
///
/// If `body` takes longer than [`RUN_DEADLINE`] ("the test timed out"),
/// or the loop cannot be made, run or closed.
pub fn run<F>(body: F) -> F::Output
where
    F: Future + 'static,
    F::Output: 'static,
{
    run_with_loop(|_| body)
}

/// [`run`] for a body that wants the loop's handle: `make` gets the fresh
/// loop's [`Loop`] and returns the future to run.
///
/// ```
/// use std::time::Duration;
/// use tulip_test::run_with_loop;
///
/// let fired = run_with_loop(|lp| async move {
///     let fut = lp.create_future::<u32>();
///     let setter = fut.clone();
///     lp.call_later(Duration::from_millis(1), move || {
///         let _ = setter.set_result(5);
///     })
///     .unwrap();
///     fut.await.unwrap()
/// });
/// assert_eq!(fired, 5);
/// ```
///
/// # Panics
///
/// As [`run`].
pub fn run_with_loop<F, Fut>(make: F) -> Fut::Output
where
    F: FnOnce(Loop) -> Fut,
    Fut: Future + 'static,
    Fut::Output: 'static,
{
    let ev = EventLoop::new().expect("a new event loop");
    let body = make(ev.handle());
    let out = ev
        .run_until_complete(wait_for(body, RUN_DEADLINE))
        .expect("run_until_complete")
        .expect("the test timed out");
    ev.close().expect("close the loop");
    out
}

/// A fresh loop on a paused (virtual) clock: time moves only when every
/// task waits on a timer, so a test of timeouts runs at once and exactly.
///
/// ```
/// use std::time::Duration;
/// use tulip_test::paused_loop;
///
/// let ev = paused_loop();
/// let start = ev.handle().time();
/// ev.run_until_complete(tulip::sleep(Duration::from_secs(3600))).unwrap();
/// assert_eq!(ev.handle().time() - start, Duration::from_secs(3600));
/// ```
pub fn paused_loop() -> EventLoop {
    EventLoop::builder()
        .paused_clock(true)
        .build()
        .expect("a new event loop")
}

/// Waits on the running loop until `cond` holds: true as soon as it does,
/// false if it still does not after [`WAIT_DEADLINE`]. It checks after
/// each of the first ten loop passes (a condition one callback away holds
/// at once), then every 5 ms.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use tulip_test::{run_with_loop, wait_until};
///
/// run_with_loop(|lp| async move {
///     let done = Rc::new(Cell::new(false));
///     let d = done.clone();
///     lp.call_later(Duration::from_millis(20), move || d.set(true)).unwrap();
///     assert!(wait_until(|| done.get()).await);
/// });
/// ```
///
/// # Panics
///
/// Outside a running loop (it sleeps on the loop).
pub async fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    const PASSES: u32 = 10;
    const STEP: Duration = Duration::from_millis(5);
    let steps = (WAIT_DEADLINE.as_millis() / STEP.as_millis()) as u32;
    for i in 0..PASSES + steps {
        if cond() {
            return true;
        }
        if i < PASSES {
            yield_now().await;
        } else {
            sleep(STEP).await;
        }
    }
    cond()
}
