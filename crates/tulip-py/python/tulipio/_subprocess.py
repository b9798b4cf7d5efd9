"""Pipes and subprocesses on the tulip loop: ``connect_read_pipe``,
``connect_write_pipe``, ``subprocess_exec`` and ``subprocess_shell``.

tulip's own pipe and subprocess transports do the work (reading and
writing the pipes, spawning, watching the child's exit with a pidfd or
SIGCHLD, asyncio's order of protocol calls); the classes here are their
Python faces, with asyncio's transport API and bookkeeping. So
``asyncio.create_subprocess_exec`` and ``asyncio.create_subprocess_shell``
work unchanged on a tulipio loop.

Differences from asyncio's loop: ``get_extra_info('subprocess')`` is None
(tulip starts the child, there is no ``subprocess.Popen`` object); Popen's
``preexec_fn`` and ``extra_groups`` are not supported (ValueError).
"""

import grp
import os
import pwd
import stat
import subprocess
import warnings

from asyncio import transports
from asyncio.log import logger

from ._tulipio import _connect_pipe, _spawn

__all__ = ("PipeSubprocessOps",)

_POPEN_UNSUPPORTED = ("preexec_fn", "extra_groups")


class _PipeTransport:
    """What the read and the write pipe transports share: the native
    transport, the pipe object (closed before ``connection_lost``), the
    ResourceWarning of an unclosed transport."""

    def __init__(self, loop, pipe, protocol):
        self._extra = {"pipe": pipe}
        self._loop = loop
        self._pipe = pipe
        self._protocol = protocol
        self._native = None
        self._closing = False

    def __repr__(self):
        fd = self._native.fileno() if self._native is not None else -1
        state = "closing" if self.is_closing() else "open"
        return f"<{self.__class__.__name__} fd={fd} {state}>"

    def _connection_made(self, native):
        self._native = native
        if self._closing:
            native.close()
        self._protocol.connection_made(self)

    def _connection_lost(self, exc):
        self._closing = True
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            pipe.close()
        protocol, self._protocol = self._protocol, None
        try:
            protocol.connection_lost(exc)
        finally:
            self._loop = None

    def get_protocol(self):
        """The protocol."""
        return self._protocol

    def set_protocol(self, protocol):
        """Switches to ``protocol``."""
        self._protocol = protocol

    def is_closing(self):
        """Whether ``close`` or ``abort`` was called or the pipe is closed."""
        return self._closing or (self._native is not None and self._native.is_closing())

    def close(self):
        """Closes the pipe (a write pipe after its buffered data)."""
        if self._closing:
            return
        self._closing = True
        if self._native is not None:
            self._native.close()

    def abort(self):
        """Closes the pipe at once, dropping buffered data."""
        self._closing = True
        if self._native is not None:
            self._native.abort()

    def __del__(self, _warn=warnings.warn):
        if self._pipe is not None and not self._closing:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self.close()


class _ReadPipeTransport(_PipeTransport, transports.ReadTransport):
    """The transport of ``connect_read_pipe``."""

    def is_reading(self):
        """Whether data is read (not paused, not closing)."""
        return self._native is not None and not self.is_closing() and self._native.is_reading()

    def pause_reading(self):
        """Stops reading until ``resume_reading``."""
        if self._native is not None and not self.is_closing():
            self._native.pause_reading()

    def resume_reading(self):
        """Reads again."""
        if self._native is not None and not self.is_closing():
            self._native.resume_reading()


class _WritePipeTransport(_PipeTransport, transports.WriteTransport):
    """The transport of ``connect_write_pipe``."""

    def write(self, data):
        """Writes ``data`` (bytes-like) as soon as the pipe takes it."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"data argument must be a bytes-like object, not {type(data).__name__!r}"
            )
        if self._native is None or self.is_closing():
            return
        self._native.write(data if isinstance(data, bytes) else bytes(data))

    def writelines(self, list_of_data):
        """Writes each bytes-like item of ``list_of_data``."""
        self.write(b"".join(list_of_data))

    def write_eof(self):
        """Closes the pipe after the buffered data."""
        self.close()

    def can_write_eof(self):
        """True: ``write_eof`` closes the pipe."""
        return True

    def get_write_buffer_size(self):
        """Bytes waiting to be written."""
        return self._native.get_write_buffer_size() if self._native is not None else 0

    def get_write_buffer_limits(self):
        """``(low, high)``."""
        return self._native.get_write_buffer_limits() if self._native is not None else (0, 0)

    def set_write_buffer_limits(self, high=None, low=None):
        """Sets the limits at which the protocol's writing pauses/resumes."""
        self._native.set_write_buffer_limits(high, low)


class _SubprocessPipe(transports.ReadTransport, transports.WriteTransport):
    """A pipe transport of a subprocess (``get_pipe_transport(fd)``)."""

    def __init__(self, native, fd):
        super().__init__({"fd": fd})
        self._native = native
        self._fd = fd

    def __repr__(self):
        return f"<_SubprocessPipe fd={self._fd}{' closing' if self.is_closing() else ''}>"

    def is_closing(self):
        return self._native.is_closing()

    def close(self):
        self._native.close()

    def abort(self):
        self._native.abort()

    def is_reading(self):
        return self._native.is_reading()

    def pause_reading(self):
        self._native.pause_reading()

    def resume_reading(self):
        self._native.resume_reading()

    def write(self, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"data argument must be a bytes-like object, not {type(data).__name__!r}"
            )
        self._native.write(data if isinstance(data, bytes) else bytes(data))

    def write_eof(self):
        self._native.close()

    def can_write_eof(self):
        return True

    def get_write_buffer_size(self):
        return self._native.get_write_buffer_size()

    def get_write_buffer_limits(self):
        return self._native.get_write_buffer_limits()

    def set_write_buffer_limits(self, high=None, low=None):
        self._native.set_write_buffer_limits(high, low)


class _SubprocessTransport(transports.SubprocessTransport):
    """The transport of ``subprocess_exec``/``subprocess_shell``."""

    def __init__(self, loop, protocol, argv):
        super().__init__({"subprocess": None})
        self._loop = loop
        self._protocol = protocol
        self._argv = argv
        self._native = None
        self._pid = None
        self._pipes = {}
        self._exit_waiters = []
        self._closed = False
        self._finished = False

    def __repr__(self):
        info = [self.__class__.__name__]
        if self._closed:
            info.append("closed")
        if self._pid is not None:
            info.append(f"pid={self._pid}")
        returncode = self.get_returncode()
        if returncode is not None:
            info.append(f"returncode={returncode}")
        elif self._pid is not None:
            info.append("running")
        return "<{}>".format(" ".join(info))

    # tulip's calls, in asyncio's order

    def _connection_made(self, native):
        self._native = native
        self._pid = native.get_pid()
        self._protocol.connection_made(self)

    def _process_exited(self):
        if self._loop.get_debug():
            logger.info("%r exited with return code %r", self, self.get_returncode())
        try:
            self._protocol.process_exited()
        finally:
            returncode = self.get_returncode()
            for waiter in self._exit_waiters:
                if not waiter.cancelled():
                    waiter.set_result(returncode)
            self._exit_waiters = None

    def _connection_lost(self, exc):
        self._finished = True
        protocol, self._protocol = self._protocol, None
        protocol.connection_lost(exc)

    async def _wait(self):
        """The return code, once the child exited (asyncio's private
        coroutine that ``Process.wait`` awaits)."""
        returncode = self.get_returncode()
        if returncode is not None:
            return returncode
        waiter = self._loop.create_future()
        self._exit_waiters.append(waiter)
        return await waiter

    # asyncio's SubprocessTransport API

    def get_protocol(self):
        return self._protocol

    def set_protocol(self, protocol):
        self._protocol = protocol

    def get_pid(self):
        """The child's pid."""
        return self._pid

    def get_returncode(self):
        """The return code once the child exited (-N: killed by signal N)."""
        return self._native.get_returncode() if self._native is not None else None

    def get_pipe_transport(self, fd):
        """The transport of the child's pipe ``fd`` (0, 1 or 2), or None."""
        pipe = self._pipes.get(fd)
        if pipe is None and self._native is not None:
            native = self._native.get_pipe_transport(fd)
            if native is not None:
                pipe = self._pipes[fd] = _SubprocessPipe(native, fd)
        return pipe

    def _check_proc(self):
        if self._finished or self._native is None:
            raise ProcessLookupError()

    def send_signal(self, signal):
        """Sends ``signal`` to the child (nothing once it exited, as Popen)."""
        self._check_proc()
        if self.get_returncode() is not None:
            return
        try:
            self._native.send_signal(signal)
        except ProcessLookupError:
            pass  # it exited meanwhile

    def terminate(self):
        """SIGTERM to the child."""
        self.send_signal(15)

    def kill(self):
        """SIGKILL to the child."""
        self.send_signal(9)

    def is_closing(self):
        return self._closed

    def close(self):
        """Kills the child if it still runs and closes its pipes."""
        if self._closed:
            return
        self._closed = True
        if self._native is not None:
            if self.get_returncode() is None and self._loop.get_debug():
                logger.warning("Close running child process: kill %r", self)
            self._native.close()

    def __del__(self, _warn=warnings.warn):
        if not self._closed:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            if self._native is not None:
                self._native.close()


def _check_pipe(pipe):
    fd = pipe.fileno()
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
        raise ValueError("Pipe transport is for pipes/sockets only.")
    os.set_blocking(fd, False)
    return fd


def _stdio(value, name):
    if value is None or isinstance(value, int):
        return value
    try:
        return value.fileno()
    except AttributeError:
        raise TypeError(f"{name} must be PIPE, DEVNULL, STDOUT, None, a descriptor "
                        f"or a file object, not {value!r}") from None


def _uid(user):
    return user if isinstance(user, int) else pwd.getpwnam(user).pw_uid


def _gid(group):
    return group if isinstance(group, int) else grp.getgrnam(group).gr_gid


def _check_text_mode(universal_newlines, bufsize, text, encoding, errors):
    if universal_newlines:
        raise ValueError("universal_newlines must be False")
    if bufsize != 0:
        raise ValueError("bufsize must be 0")
    if text:
        raise ValueError("text must be False")
    if encoding is not None:
        raise ValueError("encoding must be None")
    if errors is not None:
        raise ValueError("errors must be None")


def _spawn_args(argv, stdin, stdout, stderr, *, executable=None, cwd=None, env=None,
                start_new_session=False, process_group=None, pass_fds=(), umask=-1,
                user=None, group=None, close_fds=True, restore_signals=True,
                pipesize=-1, startupinfo=None, creationflags=0, **unknown):
    """Popen's keyword arguments, checked, as ``_spawn`` takes them."""
    for name in _POPEN_UNSUPPORTED:
        if unknown.pop(name, None) is not None:
            raise ValueError(f"tulipio does not support Popen's {name}= (the child is "
                             "started by tulip, not by subprocess.Popen)")
    if unknown:
        raise TypeError(f"unexpected keyword argument {sorted(unknown)[0]!r}")
    if startupinfo is not None or creationflags != 0:
        raise ValueError("startupinfo and creationflags are only supported on Windows platforms")
    if pipesize != -1:
        raise ValueError("tulipio does not support Popen's pipesize=")
    del close_fds, restore_signals  # tulip's children get neither extra fds nor Python's signal dispositions
    if env is not None:
        env = [(os.fsencode(k), os.fsencode(v)) for k, v in env.items()]
    return {
        "argv": [os.fsencode(a) for a in argv],
        "executable": None if executable is None else os.fsencode(executable),
        "stdin": _stdio(stdin, "stdin"),
        "stdout": _stdio(stdout, "stdout"),
        "stderr": _stdio(stderr, "stderr"),
        "cwd": None if cwd is None else os.fsencode(cwd),
        "env": env,
        "start_new_session": bool(start_new_session),
        "process_group": process_group,
        "pass_fds": [int(fd) for fd in pass_fds],
        "umask": -1 if umask is None else int(umask),
        "uid": None if user is None else _uid(user),
        "gid": None if group is None else _gid(group),
    }


class PipeSubprocessOps:
    """The loop's pipe and subprocess methods (a mixin of ``tulipio.Loop``)."""

    async def _connect_pipe(self, transport_class, protocol_factory, pipe, write):
        fd = _check_pipe(pipe)
        protocol = protocol_factory()
        transport = transport_class(self, pipe, protocol)
        waiter = self.create_future()
        try:
            _connect_pipe(fd, write, transport, waiter)
            await waiter
        except BaseException:
            transport.close()
            raise
        return transport, protocol

    async def connect_read_pipe(self, protocol_factory, pipe):
        """Reads the pipe object ``pipe`` through a protocol made by
        ``protocol_factory``; returns ``(transport, protocol)``."""
        return await self._connect_pipe(_ReadPipeTransport, protocol_factory, pipe, False)

    async def connect_write_pipe(self, protocol_factory, pipe):
        """Writes the pipe object ``pipe`` through a transport; returns
        ``(transport, protocol)``."""
        return await self._connect_pipe(_WritePipeTransport, protocol_factory, pipe, True)

    async def _start_subprocess(self, protocol_factory, argv, stdin, stdout, stderr, kwargs):
        args = _spawn_args(argv, stdin, stdout, stderr, **kwargs)
        protocol = protocol_factory()
        transport = _SubprocessTransport(self, protocol, argv)
        waiter = self.create_future()
        try:
            _spawn(args, transport, waiter)
            await waiter
        except OSError as exc:
            transport._closed = True
            if exc.filename is None and isinstance(exc, FileNotFoundError):
                exc.filename = kwargs.get("executable") or argv[0]
            raise
        except BaseException:
            transport._closed = True
            raise
        if self.get_debug():
            logger.info("%r started", transport)
        return transport, protocol

    async def subprocess_shell(self, protocol_factory, cmd, *, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=False, shell=True, bufsize=0,
                               encoding=None, errors=None, text=None, **kwargs):
        """Runs ``cmd`` with ``/bin/sh -c``; returns ``(transport, protocol)``."""
        if not isinstance(cmd, (bytes, str)):
            raise ValueError("cmd must be a string")
        if not shell:
            raise ValueError("shell must be True")
        _check_text_mode(universal_newlines, bufsize, text, encoding, errors)
        argv = ["/bin/sh", "-c", cmd]
        return await self._start_subprocess(protocol_factory, argv, stdin, stdout, stderr, kwargs)

    async def subprocess_exec(self, protocol_factory, program, *args, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=False, shell=False, bufsize=0,
                              encoding=None, errors=None, text=None, **kwargs):
        """Runs ``program`` with ``args``; returns ``(transport, protocol)``."""
        if shell:
            raise ValueError("shell must be False")
        _check_text_mode(universal_newlines, bufsize, text, encoding, errors)
        argv = [program, *args]
        return await self._start_subprocess(protocol_factory, argv, stdin, stdout, stderr, kwargs)
