//! `tulip::channel`: order and no lost message with many producer threads,
//! closing from either side, back-pressure across loops, cancel safety of
//! `recv` and `send`, and the wake-up rule (one wake of the receiving loop
//! per pass, however many messages arrive).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use tulip::channel::{self, RecvError, SendError, TryRecvError, TrySendError};
use tulip::{EventLoop, RemoteLoop};
use tulip_test::run;

const PRODUCERS: usize = 4;
/// Messages per producer thread (the figure).
const PER_PRODUCER: usize = 1_000_000;

/// Receives `PRODUCERS * per_producer` `(producer, seq)` messages on a loop
/// and checks each producer's messages come in order, none lost.
fn receive_all(rx: channel::Receiver<(usize, usize)>, per_producer: usize) {
    let next = run(async move {
        let mut next = [0usize; PRODUCERS];
        while let Ok((p, seq)) = rx.recv().await {
            assert_eq!(seq, next[p], "producer {p}: message out of order");
            next[p] += 1;
        }
        next
    });
    assert_eq!(next, [per_producer; PRODUCERS], "messages lost");
}

fn produce(
    tx: channel::Sender<(usize, usize)>,
    per_producer: usize,
) -> Vec<thread::JoinHandle<()>> {
    (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                for seq in 0..per_producer {
                    tx.send_blocking((p, seq)).unwrap();
                }
            })
        })
        .collect()
}

#[test]
fn unbounded_four_producers_order_and_no_loss() {
    let (tx, rx) = channel::unbounded();
    let producers = produce(tx, PER_PRODUCER);
    receive_all(rx, PER_PRODUCER);
    for p in producers {
        p.join().unwrap();
    }
}

#[test]
fn bounded_four_producers_order_and_no_loss() {
    let (tx, rx) = channel::bounded(1024);
    let producers = produce(tx, PER_PRODUCER);
    receive_all(rx, PER_PRODUCER);
    for p in producers {
        p.join().unwrap();
    }
}

/// Counts the polls of the future it wraps.
struct CountPolls<F> {
    fut: Pin<Box<F>>,
    polls: Arc<AtomicUsize>,
}

impl<F: Future> Future for CountPolls<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        self.fut.as_mut().poll(cx)
    }
}

#[test]
fn a_burst_during_one_pass_wakes_the_receiver_once() {
    const BURST: usize = 100_000;
    let polls = Arc::new(AtomicUsize::new(0));
    let counted = polls.clone();
    let received = run(async move {
        let (tx, rx) = channel::unbounded::<usize>();
        let receiver = tulip::spawn(CountPolls {
            fut: Box::pin(async move {
                let mut n = 0;
                while rx.recv().await.is_ok() {
                    n += 1;
                }
                n
            }),
            polls: counted.clone(),
        });
        tulip::yield_now().await; // the receiver waits
        assert_eq!(counted.load(Ordering::Relaxed), 1);
        // Every message arrives while this loop is busy in one pass: the
        // producers run to the end while this task blocks the loop thread.
        let producers = produce_plain(tx, BURST);
        for p in producers {
            p.join().unwrap();
        }
        receiver.await.unwrap()
    });
    assert_eq!(received, BURST);
    // One poll to start waiting, one after the single wake-up (which drains
    // the burst and sees the channel closed).
    assert_eq!(polls.load(Ordering::Relaxed), 2);
}

fn produce_plain(tx: channel::Sender<usize>, total: usize) -> Vec<thread::JoinHandle<()>> {
    (0..PRODUCERS)
        .map(|_| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..total / PRODUCERS {
                    tx.try_send(i).unwrap();
                }
            })
        })
        .collect()
}

#[test]
fn a_running_receiver_is_polled_far_less_often_than_messages_arrive() {
    const BURST: usize = 100_000;
    let polls = Arc::new(AtomicUsize::new(0));
    let counted = polls.clone();
    let (tx, rx) = channel::unbounded::<usize>();
    let (ready_tx, ready_rx) = mpsc::channel();
    let loop_thread = thread::spawn(move || {
        run(CountPolls {
            fut: Box::pin(async move {
                ready_tx.send(()).unwrap();
                let mut n = 0;
                while rx.recv().await.is_ok() {
                    n += 1;
                }
                n
            }),
            polls: counted,
        })
    });
    ready_rx.recv().unwrap();
    let producers = produce_plain(tx, BURST);
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(loop_thread.join().unwrap(), BURST);
    let polls = polls.load(Ordering::Relaxed);
    eprintln!("{BURST} messages, {polls} polls of the receiving task");
    assert!(polls < BURST / 10, "{polls} polls for {BURST} messages");
}

#[test]
fn sender_close_lets_the_receiver_drain_then_fail() {
    let (tx, rx) = channel::unbounded();
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    let tx2 = tx.clone();
    assert!(tx.close());
    assert!(!tx2.close());
    assert!(tx2.is_closed() && rx.is_closed());
    assert_eq!(tx2.try_send(3), Err(TrySendError::Closed(3)));
    run(async move {
        assert_eq!(rx.recv().await, Ok(1));
        assert_eq!(rx.recv().await, Ok(2));
        assert_eq!(rx.recv().await, Err(RecvError));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn a_close_from_another_thread_wakes_a_waiting_receiver() {
    let (tx, rx) = channel::unbounded::<u8>();
    let closer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        tx.close()
    });
    assert_eq!(run(async move { rx.recv().await }), Err(RecvError));
    assert!(closer.join().unwrap());
}

#[test]
fn the_last_sender_dropped_ends_the_stream() {
    use futures_core::Stream;
    let (tx, mut rx) = channel::unbounded();
    let tx2 = tx.clone();
    thread::spawn(move || {
        tx.send_blocking(1).unwrap();
        drop(tx);
        tx2.send_blocking(2).unwrap();
    });
    let got = run(async move {
        let mut got = Vec::new();
        while let Some(v) = std::future::poll_fn(|cx| Pin::new(&mut rx).poll_next(cx)).await {
            got.push(v);
        }
        got
    });
    assert_eq!(got, [1, 2]);
}

#[test]
fn receiver_close_fails_sends_and_wakes_waiting_senders_with_their_value() {
    let (tx, rx) = channel::bounded(1);
    tx.try_send(String::from("kept")).unwrap();
    let blocked = {
        let tx = tx.clone();
        thread::spawn(move || tx.send_blocking(String::from("waiting")))
    };
    thread::sleep(Duration::from_millis(20));
    assert!(rx.close());
    let err = blocked.join().unwrap().unwrap_err();
    assert_eq!(err, SendError(String::from("waiting")));
    // Messages sent before the close are still received.
    assert_eq!(rx.try_recv().as_deref(), Ok("kept"));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn a_dropped_receiver_makes_send_fail_with_the_value_back() {
    let (tx, rx) = channel::bounded::<Vec<u8>>(4);
    let dropped = Arc::new(());
    let (tx2, rx2) = channel::unbounded();
    tx2.try_send(dropped.clone()).unwrap();
    drop(rx2); // the messages left are dropped with the receiver
    assert_eq!(Arc::strong_count(&dropped), 1);
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send_blocking(vec![1]).unwrap_err().into_inner(), vec![1]);
    run(async move {
        let SendError(back) = tx.send(vec![2, 3]).await.unwrap_err();
        assert_eq!(back, vec![2, 3]);
    });
}

/// A loop on its own thread, running until stopped.
fn loop_thread() -> (RemoteLoop, thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let ev = EventLoop::new().unwrap();
        tx.send(ev.remote()).unwrap();
        ev.run_forever().unwrap();
        ev.close().unwrap();
    });
    (rx.recv().unwrap(), handle)
}

#[test]
fn bounded_back_pressure_with_the_sender_on_another_loop() {
    const CAP: usize = 4;
    const N: usize = 2_000;
    let (tx, rx) = channel::bounded(CAP);
    let sent = Arc::new(AtomicUsize::new(0));
    let (remote, other) = loop_thread();
    let counter = sent.clone();
    let producer = remote.spawn(move || async move {
        for i in 0..N {
            tx.send(i).await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    run(async move {
        // Nobody receives: the producer stops once the channel is full.
        tulip::sleep(Duration::from_millis(50)).await;
        assert_eq!(sent.load(Ordering::SeqCst), CAP);
        assert_eq!(rx.len(), CAP);
        for i in 0..N {
            assert_eq!(rx.recv().await, Ok(i));
            if i % 100 == 0 {
                tulip::yield_now().await;
            }
        }
        producer.await.unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
    remote.stop().unwrap();
    other.join().unwrap();
}

#[test]
fn waiting_senders_get_room_in_fifo_order() {
    let order = run(async {
        let (tx, rx) = channel::bounded(1);
        tx.try_send(0).unwrap();
        let tx = std::rc::Rc::new(tx);
        let mut senders = Vec::new();
        for i in 1..=5 {
            let tx = tx.clone();
            senders.push(tulip::spawn(async move { tx.send(i).await.unwrap() }));
            tulip::yield_now().await; // each starts waiting in turn
        }
        let mut order = Vec::new();
        for _ in 0..=5 {
            order.push(rx.recv().await.unwrap());
        }
        for s in senders {
            s.await.unwrap();
        }
        order
    });
    assert_eq!(order, [0, 1, 2, 3, 4, 5]);
}

#[test]
fn a_cancelled_send_passes_its_turn_on() {
    run(async {
        let (tx, rx) = channel::bounded(1);
        tx.try_send(0).unwrap();
        let tx = std::rc::Rc::new(tx);
        let (ta, tb) = (tx.clone(), tx.clone());
        let a = tulip::spawn(async move { ta.send(1).await });
        tulip::yield_now().await;
        let b = tulip::spawn(async move { tb.send(2).await });
        tulip::yield_now().await;
        // Room for one: `a` (first in line) is woken for it...
        assert_eq!(rx.try_recv(), Ok(0));
        // ...but cancelled before it runs: its turn goes to `b`.
        assert!(a.cancel());
        let b = tulip::wait_for(b, Duration::from_secs(10)).await;
        assert_eq!(b.expect("the turn was lost").unwrap(), Ok(()));
        assert!(a.await.unwrap_err().is_cancelled());
        assert_eq!(rx.try_recv(), Ok(2)); // a's value was never queued
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn a_cancelled_recv_takes_no_message() {
    let (tx, rx) = channel::unbounded();
    let producer = thread::spawn(move || {
        for i in 0..200 {
            tx.send_blocking(i).unwrap();
            if i % 20 == 0 {
                thread::sleep(Duration::from_millis(2));
            }
        }
    });
    let got = run(async move {
        let mut got = Vec::new();
        loop {
            // Short timeouts cancel many `recv`s half-way.
            match tulip::wait_for(rx.recv(), Duration::from_micros(200)).await {
                Ok(Ok(v)) => got.push(v),
                Ok(Err(RecvError)) => break got,
                Err(e) => assert!(e.is_timeout()),
            }
        }
    });
    producer.join().unwrap();
    assert_eq!(got, (0..200).collect::<Vec<_>>());
}

#[test]
fn senders_are_send_sync_clone_and_the_receiver_is_send() {
    tulip_test::auto_traits::is_send::<channel::Sender<String>>();
    tulip_test::auto_traits::is_sync::<channel::Sender<String>>();
    tulip_test::auto_traits::is_clone::<channel::Sender<String>>();
    tulip_test::auto_traits::is_send::<channel::Receiver<String>>();
    tulip_test::auto_traits::is_send::<tulip::RemoteTask<String>>();
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn a_zero_capacity_is_refused() {
    let _ = channel::bounded::<u8>(0);
}

#[test]
fn two_tasks_waiting_on_one_receiver_both_get_a_message() {
    let (tx, rx) = channel::unbounded();
    let got = run(async move {
        let rx = std::rc::Rc::new(rx);
        let (r1, r2) = (rx.clone(), rx.clone());
        let a = tulip::spawn(async move { r1.recv().await });
        let b = tulip::spawn(async move { r2.recv().await });
        tulip::yield_now().await; // both wait
        let sender = thread::spawn(move || {
            tx.send_blocking(1).unwrap();
            thread::sleep(Duration::from_millis(10));
            tx.send_blocking(2).unwrap();
        });
        let mut got = [a.await.unwrap().unwrap(), b.await.unwrap().unwrap()];
        sender.join().unwrap();
        got.sort();
        got
    });
    assert_eq!(got, [1, 2]);
}
