"""The ``sock_*`` coroutines of the tulipio loop, asyncio's low-level
socket operations: each tries the non-blocking call, and while it would
block waits for the descriptor with ``add_reader``/``add_writer`` (as
asyncio's selector loop does).
"""

import asyncio
import errno
import os
import socket

__all__ = ("SockOps",)


def _is_ip_literal(family, host):
    """Whether ``host`` is already an address of ``family`` (no lookup:
    ``sock_connect`` then connects at once, as asyncio's does)."""
    if not isinstance(host, str):
        return False
    try:
        socket.inet_pton(family, host.partition("%")[0])
    except (OSError, ValueError):
        return False
    return True



class SockOps:
    """``sock_recv``, ``sock_sendall``, ``sock_connect``, ... for a loop
    with ``_watch``/``_unwatch`` (``tulipio.Loop``)."""

    def _check_sock(self, sock):
        if hasattr(sock, "do_handshake") and hasattr(sock, "context"):
            raise TypeError("Socket cannot be of type SSLSocket")
        if self.get_debug() and sock.gettimeout() != 0:
            raise ValueError("the socket must be non-blocking")

    async def _wait_fd(self, fd, reader):
        """Waits until ``fd`` is readable (or writable)."""
        fut = self.create_future()

        def ready():
            if not fut.done():
                fut.set_result(None)

        handle = self._watch(fd, ready, (), reader)
        try:
            await fut
        finally:
            # Another operation may have taken the descriptor over (its
            # watch cancelled ours): leave its watch alone.
            if not handle.cancelled():
                self._unwatch(fd, reader)

    async def _sock_op(self, sock, reader, op, *args):
        """Runs the non-blocking ``sock.<op>(*args)`` until it does not
        block (the method looked up on each try, as asyncio does)."""
        self._check_sock(sock)
        while True:
            try:
                return getattr(sock, op)(*args)
            except (BlockingIOError, InterruptedError):
                pass
            await self._wait_fd(sock.fileno(), reader)

    async def sock_recv(self, sock, n):
        """Receives up to ``n`` bytes from ``sock``."""
        return await self._sock_op(sock, True, "recv", n)

    async def sock_recv_into(self, sock, buf):
        """Receives into ``buf``; returns the number of bytes."""
        return await self._sock_op(sock, True, "recv_into", buf)

    async def sock_recvfrom(self, sock, bufsize):
        """Receives a datagram of up to ``bufsize`` bytes: ``(data, address)``."""
        return await self._sock_op(sock, True, "recvfrom", bufsize)

    async def sock_recvfrom_into(self, sock, buf, nbytes=0):
        """Receives a datagram into ``buf``: ``(nbytes, address)``."""
        if not nbytes:
            nbytes = len(buf)
        return await self._sock_op(sock, True, "recvfrom_into", buf, nbytes)

    async def sock_sendto(self, sock, data, address):
        """Sends the datagram ``data`` to ``address``."""
        return await self._sock_op(sock, False, "sendto", data, address)

    async def sock_sendall(self, sock, data):
        """Sends all of ``data`` on ``sock``."""
        self._check_sock(sock)
        view = memoryview(data).cast("B")
        total = len(view)
        sent = 0
        while sent < total:
            try:
                sent += sock.send(view[sent:])
                continue
            except (BlockingIOError, InterruptedError):
                pass
            await self._wait_fd(sock.fileno(), False)

    async def sock_connect(self, sock, address):
        """Connects ``sock`` to ``address`` (resolved first if needed)."""
        self._check_sock(sock)
        if sock.family == socket.AF_INET or (
            hasattr(socket, "AF_INET6") and sock.family == socket.AF_INET6
        ):
            host, port = address[:2]
            if _is_ip_literal(sock.family, host) and isinstance(port, int):
                infos = [(sock.family, sock.type, sock.proto, "", address)]
            else:
                infos = await self.getaddrinfo(
                    host, port, family=sock.family, type=sock.type, proto=sock.proto
                )
                if not infos:
                    raise OSError(f"getaddrinfo({host!r}) returned empty list")
            address = infos[0][4]
        try:
            sock.connect(address)
            return
        except (BlockingIOError, InterruptedError):
            pass
        await self._wait_fd(sock.fileno(), False)
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err != 0:
            raise OSError(err, f"Connect call failed {address}")

    async def sock_accept(self, sock):
        """Accepts a connection: ``(conn, address)``, ``conn`` non-blocking."""
        conn, address = await self._sock_op(sock, True, "accept")
        conn.setblocking(False)
        return conn, address

    async def sock_sendfile(self, sock, file, offset=0, count=None, *, fallback=True):
        """Sends ``file`` on ``sock`` with ``os.sendfile`` (or, with
        ``fallback``, by reading and sending); returns the bytes sent."""
        self._check_sock(sock)
        if sock.type != socket.SOCK_STREAM:
            raise ValueError("only SOCK_STREAM type sockets are supported")
        if "b" not in getattr(file, "mode", "b"):
            raise ValueError("file should be opened in binary mode")
        if not isinstance(offset, int):
            raise TypeError(f"offset must be a non-negative integer (got {offset!r})")
        if offset < 0:
            raise ValueError(f"offset must be a non-negative integer (got {offset!r})")
        if count is not None:
            if not isinstance(count, int):
                raise TypeError(f"count must be a positive integer (got {count!r})")
            if count <= 0:
                raise ValueError(f"count must be a positive integer (got {count!r})")
        try:
            return await self._sock_sendfile_native(sock, file, offset, count)
        except asyncio.SendfileNotAvailableError:
            if not fallback:
                raise
        return await self._sock_sendfile_fallback(sock, file, offset, count)

    async def _sock_sendfile_native(self, sock, file, offset, count):
        try:
            fileno = file.fileno()
        except (AttributeError, OSError, ValueError):
            raise asyncio.SendfileNotAvailableError("not a regular file")
        try:
            fsize = os.fstat(fileno).st_size
        except OSError:
            raise asyncio.SendfileNotAvailableError("not a regular file")
        blocksize = count if count else fsize
        if not blocksize:
            return 0
        total = 0
        position = offset
        while count is None or total < count:
            want = min(blocksize - total, 2**30) if count else 2**30
            if want <= 0:
                break
            try:
                sent = os.sendfile(sock.fileno(), fileno, position, want)
            except (BlockingIOError, InterruptedError):
                await self._wait_fd(sock.fileno(), False)
                continue
            except OSError as exc:
                if total == 0 and exc.errno in (errno.ENOTSOCK, errno.ENOTSUP, errno.EINVAL):
                    raise asyncio.SendfileNotAvailableError("os.sendfile() is not available")
                raise
            if sent == 0:
                break
            total += sent
            position += sent
        if total > 0:
            file.seek(offset + total)
        return total

    async def _sock_sendfile_fallback(self, sock, file, offset, count):
        if offset:
            file.seek(offset)
        blocksize = min(count, 16384) if count else 16384
        buf = bytearray(blocksize)
        total = 0
        try:
            while True:
                if count:
                    blocksize = min(count - total, blocksize)
                    if blocksize <= 0:
                        break
                view = memoryview(buf)[:blocksize]
                read = await self.run_in_executor(None, file.readinto, view)
                if not read:
                    break
                await self.sock_sendall(sock, view[:read])
                total += read
            return total
        finally:
            if total > 0 and hasattr(file, "seek"):
                file.seek(offset + total)
