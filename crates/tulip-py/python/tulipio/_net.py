"""Networking on the tulip loop: ``create_connection``, ``create_server``,
the Unix socket and datagram endpoints, ``connect_accepted_socket``,
``sendfile`` and ``start_tls`` (the ``NetOps`` mixin of ``tulipio.Loop``).

Stream connections run on tulip's own socket transport (Rust): tulip owns
the connected descriptor, reads it and calls the Python protocol
(``_tulipio._start_stream``); ``_SocketTransport`` is the Python face of
that transport with asyncio's whole transport API. A TCP server accepts
natively (``_tulipio._accept``): no Python socket per connection, the
descriptor goes to tulip as it is, and the socket object of
``get_extra_info('socket')`` is made only when asked. How a connection is
set up (name resolution, Happy Eyeballs, option checks, the ``Server``
object) is asyncio's own code of the running Python, bound to this loop,
so its behaviour and messages are the running CPython version's; TLS is
asyncio's ``sslproto.SSLProtocol`` over the plain tulip transport, as
CPython and uvloop layer it.
"""

import _socket
import errno
import io
import os
import socket
import struct
import sys
import warnings

from asyncio import base_events, constants, exceptions, futures, protocols, sslproto, transports, trsock
from asyncio import unix_events
from asyncio.log import logger

from ._tulipio import _DatagramTransport as _NativeDatagram
from ._tulipio import _AcceptedSocket, _StreamTransport, _accept, _forward_reports
from ._tulipio import _start_datagram, _start_stream

__all__ = ("NetOps",)

# 3.13's Server tracks its clients (close_clients/abort_clients):
# _attach/_detach take the transport there.
_SERVER_TAKES_TRANSPORT = hasattr(base_events.Server, "close_clients")
_BaseLoopImpl = base_events.BaseEventLoop
_UnixImpl = unix_events._UnixSelectorEventLoop


def _resolve_waiter(waiter, result, exc):
    """Called by the native side when an operation it ran for an asyncio
    future ended: with ``result``, or with ``exc`` if not None."""
    if waiter.cancelled():
        return
    if exc is None:
        waiter.set_result(result)
    else:
        waiter.set_exception(exc)


def _reports_forwarded(loop):
    """Once per loop: the tulip loop's own reports (a transport's fatal
    read or write error) go to this loop's exception handler."""
    if "_reports_forwarded" not in loop.__dict__:
        _forward_reports(loop)
        loop.__dict__["_reports_forwarded"] = True


_LINGER_OFF = struct.pack("ii", 0, 0)


def _plain_close(sock):
    """Undoes the ``SO_LINGER`` zero tulip's ``abort`` sets (a reset): on
    the tulip loop an aborted connection closes as asyncio's does, with a
    FIN. This copy of the socket is its last descriptor, so its close is
    the one the peer sees."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_OFF)
        except OSError:
            pass


# The extra info a natively accepted connection makes only when asked.
_LAZY_EXTRA = frozenset(("socket", "sockname"))


class _NativeTransport:
    """What asyncio's stream and datagram transports on tulip share: the
    native transport's reports to the protocol and the loop's exception
    handler, closing and aborting, and the write buffer's limits (as
    uvloop's ``UVBaseTransport`` and asyncio's ``_SelectorTransport``
    hold what every transport shares)."""

    def _describe(self, sock):
        """The socket's extra info: the socket itself and its addresses."""
        self._extra["socket"] = trsock.TransportSocket(sock)
        try:
            self._extra["sockname"] = sock.getsockname()
        except OSError:
            self._extra["sockname"] = None
        if "peername" not in self._extra:
            try:
                self._extra["peername"] = sock.getpeername()
            except OSError:
                self._extra["peername"] = None

    def _connection_made(self):
        try:
            self._protocol.connection_made(self)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler({
                "message": f"Exception in callback {self._protocol!r}.connection_made()",
                "exception": exc,
                "transport": self,
                "protocol": self._protocol,
            })

    def _pause_writing(self):
        self._protocol_paused = True
        self._call_flow("pause_writing")

    def _resume_writing(self):
        self._protocol_paused = False
        self._call_flow("resume_writing")

    def _call_flow(self, name):
        try:
            getattr(self._protocol, name)()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler({
                "message": f"protocol.{name}() failed",
                "exception": exc,
                "transport": self,
                "protocol": self._protocol,
            })

    def _report(self, exc, message):
        self._loop.call_exception_handler({
            "message": message, "exception": exc,
            "transport": self, "protocol": self._protocol,
        })

    def _fatal_error(self, exc, message="Fatal error on transport"):
        if isinstance(exc, OSError):
            if self._loop.get_debug():
                logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self._report(exc, message)
        self._force_close(exc)

    def get_protocol(self):
        return self._protocol

    def close(self):
        if self._closed:
            return
        self._closed = True
        self._native.close()

    def abort(self):
        self._force_close(None)

    def set_write_buffer_limits(self, high=None, low=None):
        if high is None:
            high = 64 * 1024 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._native.set_write_buffer_limits(high, low)

    def get_write_buffer_limits(self):
        return self._native.get_write_buffer_limits()


class _SocketTransport(_NativeTransport, transports._FlowControlMixin):
    """A stream socket transport running on tulip (asyncio's transport API).

    ``sock`` is a Python socket (tulip runs the transport on a duplicate of
    its descriptor; the socket is closed at the end), or an
    ``_AcceptedSocket`` from the server's native accept, whose descriptor
    tulip takes as it is: the Python socket of ``get_extra_info('socket')``
    and ``'sockname'`` is then made (from a duplicate) only when asked."""

    _start_tls_compatible = True
    _sendfile_compatible = constants._SendfileMode.TRY_NATIVE

    def __init__(self, loop, sock, protocol, waiter=None, extra=None, server=None):
        # _FlowControlMixin: asyncio's sendfile fallback requires it; the
        # water marks themselves are the native transport's.
        super().__init__(extra, loop)
        accepted = None
        if type(sock) is _AcceptedSocket:
            accepted, sock = sock, None
            self._fd = accepted.fileno()
            self._kind = (accepted.family, accepted.proto)
        else:
            self._fd = sock.fileno()
            self._describe(sock)
        self._lazy = accepted is not None
        self._loop = loop
        self._sock = sock
        self._protocol = protocol
        self._server = server
        self._closed = False
        self._lost = False
        self._lost_exc = None
        self._aborted = False
        self._protocol_paused = False
        native = self._native = _StreamTransport()
        # The hot calls go straight to the native transport.
        self.write = native.write
        self.get_write_buffer_size = native.get_write_buffer_size
        if server is not None:
            if _SERVER_TAKES_TRANSPORT:
                server._attach(self)
            else:
                server._attach()
        _reports_forwarded(loop)
        fd = None
        try:
            fd = os.dup(self._fd) if accepted is None else accepted.detach()
            _start_stream(
                loop, fd, self, native, protocol,
                isinstance(protocol, protocols.BufferedProtocol), waiter,
            )
        except BaseException:
            if fd is not None:
                os.close(fd)
            self._detach_server()
            raise

    def get_extra_info(self, name, default=None):
        if self._lazy and name in _LAZY_EXTRA:
            self._make_socket()
        return self._extra.get(name, default)

    def _make_socket(self):
        """The Python socket of a natively accepted connection, made from
        a duplicate of tulip's descriptor (None before connection_made
        and once the socket is closed)."""
        self._lazy = False
        fd = self._native._dup()
        if fd is None:
            self._extra.setdefault("socket", None)
            self._extra.setdefault("sockname", None)
            return
        family, proto = self._kind
        try:
            sock = socket.socket(family, socket.SOCK_STREAM, proto, fd)
        except BaseException:
            os.close(fd)
            raise
        self._sock = sock
        self._describe(sock)

    def __repr__(self):
        info = [self.__class__.__name__]
        if self._lost:
            info.append("closed")
        elif self.is_closing():
            info.append("closing")
        if not self._lost:
            info.append(f"fd={self._fd}")
        return "<{}>".format(" ".join(info))

    def __del__(self, _warn=warnings.warn):
        if not getattr(self, "_lost", True) and not self._closed:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)

    # -------------------------------------------------- the native side calls

    def _connection_lost(self, exc):
        if self._lost:
            return
        self._lost = True
        self._closed = True
        if self._lost_exc is not None:
            exc = self._lost_exc
            self._lost_exc = None
        protocol = self._protocol
        try:
            protocol.connection_lost(exc)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as err:
            self._loop.call_exception_handler({
                "message": f"Exception in callback {protocol!r}.connection_lost()",
                "exception": err,
                "transport": self,
                "protocol": protocol,
            })
        finally:
            sock, self._sock = self._sock, None
            if sock is not None:
                if self._aborted:
                    _plain_close(sock)
                sock.close()
            self._protocol = None
            self._detach_server()

    def _detach_server(self):
        server, self._server = self._server, None
        if server is not None:
            if _SERVER_TAKES_TRANSPORT:
                server._detach(self)
            else:
                server._detach()

    def _force_close(self, exc):
        if self._lost:
            return
        self._lost_exc = exc
        self._closed = True
        self._aborted = True
        if self._lazy:
            # A copy of the descriptor outlives tulip's: its close, after
            # _plain_close, is the FIN asyncio's abort sends.
            self._make_socket()
        self._native.abort()

    # ------------------------------------------------------ asyncio's API

    def set_protocol(self, protocol):
        self._protocol = protocol
        self._native._set_protocol(self, protocol, isinstance(protocol, protocols.BufferedProtocol))

    def is_closing(self):
        return self._closed or self._native.is_closing()

    def writelines(self, list_of_data):
        self._native.write(b"".join(list_of_data))

    def write_eof(self):
        if self._closed:
            return
        self._native.write_eof()

    def can_write_eof(self):
        return True

    def is_reading(self):
        return not self._closed and self._native.is_reading()

    def pause_reading(self):
        if not self._closed:
            self._native.pause_reading()

    def resume_reading(self):
        if not self._closed:
            self._native.resume_reading()


class _DatagramTransport(_NativeTransport, transports.Transport, transports.DatagramTransport):
    """A datagram socket transport running on tulip (asyncio's API)."""

    def __init__(self, loop, sock, protocol, address=None, waiter=None, extra=None):
        super().__init__(extra)
        self._describe(sock)
        self._loop = loop
        self._sock = sock
        self._protocol = protocol
        self._address = address
        self._closed = False
        self._lost = False
        self._lost_exc = None
        self._protocol_paused = False
        self._native = _NativeDatagram()
        if waiter is None:
            waiter = loop.create_future()
        _reports_forwarded(loop)
        fd = os.dup(sock.fileno())
        try:
            _start_datagram(loop, fd, self, self._native, protocol, waiter)
        except BaseException:
            os.close(fd)
            raise

    def __repr__(self):
        state = "closed" if self._sock is None else ("closing" if self._closed else "open")
        return f"<_DatagramTransport {state}>"

    def __del__(self, _warn=warnings.warn):
        if getattr(self, "_sock", None) is not None and not self._closed:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)

    def _connection_lost(self, exc):
        if self._lost:
            return
        self._lost = True
        self._closed = True
        if self._lost_exc is not None:
            exc, self._lost_exc = self._lost_exc, None
        protocol = self._protocol
        try:
            protocol.connection_lost(exc)
        finally:
            sock, self._sock = self._sock, None
            if sock is not None:
                sock.close()
            self._protocol = None

    def _force_close(self, exc):
        if self._lost:
            return
        self._lost_exc = exc
        self._closed = True
        self._native.abort()

    def set_protocol(self, protocol):
        self._protocol = protocol
        self._native._set_protocol(self, protocol)

    def is_closing(self):
        return self._closed

    def get_write_buffer_size(self):
        return self._native.get_write_buffer_size()

    def sendto(self, data, addr=None):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"data argument must be a bytes-like object, not {type(data).__name__!r}"
            )
        if not data and sys.version_info < (3, 12):
            return  # 3.11 drops empty datagrams; 3.12 sends them
        if self._address:
            if addr not in (None, self._address):
                raise ValueError(f"Invalid address: must be None or {self._address}")
            addr = None
        elif addr is not None:
            addr = self._numeric(addr)
        self._native.sendto(data, addr)

    def _numeric(self, addr):
        """``addr`` with a numeric host (a name is resolved, as
        ``socket.sendto`` would)."""
        if not isinstance(addr, tuple) or len(addr) < 2:
            return addr
        host = addr[0]
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
            return addr
        except (OSError, TypeError):
            pass
        infos = socket.getaddrinfo(host, addr[1], self._sock.family, socket.SOCK_DGRAM)
        return infos[0][4]


# The listening sockets whose connections ``_accept`` takes, and their
# family as a plain number (``socket.family`` makes an enum member).
_family = _socket.socket.family.__get__
_NATIVE_ACCEPT = (socket.AF_INET, socket.AF_INET6)


def _report_accept_failure(loop, exc, sock):
    loop.call_exception_handler({
        "message": "socket.accept() out of system resource",
        "exception": exc,
        "socket": trsock.TransportSocket(sock),
    })


class NetOps:
    """The networking methods of ``tulipio.Loop``."""

    @property
    def _debug(self):
        return self.get_debug()

    # asyncio's connection set-up, bound to this loop.
    create_connection = _BaseLoopImpl.create_connection
    _connect_sock = _BaseLoopImpl._connect_sock
    _ensure_resolved = _BaseLoopImpl._ensure_resolved
    _create_connection_transport = _BaseLoopImpl._create_connection_transport
    create_server = _BaseLoopImpl.create_server
    connect_accepted_socket = _BaseLoopImpl.connect_accepted_socket
    create_datagram_endpoint = _BaseLoopImpl.create_datagram_endpoint
    sendfile = _BaseLoopImpl.sendfile
    _sendfile_fallback = _BaseLoopImpl._sendfile_fallback
    start_tls = _BaseLoopImpl.start_tls
    create_unix_connection = _UnixImpl.create_unix_connection
    # 3.13's removes the socket file when the server closes (its
    # bookkeeping is _unix_server_sockets, read by _stop_serving); 3.11's
    # and 3.12's leave it, and so does tulipio there.
    create_unix_server = _UnixImpl.create_unix_server
    if hasattr(_BaseLoopImpl, "_create_server_getaddrinfo"):
        _create_server_getaddrinfo = _BaseLoopImpl._create_server_getaddrinfo
    if hasattr(_BaseLoopImpl, "_getaddrinfo_debug"):
        _getaddrinfo_debug = _BaseLoopImpl._getaddrinfo_debug

    async def _sendfile_native(self, transp, file, offset, count):
        """``sendfile(2)`` on tulip's transport (asyncio's native path)."""
        if not isinstance(transp, _SocketTransport):
            raise exceptions.SendfileNotAvailableError(
                f"native sendfile is not supported for transport {transp!r}"
            )
        try:
            fileno = file.fileno()
        except (AttributeError, io.UnsupportedOperation) as err:
            raise exceptions.SendfileNotAvailableError("not a regular file") from err
        try:
            size = os.fstat(fileno).st_size
        except OSError:
            raise exceptions.SendfileNotAvailableError("not a regular file")
        if count is None and offset >= size:
            return 0
        waiter = self.create_future()
        fd = os.dup(fileno)
        try:
            transp._native._sendfile(self, fd, offset, count, waiter)
        except BaseException:
            os.close(fd)
            raise
        try:
            return await waiter
        except ConnectionError as exc:
            # The peer is gone mid-file: the connection is unusable.
            transp._force_close(exc)
            raise

    def _make_socket_transport(self, sock, protocol, waiter=None, *, extra=None, server=None):
        return _SocketTransport(self, sock, protocol, waiter, extra, server)

    def _make_ssl_transport(
        self, rawsock, protocol, sslcontext, waiter=None, *, server_side=False,
        server_hostname=None, extra=None, server=None,
        ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
        ssl_shutdown_timeout=constants.SSL_SHUTDOWN_TIMEOUT, call_connection_made=True,
    ):
        ssl_protocol = sslproto.SSLProtocol(
            self, protocol, sslcontext, waiter, server_side, server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
            call_connection_made=call_connection_made,
        )
        _SocketTransport(self, rawsock, ssl_protocol, extra=extra, server=server)
        return ssl_protocol._app_transport

    def _make_datagram_transport(self, sock, protocol, address=None, waiter=None, extra=None):
        return _DatagramTransport(self, sock, protocol, address, waiter, extra)

    # ---------------------------------------------------------- serving

    @property
    def _unix_server_sockets(self):
        """Listening Unix sockets to unlink at close: socket -> inode of
        its path (asyncio 3.13's bookkeeping, which its
        ``create_unix_server`` fills)."""
        try:
            return self.__dict__["_unix_paths"]
        except KeyError:
            paths = self.__dict__["_unix_paths"] = {}
            return paths

    def _stop_serving(self, sock):
        """Stops watching a listening socket and closes it; a Unix
        socket's file is removed if it is still the one the server made."""
        path = None
        if sock in self._unix_server_sockets:
            path = sock.getsockname()
        self.remove_reader(sock.fileno())
        sock.close()
        if path is None:
            return
        inode = self._unix_server_sockets.pop(sock)
        try:
            if os.stat(path).st_ino == inode:
                os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as err:
            logger.error("Unable to clean up listening UNIX socket %r: %r", path, err)

    def _start_serving(
        self, protocol_factory, sock, sslcontext=None, server=None, backlog=100,
        ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
        ssl_shutdown_timeout=constants.SSL_SHUTDOWN_TIMEOUT,
    ):
        self.add_reader(
            sock.fileno(), self._accept_connection, protocol_factory, sock, sslcontext,
            server, backlog, ssl_handshake_timeout, ssl_shutdown_timeout,
        )

    def _accept_connection(
        self, protocol_factory, sock, sslcontext=None, server=None, backlog=100,
        ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
        ssl_shutdown_timeout=constants.SSL_SHUTDOWN_TIMEOUT,
    ):
        # TCP: accepted natively (no Python socket per connection); other
        # families (Unix) by the socket, whose accept formats their names.
        native = isinstance(sock, _socket.socket) and _family(sock) in _NATIVE_ACCEPT
        fd, proto = sock.fileno(), sock.proto
        for _ in range(backlog):
            try:
                if native:
                    accepted = _accept(fd, proto)
                    if accepted is None:
                        return
                    conn, addr = accepted
                else:
                    conn, addr = sock.accept()
                    conn.setblocking(False)
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    _report_accept_failure(self, exc, sock)
                    self.remove_reader(sock.fileno())
                    self.call_later(
                        constants.ACCEPT_RETRY_DELAY, self._start_serving, protocol_factory,
                        sock, sslcontext, server, backlog, ssl_handshake_timeout,
                        ssl_shutdown_timeout,
                    )
                    return
                raise
            self._accept_one(
                protocol_factory, conn, {"peername": addr}, sslcontext, server,
                ssl_handshake_timeout, ssl_shutdown_timeout,
            )

    def _accept_one(
        self, protocol_factory, conn, extra, sslcontext, server,
        ssl_handshake_timeout, ssl_shutdown_timeout,
    ):
        try:
            protocol = protocol_factory()
            if sslcontext:
                waiter = self.create_future()
                transport = self._make_ssl_transport(
                    conn, protocol, sslcontext, waiter=waiter, server_side=True,
                    extra=extra, server=server, ssl_handshake_timeout=ssl_handshake_timeout,
                    ssl_shutdown_timeout=ssl_shutdown_timeout,
                )
                waiter.add_done_callback(
                    lambda fut: self._accepted_tls(fut, transport, protocol)
                )
            else:
                self._make_socket_transport(conn, protocol, extra=extra, server=server)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            conn.close()
            if self.get_debug():
                self.call_exception_handler({
                    "message": "Error on transport creation for incoming connection",
                    "exception": exc,
                })

    def _accepted_tls(self, fut, transport, protocol):
        if fut.cancelled():
            transport.close()
            return
        exc = fut.exception()
        if exc is not None:
            transport.close()
            if self.get_debug():
                self.call_exception_handler({
                    "message": "Error on transport creation for incoming connection",
                    "exception": exc,
                    "protocol": protocol,
                    "transport": transport,
                })
