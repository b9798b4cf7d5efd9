//! [`SubprocessProtocol`]: the callbacks a [`SubprocessTransport`] calls
//! (asyncio's `SubprocessProtocol`), and the factory that makes one per
//! subprocess.
//!
//! The order of the calls, as asyncio's:
//!
//! ```text
//! connection_made
//!   (pipe_data_received(fd, ..)* pipe_connection_lost(fd, ..))   per pipe, interleaved
//!   process_exited                                              once, whenever the child exits
//! connection_lost                                               once, last: after the exit and every pipe's loss
//! ```
//!
//! `process_exited` may come before or after the pipes are lost: a child
//! can exit while a grandchild still holds its stdout open, or close its
//! stdout long before it exits.

use std::cell::RefCell;
use std::rc::Rc;

use tulip_transport::{BaseProtocol, Error, Fallible};

use crate::error::Result;

use crate::base_subprocess::SubprocessTransport;

/// The protocol of a subprocess (asyncio's `SubprocessProtocol`). Every
/// method has an empty default.
///
/// `pause_writing` and `resume_writing` (from [`BaseProtocol`]) follow
/// the flow control of the child's stdin pipe, as in asyncio; the
/// `connection_lost` of [`BaseProtocol`] comes once, last, with `None`.
///
/// ```
/// use tulip::process::{SubprocessProtocol, SubprocessTransport};
/// use tulip::transport::BaseProtocol;
///
/// /// Collects what the child writes on stdout.
/// #[derive(Default)]
/// struct Collect {
///     output: Vec<u8>,
///     exited: bool,
/// }
///
/// impl BaseProtocol for Collect {}
///
/// impl SubprocessProtocol for Collect {
///     fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
///         if fd == 1 {
///             self.output.extend_from_slice(data);
///         }
///     }
///     fn process_exited(&mut self) {
///         self.exited = true;
///     }
/// }
/// ```
pub trait SubprocessProtocol: BaseProtocol {
    /// The subprocess runs and its pipes are connected; `transport` is a
    /// cheap, clonable handle on it.
    fn connection_made(&mut self, transport: SubprocessTransport) {
        let _ = transport;
    }

    /// The child wrote `data` on its stdout (`fd` 1) or stderr (`fd` 2).
    /// The slice is only valid during the call.
    fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
        let _ = (fd, data);
    }

    /// The pipe of the child's `fd` (0, 1 or 2) is closed: `None` for EOF
    /// or a regular close, the error otherwise.
    fn pipe_connection_lost(&mut self, fd: i32, exc: Option<Error>) {
        let _ = (fd, exc);
    }

    /// The child exited (and was reaped): its return code is in
    /// [`SubprocessTransport::get_returncode`].
    fn process_exited(&mut self) {}
}

/// Makes the protocol of a subprocess (asyncio's `protocol_factory`).
/// Implemented by every `FnMut() -> P` where `P` is a
/// [`SubprocessProtocol`], and by a [`Fallible`] closure returning
/// `Result<P, E>`.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use tulip::prelude::*;
/// use tulip::process::SubprocessOptions;
///
/// struct Counted;
/// impl BaseProtocol for Counted {}
/// impl SubprocessProtocol for Counted {}
///
/// tulip::run(async {
///     let lp = get_running_loop()?;
///     // A closure is a factory; it is called once per child.
///     let made = Rc::new(Cell::new(0));
///     let factory = {
///         let made = made.clone();
///         move || {
///             made.set(made.get() + 1);
///             Counted
///         }
///     };
///     let (transport, _) = lp.subprocess_shell(factory, "exit 0", SubprocessOptions::new()).await?;
///     assert_eq!(made.get(), 1);
///     transport.close();
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait SubprocessProtocolFactory: 'static {
    /// The protocol type made.
    type Protocol: SubprocessProtocol;

    /// Makes the protocol. It is called before the child is spawned: a
    /// factory that fails leaves no process behind.
    ///
    /// Errors: the factory's own failure, as
    /// [`Error::Transport`](crate::Error::Transport)`(`[`ProtocolFactory`](tulip_transport::Error::ProtocolFactory)`)`
    /// (see [`Error::as_protocol_factory`](crate::Error::as_protocol_factory)).
    fn build(&mut self) -> Result<Rc<RefCell<Self::Protocol>>>;
}

impl<F, P> SubprocessProtocolFactory for F
where
    F: FnMut() -> P + 'static,
    P: SubprocessProtocol,
{
    type Protocol = P;

    fn build(&mut self) -> Result<Rc<RefCell<P>>> {
        Ok(Rc::new(RefCell::new(self())))
    }
}

impl<F, P, E> SubprocessProtocolFactory for Fallible<F>
where
    F: FnMut() -> std::result::Result<P, E> + 'static,
    P: SubprocessProtocol,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Protocol = P;

    fn build(&mut self) -> Result<Rc<RefCell<P>>> {
        Ok(Rc::new(RefCell::new(self.make()?)))
    }
}
