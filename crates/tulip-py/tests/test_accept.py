"""The server accept path on the tulip loop: connections a TCP server
accepts natively (no Python socket per connection) keep asyncio's extra
info, abort and back-off behaviour, on the real OS (127.0.0.1 and ::1).
"""

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
import unittest

import tulipio
from test_net import NetTestCase


def has_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class Made(asyncio.Protocol):
    """Resolves ``made`` with the transport; records data and the loss."""

    def __init__(self, loop):
        self.made = loop.create_future()
        self.lost = loop.create_future()
        self.data = bytearray()

    def connection_made(self, transport):
        self.made.set_result(transport)

    def data_received(self, data):
        self.data += data

    def connection_lost(self, exc):
        if not self.lost.done():
            self.lost.set_result(exc)


class AcceptTests(NetTestCase):
    def check_extra_info(self, host, family):
        async def main():
            proto = Made(self.loop)
            server = await self.loop.create_server(lambda: proto, host, 0)
            self.addCleanup(server.close)
            address = server.sockets[0].getsockname()
            client = socket.socket(family, socket.SOCK_STREAM)
            self.addCleanup(client.close)
            client.setblocking(False)
            await self.loop.sock_connect(client, address)
            transport = await proto.made
            # The peer as socket.accept() gives it, the local end as the
            # socket names it, and a socket object for it.
            self.assertEqual(transport.get_extra_info("peername"), client.getsockname())
            self.assertEqual(transport.get_extra_info("sockname"), client.getpeername())
            sock = transport.get_extra_info("socket")
            self.assertEqual(sock.family, family)
            self.assertEqual(sock.type, socket.SOCK_STREAM)
            # Its protocol number is the listener's, as socket.accept() gives.
            self.assertEqual(sock.proto, server.sockets[0].proto)
            self.assertEqual(sock.getpeername(), client.getsockname())
            self.assertIs(transport.get_extra_info("socket"), sock)
            self.assertIsNone(transport.get_extra_info("no such thing"))
            self.assertEqual(transport.get_extra_info("no such thing", 7), 7)
            self.assertIn("fd=", repr(transport))
            # The connection itself works both ways.
            await self.loop.sock_sendall(client, b"ping")
            while bytes(proto.data) != b"ping":
                await asyncio.sleep(0.01)
            transport.write(b"pong")
            self.assertEqual(await self.loop.sock_recv(client, 10), b"pong")
            transport.close()
            self.assertIsNone(await proto.lost)
            self.assertIn("closed", repr(transport))
            self.assertEqual(await self.loop.sock_recv(client, 10), b"")

        self.run_coro(main())
        self.assertEqual(self.errors, [])

    def test_extra_info_of_an_accepted_ipv4_connection(self):
        self.check_extra_info("127.0.0.1", socket.AF_INET)

    @unittest.skipUnless(has_ipv6(), "no IPv6 loopback on this machine")
    def test_extra_info_of_an_accepted_ipv6_connection(self):
        self.check_extra_info("::1", socket.AF_INET6)

    def test_extra_info_asked_only_after_the_close(self):
        # Never asked while open: the socket is gone with the connection,
        # the peer (from accept) stays.
        async def main():
            proto = Made(self.loop)
            server = await self.loop.create_server(lambda: proto, "127.0.0.1", 0)
            self.addCleanup(server.close)
            client = socket.create_connection(server.sockets[0].getsockname())
            self.addCleanup(client.close)
            transport = await proto.made
            transport.close()
            await proto.lost
            self.assertIsNone(transport.get_extra_info("socket"))
            self.assertEqual(transport.get_extra_info("peername"), client.getsockname())

        self.run_coro(main())

    def test_abort_of_an_accepted_connection_closes_with_a_fin(self):
        # asyncio's abort closes the socket: the peer reads EOF, not a
        # reset, even with data unsent.
        class AbortOnData(Made):
            def data_received(self, data):
                self.made.result().write(b"x" * 1024)
                self.made.result().abort()

        async def main():
            proto = AbortOnData(self.loop)
            server = await self.loop.create_server(lambda: proto, "127.0.0.1", 0)
            self.addCleanup(server.close)
            client = socket.socket()
            self.addCleanup(client.close)
            client.setblocking(False)
            await self.loop.sock_connect(client, server.sockets[0].getsockname())
            await self.loop.sock_sendall(client, b"go")
            self.assertIsNone(await proto.lost)
            got = bytearray()
            while True:
                chunk = await self.loop.sock_recv(client, 65536)
                if not chunk:
                    break
                got += chunk
            self.assertLessEqual(len(got), 1024)

        self.run_coro(main())

    def test_a_burst_of_connections_is_accepted(self):
        async def main():
            made = []
            count = 64

            class Echo(asyncio.Protocol):
                def connection_made(self, transport):
                    self.transport = transport
                    made.append(transport)

                def data_received(self, data):
                    self.transport.write(data)

            server = await self.loop.create_server(Echo, "127.0.0.1", 0, backlog=count)
            self.addCleanup(server.close)
            address = server.sockets[0].getsockname()
            clients = []
            for _ in range(count):
                c = socket.create_connection(address)
                self.addCleanup(c.close)
                c.setblocking(False)
                clients.append(c)
            for i, c in enumerate(clients):
                await self.loop.sock_sendall(c, b"%d" % i)
                self.assertEqual(await self.loop.sock_recv(c, 16), b"%d" % i)
            self.assertEqual(len(made), count)
            self.assertEqual(len({t.get_extra_info("peername") for t in made}), count)
            for t in made:
                t.close()
            server.close()
            await server.wait_closed()

        self.run_coro(main())

    def test_factory_error_closes_the_connection_and_serving_goes_on(self):
        calls = []

        def factory():
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("no protocol for you")
            return Made(self.loop)

        async def main():
            server = await self.loop.create_server(factory, "127.0.0.1", 0)
            self.addCleanup(server.close)
            address = server.sockets[0].getsockname()
            first = socket.socket()
            self.addCleanup(first.close)
            first.setblocking(False)
            await self.loop.sock_connect(first, address)
            # Closed by the server: EOF (or a reset) on the client.
            try:
                self.assertEqual(await self.loop.sock_recv(first, 10), b"")
            except ConnectionResetError:
                pass
            second = socket.socket()
            self.addCleanup(second.close)
            second.setblocking(False)
            await self.loop.sock_connect(second, address)
            await self.loop.sock_sendall(second, b"still serving")
            while len(calls) < 2:
                await asyncio.sleep(0.01)

        self.run_coro(main())


EMFILE_CHILD = textwrap.dedent("""
    import asyncio, os, resource, socket
    import tulipio

    async def main():
        loop = asyncio.get_running_loop()
        reports = []
        loop.set_exception_handler(lambda loop, ctx: reports.append(ctx))
        made = []

        class P(asyncio.Protocol):
            def connection_made(self, transport):
                made.append(transport)

        server = await loop.create_server(P, "127.0.0.1", 0)
        address = server.sockets[0].getsockname()
        clients = [socket.socket() for _ in range(6)]
        # Room for two accepted connections: the server runs out of
        # descriptors while accepting the rest.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        used = len(os.listdir("/proc/self/fd")) - 1  # less listdir's own
        resource.setrlimit(resource.RLIMIT_NOFILE, (used + 2, hard))
        for c in clients:
            c.setblocking(False)
            await loop.sock_connect(c, address)
        while not reports:
            await asyncio.sleep(0.01)
        report = reports[0]
        assert report["message"] == "socket.accept() out of system resource", report
        assert report["exception"].errno == 24, report
        assert report["socket"].fileno() == server.sockets[0].fileno(), report
        stalled = len(made)
        assert stalled < len(clients), stalled
        # Room again: after ACCEPT_RETRY_DELAY the waiting connections
        # are accepted.
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        while len(made) < len(clients):
            await asyncio.sleep(0.05)
        for t in made:
            t.close()
        for c in clients:
            c.close()
        server.close()
        await server.wait_closed()
        print("OK", len(reports), stalled, len(made))

    tulipio.run(main())
""")


class AcceptBackOffTests(unittest.TestCase):
    def test_out_of_descriptors_is_reported_and_accepting_resumes(self):
        out = subprocess.run(
            [sys.executable, "-c", EMFILE_CHILD],
            capture_output=True, text=True, timeout=60,
        )
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])
        self.assertTrue(out.stdout.startswith("OK "), out.stdout + out.stderr[-2000:])


if __name__ == "__main__":
    unittest.main()
