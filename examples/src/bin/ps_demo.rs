//! Not in asyncio's docs: a program to look at with `tulip-ps` (asyncio
//! 3.14's `python -m asyncio ps` / `pstree`). Its loop is built with
//! [`EventLoopBuilder::ps`](tulip::EventLoopBuilder::ps), so it answers
//! `tulip-ps PID` (any tulip program does with `TULIP_PS=1` in its
//! environment). It runs until Ctrl-C:
//!
//! - a `dispatcher` task runs a [`task_group`]: a
//!   `producer` putting a job on a [`Queue`] every
//!   second, three `worker-N` tasks taking jobs and sleeping on them, and
//!   a `listener` accepting connections on 127.0.0.1 (port
//!   `TULIP_EXAMPLE_PORT`, else 8888);
//! - the main task awaits the dispatcher.
//!
//! ```text
//! $ cargo run -p tulip-examples --bin ps_demo &
//! ps_demo: pid 4242; look at it with: tulip-ps 4242 (or tulip-ps --tree 4242)
//! $ cargo run -p tulip-ps -- --tree 4242
//! Thread 4242 (main), loop 1
//! └── (T) main #1  waiting on Task (task 2)  @ examples/src/bin/ps_demo.rs:47:26
//!     └── (T) dispatcher #2 via await  waiting on TaskGroup (5 pending)  @ examples/src/bin/ps_demo.rs:50:26
//!         ├── (T) producer #3 via TaskGroup  waiting on sleep (0.454s left)  @ examples/src/bin/ps_demo.rs:53:16
//!         ├── (T) worker-1 #4 via TaskGroup  waiting on Queue.get  @ examples/src/bin/ps_demo.rs:64:20
//!         ├── (T) worker-2 #5 via TaskGroup  waiting on sleep (0.054s left)  @ examples/src/bin/ps_demo.rs:64:20
//!         ├── (T) worker-3 #6 via TaskGroup  waiting on Queue.get  @ examples/src/bin/ps_demo.rs:64:20
//!         └── (T) listener #7 via TaskGroup  waiting on socket read (fd 6)  @ examples/src/bin/ps_demo.rs:71:16
//! ```

use std::time::Duration;

use tulip::prelude::*;
use tulip::sync::Queue;
use tulip::{Error, EventLoop, Runner};

fn port() -> u16 {
    std::env::var("TULIP_EXAMPLE_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8888)
}

fn main() -> Result<(), Error> {
    // A Runner (asyncio.Runner) on a loop built with the view on; it turns
    // Ctrl-C into Error::Interrupted.
    let runner = Runner::with_loop(EventLoop::builder().ps(true).build()?)?;
    let pid = std::process::id();
    println!("ps_demo: pid {pid}; look at it with: tulip-ps {pid} (or tulip-ps --tree {pid})");
    let outcome = runner.run(async {
        current_task().expect("inside a task").set_name("main");
        let listener = tulip::net::TcpListener::bind("127.0.0.1", port()).await?;
        let dispatcher = spawn(task_group(move |tg| async move {
            let jobs: Queue<u64> = Queue::new(10);
            let q = jobs.clone();
            tg.create_task(async move {
                for n in 1.. {
                    sleep(Duration::from_secs(1)).await;
                    if q.put(n).await.is_err() {
                        break;
                    }
                }
            })?
            .set_name("producer");
            for w in 1..=3 {
                let q = jobs.clone();
                tg.create_task(async move {
                    while let Ok(n) = q.get().await {
                        sleep(Duration::from_millis(300 * n % 2000)).await;
                    }
                })?
                .set_name(format!("worker-{w}"));
            }
            tg.create_task(async move {
                // Connections are accepted and closed: the task shows
                // where a server spends its life, waiting on its socket.
                while listener.accept().await.is_ok() {}
            })?
            .set_name("listener");
            Ok::<_, Error>(())
        }));
        dispatcher.set_name("dispatcher");
        dispatcher.await?.map_err(|e| e.errors[0].clone())?
    });
    match outcome {
        Ok(r) => r,
        Err(Error::Interrupted) => Ok(()),
        Err(e) => Err(e),
    }
}
