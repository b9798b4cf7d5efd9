"""The tulipio loop class: asyncio's ``AbstractEventLoop`` on tulip.

The native ``_BaseLoop`` (Rust) runs the loop, its handles, timers and
descriptor watches, with the GIL released while it waits for I/O. This
module adds what asyncio itself writes in Python on top of such a core:
running until a future completes, futures and tasks (real
``asyncio.Future``/``asyncio.Task`` objects), the exception handler, the
default executor, DNS through it, signal handlers and the async
generator hooks; the ``sock_*`` coroutines are ``_sock.SockOps``, the
transports, servers and endpoints ``_net.NetOps``.
"""

import asyncio
import concurrent.futures
import errno
import signal
import socket
import sys
import threading
import traceback
import warnings
import weakref

from asyncio import coroutines, events, futures, tasks
from asyncio.log import logger

from ._net import NetOps
from ._sock import SockOps
from ._subprocess import PipeSubprocessOps
from ._tulipio import Handle, _BaseLoop

__all__ = ("Loop",)


def _fileobj_to_fd(fileobj):
    """A descriptor number from an int or an object with ``fileno()``."""
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"Invalid file object: {fileobj!r}") from None
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return fd


def _sighandler_noop(signum, frame):
    """Python-level handler of a signal the loop handles (the work is
    done by the wakeup descriptor)."""


def _context_of(context):
    """The ``contextvars.Context`` a custom exception handler runs in: the
    failing task's, future's or handle's (asyncio does so since 3.12), or
    None to run it in the current one."""
    for key in ("task", "future", "handle"):
        thing = context.get(key)
        if thing is not None:
            get_context = getattr(thing, "get_context", None)
            if get_context is None:
                return None
            ctx = get_context()
            return ctx if hasattr(ctx, "run") else None
    return None


def _run_until_complete_cb(fut):
    if not fut.cancelled():
        exc = fut.exception()
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):
            # run_forever() already ends with this exception.
            return
    futures._get_loop(fut).stop()


class Loop(_BaseLoop, SockOps, NetOps, PipeSubprocessOps, asyncio.AbstractEventLoop):
    """An asyncio event loop running on tulip's Rust event loop."""

    def __init__(self):
        self._closed_py = False
        self._thread_id = None
        self._exception_handler = None
        self._task_factory = None
        self._default_executor = None
        self._executor_shutdown_called = False
        self._asyncgens = weakref.WeakSet()
        self._asyncgens_shutdown_called = False
        self._coroutine_origin_tracking_enabled = False
        self._coroutine_origin_tracking_saved_depth = None
        self._signal_handlers = {}
        self._readers = {}
        self._writers = {}
        self._ssock = self._csock = None
        self.slow_callback_duration = 0.1
        self._set_debug(coroutines._is_debug_mode())

    def __repr__(self):
        return (
            f"<{self.__class__.__name__} running={self.is_running()} "
            f"closed={self.is_closed()} debug={self.get_debug()}>"
        )

    def __del__(self, _warn=warnings.warn):
        if not self.is_closed():
            _warn(f"unclosed event loop {self!r}", ResourceWarning, source=self)
            if not self.is_running():
                try:
                    self.close()
                except Exception:
                    pass

    # ----------------------------------------------------------- checks

    def _check_closed(self):
        if self.is_closed():
            raise RuntimeError("Event loop is closed")

    def _check_running(self):
        if self.is_running():
            raise RuntimeError("This event loop is already running")
        if events._get_running_loop() is not None:
            raise RuntimeError("Cannot run the event loop while another loop is running")

    def _check_thread(self):
        if self._thread_id is None:
            return
        if threading.get_ident() != self._thread_id:
            raise RuntimeError(
                "Non-thread-safe operation invoked on an event loop other "
                "than the current one"
            )

    def _check_callback(self, callback, method):
        if coroutines.iscoroutine(callback) or coroutines.iscoroutinefunction(callback):
            raise TypeError(f"coroutines cannot be used with {method}()")
        if not callable(callback):
            raise TypeError(
                f"a callable object was expected by {method}(), got {callback!r}"
            )

    def _timer_handle_cancelled(self, handle):
        """asyncio's TimerHandle calls this; tulip's timers need nothing."""

    # ---------------------------------------------------- running/closing

    def run_forever(self):
        """Runs the loop until ``stop()`` is called."""
        self._check_closed()
        self._check_running()
        self._set_coroutine_origin_tracking(self.get_debug())
        old_agen_hooks = sys.get_asyncgen_hooks()
        try:
            self._thread_id = threading.get_ident()
            sys.set_asyncgen_hooks(
                firstiter=self._asyncgen_firstiter_hook,
                finalizer=self._asyncgen_finalizer_hook,
            )
            events._set_running_loop(self)
            wakeup = self._install_wakeup_fd()
            try:
                self._run()
            finally:
                self._restore_wakeup_fd(wakeup)
        finally:
            self._thread_id = None
            events._set_running_loop(None)
            self._set_coroutine_origin_tracking(False)
            sys.set_asyncgen_hooks(*old_agen_hooks)

    def _install_wakeup_fd(self):
        """On the main thread, a signal wakes the waiting loop (its byte
        lands on the self-pipe), whichever thread the kernel delivered it
        to: Python's handler (Ctrl-C's KeyboardInterrupt, asyncio.Runner's
        cancellation) then runs at once. Returns the wakeup fd to restore."""
        if threading.current_thread() is not threading.main_thread():
            return None
        if self._ssock is None:
            self._make_self_pipe()
        try:
            return signal.set_wakeup_fd(self._csock.fileno(), warn_on_full_buffer=False)
        except (ValueError, OSError):
            return None

    def _restore_wakeup_fd(self, old):
        if old is None or self._signal_handlers:
            return  # signal handlers keep the loop's wakeup fd (as asyncio)
        try:
            signal.set_wakeup_fd(old)
        except (ValueError, OSError):
            pass

    def run_until_complete(self, future):
        """Runs until ``future`` (a future or coroutine) is done; returns its
        result or raises its exception."""
        self._check_closed()
        self._check_running()
        new_task = not futures.isfuture(future)
        future = tasks.ensure_future(future, loop=self)
        if new_task:
            # The task's exception is raised here: no "never retrieved" log.
            future._log_destroy_pending = False
        future.add_done_callback(_run_until_complete_cb)
        try:
            self.run_forever()
        except BaseException:
            if new_task and future.done() and not future.cancelled():
                future.exception()
            raise
        finally:
            future.remove_done_callback(_run_until_complete_cb)
        if not future.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        return future.result()

    def close(self):
        """Closes the loop: pending callbacks are dropped, the default
        executor is shut down without waiting. Idempotent."""
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self.is_closed():
            return
        if self.get_debug():
            logger.debug("Close %r", self)
        for sig in list(self._signal_handlers):
            self.remove_signal_handler(sig)
        self._close_self_pipe()
        self._close()
        self._readers.clear()
        self._writers.clear()
        executor = self._default_executor
        if executor is not None:
            self._default_executor = None
            executor.shutdown(wait=False)

    async def shutdown_asyncgens(self):
        """Closes every async generator still open on this loop."""
        self._asyncgens_shutdown_called = True
        if not len(self._asyncgens):
            return
        closing = list(self._asyncgens)
        self._asyncgens.clear()
        results = await tasks.gather(*[ag.aclose() for ag in closing], return_exceptions=True)
        for result, agen in zip(results, closing):
            if isinstance(result, Exception):
                self.call_exception_handler({
                    "message": f"an error occurred during closing of asynchronous generator {agen!r}",
                    "exception": result,
                    "asyncgen": agen,
                })

    async def shutdown_default_executor(self, timeout=None):
        """Shuts the default executor down, waiting for its threads."""
        self._executor_shutdown_called = True
        if self._default_executor is None:
            return
        future = self.create_future()
        thread = threading.Thread(target=self._do_shutdown, args=(future,))
        thread.start()
        try:
            if timeout is None:
                await future
            else:
                await tasks.wait_for(future, timeout)
        except TimeoutError:
            warnings.warn(
                "The executor did not finishing joining its threads within "
                f"{timeout} seconds.",
                RuntimeWarning,
                stacklevel=2,
            )
            self._default_executor.shutdown(wait=False)
        else:
            thread.join()

    def _do_shutdown(self, future):
        try:
            self._default_executor.shutdown(wait=True)
            if not self.is_closed():
                self.call_soon_threadsafe(futures._set_result_unless_cancelled, future, None)
        except Exception as ex:
            if not self.is_closed() and not future.cancelled():
                self.call_soon_threadsafe(future.set_exception, ex)

    # ------------------------------------------------------- debug mode

    def set_debug(self, enabled):
        """Turns debug mode on or off."""
        self._set_debug(bool(enabled))
        if self.is_running():
            self.call_soon_threadsafe(self._set_coroutine_origin_tracking, bool(enabled))

    def _set_coroutine_origin_tracking(self, enabled):
        if bool(enabled) == bool(self._coroutine_origin_tracking_enabled):
            return
        if enabled:
            self._coroutine_origin_tracking_saved_depth = sys.get_coroutine_origin_tracking_depth()
            sys.set_coroutine_origin_tracking_depth(asyncio.constants.DEBUG_STACK_DEPTH)
        else:
            sys.set_coroutine_origin_tracking_depth(self._coroutine_origin_tracking_saved_depth)
        self._coroutine_origin_tracking_enabled = enabled

    # ------------------------------------------------- futures and tasks

    # create_future and create_task are the native _BaseLoop's.

    def set_task_factory(self, factory):
        """Sets the factory ``create_task`` uses (None: ``asyncio.Task``)."""
        if factory is not None and not callable(factory):
            raise TypeError("task factory must be a callable or None")
        self._task_factory = factory

    def get_task_factory(self):
        """The task factory, or None."""
        return self._task_factory

    # ------------------------------------------------------- async gens

    def _asyncgen_finalizer_hook(self, agen):
        self._asyncgens.discard(agen)
        if not self.is_closed():
            self.call_soon_threadsafe(self.create_task, agen.aclose())

    def _asyncgen_firstiter_hook(self, agen):
        if self._asyncgens_shutdown_called:
            warnings.warn(
                f"asynchronous generator {agen!r} was scheduled after "
                "loop.shutdown_asyncgens() call",
                ResourceWarning,
                source=self,
            )
        self._asyncgens.add(agen)

    # ------------------------------------------------ exception handler

    def get_exception_handler(self):
        """The custom exception handler, or None."""
        return self._exception_handler

    def set_exception_handler(self, handler):
        """Sets ``handler(loop, context)`` as the exception handler."""
        if handler is not None and not callable(handler):
            raise TypeError(f"A callable object or None is expected, got {handler!r}")
        self._exception_handler = handler

    def default_exception_handler(self, context):
        """Logs ``context`` to the ``asyncio`` logger, as asyncio does."""
        message = context.get("message") or "Unhandled exception in event loop"
        exception = context.get("exception")
        if exception is not None:
            exc_info = (type(exception), exception, exception.__traceback__)
        else:
            exc_info = False
        lines = [message]
        for key in sorted(context):
            if key in {"message", "exception"}:
                continue
            value = context[key]
            if key == "source_traceback":
                tb = "".join(traceback.format_list(value))
                value = "Object created at (most recent call last):\n" + tb.rstrip()
            elif key == "handle_traceback":
                tb = "".join(traceback.format_list(value))
                value = "Handle created at (most recent call last):\n" + tb.rstrip()
            else:
                value = repr(value)
            lines.append(f"{key}: {value}")
        logger.error("\n".join(lines), exc_info=exc_info)

    def call_exception_handler(self, context):
        """Calls the exception handler (or the default one) with ``context``."""
        if self._exception_handler is None:
            try:
                self.default_exception_handler(context)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                logger.error("Exception in default exception handler", exc_info=True)
            return
        try:
            run_in = _context_of(context)
            if run_in is None:
                self._exception_handler(self, context)
            else:
                run_in.run(self._exception_handler, self, context)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            try:
                self.default_exception_handler({
                    "message": "Unhandled error in exception handler",
                    "exception": exc,
                    "context": context,
                })
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                logger.error(
                    "Exception in default exception handler while handling an "
                    "unexpected error in custom exception handler",
                    exc_info=True,
                )

    # --------------------------------------------------------- executor

    def run_in_executor(self, executor, func, *args):
        """Runs ``func(*args)`` in ``executor`` (None: the default thread
        pool); returns an asyncio future of its result."""
        self._check_closed()
        if self.get_debug():
            self._check_callback(func, "run_in_executor")
        if executor is None:
            executor = self._default_executor
            if self._executor_shutdown_called:
                raise RuntimeError("Executor shutdown has been called")
            if executor is None:
                executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="tulipio")
                self._default_executor = executor
        return futures.wrap_future(executor.submit(func, *args), loop=self)

    def set_default_executor(self, executor):
        """Sets the executor ``run_in_executor(None, ...)`` uses."""
        if not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
            raise TypeError("executor must be ThreadPoolExecutor instance")
        self._default_executor = executor

    async def getaddrinfo(self, host, port, *, family=0, type=0, proto=0, flags=0):
        """``socket.getaddrinfo`` on the default executor."""
        return await self.run_in_executor(
            None, socket.getaddrinfo, host, port, family, type, proto, flags
        )

    async def getnameinfo(self, sockaddr, flags=0):
        """``socket.getnameinfo`` on the default executor."""
        return await self.run_in_executor(None, socket.getnameinfo, sockaddr, flags)

    # ---------------------------------------------------- readers/writers

    def _watch(self, fd, callback, args, reader):
        self._check_closed()
        fd = _fileobj_to_fd(fd)
        if self.get_debug():
            self._check_callback(callback, "add_reader" if reader else "add_writer")
        handle = Handle(callback, args, self, None)
        watched = self._readers if reader else self._writers
        if reader:
            self._add_reader(fd, handle)
        else:
            self._add_writer(fd, handle)
        old = watched.get(fd)
        if old is not None:
            old.cancel()
        watched[fd] = handle
        return handle

    def _unwatch(self, fd, reader):
        fd = _fileobj_to_fd(fd)
        handle = (self._readers if reader else self._writers).pop(fd, None)
        if handle is not None:
            handle.cancel()
        return self._remove_reader(fd) if reader else self._remove_writer(fd)

    def add_reader(self, fd, callback, *args):
        """Calls ``callback(*args)`` whenever ``fd`` is readable (replacing
        its reader)."""
        self._watch(fd, callback, args, True)

    def add_writer(self, fd, callback, *args):
        """Calls ``callback(*args)`` whenever ``fd`` is writable (replacing
        its writer)."""
        self._watch(fd, callback, args, False)

    def remove_reader(self, fd):
        """Stops watching ``fd`` for reading; whether it was watched."""
        return self._unwatch(fd, True)

    def remove_writer(self, fd):
        """Stops watching ``fd`` for writing; whether it was watched."""
        return self._unwatch(fd, False)

    # ------------------------------------------------------------ signals

    def _make_self_pipe(self):
        self._ssock, self._csock = socket.socketpair()
        self._ssock.setblocking(False)
        self._csock.setblocking(False)
        self.add_reader(self._ssock.fileno(), self._read_from_self)

    def _close_self_pipe(self):
        if self._ssock is None:
            return
        self.remove_reader(self._ssock.fileno())
        self._ssock.close()
        self._csock.close()
        self._ssock = self._csock = None

    def _read_from_self(self):
        while True:
            try:
                data = self._ssock.recv(4096)
            except InterruptedError:
                continue
            except BlockingIOError:
                return
            if not data:
                return
            for signum in data:
                self._handle_signal(signum)

    def _handle_signal(self, sig):
        handle = self._signal_handlers.get(sig)
        if handle is None:
            return
        if handle._cancelled:
            self.remove_signal_handler(sig)
        else:
            self._call_handle_soon(handle)

    def _check_signal(self, sig):
        if not isinstance(sig, int):
            raise TypeError(f"sig must be an int, not {sig!r}")
        if sig not in signal.valid_signals():
            raise ValueError(f"invalid signal number {sig}")

    def add_signal_handler(self, sig, callback, *args):
        """Calls ``callback(*args)`` on the loop when signal ``sig`` arrives
        (main thread only, as asyncio)."""
        if coroutines.iscoroutine(callback) or coroutines.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        self._check_signal(sig)
        self._check_closed()
        if self._ssock is None:
            self._make_self_pipe()
        try:
            signal.set_wakeup_fd(self._csock.fileno())
        except (ValueError, OSError) as exc:
            raise RuntimeError(str(exc))
        handle = Handle(callback, args, self, None)
        handle._repeat = True
        self._signal_handlers[sig] = handle
        try:
            signal.signal(sig, _sighandler_noop)
            signal.siginterrupt(sig, False)
        except OSError as exc:
            del self._signal_handlers[sig]
            if not self._signal_handlers:
                try:
                    signal.set_wakeup_fd(-1)
                except (ValueError, OSError) as nexc:
                    logger.info("set_wakeup_fd(-1) failed: %s", nexc)
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f"sig {sig:d} cannot be caught")
            raise

    def remove_signal_handler(self, sig):
        """Removes the handler of ``sig``; whether there was one."""
        self._check_signal(sig)
        try:
            del self._signal_handlers[sig]
        except KeyError:
            return False
        handler = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        try:
            signal.signal(sig, handler)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f"sig {sig:d} cannot be caught")
            raise
        if not self._signal_handlers:
            try:
                signal.set_wakeup_fd(-1)
            except (ValueError, OSError) as exc:
                logger.info("set_wakeup_fd(-1) failed: %s", exc)
        return True
