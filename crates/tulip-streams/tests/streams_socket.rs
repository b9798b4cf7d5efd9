//! Streams over real TCP sockets on loopback: reads across chunk
//! boundaries, EOF and half-close, extra info, close and wait_closed,
//! drain after a reset, flow control both ways (a reader that never reads
//! keeps memory bounded; drain waits while the peer does not read), cancel
//! safety, large frames, buffers released when idle, abort (a waiting
//! drain fails, the peer sees a reset).

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::thread;
use std::time::{Duration, Instant};

use common::{pattern, reset, streams_pair};
use tulip_executor::{sleep, spawn, wait_for};
use tulip_streams::{Error, StreamReaderProtocol};
use tulip_test::{run, tcp_pair, wait_until};
use tulip_transport::LoopNetExt;

#[test]
fn echo_over_an_accepted_socket() {
    run(async {
        let (mut peer, mut reader, writer) = streams_pair().await;
        peer.write_all(b"hello\nworld\n").unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"hello\n");
        assert_eq!(reader.readline().await.unwrap(), b"world\n");
        writer.write(b"back\n").unwrap();
        writer.writelines(&[&b"one "[..], b"two\n"]).unwrap();
        writer.drain().await.unwrap();
        // Read on a worker thread: the loop runs meanwhile (on a loop with
        // completions the writes go out with its next poll).
        let got = tulip_executor::to_thread(move || {
            let mut got = [0u8; 13];
            peer.read_exact(&mut got).map(|()| got)
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(&got, b"back\none two\n");
    });
}

#[test]
fn protocol_factory_on_connect_accepted_socket() {
    run(async {
        let (mut peer, ours) = tcp_pair();
        let lp = tulip_executor::get_running_loop().unwrap();
        let factory = StreamReaderProtocol::factory(16).unwrap();
        let (transport, protocol) = lp
            .connect_accepted_socket(factory, ours, tulip_transport::AcceptedSocketOptions::new())
            .await
            .unwrap();
        let (mut reader, writer) = StreamReaderProtocol::into_streams(protocol.clone()).unwrap();
        assert!(matches!(
            StreamReaderProtocol::into_streams(protocol.clone()),
            Err(Error::InvalidInput(_))
        ));
        assert!(writer.transport().ptr_eq(&transport));
        assert_eq!(reader.limit(), 16);
        peer.write_all(b"0123456789abcdefghij\n").unwrap();
        let err = reader.readline().await.unwrap_err();
        assert_eq!(err.as_limit_overrun().unwrap().consumed, 20);
        peer.write_all(b"ok\n").unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"ok\n");
        assert!(StreamReaderProtocol::factory(0).is_err());
    });
}

#[test]
fn reads_across_many_small_segments() {
    run(async {
        let (peer, mut reader, _writer) = streams_pair().await;
        let data = pattern(20_000, 3);
        let mut framed = Vec::new();
        for chunk in data.chunks(1000) {
            framed.extend_from_slice(chunk);
            framed.extend_from_slice(b"\r\n");
        }
        let sender = thread::spawn(move || {
            let mut peer = peer;
            for piece in framed.chunks(7) {
                peer.write_all(piece).unwrap();
            }
            peer.shutdown(Shutdown::Write).unwrap();
            peer
        });
        let mut got = Vec::new();
        loop {
            match reader.readuntil(b"\r\n").await {
                Ok(line) => got.extend_from_slice(&line[..line.len() - 2]),
                Err(Error::IncompleteRead(e)) => {
                    assert!(e.partial.is_empty());
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, data);
        assert!(reader.at_eof());
        drop(sender.join().unwrap());
    });
}

#[test]
fn peer_eof_keeps_the_write_side_open() {
    run(async {
        let (mut peer, mut reader, writer) = streams_pair().await;
        peer.write_all(b"last words").unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        assert_eq!(reader.read_to_eof().await.unwrap(), b"last words");
        assert!(reader.at_eof());
        assert!(!writer.is_closing());
        writer.write(b"still here").unwrap();
        assert!(writer.can_write_eof());
        writer.write_eof().unwrap();
        assert!(matches!(writer.write(b"x"), Err(Error::Transport(_))));
        let got = tulip_executor::to_thread(move || {
            let mut got = Vec::new();
            peer.read_to_end(&mut got).map(|_| got)
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(got, b"still here");
    });
}

#[test]
fn extra_info_and_transport() {
    run(async {
        let (peer, _reader, writer) = streams_pair().await;
        let peername = writer.get_extra_info("peername").unwrap();
        let sockname = writer.get_extra_info("sockname").unwrap();
        assert_eq!(
            peername.as_addr().unwrap().to_string(),
            peer.local_addr().unwrap().to_string()
        );
        assert_eq!(
            sockname.as_addr().unwrap().to_string(),
            peer.peer_addr().unwrap().to_string()
        );
        assert!(writer.get_extra_info("socket").unwrap().as_fd().is_some());
        assert!(writer.get_extra_info("no such thing").is_none());
        assert!(writer.transport().fd().is_some());
    });
}

#[test]
fn wait_closed_after_close_with_unread_data() {
    run(async {
        let (mut peer, reader, writer) = streams_pair().await;
        peer.write_all(&[7u8; 10_000]).unwrap();
        assert!(wait_until(|| reader.bytes_buffered() > 0).await);
        writer.write(b"bye").unwrap();
        writer.close();
        assert!(writer.is_closing());
        wait_for(writer.wait_closed(), Duration::from_secs(10))
            .await
            .unwrap()
            .unwrap();
        // A second wait returns at once.
        writer.wait_closed().await.unwrap();
        // drain on a closed stream reports the loss.
        let err = writer.drain().await.unwrap_err();
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::ConnectionReset));
        let mut got = Vec::new();
        // The peer may see a reset (we closed with unread data); what it
        // read before is ours.
        let _ = peer.read_to_end(&mut got);
        assert!(got.is_empty() || got == b"bye");
    });
}

#[test]
fn drain_raises_within_a_second_after_a_peer_reset() {
    run(async {
        let (peer, mut reader, writer) = streams_pair().await;
        let chunk = vec![1u8; 64 * 1024];
        writer.write(&chunk).unwrap();
        writer.drain().await.unwrap();
        reset(peer);
        let start = Instant::now();
        let err = loop {
            if let Err(e) = writer.write(&chunk).and(Ok(())) {
                break e;
            }
            match writer.drain().await {
                Ok(()) => sleep(Duration::from_millis(1)).await,
                Err(e) => break e,
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "drain never failed"
            );
        };
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert!(
            matches!(
                err.io_kind(),
                Some(std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe)
            ),
            "{err:?}"
        );
        // The reader has the same error; wait_closed reports it too.
        assert!(reader.exception().is_some());
        assert!(reader.read(1).await.is_err());
        assert!(writer.wait_closed().await.is_err());
    });
}

#[test]
fn a_reader_that_never_reads_holds_bounded_memory_and_pauses_the_sender() {
    run(async {
        let (peer, mut reader, _writer) = streams_pair().await;
        // More than the connection's buffers can take while the reader
        // does not read: the kernel's (a receive buffer that autotuning
        // grows with what the reader took early, up to tcp_rmem's maximum,
        // 32 MiB on some systems, plus the sender's 4 MiB), and, on
        // io_uring, what the multishot receive had completed when reading
        // was paused (up to the loop's buffer ring, 4 MiB).
        const TOTAL: usize = 64 * 1024 * 1024;
        let sender = thread::spawn(move || {
            let mut peer = peer;
            let data = pattern(TOTAL, 9);
            peer.write_all(&data).unwrap();
            peer.shutdown(Shutdown::Write).unwrap();
            data
        });
        let limit = reader.limit();
        // Wait until the reader paused its transport.
        assert!(wait_until(|| reader.bytes_buffered() > 2 * limit).await);
        sleep(Duration::from_millis(200)).await;
        let held = reader.bytes_buffered();
        // Twice the limit, plus at most the read that crossed it.
        assert!(held <= 2 * limit + 256 * 1024, "held {held}");
        assert!(reader.buffer_capacity() <= 4 * limit + 256 * 1024);
        assert!(!sender.is_finished(), "the sender is held back by TCP");
        // Reading resumes the transport and everything arrives intact.
        let mut got = Vec::with_capacity(TOTAL);
        loop {
            let chunk = reader.read(100_000).await.unwrap();
            if chunk.is_empty() {
                break;
            }
            assert!(reader.bytes_buffered() <= 2 * limit + 256 * 1024);
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got.len(), TOTAL);
        assert!(got == sender.join().unwrap());
        assert_eq!(
            reader.buffer_capacity(),
            0,
            "a drained reader holds no buffer"
        );
    });
}

/// With a 16 KiB high-water mark, writes 256 KiB chunks (of 5s) until
/// `drain` waits: the kernel's buffers and ours are full. How much was
/// written.
async fn fill_until_drain_waits(writer: &tulip_streams::StreamWriter) -> usize {
    writer
        .transport()
        .set_write_buffer_limits(Some(16 * 1024), None)
        .unwrap();
    let chunk = vec![5u8; 256 * 1024];
    let mut written = 0;
    loop {
        writer.write(&chunk).unwrap();
        written += chunk.len();
        if wait_for(writer.drain(), Duration::from_millis(50))
            .await
            .is_err()
        {
            return written;
        }
        assert!(written < 512 * 1024 * 1024, "drain never waited");
    }
}

#[test]
fn drain_waits_while_the_peer_does_not_read() {
    run(async {
        let (peer, _reader, writer) = streams_pair().await;
        let written = fill_until_drain_waits(&writer).await;
        let reader_thread = thread::spawn(move || {
            let mut peer = peer;
            let mut buf = vec![0u8; 1 << 20];
            let mut total = 0;
            while total < written {
                let n = peer.read(&mut buf).unwrap();
                assert!(n > 0);
                total += n;
            }
            total
        });
        wait_for(writer.drain(), Duration::from_secs(20))
            .await
            .expect("drain completes once the peer reads")
            .unwrap();
        writer.close();
        writer.wait_closed().await.unwrap();
        assert_eq!(reader_thread.join().unwrap(), written);
    });
}

#[test]
fn a_cancelled_readexactly_over_a_socket_loses_nothing() {
    run(async {
        let (mut peer, mut reader, _writer) = streams_pair().await;
        peer.write_all(b"01234").unwrap();
        assert!(wait_until(|| reader.bytes_buffered() == 5).await);
        assert!(
            wait_for(reader.readexactly(10), Duration::from_millis(30))
                .await
                .is_err()
        );
        peer.write_all(b"56789tail").unwrap();
        assert_eq!(reader.readexactly(10).await.unwrap(), b"0123456789");
        assert_eq!(reader.readexactly(4).await.unwrap(), b"tail");
    });
}

#[test]
fn large_frames_with_readexactly_and_readexactly_into() {
    run(async {
        let (peer, mut reader, _writer) = streams_pair().await;
        const FRAME: usize = 1_000_000;
        let frames: Vec<Vec<u8>> = (0..8).map(|i| pattern(FRAME, i)).collect();
        let expected = frames.clone();
        let sender = thread::spawn(move || {
            let mut peer = peer;
            for f in &frames {
                peer.write_all(&(f.len() as u32).to_be_bytes()).unwrap();
                peer.write_all(f).unwrap();
            }
            peer
        });
        let mut reused = Vec::new();
        for (i, f) in expected.iter().enumerate() {
            let len = reader.readexactly(4).await.unwrap();
            let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
            assert_eq!(len, FRAME);
            if i % 2 == 0 {
                let frame = reader.readexactly(len).await.unwrap();
                assert!(frame == *f);
            } else {
                reader.readexactly_into(len, &mut reused).await.unwrap();
                assert!(reused == *f);
            }
        }
        assert_eq!(reader.buffer_capacity(), 0);
        drop(sender.join().unwrap());
    });
}

#[test]
fn an_idle_connection_holds_no_buffer() {
    run(async {
        let (mut peer, mut reader, _writer) = streams_pair().await;
        assert_eq!(reader.buffer_capacity(), 0);
        peer.write_all(b"ping\n").unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"ping\n");
        assert_eq!(reader.buffer_capacity(), 0);
        peer.write_all(b"half").unwrap();
        assert!(wait_until(|| reader.bytes_buffered() == 4).await);
        assert!(reader.buffer_capacity() > 0);
        assert_eq!(reader.read(10).await.unwrap(), b"half");
        assert_eq!(reader.buffer_capacity(), 0);
    });
}

#[test]
fn dropping_the_streams_closes_the_connection() {
    run(async {
        let (mut peer, reader, writer) = streams_pair().await;
        let second = writer.clone();
        writer.write(b"queued").unwrap();
        drop(reader);
        drop(writer);
        sleep(Duration::from_millis(20)).await;
        assert!(!second.is_closing(), "a clone still holds the connection");
        drop(second);
        // The loop must run for the close to happen: read without blocking.
        peer.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        let eof = wait_until(|| match peer.read(&mut buf) {
            Ok(0) => true,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                false
            }
            Err(_) => false,
        })
        .await;
        assert!(eof);
        assert_eq!(got, b"queued", "close sends what was buffered, then EOF");
    });
}

#[test]
fn a_reset_sets_the_readers_exception() {
    run(async {
        let (peer, mut reader, writer) = streams_pair().await;
        reset(peer);
        let err = reader.readline().await.unwrap_err();
        assert_eq!(
            err.io_kind(),
            Some(std::io::ErrorKind::ConnectionReset),
            "{err:?}"
        );
        assert!(matches!(reader.exception(), Some(Error::Transport(_))));
        assert!(writer.drain().await.is_err());
        assert!(writer.wait_closed().await.is_err());
    });
}

#[test]
fn a_cancelled_large_readexactly_does_not_keep_the_reader_unbounded() {
    run(async {
        let (peer, mut reader, _writer) = streams_pair().await;
        const TOTAL: usize = 32 * 1024 * 1024;
        let sender = thread::spawn(move || {
            let mut peer = peer;
            // The reader may close first (the test is over): ignore errors.
            let _ = peer.write_all(&vec![3u8; TOTAL]);
        });
        assert!(wait_until(|| reader.bytes_buffered() > 0).await);
        // readexactly(n) keeps reading until its n bytes are there...
        assert!(
            wait_for(reader.readexactly(TOTAL + 1), Duration::from_millis(2))
                .await
                .is_err()
        );
        // ...but once it is cancelled, the reader pauses over twice its
        // limit again.
        sleep(Duration::from_millis(300)).await;
        let held = reader.bytes_buffered();
        sleep(Duration::from_millis(100)).await;
        assert_eq!(reader.bytes_buffered(), held, "paused");
        assert!(held < TOTAL, "held {held}");
        assert!(!sender.is_finished());
        drop(reader);
        drop(_writer);
        // The loop must run for the close to happen: wait without blocking.
        assert!(wait_until(|| sender.is_finished()).await);
        sender.join().unwrap();
    });
}

#[test]
fn abort_fails_a_waiting_drain_and_resets_the_peer() {
    run(async {
        let (peer, _reader, writer) = streams_pair().await;
        // The peer does not read.
        fill_until_drain_waits(&writer).await;
        let waiting = spawn({
            let writer = writer.clone();
            async move { writer.drain().await }
        });
        sleep(Duration::from_millis(10)).await;
        assert!(!waiting.done());
        writer.abort();
        assert!(writer.is_closing());
        let err = waiting.await.unwrap().expect_err("the buffer was dropped");
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::ConnectionReset));
        // The peer's reads end with a reset, not an EOF.
        let end = tulip_executor::to_thread(move || {
            let mut peer = peer;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                match peer.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(e.kind()),
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(end, Err(std::io::ErrorKind::ConnectionReset));
    });
}
