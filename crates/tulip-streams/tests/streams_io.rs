//! The futures-io traits on streams, used by ecosystem code: an echo
//! server made of `futures::io::copy` and `AsyncWriteExt::close`, a
//! length-prefixed framed codec with `write_all` / `read_exact`, line
//! codecs on `AsyncBufRead` mixed with asyncio-style reads, `poll_close`
//! flushing everything before the half-close, errors as `io::Error`s.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

use common::{pattern, reset, streams_pair};
use futures_util::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use futures_util::{StreamExt, TryStreamExt};
use tulip_executor::wait_for;
use tulip_streams::{
    ConnectOptions, Error, ServerOptions, StreamReader, StreamWriter, open_connection, start_server,
};
use tulip_test::{run, wait_until};

#[test]
fn echo_server_made_of_io_copy() {
    run(async {
        let server = start_server(
            |mut reader: StreamReader, mut writer: StreamWriter| async move {
                let n = futures_util::io::copy(&mut reader, &mut writer).await?;
                // AsyncWrite::poll_close: flush, then EOF (half-close).
                // (The inherent, asyncio `close` takes the plain name.)
                AsyncWriteExt::close(&mut writer).await?;
                Ok::<u64, std::io::Error>(n).map(|_| ())
            },
            "127.0.0.1",
            0,
            ServerOptions::new(),
        )
        .await
        .unwrap();
        let port = server.sockets()[0].inet_addr().unwrap().port();
        let (mut reader, writer) = open_connection("127.0.0.1", port, ConnectOptions::new())
            .await
            .unwrap();
        let data = pattern(3 * 1024 * 1024 + 17, 1);
        writer.write(&data).unwrap();
        writer.write_eof().unwrap();
        let back = reader.read_to_eof().await.unwrap();
        assert_eq!(back.len(), data.len());
        assert!(back == data);
        server.close();
    });
}

#[test]
fn length_prefixed_frames_with_write_all_and_read_exact() {
    run(async {
        let (peer, mut reader, mut writer) = streams_pair().await;
        // The peer echoes everything back.
        let echo = thread::spawn(move || {
            let mut peer = peer;
            let mut buf = vec![0u8; 65536];
            loop {
                let n = peer.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                peer.write_all(&buf[..n]).unwrap();
            }
            peer.shutdown(Shutdown::Write).unwrap();
        });
        let frames: Vec<Vec<u8>> = (0..50).map(|i| pattern(i * 997 + 1, i as u8)).collect();
        for f in &frames {
            writer
                .write_all(&(f.len() as u32).to_be_bytes())
                .await
                .unwrap();
            writer.write_all(f).await.unwrap();
        }
        writer.flush().await.unwrap();
        for f in &frames {
            let mut len = [0u8; 4];
            reader.read_exact(&mut len).await.unwrap();
            let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
            reader.read_exact(&mut frame).await.unwrap();
            assert!(frame == *f);
        }
        AsyncWriteExt::close(&mut writer).await.unwrap();
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        echo.join().unwrap();
    });
}

#[test]
fn buf_read_lines_mixed_with_asyncio_reads() {
    run(async {
        let (mut peer, mut reader, _writer) = streams_pair().await;
        peer.write_all(b"first\nsecond\nthird\nfourth\nFRAME")
            .unwrap();
        assert!(wait_until(|| reader.bytes_buffered() == 31).await);
        // AsyncBufRead lends the buffer: read_line copies out one line...
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        assert_eq!(line, "first\n");
        // ...and the asyncio-style methods see what was not consumed.
        assert_eq!(reader.readline().await.unwrap(), b"second\n");
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        assert_eq!(line, "third\n");
        // fill_buf shows the rest without consuming it.
        let shown = reader.fill_buf().await.unwrap().to_vec();
        assert_eq!(shown, b"fourth\nFRAME");
        reader.consume_unpin(3);
        // More data arrives while bytes are lent: order is kept.
        peer.write_all(b"-tail\n").unwrap();
        assert!(wait_until(|| reader.bytes_buffered() == 15).await);
        assert_eq!(reader.readline().await.unwrap(), b"rth\n");
        assert_eq!(reader.readexactly(5).await.unwrap(), b"FRAME");
        let mut buf = [0u8; 3];
        AsyncReadExt::read(&mut reader, &mut buf).await.unwrap();
        assert_eq!(&buf, b"-ta");
        peer.shutdown(Shutdown::Write).unwrap();
        let lines: Vec<String> = (&mut reader).lines().try_collect().await.unwrap();
        assert_eq!(lines, ["il"]);
        assert!(reader.at_eof());
    });
}

#[test]
fn the_reader_is_a_stream_of_lines_over_a_socket() {
    run(async {
        let (mut peer, mut reader, _writer) = streams_pair().await;
        peer.write_all(b"a\nbb\nccc").unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        let lines: Vec<Vec<u8>> = (&mut reader).try_collect().await.unwrap();
        assert_eq!(lines, [&b"a\n"[..], b"bb\n", b"ccc"]);
        assert!(reader.next().await.is_none());
    });
}

#[test]
fn poll_close_sends_everything_then_half_closes() {
    run(async {
        let (peer, mut reader, mut writer) = streams_pair().await;
        const TOTAL: usize = 8 * 1024 * 1024;
        let data = pattern(TOTAL, 4);
        let expected = data.clone();
        let receiver = thread::spawn(move || {
            let mut peer = peer;
            let mut got = Vec::new();
            peer.read_to_end(&mut got).unwrap();
            // EOF seen: the reading side of the stream is still open.
            peer.write_all(b"ack").unwrap();
            got
        });
        writer.write_all(&data).await.unwrap();
        assert!(writer.transport().get_write_buffer_size() > 0);
        wait_for(AsyncWriteExt::close(&mut writer), Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(writer.transport().get_write_buffer_size(), 0);
        // The marks are back as they were.
        assert_eq!(
            writer.transport().get_write_buffer_limits(),
            (16 * 1024, 64 * 1024)
        );
        assert_eq!(reader.read_to_eof().await.unwrap(), b"ack");
        assert!(receiver.join().unwrap() == expected);
        // Writing after close is an error.
        let err = writer.write_all(b"late").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err:?}");
        // A second close is a no-op.
        AsyncWriteExt::close(&mut writer).await.unwrap();
    });
}

#[test]
fn errors_become_io_errors() {
    run(async {
        let (peer, mut reader, mut writer) = streams_pair().await;
        reset(peer);
        let mut buf = [0u8; 8];
        let err = AsyncReadExt::read(&mut reader, &mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        let err = writer.write_all(b"x").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err:?}");
        assert!(writer.flush().await.is_err());

        let mut r = StreamReader::new();
        r.feed_data(b"abc");
        r.feed_eof();
        let mut four = [0u8; 4];
        assert_eq!(
            r.read_exact(&mut four).await.unwrap_err().kind(),
            ErrorKind::UnexpectedEof
        );
        let e: std::io::Error = Error::InvalidInput("x".into()).into();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let mut r = StreamReader::with_limit(2).unwrap();
        r.feed_data(b"abcdef");
        let e: std::io::Error = r.readline().await.unwrap_err().into();
        assert_eq!(e.kind(), ErrorKind::InvalidData);
    });
}
