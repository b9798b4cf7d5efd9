//! Poll-based sockets: the Rust face of the loop (`tulip::net`).
//!
//! asyncio's own layers are callbacks ([`Protocol`](crate::Protocol)s on
//! transports) and streams on top of them; Rust's ecosystem (hyper,
//! tokio-util codecs, h2, tungstenite, anything written against
//! `futures-io` or tokio's I/O traits) wants a socket it can poll. These
//! are those sockets, on the running loop:
//!
//! | type | what it is |
//! |---|---|
//! | [`TcpListener`], [`TcpStream`] | TCP, with asyncio's address handling and Happy Eyeballs |
//! | [`UnixListener`], [`UnixStream`] | Unix-domain stream sockets (asyncio's path spelling) |
//! | [`UdpSocket`] | UDP datagrams |
//! | [`TlsStream`] | TLS (rustls) over any of the streams, client (`connect`) or server (`accept`), with ALPN and asyncio's `ssl_handshake_timeout` |
//! | [`ReadHalf`], [`WriteHalf`], [`OwnedReadHalf`], [`OwnedWriteHalf`] | a stream split in two |
//!
//! Each socket is registered with the loop once, edge-triggered, for its
//! whole life (an [`IoSource`]): the readiness
//! the OS reports is cached, an operation tries its system call at once
//! and waits for the next edge only after `EWOULDBLOCK`, and no
//! `epoll_ctl` runs while the socket is in use. The sockets are `!Send`,
//! as everything of a loop: they belong to the loop that made them
//! (the running loop when they were created or taken `from_std`).
//!
//! The streams implement `futures_io::{AsyncRead, AsyncWrite}` (so
//! [`tulip::io`](https://docs.rs/futures-util/latest/futures_util/io/)'s
//! extension traits apply), tokio's `AsyncRead`/`AsyncWrite` with the
//! `tokio-io` feature, and hyper's `rt::Read`/`rt::Write` with the `hyper`
//! feature, for the stream, `&stream` and the halves.
//!
//! # Mixing layers
//!
//! A socket moves between this layer and asyncio's as a descriptor:
//! `into_std` takes it out of `tulip::net` (an `OwnedFd::from` that gives
//! what asyncio's `sock=` arguments take: a transport with
//! [`LoopNetExt::connect_accepted_socket`](crate::LoopNetExt::connect_accepted_socket),
//! streams with `open_connection` and [`ConnectOptions::sock`](crate::ConnectOptions::sock)),
//! and `from_std` takes a socket in (one accepted with `sock_accept`, say).
//!
//! ```
//! use std::os::fd::OwnedFd;
//! use tulip::prelude::*;
//! use tulip::net::{TcpListener, TcpStream};
//! use tulip::transport::AcceptedSocketOptions;
//!
//! #[derive(Default)]
//! struct Upper(Option<Transport>);
//! impl BaseProtocol for Upper {}
//! impl Protocol for Upper {
//!     fn connection_made(&mut self, t: Transport) {
//!         self.0 = Some(t);
//!     }
//!     fn data_received(&mut self, data: &[u8]) {
//!         let _ = self.0.as_ref().unwrap().write(&data.to_ascii_uppercase());
//!     }
//! }
//!
//! tulip::run(async {
//!     let lp = get_running_loop()?;
//!     let listener = TcpListener::bind("127.0.0.1", 0).await?;
//!     let client = TcpStream::connect("127.0.0.1", listener.local_addr()?.port()).await?;
//!     let (served, _) = listener.accept().await?;
//!     // The accepted stream becomes a transport with a protocol.
//!     let fd = OwnedFd::from(served.into_std()?);
//!     let _conn = lp
//!         .connect_accepted_socket(Upper::default, fd, AcceptedSocketOptions::new())
//!         .await?;
//!     client.write_all(b"shout").await?;
//!     let mut buf = [0; 5];
//!     client.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"SHOUT");
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })??;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(doc)]
use tulip_executor::IoSource;

#[cfg(any(feature = "tokio-io", feature = "hyper"))]
mod io_ext;
pub(crate) mod registration;
mod split;
pub(crate) mod stream;
mod tcp;
mod tls;
mod udp;
mod unix;

pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use tcp::{HAPPY_EYEBALLS_DELAY, TcpListener, TcpStream};
pub use tls::{TlsStream, TlsStreamOptions};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
