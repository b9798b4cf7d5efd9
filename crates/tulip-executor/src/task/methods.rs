//! The methods [`Task`](crate::Task) and [`TaskRef`](crate::TaskRef) share
//! (asyncio's `Task` inspection and cancellation API: names, `cancel`,
//! `cancelling`, `uncancel`, `done`, done callbacks), written once as a
//! macro expanded in both `impl` blocks of `task.rs`, whose private items
//! (the header, its state bits) the bodies use.

macro_rules! task_methods {
    () => {
        /// The task's id, unique within its loop.
        pub fn id(&self) -> u64 {
            self.h().id
        }

        /// The task's name (`Task-<id>` unless set).
        pub fn get_name(&self) -> String {
            self.h().name()
        }

        /// Renames the task.
        pub fn set_name(&self, name: impl Into<String>) {
            let name = name.into();
            self.h().with_extra(|e| e.name = Some(name));
        }

        /// Asks the task to cancel (asyncio's `Task.cancel`): at its next
        /// poll its future is dropped and it completes as cancelled. Returns
        /// false if the task is already done. Each call counts (see
        /// [`cancelling`](Self::cancelling)).
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
        pub fn cancelling(&self) -> u32 {
            self.h().cancel_requests.get()
        }

        /// Takes one cancellation request back and returns how many remain
        /// (asyncio 3.11's `uncancel`); at zero a pending cancellation that
        /// has not been delivered yet is withdrawn.
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
        pub fn done(&self) -> bool {
            self.h().state.get() & DONE != 0
        }

        /// Whether the task completed as cancelled.
        pub fn cancelled(&self) -> bool {
            self.h().state.get() & CANCELLED != 0
        }

        /// Whether the task completed with a panic.
        pub fn panicked(&self) -> bool {
            self.h().state.get() & PANICKED != 0
        }

        /// Where the task was created.
        pub fn source_location(&self) -> &'static Location<'static> {
            self.h().site
        }

        /// Adds a callback run (on the loop, via `call_soon`) once the task
        /// is done; right away (next pass) if it already is.
        pub fn add_done_callback(&self, callback: impl FnOnce(&TaskRef) + 'static) -> CallbackId {
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
        pub fn get_loop(&self) -> Option<Loop> {
            self.h().loop_inner().map(Loop::from_inner)
        }
    };
}
