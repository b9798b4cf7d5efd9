//! # tulip
//!
//! Python's asyncio, rebuilt as a Rust library: a single-threaded event loop
//! with callbacks, timers and I/O readiness, futures and tasks, with Rust's
//! types and speed.
//!
//! This facade re-exports every layer: the loop, futures and tasks of the
//! `tulip-executor` crate at the crate root, the OS boundary of
//! `tulip-reactor` as [`reactor`], the locks and queues of `tulip-sync` as
//! [`sync`], the I/O and stream traits that
//! tulip's types implement (with their extension traits) as [`io`] and
//! [`stream`], and the names most code needs, the task toolkit included,
//! in [`prelude`]. The await graph of a running program (asyncio 3.14's
//! `capture_call_graph`, at the root as in asyncio) and the live process
//! view that the `tulip-ps` command reads are in [`graph`].
//!
//! ```
//! use std::time::Duration;
//! use tulip::prelude::*;
//!
//! fn main() -> Result<(), tulip::Error> {
//!     tulip::run(async {
//!         let lp = get_running_loop()?;
//!         lp.call_soon(|| println!("Hello World"))?;
//!         let task = spawn(async {
//!             sleep(Duration::from_millis(10)).await;
//!             42
//!         });
//!         assert_eq!(task.await?, 42);
//!         Ok(())
//!     })?
//! }
//! ```
//!
//! Depend on this crate alone (`tulip = { path = ".../crates/tulip" }` or a
//! `git` dependency: it is not on crates.io); every example in these pages
//! is written as your code will be, through `tulip::...`. The [`guide`]
//! walks an asyncio user from [`run`] to a server with timeouts, TLS and
//! subprocesses, and the [`asyncio_mapping`] lists every asyncio name with
//! its tulip name.
//!
//! ## A tour
//!
//! Each example runs as it stands: servers listen on a free port of the
//! loopback interface and the program ends by itself.
//!
//! **A TCP echo server with streams** (asyncio's `start_server` and
//! `open_connection`): each client gets a task of its own with a
//! [`StreamReader`](streams::StreamReader) and a
//! [`StreamWriter`](streams::StreamWriter).
//!
//! ```
//! use tulip::prelude::*;
//! use tulip::streams::{ConnectOptions, Error, ServerOptions};
//!
//! async fn handle_echo(mut reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
//!     let data = reader.read(100).await?;
//!     writer.write(&data)?;
//!     writer.drain().await?;
//!     writer.close();
//!     writer.wait_closed().await
//! }
//!
//! async fn main_task() -> Result<(), Error> {
//!     // Port 0: the OS picks a free port, which the server's socket tells.
//!     let server = start_server(handle_echo, "127.0.0.1", 0, ServerOptions::new()).await?;
//!     let port = server.sockets()[0].inet_addr().expect("a TCP socket").port();
//!
//!     let (mut reader, writer) = open_connection("127.0.0.1", port, ConnectOptions::new()).await?;
//!     writer.write(b"Hello World!")?;
//!     assert_eq!(reader.read(100).await?, b"Hello World!");
//!     writer.close();
//!
//!     server.close();
//!     server.wait_closed().await;
//!     Ok(())
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     tulip::run(main_task())??;
//!     Ok(())
//! }
//! ```
//!
//! **The same server with a protocol** (asyncio's `loop.create_server`):
//! callbacks on the loop instead of a task per client, the fastest way
//! tulip serves.
//!
//! ```
//! use tulip::prelude::*;
//! use tulip::streams::ConnectOptions;
//! use tulip::transport::ServerOptions;
//!
//! #[derive(Default)]
//! struct EchoProtocol {
//!     transport: Option<Transport>,
//! }
//!
//! impl BaseProtocol for EchoProtocol {}
//!
//! impl Protocol for EchoProtocol {
//!     fn connection_made(&mut self, transport: Transport) {
//!         self.transport = Some(transport);
//!     }
//!
//!     fn data_received(&mut self, data: &[u8]) {
//!         let transport = self.transport.as_ref().expect("connection_made comes first");
//!         // A failed write has closed the connection and told connection_lost.
//!         let _ = transport.write(data);
//!         transport.close();
//!     }
//! }
//!
//! async fn main_task() -> Result<(), Box<dyn std::error::Error>> {
//!     let lp = get_running_loop()?;
//!     let server = lp
//!         .create_server(EchoProtocol::default, "127.0.0.1", 0, ServerOptions::new())
//!         .await?;
//!     let port = server.sockets()[0].inet_addr().expect("a TCP socket").port();
//!
//!     let (mut reader, writer) = open_connection("127.0.0.1", port, ConnectOptions::new()).await?;
//!     writer.write(b"ping")?;
//!     assert_eq!(reader.readexactly(4).await?, b"ping");
//!     assert!(reader.read(100).await?.is_empty(), "the server closed the connection");
//!
//!     server.close();
//!     server.wait_closed().await;
//!     Ok(())
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     tulip::run(main_task())?
//! }
//! ```
//!
//! **A timeout** (asyncio's `wait_for` and `timeout`): the awaited work is
//! cancelled when time is up, and the error says so.
//!
//! ```
//! use std::time::Duration;
//! use tulip::prelude::*;
//!
//! fn main() -> Result<(), Error> {
//!     tulip::run(async {
//!         let slow = sleep(Duration::from_secs(3600));
//!         let outcome = wait_for(slow, Duration::from_millis(10)).await;
//!         assert!(outcome.unwrap_err().is_timeout());
//!
//!         let fast = timeout(Duration::from_secs(5)).run(async { 42 }).await?;
//!         assert_eq!(fast, 42);
//!         Ok(())
//!     })?
//! }
//! ```
//!
//! **A subprocess** (asyncio's `create_subprocess_exec`): its output
//! through a pipe, read without deadlock by `communicate`.
//!
//! ```
//! use tulip::process::{Error, Stdio, SubprocessOptions, create_subprocess_exec};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     tulip::run(async {
//!         let options = SubprocessOptions::new().stdout(Stdio::Pipe);
//!         let mut proc = create_subprocess_exec("echo", ["Hello from a child"], options).await?;
//!         let (stdout, _stderr) = proc.communicate(None).await?;
//!         assert_eq!(stdout.as_deref(), Some(&b"Hello from a child\n"[..]));
//!         assert_eq!(proc.returncode(), Some(0));
//!         Ok::<(), Error>(())
//!     })??;
//!     Ok(())
//! }
//! ```
//!
//! ## Coming from asyncio
//!
//! Every name is asyncio's: [`Loop::call_soon`], [`Loop::call_later`],
//! [`Loop::add_reader`], [`Loop::create_task`], [`run`], [`sleep`]. asyncio's
//! settable `Future` is [`LoopFuture`] (Rust's prelude already has a
//! `Future`). Keyword arguments become option structs with `Default`
//! ([`TaskOptions`]). Exceptions become [`Error`] values. The full list is
//! the [`asyncio_mapping`].
//!
//! ## Coming from tokio or smol
//!
//! One loop per thread, `!Send` handles, `Rc` instead of `Arc`: scale out
//! with one loop per core. [`run`] is `block_on`; [`spawn`] is `spawn_local`
//! (and, like tokio's, panics outside a running loop); a dropped [`Task`]
//! keeps running (it detaches, as tokio's `JoinHandle`), but
//! [`wait_for`] cancels a task it times out, as asyncio does.
//!
//! ## asyncio correspondence
//!
//! | asyncio module | tulip |
//! |---|---|
//! | `asyncio.base_events`, `events` | [`EventLoop`], [`Loop`], [`RemoteLoop`], [`Handle`], [`TimerHandle`] |
//! | `asyncio.futures` | [`LoopFuture`] |
//! | `asyncio.tasks` | [`Task`], [`spawn`], [`sleep`], [`gather`], [`wait`], [`wait_for`], [`as_completed`], [`shield`], [`current_task`], [`all_tasks`], [`to_thread`], [`run_coroutine_threadsafe`] |
//! | `asyncio.timeouts` | [`timeout`], [`timeout_at`], [`Timeout`] |
//! | `asyncio.taskgroups` | [`task_group`], [`TaskGroup`], [`TaskGroupError`] |
//! | `asyncio.runners` | [`run`], [`Runner`] |
//! | `contextvars` (asyncio's `context=` arguments, `Handle.get_context`, `Task.get_context`) | [`contextvars`] ([`contextvars::ContextVar`], [`contextvars::Context`]), [`Loop::call_soon_with_context`], [`Handle::get_context`], [`Task::get_context`] |
//! | `loop.set_task_factory` / `get_task_factory` | [`Loop::set_task_factory`], [`NewTask`], [`TaskFactory`] |
//! | `asyncio.exceptions` | [`Error`] |
//! | `asyncio.locks`, `asyncio.queues` | [`sync`] |
//! | `asyncio.protocols`, `transports`, `selector_events`, `unix_events` (networking) | [`transport`] |
//! | `asyncio.streams` | [`streams`] |
//! | `asyncio.subprocess`, `base_subprocess`, `unix_events` (child watchers) | [`process`] |
//! | `selectors` | [`reactor`] |

pub use tulip_executor::*;

#[doc = include_str!("../../../docs/guide.md")]
pub mod guide {}

#[doc = include_str!("../../../docs/asyncio-mapping.md")]
pub mod asyncio_mapping {}

/// The OS boundary: readiness polling, descriptor registration, the
/// cross-thread notifier (re-export of `tulip-reactor`).
pub mod reactor {
    pub use tulip_reactor::*;
}

/// asyncio's synchronization primitives and queues (re-export of
/// `tulip-sync`): `Lock`, `Event`, `Condition`, `Semaphore`,
/// `BoundedSemaphore`, `Barrier`, `Queue`, `PriorityQueue`, `LifoQueue`.
pub mod sync {
    pub use tulip_sync::*;
}

/// asyncio's transports and protocols, servers, socket operations and DNS
/// (re-export of `tulip-transport`). The loop methods
/// (`lp.create_connection`, `lp.create_server`, ...) come from
/// [`LoopNetExt`](transport::LoopNetExt), which is in the [`prelude`].
/// The rustls crate the TLS is built on is `tulip::transport::rustls`:
///
/// ```
/// use tulip::transport::TlsError;
/// use tulip::transport::rustls::CertificateError;
///
/// fn expired(e: &TlsError) -> bool {
///     matches!(e.certificate_error(), Some(CertificateError::Expired))
/// }
/// # assert!(!expired(&TlsError::Truncated));
/// ```
pub mod transport {
    pub use tulip_transport::*;
}

/// Poll-based sockets on the running loop (`TcpListener`, `TcpStream`,
/// `UnixListener`, `UnixStream`, `UdpSocket`): the `futures-io` traits
/// always, tokio's I/O traits with the `tokio-io` feature and hyper's with
/// the `hyper` feature (re-export of `tulip-transport`'s `net`).
///
/// ```
/// use tulip::net::{TcpListener, TcpStream};
///
/// tulip::run(async {
///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
///     let client = TcpStream::connect("127.0.0.1", listener.local_addr()?.port()).await?;
///     let (server_side, _) = listener.accept().await?;
///     client.write_all(b"hi").await?;
///     let mut buf = [0; 2];
///     server_side.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hi");
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub mod net {
    pub use tulip_transport::net::*;
}

/// asyncio's streams: `StreamReader`, `StreamWriter`, `open_connection`,
/// `start_server` and their Unix-socket twins (re-export of
/// `tulip-streams`).
pub mod streams {
    pub use tulip_streams::*;
}

/// asyncio's subprocesses: `SubprocessTransport` and `SubprocessProtocol`
/// (the loop methods `lp.subprocess_exec` and `lp.subprocess_shell` come
/// from [`LoopProcessExt`](process::LoopProcessExt), in the [`prelude`]),
/// `create_subprocess_exec`, `create_subprocess_shell` and `Process`
/// (re-export of `tulip-process`).
pub mod process {
    pub use tulip_process::*;
}

/// hyper 1.x on tulip (re-export of `tulip-hyper`, behind the facade's
/// `hyper` feature): the runtime traits hyper needs
/// ([`TulipExecutor`](hyper::rt::TulipExecutor),
/// [`TulipTimer`](hyper::rt::TulipTimer)) and
/// [`serve`](hyper::serve), which serves any tower service (an axum
/// `Router`) or hyper service over HTTP/1.1 and HTTP/2.
#[cfg(feature = "hyper")]
pub mod hyper {
    pub use tulip_hyper::*;
}

/// Asynchronous byte I/O: the `futures-io` traits that tulip's streams and
/// pipes implement ([`StreamReader`](streams::StreamReader) is
/// [`AsyncRead`](io::AsyncRead) and [`AsyncBufRead`](io::AsyncBufRead),
/// [`StreamWriter`](streams::StreamWriter) is [`AsyncWrite`](io::AsyncWrite)),
/// with `futures-util`'s extension traits that give them their methods
/// (`read`, `read_line`, `write_all`, `close`, ...) and [`copy`](io::copy),
/// so no other crate is needed to call them. The extension traits are in
/// the [`prelude`] too.
///
/// ```
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     // Any AsyncBufRead works the same; a byte slice is one.
///     let mut input: &[u8] = b"hello\nworld\n";
///     let mut line = String::new();
///     input.read_line(&mut line).await?;
///     assert_eq!(line, "hello\n");
///     let mut rest = Vec::new();
///     input.read_to_end(&mut rest).await?;
///     assert_eq!(rest, b"world\n");
///     Ok::<(), std::io::Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub mod io {
    pub use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};
    pub use futures_util::io::{
        AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt, copy, copy_buf,
    };
}

/// Asynchronous streams: `futures-core`'s [`Stream`](stream::Stream) trait,
/// which [`as_completed`] and
/// [`StreamReader`](streams::StreamReader) (its lines) implement, with
/// `futures-util`'s [`StreamExt`](stream::StreamExt) and
/// [`TryStreamExt`](stream::TryStreamExt) for `next`, `map`, `collect`...
/// The extension traits are in the [`prelude`] too.
///
/// ```
/// use std::time::Duration;
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let delays = [30, 10, 20];
///     let mut done = as_completed(
///         delays.map(|ms| async move {
///             sleep(Duration::from_millis(ms)).await;
///             ms
///         }),
///         None,
///     );
///     let mut order = Vec::new();
///     while let Some(ms) = done.next().await {
///         order.push(ms?);
///     }
///     assert_eq!(order, [10, 20, 30]);
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
pub mod stream {
    pub use futures_core::stream::{FusedStream, Stream, TryStream};
    pub use futures_util::stream::{StreamExt, TryStreamExt};
}

/// The names most tulip code uses: `use tulip::prelude::*;`. Besides the
/// loop and tasks, it holds the task toolkit (`gather`, `wait_for`,
/// `timeout`, `task_group`, ...) and the I/O and stream traits with their
/// extension traits (imported for their methods, as `_`).
///
/// ```
/// use std::time::Duration;
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let (a, b) = gather((async { 1 }, async { "two" })).await?;
///     assert_eq!((a, b), (1, "two"));
///     let slow = spawn(sleep(Duration::from_secs(60)));
///     assert!(wait_for(slow, Duration::from_millis(10)).await.unwrap_err().is_timeout());
///     let total = task_group(|tg| async move {
///         let x = tg.create_task(async { 20 })?;
///         let y = tg.create_task(async { 22 })?;
///         Ok::<_, Error>(x.await? + y.await?)
///     })
///     .await
///     .expect("no child failed")?;
///     assert_eq!(total, 42);
///     Ok::<(), Error>(())
/// })??;
/// # Ok::<(), Error>(())
/// ```
pub mod prelude {
    pub use futures_core::stream::{Stream, TryStream};
    pub use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};
    pub use futures_util::io::{
        AsyncBufReadExt as _, AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _,
    };
    pub use futures_util::stream::{StreamExt as _, TryStreamExt as _};
    pub use tulip_executor::{
        Error, EventLoop, Handle, Loop, LoopFuture, RemoteLoop, Task, TaskOptions, TaskRef,
        TimerHandle, all_tasks, as_completed, current_task, gather, get_running_loop, run, shield,
        sleep, sleep_until, spawn, task_group, timeout, timeout_at, to_thread, try_gather, wait,
        wait_for, wait_for_task, yield_now,
    };
    pub use tulip_process::{
        LoopProcessExt, SubprocessProtocol, SubprocessTransport, create_subprocess_exec,
        create_subprocess_shell,
    };
    pub use tulip_streams::{StreamReader, StreamWriter, open_connection, start_server};
    pub use tulip_transport::{
        BaseProtocol, Buffered, BufferedProtocol, DatagramProtocol, DatagramTransport, Fallible,
        LoopNetExt, Protocol, Transport,
    };
}
