//! What a task blocked on one of tulip's own futures shows it waits on:
//! sleep, queue get and put, lock, event, condition, semaphore, a socket
//! read (`tulip::net`), a stream read (`tulip::streams`), a child process,
//! and a user's future through `graph::waiting_on`; a foreign future shows
//! nothing (not something stale).

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::time::Duration;

use tulip::graph::{WaitDetail, WaitKind, WaitingOn, waiting_on};
use tulip::prelude::*;
use tulip::process::SubprocessOptions;
use tulip::sync::{Condition, Event, Lock, Queue, Semaphore};
use tulip::transport::ConnectOptions;

async fn settle() {
    for _ in 0..5 {
        yield_now().await;
    }
}

fn waits(task: &TaskRef) -> Option<WaitingOn> {
    tulip::capture_call_graph(task).task.waiting_on
}

fn what(task: &TaskRef) -> &'static str {
    waits(task).map_or("<nothing>", |w| w.what)
}

#[test]
fn sync_primitives_name_themselves() {
    tulip::run(async {
        let full: Queue<u8> = Queue::new(1);
        full.put_nowait(0).unwrap();
        let empty: Queue<u8> = Queue::new(0);
        let lock = Lock::new();
        let held = lock.acquire().await;
        let event = Event::new();
        let cond = Condition::new();
        let sem = Semaphore::new(0);

        let (f, e, l, ev, c, s) = (
            full.clone(),
            empty.clone(),
            lock.clone(),
            event.clone(),
            cond.clone(),
            sem.clone(),
        );
        let tasks = [
            spawn(async move { drop(f.put(1).await) }).task_ref(),
            spawn(async move {
                let _ = e.get().await;
            })
            .task_ref(),
            spawn(async move { drop(l.acquire().await) }).task_ref(),
            spawn(async move { ev.wait().await }).task_ref(),
            spawn(async move {
                let guard = c.acquire().await;
                let _ = c.wait(guard).await;
            })
            .task_ref(),
            spawn(async move { drop(s.acquire().await) }).task_ref(),
            spawn(async { sleep(Duration::from_secs(3600)).await }).task_ref(),
        ];
        settle().await;
        let names: Vec<&str> = tasks.iter().map(what).collect();
        assert_eq!(
            names,
            [
                "Queue.put",
                "Queue.get",
                "Lock.acquire",
                "Event.wait",
                "Condition.wait",
                "Semaphore.acquire",
                "sleep"
            ]
        );
        match waits(&tasks[6]).unwrap().detail {
            WaitDetail::Remaining(d) => {
                assert!(d <= Duration::from_secs(3600) && d > Duration::from_secs(3000))
            }
            other => panic!("sleep detail {other:?}"),
        }
        drop(held);
        for t in &tasks {
            t.cancel();
        }
        settle().await;
    })
    .unwrap();
}

#[test]
fn socket_and_stream_reads_show_their_descriptor() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    tulip::run(async move {
        // tulip::net: a raw stream read, with the descriptor.
        let stream = tulip::net::TcpStream::connect("127.0.0.1", port)
            .await
            .unwrap();
        let fd = stream.as_raw_fd();
        let reader = spawn(async move {
            let mut buf = [0u8; 16];
            stream.read(&mut buf).await
        });
        // tulip::streams: asyncio's StreamReader.
        let (mut r, _w) = open_connection("127.0.0.1", port, ConnectOptions::new())
            .await
            .unwrap();
        let streamer = spawn(async move { r.read(10).await });
        let _peers = (listener.accept().unwrap(), listener.accept().unwrap());
        settle().await;
        assert_eq!(
            waits(&reader.task_ref()),
            Some(WaitingOn {
                what: "socket read",
                detail: WaitDetail::Fd(fd)
            })
        );
        assert_eq!(what(&streamer.task_ref()), "StreamReader.read");
        reader.cancel();
        streamer.cancel();
        settle().await;
    })
    .unwrap();
}

#[test]
fn a_child_process_wait_shows_its_pid() {
    tulip::run(async {
        let proc = create_subprocess_exec("sleep", ["30"], SubprocessOptions::new())
            .await
            .unwrap();
        let pid = proc.pid();
        let waiter = {
            let wait = proc.wait();
            spawn(wait)
        };
        settle().await;
        assert_eq!(
            waits(&waiter.task_ref()),
            Some(WaitingOn {
                what: "Process.wait",
                detail: WaitDetail::Pid(pid)
            })
        );
        proc.kill().unwrap();
        waiter.await.unwrap();
    })
    .unwrap();
}

#[test]
fn a_user_future_can_say_what_it_waits_on_and_a_foreign_one_shows_nothing() {
    tulip::run(async {
        static HARDWARE: WaitKind = WaitKind::new("hardware");
        let custom = spawn(std::future::poll_fn(|_| {
            waiting_on(&HARDWARE, WaitDetail::Count(2));
            std::task::Poll::<()>::Pending
        }));
        // A task that slept once, then waits on a future that says nothing:
        // the old "sleep" must not linger.
        let foreign = spawn(async {
            sleep(Duration::from_millis(1)).await;
            std::future::pending::<()>().await
        });
        sleep(Duration::from_millis(20)).await;
        assert_eq!(
            waits(&custom.task_ref()),
            Some(WaitingOn {
                what: "hardware",
                detail: WaitDetail::Count(2)
            })
        );
        assert_eq!(waits(&foreign.task_ref()), None);
        custom.cancel();
        foreign.cancel();
        settle().await;
    })
    .unwrap();
}
