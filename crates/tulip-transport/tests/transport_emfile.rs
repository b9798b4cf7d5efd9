//! A server out of file descriptors: the accept error is reported once
//! per episode, accepting pauses without spinning, and resumes once
//! descriptors are free again (found by the back-off timer, or when one of
//! the server's connections closes), serving the pending clients and new
//! ones.
//!
//! This binary holds one test: it lowers `RLIMIT_NOFILE` and fills the
//! descriptor table, which concerns the whole process.

mod common;
mod server_support;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use server_support::Counts;
use tulip_executor::{EventLoop, ExceptionContext, Loop, sleep, to_thread, wait_for};
use tulip_test::{
    FdLimit, fd_count, fill_descriptor_table, settled_fd_count, unconnected_tcp_socket, wait_until,
};
use tulip_transport::{LoopNetExt, ServerOptions};

/// The process's CPU time so far, in clock ticks (user + system).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Connects `sock` on a worker thread (connecting needs no new
/// descriptor).
async fn connect(sock: OwnedFd, addr: SocketAddr) -> TcpStream {
    to_thread(move || {
        rustix::net::connect(&sock, &addr).unwrap();
        TcpStream::from(sock)
    })
    .await
    .unwrap()
}

#[test]
fn out_of_descriptors_is_reported_once_and_accepting_recovers() {
    const BACKLOG: u32 = 2;
    // backlog + 1 connections fill a Linux accept queue.
    const PENDING: usize = BACKLOG as usize + 1;

    let fds_before = fd_count();
    let ev = EventLoop::new().unwrap();
    let lp = ev.handle();
    let reports = Rc::new(RefCell::new(Vec::<ExceptionContext>::new()));
    let r = reports.clone();
    lp.set_exception_handler(move |_: &Loop, ctx: &ExceptionContext| {
        r.borrow_mut().push(ctx.clone());
    });
    let counts = Counts::default();
    let body = {
        let lp = lp.clone();
        let (counts, reports) = (counts.clone(), reports.clone());
        async move {
            // The low limit comes first: io_uring's accept takes the
            // descriptor limit when it is submitted, so a multishot accept
            // armed before a lower limit would not see it.
            let limit = FdLimit::lower(64);
            let server = lp
                .create_server(
                    counts.factory(),
                    "127.0.0.1",
                    0,
                    ServerOptions::new().backlog(BACKLOG),
                )
                .await
                .unwrap();
            let addr = server.sockets()[0].inet_addr().unwrap();
            let pending: Vec<OwnedFd> = (0..PENDING).map(|_| unconnected_tcp_socket()).collect();
            let late = unconnected_tcp_socket();

            // A full table.
            let cpu_before = cpu_ticks();
            let paused_at = Instant::now();
            let fillers = fill_descriptor_table();

            // The clients connect (the kernel queues them); the server
            // cannot accept them.
            let mut clients = Vec::new();
            for sock in pending {
                clients.push(connect(sock, addr).await);
            }
            // Long enough for the back-off timer to retry twice.
            sleep(Duration::from_millis(2500)).await;
            assert_eq!(counts.made(), 0);
            {
                let reports = reports.borrow();
                assert_eq!(reports.len(), 1, "reported once per episode");
                assert!(reports[0].message.contains("out of system resource"));
                let err = reports[0].error.as_ref().unwrap();
                assert!(err.to_string().contains("Too many open files"), "{err}");
            }
            assert!(server.is_serving());

            // Free the descriptors: the queued clients and a new one are
            // served within 2 s.
            drop(fillers);
            let freed = Instant::now();
            let cpu_paused = cpu_ticks() - cpu_before;
            let paused_for = paused_at.elapsed();
            assert!(wait_until(|| counts.made() == PENDING).await);
            let newcomer = connect(late, addr).await;
            assert!(wait_until(|| counts.made() == PENDING + 1).await);
            let served_after = freed.elapsed();

            // Paused, not spinning: a busy loop would burn a whole core.
            let ticks_per_sec = 100.0;
            let cpu_secs = cpu_paused as f64 / ticks_per_sec;
            assert!(
                cpu_secs < paused_for.as_secs_f64() / 2.0,
                "{cpu_secs} s of CPU over {paused_for:?}: accepting spun"
            );
            assert!(
                served_after < Duration::from_secs(2),
                "served {served_after:?} after descriptors were freed"
            );

            clients.push(newcomer);

            // A second episode, ended by one of the server's connections
            // closing: reported again, and the pending client is served.
            let second = unconnected_tcp_socket();
            let fillers = fill_descriptor_table();
            let second = connect(second, addr).await;
            assert!(wait_until(|| reports.borrow().len() == 2).await);
            assert!(
                reports.borrow()[1]
                    .message
                    .contains("out of system resource")
            );
            assert_eq!(counts.made(), PENDING + 1);
            drop(clients.remove(0));
            assert!(wait_until(|| counts.made() == PENDING + 2).await);
            drop(fillers);
            limit.restore();
            clients.push(second);

            // Every connection works.
            for c in clients {
                let echoed = to_thread(move || {
                    let mut c = c;
                    c.set_read_timeout(Some(Duration::from_secs(20)))?;
                    c.write_all(b"ok")?;
                    c.shutdown(Shutdown::Write)?;
                    let mut back = Vec::new();
                    c.read_to_end(&mut back)?;
                    Ok::<_, std::io::Error>(back)
                })
                .await
                .unwrap()
                .unwrap();
                assert_eq!(echoed, b"ok");
            }
            assert!(wait_until(|| counts.lost() == PENDING + 2).await);
            server.close();
            server.wait_closed().await;
            assert_eq!(reports.borrow().len(), 2);
        }
    };
    ev.run_until_complete(wait_for(body, Duration::from_secs(60)))
        .unwrap()
        .expect("the test timed out");
    ev.close().unwrap();
    drop((ev, lp));
    assert_eq!(counts.made(), PENDING + 2);
    assert_eq!(counts.lost(), PENDING + 2);
    assert_eq!(counts.violations(), 0);
    // The clients' sockets close on the thread-pool workers that ran
    // them, a moment after their results arrived here.
    let after = settled_fd_count(fds_before);
    assert!(
        after <= fds_before,
        "a descriptor leaked: {after} now, {fds_before} before"
    );
}
