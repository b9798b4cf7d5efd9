//! The FIFO waiter list every primitive of the crate is built on.
//!
//! A slab of slots threaded by an intrusive doubly linked list (indices, not
//! pointers): enqueue at the back, dequeue at the front and removal of any
//! waiter are all O(1), so 100,000 waiters cost 100,000 units of work, never
//! 100,000².
//!
//! Each slot is in one of three states:
//!
//! - *waiting*: linked in the queue, holding the waiter's [`Waker`] and the
//!   data it brought (a queue putter's item, say);
//! - *notified*: unlinked, holding what it was granted (a permit, a queue
//!   item, a barrier index); it stays allocated until its future takes it;
//! - *vacant*: on the free list.
//!
//! A slot belongs to the future that created it until that future takes the
//! grant ([`WaiterList::poll`]) or gives the slot up ([`WaiterList::remove`]),
//! so keys are never reused under a live future. `remove` hands back a grant
//! that was not taken yet, and the primitive passes it on to the next waiter:
//! this is how a future dropped at the moment of its wake-up loses nothing.

use std::task::{Poll, Waker};

const NIL: usize = usize::MAX;

enum Slot<N, W> {
    Waiting {
        waker: Waker,
        data: W,
        prev: usize,
        next: usize,
    },
    Notified(N),
    Vacant {
        next_free: usize,
    },
}

/// What [`WaiterList::remove`] found in a slot.
pub(crate) enum Removed<N, W> {
    /// The waiter was still queued; here is the data it brought.
    Waiting(W),
    /// The waiter had been granted `N` but had not taken it yet.
    Notified(N),
}

/// A FIFO of waiters; `N` is what a waiter is granted, `W` what it brings.
pub(crate) struct WaiterList<N, W = ()> {
    slots: Vec<Slot<N, W>>,
    head: usize,
    tail: usize,
    free: usize,
    len: usize,
}

impl<N, W> WaiterList<N, W> {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        WaiterList {
            slots: Vec::new(),
            head: NIL,
            tail: NIL,
            free: NIL,
            len: 0,
        }
    }

    /// How many waiters are queued (notified ones not counted).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether no waiter is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues a waiter at the back; returns its key.
    pub(crate) fn push_back(&mut self, waker: &Waker, data: W) -> usize {
        let slot = Slot::Waiting {
            waker: waker.clone(),
            data,
            prev: self.tail,
            next: NIL,
        };
        let key = if self.free == NIL {
            self.slots.push(slot);
            self.slots.len() - 1
        } else {
            let key = self.free;
            match self.slots[key] {
                Slot::Vacant { next_free } => self.free = next_free,
                _ => unreachable!("the free list holds only vacant slots"),
            }
            self.slots[key] = slot;
            key
        };
        if self.tail == NIL {
            self.head = key;
        } else {
            self.set_next(self.tail, key);
        }
        self.tail = key;
        self.len += 1;
        key
    }

    fn set_next(&mut self, key: usize, to: usize) {
        match &mut self.slots[key] {
            Slot::Waiting { next, .. } => *next = to,
            _ => unreachable!("linked slots are waiting"),
        }
    }

    fn set_prev(&mut self, key: usize, to: usize) {
        match &mut self.slots[key] {
            Slot::Waiting { prev, .. } => *prev = to,
            _ => unreachable!("linked slots are waiting"),
        }
    }

    /// Unlinks a waiting slot, leaving it vacant but off the free list; the
    /// caller then fills it or frees it.
    fn unlink(&mut self, key: usize) -> (Waker, W) {
        let slot = std::mem::replace(&mut self.slots[key], Slot::Vacant { next_free: NIL });
        let Slot::Waiting {
            waker,
            data,
            prev,
            next,
        } = slot
        else {
            unreachable!("unlinking a slot that is not waiting")
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.set_next(prev, next);
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.set_prev(next, prev);
        }
        self.len -= 1;
        (waker, data)
    }

    fn free_slot(&mut self, key: usize) -> Slot<N, W> {
        let slot = std::mem::replace(
            &mut self.slots[key],
            Slot::Vacant {
                next_free: self.free,
            },
        );
        self.free = key;
        slot
    }

    /// The grant of `key` if it was notified (the slot is freed and the key
    /// must not be used again); otherwise stores `waker` and returns `None`.
    pub(crate) fn poll(&mut self, key: usize, waker: &Waker) -> Option<N> {
        match &mut self.slots[key] {
            Slot::Waiting { waker: w, .. } => {
                if !w.will_wake(waker) {
                    w.clone_from(waker);
                }
                None
            }
            Slot::Notified(_) => match self.free_slot(key) {
                Slot::Notified(n) => Some(n),
                _ => unreachable!(),
            },
            Slot::Vacant { .. } => unreachable!("polling a vacant waiter slot"),
        }
    }

    /// Gives up the slot of `key`, queued or notified; the key must not be
    /// used again.
    pub(crate) fn remove(&mut self, key: usize) -> Removed<N, W> {
        match self.slots[key] {
            Slot::Waiting { .. } => {
                let (_, data) = self.unlink(key);
                self.free_slot(key);
                Removed::Waiting(data)
            }
            Slot::Notified(_) => match self.free_slot(key) {
                Slot::Notified(n) => Removed::Notified(n),
                _ => unreachable!(),
            },
            Slot::Vacant { .. } => unreachable!("removing a vacant waiter slot"),
        }
    }

    /// Notifies the front waiter with `grant(its data)`; returns its waker
    /// (to be woken once the caller has released its borrows), or `None` if
    /// no waiter is queued.
    pub(crate) fn notify_one(&mut self, grant: impl FnOnce(W) -> N) -> Option<Waker> {
        if self.head == NIL {
            return None;
        }
        let key = self.head;
        let (waker, data) = self.unlink(key);
        self.slots[key] = Slot::Notified(grant(data));
        Some(waker)
    }

    /// Notifies every queued waiter, front first; returns their wakers.
    pub(crate) fn notify_all(&mut self, mut grant: impl FnMut(W) -> N) -> Vec<Waker> {
        let mut wakers = Vec::with_capacity(self.len);
        while let Some(w) = self.notify_one(&mut grant) {
            wakers.push(w);
        }
        wakers
    }
}

/// Wakes every waker (call it after releasing the primitive's borrows).
/// What a waiting future is, for tulip's await graph (the "graph"
/// feature); without it, nothing.
#[cfg(feature = "graph")]
pub(crate) type Kind = tulip_executor::graph::WaitKind;

/// What a waiting future is, for tulip's await graph (the "graph"
/// feature); without it, nothing.
#[cfg(not(feature = "graph"))]
pub(crate) struct Kind;

#[cfg(not(feature = "graph"))]
impl Kind {
    const fn new(_name: &'static str) -> Kind {
        Kind
    }
}

pub(crate) static BARRIER_WAIT: Kind = Kind::new("Barrier.wait");
pub(crate) static CONDITION_WAIT: Kind = Kind::new("Condition.wait");
pub(crate) static EVENT_WAIT: Kind = Kind::new("Event.wait");
pub(crate) static LOCK_ACQUIRE: Kind = Kind::new("Lock.acquire");
pub(crate) static QUEUE_PUT: Kind = Kind::new("Queue.put");
pub(crate) static QUEUE_GET: Kind = Kind::new("Queue.get");
pub(crate) static QUEUE_JOIN: Kind = Kind::new("Queue.join");
pub(crate) static SEMAPHORE_ACQUIRE: Kind = Kind::new("Semaphore.acquire");

/// `poll` as it is, telling the await graph what the task waits on when it
/// is `Pending` (see `tulip::graph::waiting_on`; with the "graph" feature
/// only, which the facade turns on).
#[inline]
#[cfg_attr(not(feature = "graph"), allow(unused_variables))]
pub(crate) fn noting<T>(kind: &'static Kind, poll: Poll<T>) -> Poll<T> {
    #[cfg(feature = "graph")]
    if poll.is_pending() {
        tulip_executor::graph::waiting_on(kind, tulip_executor::graph::WaitDetail::None);
    }
    poll
}

pub(crate) fn wake_all(wakers: Vec<Waker>) {
    for w in wakers {
        w.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(list: &mut WaiterList<usize>) -> Vec<usize> {
        let mut n = 0;
        let mut keys = Vec::new();
        let waker = Waker::noop();
        // Record notification order through the grant.
        let _ = list.notify_all(|()| {
            n += 1;
            n
        });
        for key in 0..list.slots.len() {
            if let Slot::Notified(_) = list.slots[key] {
                keys.push(key);
            }
        }
        keys.sort_by_key(|&k| match list.slots[k] {
            Slot::Notified(n) => n,
            _ => 0,
        });
        for &k in &keys {
            assert!(list.poll(k, waker).is_some());
        }
        keys
    }

    #[test]
    fn fifo_with_removal_in_the_middle() {
        let mut list = WaiterList::<usize>::new();
        let w = Waker::noop();
        let keys: Vec<usize> = (0..5).map(|_| list.push_back(w, ())).collect();
        assert!(matches!(list.remove(keys[2]), Removed::Waiting(())));
        assert!(matches!(list.remove(keys[0]), Removed::Waiting(())));
        assert!(matches!(list.remove(keys[4]), Removed::Waiting(())));
        assert_eq!(list.len(), 2);
        assert_eq!(order(&mut list), vec![keys[1], keys[3]]);
        assert!(list.is_empty());
    }

    #[test]
    fn slots_are_reused_and_notified_grant_comes_back_on_remove() {
        let mut list = WaiterList::<u32>::new();
        let w = Waker::noop();
        let a = list.push_back(w, ());
        let b = list.push_back(w, ());
        assert!(list.notify_one(|()| 7).is_some());
        assert!(matches!(list.remove(a), Removed::Notified(7)));
        let c = list.push_back(w, ());
        assert_eq!(c, a, "the freed slot is reused");
        assert!(list.poll(b, w).is_none());
        assert_eq!(list.notify_all(|()| 1).len(), 2);
        assert_eq!(list.poll(b, w), Some(1));
        assert_eq!(list.poll(c, w), Some(1));
        assert_eq!(list.slots.len(), 2);
    }
}
