//! The methods [`Task`](crate::Task) and [`TaskRef`](crate::TaskRef) share
//! (asyncio's `Task` inspection and cancellation API: names, `cancel`,
//! `cancelling`, `uncancel`, `done`, done callbacks), written once as a
//! macro expanded in both `impl` blocks of `task.rs`, whose private items
//! (the header, its state bits) the bodies use.

macro_rules! task_methods {
    () => {
        /// The task's id, unique within its loop.
        ///
        /// ```
        /// tulip::run(async {
        ///     let a = tulip::spawn(async {});
        ///     let b = tulip::spawn(async {});
        ///     assert_ne!(a.id(), b.id());
        /// })?;
        /// # Ok::<(), tulip::Error>(())
        /// ```
        pub fn id(&self) -> u64 {
            self.h().id
        }

        /// The task's name (`Task-<id>` unless set).
        ///
        /// ```
        /// tulip::run(async {
        ///     let task = tulip::spawn(async {});
        ///     assert!(task.get_name().starts_with("Task-"));
        /// })?;
        /// # Ok::<(), tulip::Error>(())
        /// ```
        pub fn get_name(&self) -> String {
            self.h().name()
        }

        /// Renames the task.
        ///
        /// ```
        /// tulip::run(async {
        ///     let task = tulip::spawn(async {});
        ///     task.set_name("fetcher");
        ///     assert_eq!(task.get_name(), "fetcher");
        /// })?;
        /// # Ok::<(), tulip::Error>(())
        /// ```
        pub fn set_name(&self, name: impl Into<String>) {
            let name = name.into();
            self.h().with_extra(|e| e.name = Some(name));
        }

        /// Asks the task to cancel (asyncio's `Task.cancel`): at its next
        /// poll its future is dropped and it completes as cancelled. Returns
        /// false if the task is already done. Each call counts (see
        /// [`cancelling`](Self::cancelling)).
        ///
        /// ```
        /// use std::time::Duration;
        /// use tulip::prelude::*;
        ///
        /// tulip::run(async {
        ///     let task = spawn(sleep(Duration::from_secs(3600)));
        ///     assert!(task.cancel());
        ///     let task_ref = task.task_ref();
        ///     assert!(task.await.unwrap_err().is_cancelled());
        ///     assert!(task_ref.cancelled());
        ///     assert!(!task_ref.cancel()); // already done
        /// })?;
        /// # Ok::<(), tulip::Error>(())
        /// ```
        pub fn cancel(&self) -> bool {
            let h = self.h();
            if h.state.get() & DONE != 0 {
                return false;
            }
            h.cancel_requests
                .set(h.cancel_requests.get().saturating_add(1));
            h.must_cancel.set(true);
            // Suspended: wake it so its next poll comes. Not polled yet, or
            // running now: it is queued, or its poll sees the flag on the way
            // out; an extra wake-up is harmless.
            self.wake();
            true
        }

        /// The number of cancellation requests standing (asyncio 3.11's
        /// `cancelling`).
        ///
        /// ```
        /// tulip::run(async {
        ///     let task = tulip::spawn(std::future::pending::<()>());
        ///     task.cancel();
        ///     task.cancel();
        ///     assert_eq!(task.cancelling(), 2);
        /// })?;
        /// # Ok::<(), tulip::Error>(())
        /// ```
        pub fn cancelling(&self) -> u32 {
            self.h().cancel_requests.get()
        }

        /// Takes one cancellation request back and returns how many remain
        /// (asyncio 3.11's `uncancel`); at zero a pending cancellation that
        /// has not been delivered yet is withdrawn.
        ///
        /// ```
        /// use std::time::Duration;
        /// use tulip::prelude::*;
        ///
        /// tulip::run(async {
        ///     let task = spawn(async {
        ///         sleep(Duration::from_millis(1)).await;
        ///         "finished"
        ///     });
        ///     task.cancel();
        ///     assert_eq!(task.uncancel(), 0); // withdrawn before it was delivered
        ///     assert_eq!(task.await?, "finished");
        ///     Ok::<(), tulip::Error>(())
        /// })??;
        /// # Ok::<(), tulip::Error>(())
        /// ```
        pub fn uncancel(&self) -> u32 {
            let h = self.h();
            let n = h.cancel_requests.get();
            if n > 0 {
                h.cancel_requests.set(n - 1);
                if n == 1 {
                    h.must_cancel.set(false);
                }
            }
            h.cancel_requests.get()
        }

        /// Whether the task is done (finished, cancelled or panicked).
        ///
        /// ```
        /// use tulip::prelude::*;
        ///
        /// tulip::run(async {
        ///     let task = spawn(async { 1 });
        ///     assert!(!task.done()); // scheduled, not run yet
        ///     yield_now().await;
        ///     assert!(task.done() && !task.cancelled() && !task.panicked());
        /// })?;
        /// # Ok::<(), tulip::Error>(())
        /// ```
        pub fn done(&self) -> bool {
            self.h().state.get() & DONE != 0
        }

        /// Whether the task completed as cancelled.
        ///
        /// ```
        /// use tulip::prelude::*;
        ///
        /// tulip::run(async {
        ///     let task = spawn(std::future::pending::<()>());
        ///     task.cancel();
        ///     yield_now().await;
        ///     assert!(task.done() && task.cancelled());
        /// })?;
        /// # Ok::<(), tulip::Error>(())
        /// ```
        pub fn cancelled(&self) -> bool {
            self.h().state.get() & CANCELLED != 0
        }

        /// Whether the task completed with a panic.
        ///
        /// ```
        /// use tulip::prelude::*;
        ///
        /// tulip::run(async {
        ///     let task = spawn(async { panic!("boom") });
        ///     yield_now().await;
        ///     assert!(task.done() && task.panicked());
        ///     assert!(task.await.unwrap_err().is_panic());
        /// })?;
        /// # Ok::<(), tulip::Error>(())
        /// ```
        pub fn panicked(&self) -> bool {
            self.h().state.get() & PANICKED != 0
        }

        /// Where the task was created.
        ///
        /// ```
        /// tulip::run(async {
        ///     let task = tulip::spawn(async {});
        ///     assert_eq!(task.source_location().file(), file!());
        /// })?;
        /// # Ok::<(), tulip::Error>(())
        /// ```
        pub fn source_location(&self) -> &'static Location<'static> {
            self.h().site
        }

        /// Adds a callback run (on the loop, via `call_soon`) once the task
        /// is done; right away (next pass) if it already is.
        ///
        /// ```
        /// use std::cell::Cell;
        /// use std::rc::Rc;
        /// use std::time::Duration;
        /// use tulip::prelude::*;
        ///
        /// tulip::run(async {
        ///     let cancelled = Rc::new(Cell::new(None));
        ///     let seen = cancelled.clone();
        ///     let task = spawn(async { 5 });
        ///     task.add_done_callback(move |t| seen.set(Some(t.cancelled())));
        ///     assert_eq!(task.await?, 5);
        ///     sleep(Duration::from_millis(1)).await; // the callback runs via call_soon
        ///     assert_eq!(cancelled.get(), Some(false));
        ///     Ok::<(), tulip::Error>(())
        /// })??;
        /// # Ok::<(), tulip::Error>(())
        /// ```
        pub fn add_done_callback(&self, callback: impl FnOnce(&TaskRef) + 'static) -> CallbackId {
            // contextvars: the callback runs in the context current now
            // (asyncio's `add_done_callback(fn, context=None)`).
            let mut context = $crate::context::Context::current();
            let callback = move |task: &TaskRef| context.run(|| callback(task));
            let h = self.h();
            let id = h.with_extra(|e| {
                e.next_callback_id += 1;
                e.next_callback_id
            });
            if h.state.get() & DONE != 0 {
                if let (Some(inner), Some(task)) = (h.loop_inner(), self.tref_clone()) {
                    let _ = Loop::from_inner(inner).call_soon(move || callback(&task));
                }
            } else {
                h.with_extra(|e| e.done_callbacks.push((id, Box::new(callback))));
            }
            CallbackId(id)
        }

        /// Removes a done callback that has not been scheduled yet; returns
        /// whether it was found.
        ///
        /// ```
        /// tulip::run(async {
        ///     let task = tulip::spawn(async {});
        ///     let id = task.add_done_callback(|_| unreachable!("removed"));
        ///     assert!(task.remove_done_callback(id));
        ///     assert!(!task.remove_done_callback(id)); // gone already
        ///     task.await
        /// })??;
        /// # Ok::<(), tulip::Error>(())
        /// ```
        pub fn remove_done_callback(&self, id: CallbackId) -> bool {
            let mut extra = self.h().extra.borrow_mut();
            let Some(e) = extra.as_mut() else {
                return false;
            };
            let before = e.done_callbacks.len();
            e.done_callbacks.retain(|(i, _)| *i != id.0);
            e.done_callbacks.len() != before
        }

        /// The loop the task runs on (`None` once that loop is gone).
        ///
        /// ```
        /// use tulip::prelude::*;
        ///
        /// tulip::run(async {
        ///     let task = spawn(async {});
        ///     assert!(task.get_loop().unwrap().same_loop(&get_running_loop()?));
        ///     Ok::<(), tulip::Error>(())
        /// })??;
        /// # Ok::<(), tulip::Error>(())
        /// ```
        pub fn get_loop(&self) -> Option<Loop> {
            self.h().loop_inner().map(Loop::from_inner)
        }

        // --- contextvars (issue 17, context) ---
        /// A copy of the context the task runs in (asyncio's
        /// `Task.get_context()`): what it set so far is there. (A copy:
        /// what is set in it stays in it.)
        ///
        /// ```
        /// use tulip::contextvars::ContextVar;
        /// use tulip::prelude::*;
        ///
        /// static STAGE: ContextVar<&str> = ContextVar::new("stage");
        ///
        /// tulip::run(async {
        ///     STAGE.set("created");
        ///     let task = spawn(async {
        ///         STAGE.set("running");
        ///         std::future::pending::<()>().await
        ///     });
        ///     // Not started yet: a copy of this task's context at its creation.
        ///     assert_eq!(task.get_context().get(&STAGE), Some("created"));
        ///     tulip::yield_now().await;
        ///     assert_eq!(task.get_context().get(&STAGE), Some("running"));
        ///     assert_eq!(current_task().unwrap().get_context().get(&STAGE), Some("created"));
        ///     task.cancel();
        /// })?;
        /// # Ok::<(), tulip::Error>(())
        /// ```
        pub fn get_context(&self) -> $crate::context::Context {
            self.h().context_copy()
        }
        // --- end contextvars ---
    };
}
