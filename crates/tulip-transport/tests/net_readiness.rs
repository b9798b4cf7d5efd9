//! Edge-triggered readiness of `tulip::net` streams: the shortcuts that
//! save a system call (a short read clears read readiness, a short write
//! clears write readiness) never lose an event, in particular the end of
//! the stream arriving in the same edge as the last data.

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use tulip::net::{TcpListener, TcpStream, UnixStream};
use tulip_test::run;

/// Reads `stream` to its end with a deadline: what it read, or a panic
/// naming the hang.
async fn read_to_end(stream: &TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0; 64];
    loop {
        let n = tulip::wait_for(stream.read(&mut buf), Duration::from_secs(10))
            .await
            .expect("the read must see the end of the stream, not hang")
            .expect("read");
        if n == 0 {
            return all;
        }
        all.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn the_last_data_and_the_end_in_one_edge_are_both_read() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
        let addr = listener.local_addr().unwrap();
        // A blocking std peer: its write and its FIN are both queued before
        // the loop polls, so they reach the stream as one edge.
        let mut peer = std::net::TcpStream::connect(addr).unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        peer.write_all(b"x").unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(read_to_end(&stream).await, b"x");
    });
}

#[test]
fn data_then_a_later_end_are_both_read() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
        let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        peer.write_all(b"first").unwrap();
        let mut buf = [0; 64];
        assert_eq!(stream.read(&mut buf).await.unwrap(), 5); // a short read
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            peer.write_all(b"second").unwrap();
            drop(peer);
        });
        assert_eq!(read_to_end(&stream).await, b"second");
        closer.join().unwrap();
    });
}

#[test]
fn a_unix_peer_that_writes_and_closes_at_once_is_read_to_its_end() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let mut b = b.into_std().unwrap();
        b.set_nonblocking(false).unwrap();
        b.write_all(b"bye").unwrap();
        drop(b);
        let mut buf = [0; 64];
        let mut got = Vec::new();
        loop {
            let n = tulip::wait_for(a.read(&mut buf), Duration::from_secs(10))
                .await
                .expect("no hang at the end of the stream")
                .unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"bye");
    });
}

#[test]
fn a_short_write_waits_for_room_and_everything_arrives() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let data: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        let expected = data.clone();
        let writer = tulip::spawn(async move {
            a.write_all(&data).await.unwrap();
            a.close().await.unwrap();
        });
        let mut got = Vec::with_capacity(expected.len());
        let mut buf = vec![0; 7000];
        loop {
            let n = b.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        writer.await.unwrap();
        assert!(got == expected, "the bytes arrived in order, all of them");
    });
}
