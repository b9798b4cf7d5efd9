//! [`TulipExecutor`]: hyper's [`Executor`](hyper::rt::Executor) on the
//! running loop (HTTP/2 streams, and any background future hyper starts).

use std::future::Future;

use tulip_executor::get_running_loop;

/// hyper's [`Executor`](hyper::rt::Executor): each future hyper hands it
/// becomes a detached task of the running loop (asyncio's `create_task`,
/// tokio's `spawn_local`). The futures need not be `Send`: an HTTP/2
/// connection's streams run on the connection's loop, next to it.
///
/// Spawning needs a running loop; without one (called from outside any
/// loop, or while the loop is closing) the future is dropped and the
/// failure logged through the `log` facade, never a panic inside hyper.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use hyper::rt::Executor;
/// use tulip::hyper::rt::TulipExecutor;
///
/// tulip::run(async {
///     let ran = Rc::new(Cell::new(false)); // an Rc: the future is !Send
///     let flag = ran.clone();
///     TulipExecutor::new().execute(async move { flag.set(true) });
///     tulip::sleep(std::time::Duration::ZERO).await; // let the task run
///     assert!(ran.get());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TulipExecutor;

impl TulipExecutor {
    /// The executor (it holds nothing; `TulipExecutor` itself is the value
    /// too).
    ///
    /// ```
    /// use tulip::hyper::rt::TulipExecutor;
    ///
    /// let builder = hyper_util::server::conn::auto::Builder::new(TulipExecutor::new());
    /// # drop(builder);
    /// ```
    pub fn new() -> TulipExecutor {
        TulipExecutor
    }
}

impl<F> hyper::rt::Executor<F> for TulipExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    #[track_caller]
    fn execute(&self, fut: F) {
        match get_running_loop() {
            Ok(lp) if !lp.is_closed() => lp.create_task(fut).detach(),
            Ok(_) => log::error!(
                "TulipExecutor: the loop is closed; the future hyper asked to spawn is dropped"
            ),
            Err(e) => log::error!(
                "TulipExecutor: no running tulip loop ({e}); the future hyper asked to spawn \
                 is dropped"
            ),
        }
    }
}
