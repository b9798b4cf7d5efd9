//! A server's listening sockets: the [`Listener`] a server owns (its
//! socket, how the loop watches it for connections, the socket file to
//! remove) and the [`ServerSocket`] users see.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::rc::Weak;

use tulip_executor::Loop;

use crate::address::SockAddr;
use crate::server::accept_ops::AcceptOp;

/// One listening socket of a server.
pub(crate) struct Listener {
    pub(crate) fd: OwnedFd,
    /// Whether the loop watches it for incoming connections (readiness).
    pub(crate) reading: Cell<bool>,
    /// The multishot accept in flight on it (completions).
    pub(crate) accept: RefCell<Option<Weak<AcceptOp>>>,
    /// The socket file to remove when the server closes (Unix servers with
    /// `cleanup_socket`).
    cleanup: Option<SocketFile>,
}

/// A Unix socket's file, identified by device and inode so that a file
/// since replaced by someone else is left alone.
struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Listener {
    /// A listener over a bound socket.
    pub(crate) fn new(fd: OwnedFd) -> Listener {
        Listener {
            fd,
            reading: Cell::new(false),
            accept: RefCell::new(None),
            cleanup: None,
        }
    }

    /// The socket, for a listener that is not a server's (yet).
    pub(crate) fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// Removes the socket file at `path` when the server closes, if it is
    /// still the file there now.
    pub(crate) fn remove_file_on_close(mut self, path: PathBuf) -> Listener {
        match std::fs::metadata(&path) {
            Ok(meta) => {
                self.cleanup = Some(SocketFile {
                    path,
                    dev: meta.dev(),
                    ino: meta.ino(),
                });
            }
            Err(e) => log::debug!("cannot stat the socket file {}: {e}", path.display()),
        }
        self
    }

    /// Stops watching, closes the socket and removes its file if asked.
    /// With an accept in flight, the socket stops listening at once (a
    /// `shutdown`: new connections are refused from now on, as after a
    /// close) and goes to the accept operation, cancelled, which closes it
    /// at its final completion.
    pub(crate) fn close(self, lp: &Loop) {
        if self.reading.replace(false) {
            lp.remove_reader(self.fd.as_raw_fd());
        }
        let op = self.accept.borrow_mut().take().and_then(|op| op.upgrade());
        match op {
            Some(op) => {
                let _ = rustix::net::shutdown(&self.fd, rustix::net::Shutdown::Both);
                op.close_with(lp, self.fd);
            }
            None => drop(self.fd),
        }
        if let Some(file) = self.cleanup {
            match std::fs::metadata(&file.path) {
                Ok(meta) if meta.dev() == file.dev && meta.ino() == file.ino => {
                    if let Err(e) = std::fs::remove_file(&file.path) {
                        log::warn!("cannot remove {}: {e}", file.path.display());
                    }
                }
                _ => {}
            }
        }
    }
}

/// A listening socket of a [`Server`](crate::Server): its address and descriptor
/// (asyncio's `Server.sockets` items).
///
/// ```
/// use tulip::prelude::*;
/// use tulip::transport::{AddressFamily, ServerOptions};
/// # #[derive(Default)]
/// # struct Quiet;
/// # impl BaseProtocol for Quiet {}
/// # impl Protocol for Quiet {}
///
/// tulip::run(async {
///     let lp = get_running_loop()?;
///     let server = lp
///         .create_server(Quiet::default, "127.0.0.1", 0, ServerOptions::new())
///         .await?;
///     let sock = &server.sockets()[0];
///     assert_eq!(sock.local_addr().map(|a| a.family()), Some(AddressFamily::Inet));
///     assert_ne!(sock.inet_addr().unwrap().port(), 0, "the port the OS chose");
///     assert!(sock.fd() >= 0);
///     server.close();
///     Ok::<_, tulip::transport::Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSocket {
    pub(crate) addr: Option<SockAddr>,
    pub(crate) fd: RawFd,
}

impl ServerSocket {
    /// The address the socket is bound to (`getsockname`).
    pub fn local_addr(&self) -> Option<&SockAddr> {
        self.addr.as_ref()
    }

    /// The IP address and port, for a TCP socket.
    pub fn inet_addr(&self) -> Option<SocketAddr> {
        self.addr.as_ref().and_then(SockAddr::as_inet)
    }

    /// The descriptor (owned by the server: valid until it closes).
    pub fn fd(&self) -> RawFd {
        self.fd
    }
}
