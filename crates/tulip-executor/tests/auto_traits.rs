//! The `Send` / `Sync` status of every public type of `tulip-executor`,
//! checked at compile time (design §8). The loop is single-threaded: every
//! handle on it is `!Send`, and only `RemoteLoop`, errors, the thread pool
//! and plain option/value types cross threads.
//!
//! | type | Send | Sync | why |
//! |---|---|---|---|
//! | `EventLoop`, `Loop` | no | no | `Rc` of the loop state |
//! | `Runner` | no | no | owns an `EventLoop` |
//! | `Task<T>`, `TaskRef` | no | no | `Rc` task header |
//! | `LoopFuture<T>`, `WaitDone<'_, T>` | no | no | `Rc` shared state |
//! | `Handle`, `TimerHandle` | no | no | `Rc` callback cell |
//! | `ExceptionContext` | no | no | holds a `TaskRef` and a `Handle` |
//! | `ExceptionHandler` | no | no | `Rc<dyn Fn>` |
//! | `Sleep` | no | no | `Rc` timer entry |
//! | `ExecutorFuture<T>` | no | no | `Weak` of the loop state |
//! | `YieldNow` | yes | yes | a flag |
//! | `RemoteLoop` | yes | yes | `Arc` of the lock-free queue (also `Clone`) |
//! | `Error`, `PanicError` | yes | yes | `Arc`ed payloads |
//! | `ThreadPool` | yes | yes | `Arc<Mutex<..>>` (also `Clone`) |
//! | `Job` | yes | no | `Box<dyn FnOnce() + Send>` |
//! | `dyn Executor` | yes | yes | `Send + Sync` supertraits |
//! | `EventLoopBuilder`, `TaskOptions`, `CallbackId`, `BackendKind` | yes | yes | plain values |
//! | `LoopFactory` | yes | yes | a `fn` pointer |
//! | `IoSource` | yes | no | `Cell`s; only ever handed out as `Rc<IoSource>` (`!Send`) |
//! | `Gather`, `GatherOutcomes`, `TryGather`, `AsCompleted`, `Next`, `Shield`, `Wait` | no | no | hold `Task`s of the loop |
//! | `TaskGroup`, `TaskGroupScope` | no | no | `Rc` group state |
//! | `Timeout`, `TimeoutScope`, `WaitForTask` | no | no | `Rc` scope state / a `Task` |
//! | `ConcurrentFuture<T>` | yes | yes | `Arc<Mutex<..>>` slot, for other threads |
//! | `TaskGroupError`, `ReturnWhen` | yes | yes | errors and plain values |
//!
//! `!Send` is proven with `tulip_test::auto_traits`, the ambiguous-impl technique of the
//! `static_assertions` crate: `<T as AmbiguousIfSend<_>>::some_item` resolves
//! only when exactly one impl applies, i.e. when `T` is not `Send`. The
//! `compile_fail` doctests on `Loop` and `Task` prove the same from the
//! outside.

use std::rc::Rc;

use std::future::Ready;

use tulip_executor::{
    AsCompleted, BackendKind, CallbackId, ConcurrentFuture, Error, EventLoop, EventLoopBuilder,
    ExceptionContext, ExceptionHandler, Executor, ExecutorFuture, Gather, GatherOutcomes, Handle,
    IoSource, Job, Loop, LoopFactory, LoopFuture, PanicError, RemoteLoop, ReturnWhen, Runner,
    Shield, Sleep, Task, TaskGroup, TaskGroupError, TaskOptions, TaskRef, ThreadPool, Timeout,
    TimeoutScope, TimerHandle, Wait, WaitDone, WaitForTask, YieldNow,
};

use tulip_test::auto_traits::{is_clone, is_send, is_sync};
use tulip_test::{not_send, not_sync};

#[test]
fn loop_side_types_are_neither_send_nor_sync() {
    not_send!(
        EventLoop,
        Loop,
        Runner,
        Task<()>,
        Task<u32>,
        TaskRef,
        LoopFuture<()>,
        LoopFuture<u32>,
        WaitDone<'static, u32>,
        Handle,
        TimerHandle,
        ExceptionContext,
        ExceptionHandler,
        Sleep,
        ExecutorFuture<u32>,
        Rc<IoSource>,
        Gather<Vec<Ready<u32>>>,
        GatherOutcomes<Vec<Ready<u32>>>,
        AsCompleted<u32>,
        Shield<u32>,
        Wait<Task<u32>>,
        TaskGroup,
        Timeout,
        TimeoutScope<Ready<u32>>,
        WaitForTask<u32>,
    );
    not_sync!(
        EventLoop,
        Loop,
        Runner,
        Task<()>,
        TaskRef,
        LoopFuture<u32>,
        WaitDone<'static, u32>,
        Handle,
        TimerHandle,
        ExceptionContext,
        ExceptionHandler,
        Sleep,
        ExecutorFuture<u32>,
        IoSource,
        Job,
        AsCompleted<u32>,
        TaskGroup,
        Timeout,
        WaitForTask<u32>,
    );
}

#[test]
fn thread_side_types_are_send_and_sync() {
    is_send::<RemoteLoop>();
    is_sync::<RemoteLoop>();
    is_clone::<RemoteLoop>();

    is_send::<Error>();
    is_sync::<Error>();
    is_send::<PanicError>();
    is_sync::<PanicError>();

    is_send::<ThreadPool>();
    is_sync::<ThreadPool>();
    is_clone::<ThreadPool>();

    is_send::<Job>();
    is_send::<dyn Executor>();
    is_sync::<dyn Executor>();

    is_send::<YieldNow>();
    is_sync::<YieldNow>();
    is_send::<EventLoopBuilder>();
    is_sync::<EventLoopBuilder>();
    is_send::<TaskOptions>();
    is_sync::<TaskOptions>();
    is_send::<CallbackId>();
    is_sync::<CallbackId>();
    is_send::<BackendKind>();
    is_sync::<BackendKind>();
    is_send::<LoopFactory>();
    is_sync::<LoopFactory>();
    is_send::<IoSource>();

    is_send::<ConcurrentFuture<u32>>();
    is_sync::<ConcurrentFuture<u32>>();
    is_send::<TaskGroupError>();
    is_sync::<TaskGroupError>();
    is_send::<ReturnWhen>();
    is_sync::<ReturnWhen>();
}

#[test]
fn a_remote_loop_really_crosses_threads() {
    let el = EventLoop::new().unwrap();
    let remote = el.remote();
    let worker = std::thread::spawn(move || {
        let shared = std::sync::Arc::new(remote);
        let s = shared.clone();
        std::thread::spawn(move || s.stop().unwrap())
            .join()
            .unwrap();
        shared.is_closed()
    });
    assert!(!worker.join().unwrap());
    el.run_forever().unwrap();
}
