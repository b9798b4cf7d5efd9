//! `Loop::ready_mark`: equal marks mean nothing was queued and no pass
//! started in between, so a batch queued just before the first reading
//! may take more work without changing the loop's FIFO order.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use tulip_executor::{EventLoop, ReadyMark, yield_now};

#[test]
fn the_mark_holds_while_nothing_is_queued() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let before = lp.ready_mark();
    assert_eq!(lp.ready_mark(), before);
    // A timer is not queued to run until it is due.
    el.call_later(Duration::from_secs(60), || {}).unwrap();
    assert_eq!(lp.ready_mark(), before);
    el.call_soon(|| {}).unwrap();
    assert_ne!(lp.ready_mark(), before);
}

#[test]
fn a_task_wake_up_moves_the_mark() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let before = lp.ready_mark();
    let _task = lp.create_task(async { yield_now().await });
    assert_ne!(lp.ready_mark(), before);
}

#[test]
fn a_new_pass_moves_the_mark_even_at_the_same_length() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let marks: Rc<RefCell<Vec<ReadyMark>>> = Rc::default();
    let (m, inner) = (marks.clone(), lp.clone());
    el.call_soon(move || {
        // Pass 1: one callback queued for pass 2, then the mark.
        let (m2, inner2) = (m.clone(), inner.clone());
        inner
            .call_soon(move || {
                // Pass 2: again one callback queued, the same length.
                let stop = inner2.clone();
                inner2.call_soon(move || stop.stop()).unwrap();
                m2.borrow_mut().push(inner2.ready_mark());
            })
            .unwrap();
        m.borrow_mut().push(inner.ready_mark());
    })
    .unwrap();
    el.run_forever().unwrap();
    let marks = marks.borrow();
    assert_eq!(marks.len(), 2);
    assert_ne!(marks[0], marks[1]);
}

#[test]
fn a_batch_joined_only_under_an_unchanged_mark_keeps_fifo_order() {
    // An embedder's queue: work joins the batch queued last while the mark
    // is unchanged, else starts a batch of its own.
    type Batch = Rc<RefCell<Vec<u32>>>;
    struct Batches {
        lp: tulip_executor::Loop,
        open: RefCell<Option<(Batch, ReadyMark)>>,
        log: Rc<RefCell<Vec<u32>>>,
    }
    impl Batches {
        fn push(&self, n: u32) {
            if let Some((batch, mark)) = &*self.open.borrow() {
                if *mark == self.lp.ready_mark() {
                    batch.borrow_mut().push(n);
                    return;
                }
            }
            let batch = Rc::new(RefCell::new(vec![n]));
            let (b, log) = (batch.clone(), self.log.clone());
            self.lp
                .call_soon(move || log.borrow_mut().extend(b.borrow_mut().drain(..)))
                .unwrap();
            *self.open.borrow_mut() = Some((batch, self.lp.ready_mark()));
        }
    }
    let el = EventLoop::new().unwrap();
    let log: Rc<RefCell<Vec<u32>>> = Rc::default();
    let batches = Batches {
        lp: el.handle(),
        open: RefCell::new(None),
        log: log.clone(),
    };
    for n in 0..10 {
        if n % 3 == 0 {
            let log = log.clone();
            el.call_soon(move || log.borrow_mut().push(100 + n))
                .unwrap();
        }
        batches.push(n);
    }
    let stop = el.handle();
    el.call_soon(move || stop.stop()).unwrap();
    el.run_forever().unwrap();
    assert_eq!(
        *log.borrow(),
        [100, 0, 1, 2, 103, 3, 4, 5, 106, 6, 7, 8, 109, 9]
    );
}
