//! `tulipio._tulipio`: the native half of the `tulipio` Python package,
//! asyncio's event loop on a tulip `EventLoop`.
//!
//! The hot path lives here: the loop itself (`event_loop`), its callback
//! handles (`handle`, kept on free lists: `freelist`), their ready queue (`ready`) and timers (`timers`),
//! its vectorcall entries (`fastcall`), the GIL released around the
//! reactor wait (`gil`) and the tie of a loop to its thread (`thread_bound`), and the
//! transports that run Python protocols on tulip's own socket and
//! datagram transports (`transport`). What asyncio
//! writes in Python on top of that core (tasks, futures, `sock_*`,
//! executors, signal handlers, the exception handler) is the Python
//! package's `tulipio/_loop.py`, a subclass of this module's `_BaseLoop`
//! and of `asyncio.AbstractEventLoop`.

use pyo3::prelude::*;

mod event_loop;
mod fastcall;
mod fd;
mod freelist;
mod gil;
mod handle;
mod pipe;
mod ready;
mod subprocess;
mod thread_bound;
mod timers;
mod transport;

/// The extension module: `_BaseLoop`, `Handle` and `TimerHandle`.
#[pymodule]
fn _tulipio(m: &Bound<'_, PyModule>) -> PyResult<()> {
    require_gil(m.py())?;
    m.add_class::<event_loop::BaseLoop>()?;
    fastcall::install(&m.py().get_type::<event_loop::BaseLoop>())?;
    m.add_class::<handle::Handle>()?;
    m.add_class::<handle::TimerHandle>()?;
    freelist::install::<0>(&m.py().get_type::<handle::Handle>());
    freelist::install::<1>(&m.py().get_type::<handle::TimerHandle>());
    m.add_class::<transport::StreamTransport>()?;
    m.add_function(wrap_pyfunction!(transport::_start_stream, m)?)?;
    m.add_class::<transport::AcceptedSocket>()?;
    m.add_function(wrap_pyfunction!(transport::_accept, m)?)?;
    m.add_class::<transport::NativeDatagram>()?;
    m.add_function(wrap_pyfunction!(transport::_start_datagram, m)?)?;
    m.add_function(wrap_pyfunction!(transport::_forward_reports, m)?)?;
    pipe_subprocess(m)?;
    Ok(())
}

/// The pipes and subprocesses half of the module (`_connect_pipe`, `_spawn`).
fn pipe_subprocess(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<pipe::NativeTransport>()?;
    m.add_class::<subprocess::NativeSubprocess>()?;
    m.add_function(wrap_pyfunction!(pipe::_connect_pipe, m)?)?;
    m.add_function(wrap_pyfunction!(subprocess::_spawn, m)?)?;
    Ok(())
}

/// The handles keep what changes in slots only the GIL's holder touches
/// (`handle.rs`): an interpreter running without the GIL (a free-threaded
/// build started with `PYTHON_GIL=0`; importing this module otherwise
/// turns the GIL back on there) is refused.
fn require_gil(py: Python<'_>) -> PyResult<()> {
    let sys = py.import("sys")?;
    if let Ok(is_gil_enabled) = sys.getattr("_is_gil_enabled") {
        if !is_gil_enabled.call0()?.is_truthy()? {
            return Err(pyo3::exceptions::PyImportError::new_err(
                "tulipio needs the GIL, and this interpreter runs without it (PYTHON_GIL=0)",
            ));
        }
    }
    Ok(())
}
