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
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::process::SubprocessOptions;
    ///
    /// #[derive(Default)]
    /// struct Pid(Option<u32>);
    /// impl BaseProtocol for Pid {}
    /// impl SubprocessProtocol for Pid {
    ///     fn connection_made(&mut self, transport: SubprocessTransport) {
    ///         self.0 = Some(transport.get_pid());
    ///     }
    /// }
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let (transport, protocol) =
    ///         lp.subprocess_exec(Pid::default, "sleep", ["60"], SubprocessOptions::new()).await?;
    ///     // Called before `subprocess_exec` returns.
    ///     assert_eq!(protocol.borrow().0, Some(transport.get_pid()));
    ///     transport.close();
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn connection_made(&mut self, transport: SubprocessTransport) {
        let _ = transport;
    }

    /// The child wrote `data` on its stdout (`fd` 1) or stderr (`fd` 2).
    /// The slice is only valid during the call.
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::process::SubprocessOptions;
    ///
    /// /// Keeps stderr; `eof` is set when the stderr pipe closes.
    /// struct Errors {
    ///     stderr: Vec<u8>,
    ///     eof: LoopFuture<()>,
    /// }
    /// impl BaseProtocol for Errors {}
    /// impl SubprocessProtocol for Errors {
    ///     fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
    ///         if fd == 2 {
    ///             self.stderr.extend_from_slice(data);
    ///         }
    ///     }
    ///     fn pipe_connection_lost(&mut self, fd: i32, _exc: Option<tulip::transport::Error>) {
    ///         if fd == 2 {
    ///             let _ = self.eof.set_result(());
    ///         }
    ///     }
    /// }
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let eof = lp.create_future();
    ///     let factory = {
    ///         let eof = eof.clone();
    ///         move || Errors { stderr: Vec::new(), eof: eof.clone() }
    ///     };
    ///     let (transport, protocol) =
    ///         lp.subprocess_shell(factory, "echo warning >&2", SubprocessOptions::new()).await?;
    ///     eof.await?;
    ///     assert_eq!(protocol.borrow().stderr, b"warning\n");
    ///     transport.close();
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
        let _ = (fd, data);
    }

    /// The pipe of the child's `fd` (0, 1 or 2) is closed: `None` for EOF
    /// or a regular close, the error otherwise.
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::process::{Stdio, SubprocessOptions};
    ///
    /// /// Records which pipes closed, and how; `all` is set when both have.
    /// struct Closed {
    ///     lost: Vec<(i32, bool)>,
    ///     all: LoopFuture<()>,
    /// }
    /// impl BaseProtocol for Closed {}
    /// impl SubprocessProtocol for Closed {
    ///     fn pipe_connection_lost(&mut self, fd: i32, exc: Option<tulip::transport::Error>) {
    ///         self.lost.push((fd, exc.is_none()));
    ///         if self.lost.len() == 2 {
    ///             let _ = self.all.set_result(());
    ///         }
    ///     }
    /// }
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let all = lp.create_future();
    ///     let factory = {
    ///         let all = all.clone();
    ///         move || Closed { lost: Vec::new(), all: all.clone() }
    ///     };
    ///     // stdin is not a pipe; stdout and stderr are, and end with the child.
    ///     let options = SubprocessOptions::new().stdin(Stdio::DevNull);
    ///     let (transport, protocol) = lp.subprocess_shell(factory, "true", options).await?;
    ///     all.await?;
    ///     let mut lost = protocol.borrow().lost.clone();
    ///     lost.sort();
    ///     assert_eq!(lost, [(1, true), (2, true)]); // EOF: no error
    ///     transport.close();
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn pipe_connection_lost(&mut self, fd: i32, exc: Option<Error>) {
        let _ = (fd, exc);
    }

    /// The child exited (and was reaped): its return code is in
    /// [`SubprocessTransport::get_returncode`].
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::process::SubprocessOptions;
    ///
    /// /// Hands the return code to `code` when the child exits.
    /// struct Exit {
    ///     transport: Option<SubprocessTransport>,
    ///     code: LoopFuture<Option<i32>>,
    /// }
    /// impl BaseProtocol for Exit {}
    /// impl SubprocessProtocol for Exit {
    ///     fn connection_made(&mut self, transport: SubprocessTransport) {
    ///         self.transport = Some(transport);
    ///     }
    ///     fn process_exited(&mut self) {
    ///         let code = self.transport.as_ref().and_then(|t| t.get_returncode());
    ///         let _ = self.code.set_result(code);
    ///     }
    /// }
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let code = lp.create_future();
    ///     let factory = {
    ///         let code = code.clone();
    ///         move || Exit { transport: None, code: code.clone() }
    ///     };
    ///     let (transport, _) = lp.subprocess_shell(factory, "exit 7", SubprocessOptions::new()).await?;
    ///     assert_eq!(code.await?, Some(7));
    ///     transport.close();
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    /// [`Error::Transport`](crate::Error::Transport)`(tulip::transport::Error::ProtocolFactory)`
    /// (see [`Error::as_protocol_factory`](crate::Error::as_protocol_factory)).
    ///
    /// ```
    /// use tulip::process::{SubprocessProtocol, SubprocessProtocolFactory};
    /// use tulip::transport::BaseProtocol;
    ///
    /// struct Quiet;
    /// impl BaseProtocol for Quiet {}
    /// impl SubprocessProtocol for Quiet {}
    ///
    /// // The loop calls `build` once per child; a closure is a factory.
    /// let mut factory = || Quiet;
    /// let protocol = factory.build()?;
    /// assert!(matches!(*protocol.borrow(), Quiet));
    /// # Ok::<(), tulip::process::Error>(())
    /// ```
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
