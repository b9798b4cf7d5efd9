//! Pipe transports: connect_read_pipe and connect_write_pipe over real
//! pipes.

mod common;

use std::time::Duration;

use common::Recorder;
use tulip_executor::{get_running_loop, run, sleep};
use tulip_test::wait_until;
use tulip_transport::{Error, LoopNetExt};

#[test]
fn data_flows_from_a_write_pipe_to_a_read_pipe_then_eof() {
    run(async {
        let lp = get_running_loop().unwrap();
        let (r, w) = rustix::pipe::pipe().unwrap();
        let (rt, rp) = lp.connect_read_pipe(Recorder::default, r).await.unwrap();
        let (wt, wp) = lp.connect_write_pipe(Recorder::default, w).await.unwrap();
        assert!(rt.is_reading());
        assert!(!wt.is_reading());
        assert!(rt.get_extra_info("pipe").is_some());
        assert!(matches!(rt.write(b"x"), Err(Error::Unsupported(_))));
        assert!(!rt.can_write_eof());
        let big = vec![5u8; 1 << 20];
        wt.write(b"hello ").unwrap();
        wt.write(&big).unwrap();
        wt.write_eof().unwrap();
        assert!(wait_until(|| rp.borrow().lost()).await);
        assert!(wait_until(|| wp.borrow().lost()).await);
        assert_eq!(rp.borrow().data.len(), 6 + big.len());
        assert_eq!(&rp.borrow().data[..6], b"hello ");
        assert_eq!(rp.borrow().events, ["made", "data", "eof", "lost"]);
        assert_eq!(wp.borrow().events, ["made", "pause", "resume", "lost"]);
        // Both descriptors are closed once the connections are lost.
        assert_eq!(rt.fd(), None);
        assert_eq!(wt.fd(), None);
    })
    .unwrap();
}

#[test]
fn a_write_pipe_learns_when_its_reader_closes() {
    run(async {
        let lp = get_running_loop().unwrap();
        let (r, w) = rustix::pipe::pipe().unwrap();
        let (wt, wp) = lp.connect_write_pipe(Recorder::default, w).await.unwrap();
        drop(r);
        assert!(wait_until(|| wp.borrow().lost()).await);
        assert!(wt.is_closing());
        // Writing afterwards is ignored, never a SIGPIPE death.
        wt.write(b"nobody listens").unwrap();
        sleep(Duration::from_millis(10)).await;
    })
    .unwrap();
}

#[test]
fn pausing_a_read_pipe_holds_data_back() {
    run(async {
        let lp = get_running_loop().unwrap();
        let (r, w) = rustix::pipe::pipe().unwrap();
        let (rt, rp) = lp.connect_read_pipe(Recorder::default, r).await.unwrap();
        rt.pause_reading();
        rustix::io::write(&w, b"later").unwrap();
        sleep(Duration::from_millis(30)).await;
        assert!(rp.borrow().data.is_empty());
        rt.resume_reading();
        assert!(wait_until(|| rp.borrow().data == b"later").await);
        rt.close();
        assert!(wait_until(|| rp.borrow().lost()).await);
    })
    .unwrap();
}

#[test]
fn a_write_pipe_on_a_terminal_stays_open_when_input_arrives() {
    use rustix::fs::{Mode, OFlags};
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    run(async {
        let lp = get_running_loop().unwrap();
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        rustix::fs::fcntl_setfl(&master, OFlags::RDWR | OFlags::NONBLOCK).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let flags = OFlags::RDWR | OFlags::NOCTTY;
        let slave = rustix::fs::open(name.as_c_str(), flags, Mode::empty()).unwrap();
        let (wt, wp) = lp
            .connect_write_pipe(Recorder::default, slave)
            .await
            .unwrap();
        // Input on the terminal makes the slave readable: not a hang-up.
        rustix::io::write(&master, b"typed\n").unwrap();
        sleep(Duration::from_millis(50)).await;
        assert!(!wp.borrow().lost());
        assert!(!wt.is_closing());
        wt.write(b"shown").unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while !got.ends_with(b"shown") {
            sleep(Duration::from_millis(5)).await;
            match rustix::io::read(&master, &mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => assert_eq!(e, rustix::io::Errno::AGAIN),
            }
        }
        wt.close();
        assert!(wait_until(|| wp.borrow().lost()).await);
    })
    .unwrap();
}
