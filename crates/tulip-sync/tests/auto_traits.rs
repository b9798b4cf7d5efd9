//! The `Send` / `Sync` status of every public type of `tulip-sync`,
//! checked at compile time (design §8). The primitives are single-threaded
//! (`Rc`, `Cell`, `RefCell`): every handle, guard and future is `!Send` and
//! `!Sync`; the errors and the storage markers cross threads.
//!
//! | type | Send | Sync | why |
//! |---|---|---|---|
//! | `Lock`, `LockGuard`, `LockAcquire` | no | no | `Rc` lock state |
//! | `Event`, `EventWait` | no | no | `Rc` event state |
//! | `Condition`, `ConditionWait` | no | no | `Rc` state and a `LockGuard` |
//! | `Semaphore`, `BoundedSemaphore`, `SemaphorePermit`, `SemaphoreAcquire` | no | no | `Rc` counter |
//! | `Barrier`, `BarrierWait` | no | no | `Rc` barrier state |
//! | `Queue`, `PriorityQueue`, `LifoQueue`, `QueuePut`, `QueueGet`, `QueueJoin` | no | no | `Rc` queue state |
//! | `Error` | yes | yes | a plain enum |
//! | `PutError<T>` | as `T` | as `T` | carries the refused item |
//! | `Fifo`, `Lifo`, `Priority` (storage) | as `T` | as `T` | plain collections |
//!
//! `!Send`/`!Sync` is proven with the ambiguous-impl technique of
//! `tulip_test::auto_traits`: the
//! `some_item` path resolves only when exactly one impl applies, i.e. when
//! the type is not `Send` (or not `Sync`).

use tulip_sync::{
    Barrier, BarrierWait, BoundedSemaphore, Condition, ConditionWait, Error, Event, EventWait,
    Fifo, Lifo, LifoQueue, Lock, LockAcquire, LockGuard, Priority, PriorityQueue, PutError, Queue,
    QueueGet, QueueJoin, QueuePut, Semaphore, SemaphoreAcquire, SemaphorePermit,
};

use tulip_test::auto_traits::{is_send, is_sync};
use tulip_test::neither_send_nor_sync;

#[test]
fn handles_guards_and_futures_stay_on_their_thread() {
    neither_send_nor_sync!(
        Lock,
        LockGuard,
        LockAcquire,
        Event,
        EventWait,
        Condition,
        ConditionWait,
        Semaphore,
        BoundedSemaphore,
        SemaphorePermit,
        SemaphoreAcquire,
        Barrier,
        BarrierWait,
        Queue<u32>,
        PriorityQueue<u32>,
        LifoQueue<u32>,
        QueuePut<u32, Fifo<u32>>,
        QueueGet<u32, Fifo<u32>>,
        QueueJoin<u32, Fifo<u32>>,
    );
}

#[test]
fn errors_and_storage_cross_threads() {
    is_send::<Error>();
    is_sync::<Error>();
    is_send::<PutError<u32>>();
    is_sync::<PutError<u32>>();
    is_send::<Fifo<u32>>();
    is_send::<Lifo<u32>>();
    is_send::<Priority<u32>>();
}
