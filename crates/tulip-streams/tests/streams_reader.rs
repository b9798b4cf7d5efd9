//! StreamReader on its own, fed with feed_data / feed_eof /
//! set_exception: asyncio's read semantics (read, read_to_eof, readline,
//! readuntil over one or several separators, readexactly), the limit,
//! EOF, exceptions, cancel safety, and the lines stream.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use tulip_executor::{get_running_loop, wait_for};
use tulip_streams::{Error, StreamReader};
use tulip_test::run;

/// Feeds `chunks` one per loop pass, after `delay`, then EOF if asked.
fn feed_later(reader: &StreamReader, chunks: &[&[u8]], eof: bool) {
    let feeder = reader.feeder();
    let chunks: Vec<Vec<u8>> = chunks.iter().map(|c| c.to_vec()).collect();
    tulip_executor::spawn(async move {
        for c in chunks {
            tulip_executor::sleep(Duration::from_millis(1)).await;
            feeder.feed_data(&c);
        }
        if eof {
            feeder.feed_eof();
        }
    })
    .detach();
}

/// Whether a short wait on `fut` times out (it is dropped: cancelled).
async fn times_out<F: Future>(fut: F) -> bool {
    wait_for(fut, Duration::from_millis(20)).await.is_err()
}

#[test]
fn read_returns_what_is_there_up_to_n() {
    run(async {
        let mut r = StreamReader::new();
        r.feed_data(b"line1");
        r.feed_data(b"line2");
        assert_eq!(r.read(5).await.unwrap(), b"line1");
        assert_eq!(r.read(100).await.unwrap(), b"line2");
        assert_eq!(r.read(0).await.unwrap(), b"");
        feed_later(&r, &[b"later"], false);
        assert_eq!(r.read(3).await.unwrap(), b"lat");
        assert_eq!(r.read(3).await.unwrap(), b"er");
        r.feed_eof();
        assert_eq!(r.read(10).await.unwrap(), b"");
        assert!(r.at_eof());
    });
}

#[test]
fn read_zero_with_nothing_buffered_does_not_wait() {
    run(async {
        let mut r = StreamReader::new();
        assert_eq!(r.read(0).await.unwrap(), b"");
        assert!(!r.at_eof());
    });
}

#[test]
fn read_to_eof_collects_everything_past_the_limit() {
    run(async {
        let mut r = StreamReader::with_limit(4).unwrap();
        feed_later(&r, &[b"chunk1 ", b"chunk2 ", b"chunk3"], true);
        assert_eq!(r.read_to_eof().await.unwrap(), b"chunk1 chunk2 chunk3");
        assert_eq!(r.read_to_eof().await.unwrap(), b"");
        assert!(r.at_eof());
    });
}

#[test]
fn readline_across_chunks_and_with_existing_data() {
    run(async {
        let mut r = StreamReader::new();
        r.feed_data(b"chunk1 ");
        feed_later(&r, &[b"chunk2 ", b"chunk3 ", b"\n chunk4"], false);
        assert_eq!(r.readline().await.unwrap(), b"chunk1 chunk2 chunk3 \n");
        assert_eq!(r.bytes_buffered(), 7);
        r.feed_data(b"\nline2\nline3");
        assert_eq!(r.readline().await.unwrap(), b" chunk4\n");
        assert_eq!(r.readline().await.unwrap(), b"line2\n");
        r.feed_eof();
        // The partial last line, then empty lines.
        assert_eq!(r.readline().await.unwrap(), b"line3");
        assert_eq!(r.readline().await.unwrap(), b"");
        assert!(r.at_eof());
    });
}

#[test]
fn readline_overrun_discards_the_line_up_to_its_newline() {
    run(async {
        let mut r = StreamReader::with_limit(7).unwrap();
        r.feed_data(b"1234567890\nline2\n");
        let err = r.readline().await.unwrap_err();
        let overrun = err.as_limit_overrun().expect("LimitOverrun");
        assert_eq!(overrun.consumed, 10);
        // asyncio removes the too-long line with its newline.
        assert_eq!(r.readline().await.unwrap(), b"line2\n");

        // Without a newline in the buffer, the whole buffer goes.
        let mut r = StreamReader::with_limit(7).unwrap();
        r.feed_data(b"12345678901234");
        assert!(matches!(r.readline().await, Err(Error::LimitOverrun(_))));
        assert_eq!(r.bytes_buffered(), 0);
        r.feed_data(b"rest\nnext\n");
        assert_eq!(r.readline().await.unwrap(), b"rest\n");
        assert_eq!(r.readline().await.unwrap(), b"next\n");
    });
}

#[test]
fn readline_of_100_kb_without_newline_under_64_kib_raises_and_recovers() {
    run(async {
        let mut r = StreamReader::new();
        assert_eq!(r.limit(), 64 * 1024);
        let big = vec![b'x'; 100 * 1024];
        feed_later(&r, &[&big[..50 * 1024], &big[50 * 1024..]], false);
        let err = r.readline().await.unwrap_err();
        assert!(err.as_limit_overrun().is_some(), "{err:?}");
        r.feed_data(b"\nok\n");
        // The whole buffer was discarded: the long line's newline ends an
        // empty line, and the reader goes on.
        assert_eq!(r.readline().await.unwrap(), b"\n");
        assert_eq!(r.readline().await.unwrap(), b"ok\n");
    });
}

#[test]
fn readuntil_multibyte_separator_across_chunks() {
    run(async {
        let mut r = StreamReader::new();
        r.feed_data(b"lineAAA");
        feed_later(&r, &[b"chunk1 ", b"chunk2 AA", b"A chunk3"], false);
        assert_eq!(r.readuntil(b"AAA").await.unwrap(), b"lineAAA");
        assert_eq!(r.readuntil(b"AAA").await.unwrap(), b"chunk1 chunk2 AAA");
        assert_eq!(r.read(100).await.unwrap(), b" chunk3");
    });
}

#[test]
fn readuntil_at_eof_gives_the_partial_data() {
    run(async {
        let mut r = StreamReader::new();
        r.feed_data(b"some dataAA");
        r.feed_eof();
        let err = r.readuntil(b"AAA").await.unwrap_err();
        let inc = err.as_incomplete_read().expect("IncompleteRead");
        assert_eq!(inc.partial, b"some dataAA");
        assert_eq!(inc.expected, None);
        assert_eq!(r.bytes_buffered(), 0);
        assert!(r.at_eof());
    });
}

#[test]
fn readuntil_limit_overrun_keeps_the_data() {
    run(async {
        // Separator not found within the limit.
        let mut r = StreamReader::with_limit(3).unwrap();
        r.feed_data(b"some dataAA");
        let err = r.readuntil(b"AAA").await.unwrap_err();
        let o = err.as_limit_overrun().expect("LimitOverrun");
        assert!(o.consumed > 3);
        assert_eq!(r.bytes_buffered(), 11, "the data stays");
        // The next read works and sees all of it.
        assert_eq!(r.read(100).await.unwrap(), b"some dataAA");

        // Separator found, but past the limit.
        let mut r = StreamReader::with_limit(3).unwrap();
        r.feed_data(b"some dataAAA");
        let err = r.readuntil(b"AAA").await.unwrap_err();
        assert_eq!(err.as_limit_overrun().unwrap().consumed, 9);
        assert_eq!(r.readexactly(12).await.unwrap(), b"some dataAAA");
    });
}

#[test]
fn readuntil_several_separators_returns_the_shortest_chunk() {
    run(async {
        let mut r = StreamReader::new();
        r.feed_data(b"a\r\nb\nc\rd");
        let seps: [&[u8]; 3] = [b"\r\n", b"\n", b"\r"];
        assert_eq!(r.readuntil(seps).await.unwrap(), b"a\r");
        assert_eq!(r.readuntil(seps).await.unwrap(), b"\n");
        assert_eq!(r.readuntil(seps).await.unwrap(), b"b\n");
        assert_eq!(r.readuntil(&seps).await.unwrap(), b"c\r");
        feed_later(&r, &[b"ef", b"ghEND"], false);
        let list: Vec<&[u8]> = vec![b"END", b"XYZW"];
        assert_eq!(r.readuntil(&list).await.unwrap(), b"defghEND");
        // A separator split between two chunks is found.
        feed_later(&r, &[b"12XY", b"ZW"], false);
        assert_eq!(r.readuntil(&list).await.unwrap(), b"12XYZW");
        // An empty list or an empty separator is invalid input.
        let none: [&[u8]; 0] = [];
        assert!(matches!(
            r.readuntil(none).await,
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            r.readuntil(b"").await,
            Err(Error::InvalidInput(_))
        ));
        let with_empty: [&[u8]; 2] = [b"x", b""];
        assert!(matches!(
            r.readuntil(with_empty).await,
            Err(Error::InvalidInput(_))
        ));
    });
}

#[test]
fn readuntil_several_separators_limit_uses_the_longest() {
    run(async {
        let mut r = StreamReader::with_limit(5).unwrap();
        r.feed_data(b"0123456789");
        let seps: [&[u8]; 2] = [b"X", b"YYYY"];
        let err = r.readuntil(seps).await.unwrap_err();
        // offset = buflen + 1 - longest separator, as asyncio computes it.
        assert_eq!(err.as_limit_overrun().unwrap().consumed, 7);
        assert_eq!(r.bytes_buffered(), 10);
    });
}

#[test]
fn readexactly_waits_and_returns_exactly_n() {
    run(async {
        let mut r = StreamReader::new();
        let data = b"chunk1chunk2chunk3";
        feed_later(&r, &[&data[..6], &data[6..12], &data[12..]], false);
        assert_eq!(r.readexactly(10).await.unwrap(), &data[..10]);
        assert_eq!(r.readexactly(8).await.unwrap(), &data[10..]);
        assert_eq!(r.readexactly(0).await.unwrap(), b"");
    });
}

#[test]
fn readexactly_above_the_limit_completes() {
    run(async {
        let mut r = StreamReader::with_limit(10).unwrap();
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let chunks: Vec<&[u8]> = data.chunks(64).collect();
        feed_later(&r, &chunks, false);
        assert_eq!(r.readexactly(1000).await.unwrap(), data);
    });
}

#[test]
fn readexactly_at_eof_raises_with_the_partial_data() {
    run(async {
        let mut r = StreamReader::new();
        feed_later(&r, &[b"chunk"], true);
        let err = r.readexactly(10).await.unwrap_err();
        let inc = err.as_incomplete_read().expect("IncompleteRead");
        assert_eq!(inc.partial, b"chunk");
        assert_eq!(inc.expected, Some(10));
        assert_eq!(
            err.to_string(),
            "5 bytes read on a total of 10 expected bytes"
        );
        assert!(r.at_eof());
    });
}

#[test]
fn a_cancelled_readexactly_loses_nothing() {
    run(async {
        let mut r = StreamReader::new();
        r.feed_data(b"01234");
        assert!(times_out(r.readexactly(10)).await);
        assert_eq!(r.bytes_buffered(), 5);
        r.feed_data(b"56789abc");
        assert_eq!(r.readexactly(10).await.unwrap(), b"0123456789");
        assert_eq!(r.read(100).await.unwrap(), b"abc");
    });
}

#[test]
fn cancelled_reads_of_every_kind_lose_nothing() {
    run(async {
        let mut r = StreamReader::new();
        r.feed_data(b"partial line");
        assert!(times_out(r.readline()).await);
        assert!(times_out(r.readuntil(b"END")).await);
        let seps: [&[u8]; 2] = [b"END", b"\n"];
        assert!(times_out(r.readuntil(seps)).await);
        assert!(times_out(r.read_to_eof()).await);
        assert!(times_out(r.next()).await);
        r.feed_data(b" done\nEND");
        assert_eq!(r.readline().await.unwrap(), b"partial line done\n");
        assert_eq!(r.readuntil(b"END").await.unwrap(), b"END");
        let mut empty = StreamReader::new();
        assert!(times_out(empty.read(10)).await);
        empty.feed_data(b"x");
        assert_eq!(empty.read(10).await.unwrap(), b"x");
    });
}

#[test]
fn exception_is_raised_by_reads_and_wakes_a_waiting_read() {
    run(async {
        let mut r = StreamReader::new();
        r.feed_data(b"line\n");
        let err = Error::InvalidInput("boom".into());
        r.set_exception(err);
        assert!(matches!(r.exception(), Some(Error::InvalidInput(_))));
        // asyncio raises the exception even with data buffered.
        assert!(r.readline().await.is_err());
        assert!(r.read(1).await.is_err());
        assert!(r.readexactly(1).await.is_err());
        assert!(r.read_to_eof().await.is_err());

        let mut r = StreamReader::new();
        let feeder = r.feeder();
        let lp = get_running_loop().unwrap();
        lp.call_later(Duration::from_millis(5), move || {
            feeder.set_exception(Error::InvalidInput("late".into()))
        })
        .unwrap();
        let err = r.readline().await.unwrap_err();
        assert_eq!(err.to_string(), "invalid argument: late");
        assert!(r.feeder().exception().is_some());
    });
}

#[test]
fn data_that_arrived_before_the_exception_completes_a_started_read() {
    run(async {
        let mut r = StreamReader::new();
        let feeder = r.feeder();
        let lp = get_running_loop().unwrap();
        lp.call_later(Duration::from_millis(5), move || {
            feeder.feed_data(b"last line\n");
            feeder.set_exception(Error::InvalidInput("reset".into()));
        })
        .unwrap();
        // The read was waiting: the line came first, so it is returned.
        assert_eq!(r.readline().await.unwrap(), b"last line\n");
        assert!(r.readline().await.is_err());
    });
}

#[test]
fn limit_must_be_positive_and_eof_stops_feeding() {
    assert!(matches!(
        StreamReader::with_limit(0),
        Err(Error::InvalidInput(_))
    ));
    run(async {
        let mut r = StreamReader::new();
        assert!(!r.at_eof());
        r.feed_data(b"x");
        r.feed_eof();
        assert!(!r.at_eof(), "data is still buffered");
        r.feed_data(b"ignored");
        assert_eq!(r.read_to_eof().await.unwrap(), b"x");
        assert!(r.at_eof());
    });
}

#[test]
fn lines_stream_yields_lines_until_eof() {
    run(async {
        let mut r = StreamReader::with_limit(8).unwrap();
        r.feed_data(b"one\ntwo\n");
        feed_later(&r, &[b"thr", b"ee\nmuch too long line\nfour\nfive"], true);
        let mut lines = Vec::new();
        while let Some(line) = r.next().await {
            match line {
                Ok(l) => lines.push(String::from_utf8(l).unwrap()),
                Err(e) => {
                    assert!(e.as_limit_overrun().is_some());
                    lines.push(String::from("<too long>"));
                }
            }
        }
        assert_eq!(
            lines,
            ["one\n", "two\n", "three\n", "<too long>", "four\n", "five"]
        );
        assert!(r.next().await.is_none());
    });
}

#[test]
fn lines_stream_ends_after_an_exception() {
    run(async {
        let mut r = StreamReader::new();
        r.feed_data(b"a\n");
        assert_eq!(r.next().await.unwrap().unwrap(), b"a\n");
        r.set_exception(Error::InvalidInput("x".into()));
        assert!(r.next().await.unwrap().is_err());
        assert!(r.next().await.is_none());
    });
}

#[test]
fn lines_stream_after_other_reads_sees_the_right_bytes() {
    run(async {
        let mut r = StreamReader::new();
        r.feed_data(b"abcdef");
        // A pending next() remembers how far it searched...
        assert!(times_out(r.next()).await);
        // ...which other reads invalidate.
        assert_eq!(r.read(2).await.unwrap(), b"ab");
        r.feed_data(b"\nxyz\n");
        assert_eq!(r.next().await.unwrap().unwrap(), b"cdef\n");
        assert_eq!(r.next().await.unwrap().unwrap(), b"xyz\n");
    });
}

#[test]
fn readexactly_into_reuses_the_callers_vector() {
    run(async {
        let mut r = StreamReader::new();
        let frame: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        let mut buf = Vec::with_capacity(100_000);
        let ptr = buf.as_ptr();
        r.feed_data(&frame[..10]);
        let chunks: Vec<&[u8]> = frame[10..].chunks(7000).collect();
        feed_later(&r, &chunks, false);
        r.readexactly_into(100_000, &mut buf).await.unwrap();
        assert!(buf == frame);
        assert_eq!(
            buf.as_ptr(),
            ptr,
            "the bytes landed in the caller's allocation"
        );
        assert_eq!(r.bytes_buffered(), 0);
        // Small reads copy from what is buffered.
        r.feed_data(b"abcdef");
        r.readexactly_into(4, &mut buf).await.unwrap();
        assert_eq!(buf, b"abcd");
        r.readexactly_into(0, &mut buf).await.unwrap();
        assert_eq!(buf, b"");
        r.feed_eof();
        let err = r.readexactly_into(5, &mut buf).await.unwrap_err();
        let inc = err.as_incomplete_read().unwrap();
        assert_eq!(
            (inc.partial.as_slice(), inc.expected),
            (&b"ef"[..], Some(5))
        );
    });
}

#[test]
fn a_cancelled_readexactly_into_loses_nothing() {
    run(async {
        let mut r = StreamReader::new();
        let frame: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        r.feed_data(&frame[..20_000]);
        let mut buf = vec![0u8; 50_000];
        assert!(times_out(r.readexactly_into(50_000, &mut buf)).await);
        assert_eq!(r.bytes_buffered(), 20_000);
        r.feed_data(&frame[20_000..]);
        r.feed_data(b"next");
        assert!(r.readexactly(50_000).await.unwrap() == frame);
        assert_eq!(r.read(10).await.unwrap(), b"next");
    });
}
