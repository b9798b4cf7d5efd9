//! Streams rows (issue 5): reading a socket through tulip's `StreamReader`
//! against tokio (current-thread) reading the same bytes the tokio way.
//!
//! Every iteration opens a fresh loopback TCP connection to a std thread
//! that sends a fixed payload as fast as the socket takes it and closes;
//! the runtime under test reads it all, and the row measures that receiver
//! (the sender thread runs on the other core). The payload and its reading
//! are the same for both runtimes, and each result is checked.
//!
//! The rows are named `streams_*`, so that `cargo xtask bench streams`
//! runs them alone.
//!
//! - `streams_readline`: 100 MB of 100-byte lines (1,000,000 lines per
//!   iteration; ns per line). tulip: `reader.readline()` until EOF, a
//!   `Vec<u8>` per line (asyncio's bytes); tokio:
//!   `BufReader::new(stream).lines()` and `next_line()` until `None`, a
//!   `String` per line (the newline stripped, the UTF-8 checked), with
//!   tokio's default 8 KiB buffer.
//! - `streams_readexactly`: 100 frames of 1 MiB (100 MiB per iteration; ns
//!   per frame). tulip: `reader.readexactly(1 MiB)`, a new vector per frame
//!   as asyncio returns new bytes; tokio: `read_exact` on the `TcpStream`
//!   into a new `vec![0; 1 MiB]` per frame.
//! - `streams_readexactly_into`: the same frames read into one reused
//!   buffer: tulip's `readexactly_into` (the vector becomes the buffer the
//!   socket fills), tokio's `read_exact` into a reused `Vec`.
//!
//! The connection setup (a thread spawn, a connect, an accept: tens of
//! microseconds) is inside the timed region, the same way for both,
//! against tens of milliseconds of reading.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use criterion::{Criterion, criterion_group, criterion_main};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tulip::streams::{ConnectOptions, StreamReader, open_connection};
use tulip_benches::{group, tokio_current_thread, tulip_loop, wall_time};

/// The length of a line, its newline included.
const LINE: usize = 100;
/// Lines per iteration of `readline`: 100 MB.
const LINES: u64 = 1_000_000;
/// Lines per block the sender writes at once (1 MB).
const LINES_PER_BLOCK: usize = 10_000;
/// The size of a frame of `readexactly`.
const FRAME: usize = 1 << 20;
/// Frames per iteration of `readexactly`: 100 MiB.
const FRAMES: u64 = 100;

/// One block of `LINES_PER_BLOCK` lines of `LINE` bytes.
fn line_block() -> Arc<[u8]> {
    let mut block = Vec::with_capacity(LINE * LINES_PER_BLOCK);
    for i in 0..LINES_PER_BLOCK {
        let start = block.len();
        block.extend_from_slice(format!("line {i:07} ").as_bytes());
        block.resize(start + LINE - 1, b'a' + (i % 26) as u8);
        block.push(b'\n');
    }
    block.into()
}

/// One frame of `FRAME` bytes.
fn frame_block() -> Arc<[u8]> {
    (0..FRAME).map(|i| (i % 251) as u8).collect()
}

/// Starts a thread that accepts one connection on a fresh loopback
/// listener, sends `block` `copies` times, and closes it. Returns the
/// listener's address and the thread.
fn feed(block: &Arc<[u8]>, copies: usize) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let addr = listener.local_addr().expect("getsockname");
    let block = block.clone();
    let sender = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        for _ in 0..copies {
            stream.write_all(&block).expect("send");
        }
    });
    (addr, sender)
}

fn check(got: u64, want: u64) {
    assert_eq!(got, want, "the workload did not read everything");
}

/// Connects tulip's streams to `addr`.
async fn tulip_connect(addr: SocketAddr) -> StreamReader {
    let host = addr.ip().to_string();
    let (reader, _writer) = open_connection(&host, addr.port(), ConnectOptions::new())
        .await
        .expect("connect");
    // The connection stays open while the reader lives.
    reader
}

/// Runs one tulip iteration: `read` on a connection fed `copies` blocks;
/// checks that it returned `want`.
fn on_tulip<R>(el: &tulip::EventLoop, block: &Arc<[u8]>, copies: usize, want: u64, read: R)
where
    R: AsyncFnOnce(StreamReader) -> u64 + 'static,
{
    let (addr, sender) = feed(block, copies);
    let got = el
        .run_until_complete(async move { read(tulip_connect(addr).await).await })
        .expect("the tulip task");
    sender.join().expect("the sender thread");
    check(got, want);
}

/// Runs one tokio iteration, as [`on_tulip`].
fn on_tokio<R>(rt: &tokio::runtime::Runtime, block: &Arc<[u8]>, copies: usize, want: u64, read: R)
where
    R: AsyncFnOnce(tokio::net::TcpStream) -> u64,
{
    let (addr, sender) = feed(block, copies);
    let got = rt.block_on(async move {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        read(stream).await
    });
    sender.join().expect("the sender thread");
    check(got, want);
}

fn readline(c: &mut Criterion) {
    let block = line_block();
    let copies = LINES as usize / LINES_PER_BLOCK;
    let mut g = group(c, "streams_readline", LINES);

    let el = tulip_loop();
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| {
            wall_time(iters, || {
                on_tulip(&el, &block, copies, LINES, async |mut reader| {
                    let mut lines = 0;
                    loop {
                        let line = reader.readline().await.expect("readline");
                        match line.len() {
                            0 => return lines,
                            LINE => lines += 1,
                            n => panic!("a line of {n} bytes"),
                        }
                    }
                });
            })
        });
    });
    drop(el);

    let rt = tokio_current_thread();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            wall_time(iters, || {
                on_tokio(&rt, &block, copies, LINES, async |stream| {
                    let mut lines = BufReader::new(stream).lines();
                    let mut n = 0;
                    while let Some(line) = lines.next_line().await.expect("next_line") {
                        assert_eq!(line.len(), LINE - 1, "a line without its newline");
                        n += 1;
                    }
                    n
                });
            })
        });
    });
    g.finish();
}

fn readexactly(c: &mut Criterion) {
    let block = frame_block();
    let copies = FRAMES as usize;

    let mut g = group(c, "streams_readexactly", FRAMES);
    let el = tulip_loop();
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| {
            wall_time(iters, || {
                on_tulip(&el, &block, copies, FRAMES, async |mut reader| {
                    let mut frames = 0;
                    for _ in 0..FRAMES {
                        let frame = reader.readexactly(FRAME).await.expect("readexactly");
                        frames += u64::from(frame.len() == FRAME && frame[FRAME - 1] != 0);
                    }
                    frames
                });
            })
        });
    });
    let rt = tokio_current_thread();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            wall_time(iters, || {
                on_tokio(&rt, &block, copies, FRAMES, async |mut stream| {
                    let mut frames = 0;
                    for _ in 0..FRAMES {
                        let mut frame = vec![0; FRAME];
                        stream.read_exact(&mut frame).await.expect("read_exact");
                        frames += u64::from(frame[FRAME - 1] != 0);
                    }
                    frames
                });
            })
        });
    });
    g.finish();

    let mut g = group(c, "streams_readexactly_into", FRAMES);
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| {
            wall_time(iters, || {
                on_tulip(&el, &block, copies, FRAMES, async |mut reader| {
                    let mut frame = Vec::new();
                    let mut frames = 0;
                    for _ in 0..FRAMES {
                        reader
                            .readexactly_into(FRAME, &mut frame)
                            .await
                            .expect("readexactly_into");
                        frames += u64::from(frame.len() == FRAME && frame[FRAME - 1] != 0);
                    }
                    frames
                });
            })
        });
    });
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            wall_time(iters, || {
                on_tokio(&rt, &block, copies, FRAMES, async |mut stream| {
                    let mut frame = vec![0; FRAME];
                    let mut frames = 0;
                    for _ in 0..FRAMES {
                        stream.read_exact(&mut frame).await.expect("read_exact");
                        frames += u64::from(frame[FRAME - 1] != 0);
                    }
                    frames
                });
            })
        });
    });
    g.finish();
}

criterion_group!(benches, readline, readexactly);
criterion_main!(benches);
