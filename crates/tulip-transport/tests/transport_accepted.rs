//! A transport over an accepted socket: echo, state machine, half-close,
//! close flushing, abort.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::time::Duration;

use tulip_executor::{EventLoop, sleep};
use tulip_transport::{BaseProtocol, Error, LoopNetExt, Protocol, Transport};

#[derive(Default)]
struct Log {
    events: Vec<String>,
    data: Vec<u8>,
    transport: Option<Transport>,
    echo: bool,
    keep_open: bool,
}

impl BaseProtocol for Log {
    fn connection_lost(&mut self, exc: Option<Error>) {
        self.events.push(format!("lost:{}", exc.is_some()));
        self.transport = None;
    }
    fn pause_writing(&mut self) {
        self.events.push("pause".into());
    }
    fn resume_writing(&mut self) {
        self.events.push("resume".into());
    }
}

impl Protocol for Log {
    fn connection_made(&mut self, transport: Transport) {
        self.events.push("made".into());
        self.transport = Some(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.data.extend_from_slice(data);
        if self.echo {
            self.transport.as_ref().unwrap().write(data).unwrap();
        }
    }
    fn eof_received(&mut self) -> bool {
        self.events.push("eof".into());
        self.keep_open
    }
}

fn pair() -> (TcpStream, OwnedFd) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, OwnedFd::from(s))
}

#[test]
fn echo_and_state_machine() {
    let ev = EventLoop::new().unwrap();
    let lp = ev.handle();
    let (mut client, server) = pair();
    let proto = ev
        .run_until_complete({
            let lp = lp.clone();
            async move {
                let (_t, p) = lp
                    .connect_accepted_socket(
                        || Log {
                            echo: true,
                            ..Log::default()
                        },
                        server,
                        tulip_transport::AcceptedSocketOptions::new(),
                    )
                    .await
                    .unwrap();
                p
            }
        })
        .unwrap();
    let th = std::thread::spawn(move || {
        client.write_all(b"hello world").unwrap();
        let mut buf = [0u8; 11];
        client.read_exact(&mut buf).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        (buf, rest)
    });
    let p2 = proto.clone();
    ev.run_until_complete(async move {
        for _ in 0..200 {
            if p2.borrow().events.iter().any(|e| e.starts_with("lost")) {
                break;
            }
            sleep(Duration::from_millis(10)).await;
        }
    })
    .unwrap();
    let (buf, rest) = th.join().unwrap();
    assert_eq!(&buf, b"hello world");
    assert!(rest.is_empty());
    let p = proto.borrow();
    assert_eq!(p.events, vec!["made", "eof", "lost:false"]);
    assert_eq!(p.data, b"hello world");
}

#[test]
fn close_flushes_large_buffer_and_marks_are_exact() {
    let ev = EventLoop::new().unwrap();
    let lp = ev.handle();
    let (mut client, server) = pair();
    let reader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        let mut all = Vec::new();
        client.read_to_end(&mut all).unwrap();
        all.len()
    });
    let events = ev
        .run_until_complete({
            let lp = lp.clone();
            async move {
                let (t, p) = lp
                    .connect_accepted_socket(
                        Log::default,
                        server,
                        tulip_transport::AcceptedSocketOptions::new(),
                    )
                    .await
                    .unwrap();
                let chunk = vec![7u8; 1 << 20];
                for _ in 0..16 {
                    t.write(&chunk).unwrap();
                }
                assert!(t.get_write_buffer_size() > 0);
                t.close();
                assert!(t.is_closing());
                for _ in 0..1000 {
                    if p.borrow().events.iter().any(|e| e.starts_with("lost")) {
                        break;
                    }
                    sleep(Duration::from_millis(10)).await;
                }
                p.borrow().events.clone()
            }
        })
        .unwrap();
    assert_eq!(reader.join().unwrap(), 16 << 20);
    assert_eq!(events, vec!["made", "pause", "resume", "lost:false"]);
}
