//! A server out of file descriptors: `serve` logs the accept error once
//! per episode, pauses accepting without spinning, and serves the waiting
//! client once descriptors are free again.
//!
//! This binary holds one test: it lowers `RLIMIT_NOFILE` and fills the
//! descriptor table, which concerns the whole process, and it installs the
//! process's logger to read what `serve` logs.

mod common;

use std::future::IntoFuture;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{App, stop_signal};
use tulip::net::TcpListener;
use tulip::prelude::*;
use tulip_test::{FdLimit, fill_descriptor_table, run, unconnected_tcp_socket};

/// Every error line logged, as text.
struct Recorder(Mutex<Vec<String>>);

impl log::Log for Recorder {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Error
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

static LOGGED: Recorder = Recorder(Mutex::new(Vec::new()));

fn logged() -> Vec<String> {
    LOGGED.0.lock().unwrap().clone()
}

/// The process's CPU time so far (read without a descriptor, as the table
/// is full when it is read).
fn cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

#[test]
fn out_of_descriptors_pauses_accepting_logs_once_and_recovers() {
    log::set_logger(&LOGGED).unwrap();
    log::set_max_level(log::LevelFilter::Error);
    run(async {
        let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (stop, set_stop) = stop_signal();
        let server = spawn(
            tulip::hyper::serve(listener, App::default())
                .with_graceful_shutdown(stop)
                .into_future(),
        );
        let sock = unconnected_tcp_socket();

        // A low limit, then a full table.
        let limit = FdLimit::lower(64);
        let fillers = fill_descriptor_table();

        // The client connects (the kernel queues it) and asks; the server
        // cannot accept it yet.
        let client = to_thread(move || {
            rustix::net::connect(&sock, &addr)?;
            let mut stream = TcpStream::from(sock);
            stream.set_read_timeout(Some(Duration::from_secs(30)))?;
            stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
            let mut reply = String::new();
            stream.read_to_string(&mut reply)?;
            Ok::<_, std::io::Error>(reply)
        });
        let cpu_before = cpu_time();
        let paused_at = Instant::now();
        // Long enough for the back-off to retry twice.
        sleep(Duration::from_millis(2500)).await;
        let cpu_secs = (cpu_time() - cpu_before).as_secs_f64();
        let paused_for = paused_at.elapsed();
        assert!(
            cpu_secs < paused_for.as_secs_f64() / 2.0,
            "{cpu_secs} s of CPU over {paused_for:?}: accepting spun"
        );
        let errors = logged();
        assert_eq!(errors.len(), 1, "logged once per episode: {errors:?}");
        assert!(errors[0].contains("out of resources"), "{}", errors[0]);
        assert!(errors[0].contains("Too many open files"), "{}", errors[0]);

        // Free the descriptors: the waiting client is served.
        drop(fillers);
        let reply = client.await.unwrap().unwrap();
        limit.restore();
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
        assert!(reply.ends_with("Hello, World!"), "{reply}");

        set_stop();
        server.await.unwrap().unwrap();
    });
}
