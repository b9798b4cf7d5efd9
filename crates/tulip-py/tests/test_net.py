"""Networking on the tulip loop through Python: Python protocols called by
tulip's socket transport (data, EOF, errors, flow control, buffered
protocols, protocol hand-over), servers, Unix sockets, datagrams, TLS and
sendfile, on the real OS (127.0.0.1 and temporary Unix socket paths).
"""

import asyncio
import os
import socket
import ssl
import sys
import tempfile
import unittest

import tulipio

DEADLINE = 10.0


class Recorder(asyncio.Protocol):
    """Records every call; ``lost`` resolves with connection_lost's exc."""

    def __init__(self, loop, keep_open=False):
        self.calls = []
        self.data = bytearray()
        self.transport = None
        self.keep_open = keep_open
        self.made = loop.create_future()
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.calls.append("made")
        self.transport = transport
        self.made.set_result(transport)

    def data_received(self, data):
        self.calls.append(("data", type(data)))
        self.data += data

    def eof_received(self):
        self.calls.append("eof")
        return self.keep_open

    def connection_lost(self, exc):
        self.calls.append("lost")
        self.lost.set_result(exc)


class NetTestCase(unittest.TestCase):
    def setUp(self):
        self.loop = tulipio.new_event_loop()
        self.addCleanup(self.loop.close)
        self.errors = []
        self.loop.set_exception_handler(lambda loop, ctx: self.errors.append(ctx))

    def run_coro(self, coro):
        return self.loop.run_until_complete(asyncio.wait_for(coro, DEADLINE))

    async def server(self, factory, **kwargs):
        server = await self.loop.create_server(factory, "127.0.0.1", 0, **kwargs)
        self.addCleanup(server.close)
        return server, server.sockets[0].getsockname()[1]


class StreamTests(NetTestCase):
    def test_data_arrives_as_bytes_and_eof_closes_by_default(self):
        async def main():
            srv_proto = Recorder(self.loop)
            server, port = await self.server(lambda: srv_proto)
            tr, cli = await self.loop.create_connection(
                lambda: Recorder(self.loop), "127.0.0.1", port
            )
            self.assertEqual(cli.calls, ["made"])
            tr.write(b"hello ")
            tr.writelines([b"tulip", bytearray(b" and "), memoryview(b"python")])
            self.assertTrue(tr.can_write_eof())
            tr.write_eof()
            exc = await srv_proto.lost
            self.assertIsNone(exc)
            self.assertEqual(bytes(srv_proto.data), b"hello tulip and python")
            self.assertEqual(srv_proto.calls[0], "made")
            self.assertEqual(srv_proto.calls[-2:], ["eof", "lost"])
            self.assertTrue(all(c == ("data", bytes) for c in srv_proto.calls[1:-2]))
            # The server closed at EOF: the client sees EOF too.
            self.assertIsNone(await cli.lost)
            self.assertTrue(tr.is_closing())

        self.run_coro(main())

    def test_eof_received_true_keeps_the_write_side_open(self):
        async def main():
            srv_proto = Recorder(self.loop, keep_open=True)
            server, port = await self.server(lambda: srv_proto)
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write_eof()
            transport = await srv_proto.made
            while "eof" not in srv_proto.calls:
                await asyncio.sleep(0.01)
            self.assertFalse(transport.is_closing())
            transport.write(b"after your eof")
            transport.close()
            self.assertEqual(await r.read(), b"after your eof")
            w.close()

        self.run_coro(main())

    def test_reset_is_connection_reset_error(self):
        async def main():
            srv_proto = Recorder(self.loop)
            server, port = await self.server(lambda: srv_proto)
            sock = socket.create_connection(("127.0.0.1", port))
            transport = await srv_proto.made
            self.assertFalse(transport.is_closing())
            # A close with SO_LINGER 0 sends a RST.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.close()
            exc = await srv_proto.lost
            self.assertIsInstance(exc, ConnectionResetError)
            self.assertEqual(exc.errno, 104)
            # Lost by the peer's doing, the transport is closed.
            self.assertTrue(transport.is_closing())

        self.run_coro(main())

    def test_protocol_exception_goes_to_the_handler_and_closes(self):
        class Failing(Recorder):
            def data_received(self, data):
                raise ZeroDivisionError("boom")

        async def main():
            srv_proto = Failing(self.loop)
            server, port = await self.server(lambda: srv_proto)
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"x")
            exc = await srv_proto.lost
            self.assertIsInstance(exc, ZeroDivisionError)
            self.assertEqual(len(self.errors), 1)
            ctx = self.errors[0]
            self.assertIn("data_received", ctx["message"])
            self.assertIs(ctx["protocol"], srv_proto)
            self.assertIsInstance(ctx["exception"], ZeroDivisionError)
            self.assertEqual(await r.read(), b"")
            w.close()

        self.run_coro(main())

    def test_extra_info_and_transport_api(self):
        async def main():
            srv_proto = Recorder(self.loop)
            server, port = await self.server(lambda: srv_proto)
            tr, cli = await self.loop.create_connection(
                lambda: Recorder(self.loop), "127.0.0.1", port
            )
            sock = tr.get_extra_info("socket")
            self.assertEqual(sock.family, socket.AF_INET)
            self.assertEqual(tr.get_extra_info("peername"), ("127.0.0.1", port))
            self.assertEqual(tr.get_extra_info("sockname"), sock.getsockname())
            self.assertIsNone(tr.get_extra_info("sslcontext"))
            self.assertEqual(tr.get_extra_info("nothing", "dflt"), "dflt")
            self.assertIs(tr.get_protocol(), cli)
            self.assertFalse(tr.is_closing())
            self.assertTrue(tr.is_reading())
            tr.pause_reading()
            self.assertFalse(tr.is_reading())
            tr.resume_reading()
            self.assertTrue(tr.is_reading())
            tr.set_write_buffer_limits(high=1000)
            self.assertEqual(tr.get_write_buffer_limits(), (250, 1000))
            with self.assertRaises(ValueError):
                tr.set_write_buffer_limits(high=1, low=2)
            with self.assertRaisesRegex(TypeError, "bytes-like object, not 'str'"):
                tr.write("text")
            tr.abort()
            self.assertTrue(tr.is_closing())
            self.assertIsNone(await cli.lost)

        self.run_coro(main())

    def test_pause_and_resume_writing(self):
        class Flow(Recorder):
            def pause_writing(self):
                self.calls.append("pause")

            def resume_writing(self):
                self.calls.append("resume")

        async def main():
            srv_proto = Recorder(self.loop)
            server, port = await self.server(lambda: srv_proto)
            tr, cli = await self.loop.create_connection(lambda: Flow(self.loop), "127.0.0.1", port)
            server_tr = await srv_proto.made
            server_tr.pause_reading()
            tr.set_write_buffer_limits(high=64 * 1024)
            chunk = b"x" * 65536
            for _ in range(4096):  # at most 256 MiB: the kernel buffers far less
                if "pause" in cli.calls:
                    break
                tr.write(chunk)
            self.assertIn("pause", cli.calls)
            self.assertGreater(tr.get_write_buffer_size(), 0)
            server_tr.resume_reading()
            while "resume" not in cli.calls:
                await asyncio.sleep(0.01)
            tr.close()
            await srv_proto.lost

        self.run_coro(main())

    def test_pause_reading_before_and_in_connection_made_is_honoured(self):
        # asyncio's transport adds its reader only if not paused: a
        # transport paused right after it is made, or by connection_made,
        # delivers nothing until resume_reading.
        class Pausing(Recorder):
            def connection_made(self, transport):
                super().connection_made(transport)
                transport.pause_reading()

        async def check(transport, proto, peer):
            await proto.made
            self.assertFalse(transport.is_reading())
            peer.sendall(b"held back")
            await asyncio.sleep(0.2)
            self.assertEqual(bytes(proto.data), b"")
            transport.resume_reading()
            self.assertTrue(transport.is_reading())
            while len(proto.data) < 9:
                await asyncio.sleep(0.01)
            self.assertEqual(bytes(proto.data), b"held back")
            transport.close()
            self.assertIsNone(await proto.lost)

        def made_transport():
            # A transport as asyncio's server and connection code make
            # it: connection_made has not run yet.
            ours, peer = socket.socketpair()
            self.addCleanup(peer.close)
            ours.setblocking(False)
            proto = Recorder(self.loop)
            return self.loop._make_socket_transport(ours, proto), proto, peer

        async def main():
            # Paused before connection_made ran.
            transport, proto, peer = made_transport()
            transport.pause_reading()
            self.assertFalse(transport.is_reading())
            await check(transport, proto, peer)
            # Paused inside connection_made.
            ours, peer = socket.socketpair()
            self.addCleanup(peer.close)
            transport, proto = await self.loop.connect_accepted_socket(
                lambda: Pausing(self.loop), ours
            )
            await check(transport, proto, peer)
            # Paused then resumed before connection_made: reads as usual.
            transport, proto, peer = made_transport()
            transport.pause_reading()
            transport.resume_reading()
            self.assertTrue(transport.is_reading())
            await proto.made
            peer.sendall(b"flows")
            while len(proto.data) < 5:
                await asyncio.sleep(0.01)
            transport.close()
            self.assertIsNone(await proto.lost)

        self.run_coro(main())

    def test_buffered_protocol_reads_into_its_buffer(self):
        class Into(asyncio.BufferedProtocol):
            def __init__(self, loop):
                self.buf = bytearray(7)
                self.got = bytearray()
                self.done = loop.create_future()

            def get_buffer(self, sizehint):
                return self.buf

            def buffer_updated(self, nbytes):
                self.got += self.buf[:nbytes]

            def eof_received(self):
                self.done.set_result(bytes(self.got))

        async def main():
            proto = Into(self.loop)
            server, port = await self.server(lambda: proto)
            r, w = await asyncio.open_connection("127.0.0.1", port)
            payload = os.urandom(100_000)
            w.write(payload)
            w.write_eof()
            self.assertEqual(await proto.done, payload)
            w.close()

        self.run_coro(main())

    def test_set_protocol_hands_the_connection_over(self):
        async def main():
            first = Recorder(self.loop)
            second = Recorder(self.loop)
            server, port = await self.server(lambda: first)
            r, w = await asyncio.open_connection("127.0.0.1", port)
            transport = await first.made
            transport.set_protocol(second)
            self.assertIs(transport.get_protocol(), second)
            w.write(b"to the second")
            w.write_eof()
            self.assertIsNone(await second.lost)
            self.assertEqual(bytes(second.data), b"to the second")
            self.assertEqual(bytes(first.data), b"")
            w.close()

        self.run_coro(main())


class ServerTests(NetTestCase):
    def test_server_object(self):
        async def main():
            server = await self.loop.create_server(
                lambda: Recorder(self.loop), "127.0.0.1", 0, start_serving=False
            )
            self.assertFalse(server.is_serving())
            self.assertIs(server.get_loop(), self.loop)
            await server.start_serving()
            self.assertTrue(server.is_serving())
            port = server.sockets[0].getsockname()[1]
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            async with server:
                pass
            self.assertFalse(server.is_serving())
            await server.wait_closed()
            with self.assertRaises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", port)

        self.run_coro(main())

    def test_happy_eyeballs_and_all_errors(self):
        async def main():
            # A port nothing listens on (bound, never listening).
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
                with self.assertRaises(ConnectionRefusedError):
                    await self.loop.create_connection(
                        asyncio.Protocol, "127.0.0.1", port, happy_eyeballs_delay=0.05
                    )
                if sys.version_info >= (3, 12):  # all_errors is 3.12's
                    with self.assertRaises(ExceptionGroup) as caught:
                        await self.loop.create_connection(
                            asyncio.Protocol, "127.0.0.1", port, all_errors=True
                        )
                    self.assertIsInstance(caught.exception.exceptions[0], ConnectionRefusedError)

        self.run_coro(main())


class UnixTests(NetTestCase):
    def test_unix_server_and_connection(self):
        async def handle(reader, writer):
            writer.write((await reader.readline()).upper())
            await writer.drain()
            writer.close()

        async def main():
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "sock")
                server = await asyncio.start_unix_server(handle, path)
                r, w = await asyncio.open_unix_connection(path)
                w.write(b"unix\n")
                self.assertEqual(await r.read(), b"UNIX\n")
                self.assertEqual(w.get_extra_info("peername"), path)
                w.close()
                self.assertTrue(os.path.exists(path))
                server.close()
                await server.wait_closed()
                # asyncio 3.13 removes the file at close; 3.11 and 3.12 keep it.
                self.assertEqual(os.path.exists(path), sys.version_info < (3, 13))

        self.run_coro(main())

    def test_abstract_socket_name(self):
        async def handle(reader, writer):
            writer.write(b"abstract")
            writer.close()

        async def main():
            name = f"\0tulipio-test-{os.getpid()}"
            server = await asyncio.start_unix_server(handle, name)
            r, w = await asyncio.open_unix_connection(name)
            self.assertEqual(await r.read(), b"abstract")
            w.close()
            server.close()
            await server.wait_closed()

        self.run_coro(main())


class DatagramTests(NetTestCase):
    def test_echo(self):
        class Echo(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                self.transport.sendto(data[::-1], addr)

        class Client(asyncio.DatagramProtocol):
            def __init__(self, loop):
                self.got = loop.create_future()

            def datagram_received(self, data, addr):
                self.got.set_result((data, addr))

        async def main():
            server, _ = await self.loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
            addr = server.get_extra_info("sockname")
            client, proto = await self.loop.create_datagram_endpoint(
                lambda: Client(self.loop), remote_addr=addr
            )
            client.sendto(b"datagram")
            data, source = await proto.got
            self.assertEqual((data, source), (b"margatad", addr))
            client.close()
            server.close()

        self.run_coro(main())


    def test_refused_datagram_is_error_received(self):
        class Client(asyncio.DatagramProtocol):
            def __init__(self, loop):
                self.error = loop.create_future()

            def error_received(self, exc):
                if not self.error.done():
                    self.error.set_result(exc)

        async def main():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))
                addr = s.getsockname()
            # Nothing listens there any more: the kernel answers ICMP
            # port unreachable, which a connected socket reports.
            client, proto = await self.loop.create_datagram_endpoint(
                lambda: Client(self.loop), remote_addr=addr
            )
            for _ in range(50):
                client.sendto(b"anyone?")
                if proto.error.done():
                    break
                await asyncio.sleep(0.02)
            self.assertIsInstance(await proto.error, ConnectionRefusedError)
            with self.assertRaisesRegex(ValueError, "Invalid address"):
                client.sendto(b"x", ("127.0.0.1", 1))
            client.close()

        self.run_coro(main())


class TlsAndSendfileTests(NetTestCase):
    def test_sendfile_sends_the_file(self):
        async def main():
            srv_proto = Recorder(self.loop)
            server, port = await self.server(lambda: srv_proto)
            tr, cli = await self.loop.create_connection(
                lambda: Recorder(self.loop), "127.0.0.1", port
            )
            with tempfile.TemporaryFile() as f:
                payload = os.urandom(300_000)
                f.write(payload)
                f.seek(0)
                sent = await self.loop.sendfile(tr, f, offset=1000)
                self.assertEqual(sent, len(payload) - 1000)
                self.assertEqual(f.tell(), len(payload))
            tr.write_eof()
            await srv_proto.lost
            self.assertEqual(bytes(srv_proto.data), payload[1000:])

        self.run_coro(main())

    def test_start_tls_with_python_ssl_context(self):
        from test.test_asyncio import utils as test_utils

        server_ctx = test_utils.simple_server_sslcontext()
        client_ctx = test_utils.simple_client_sslcontext()

        async def handle(reader, writer):
            line = await reader.readline()
            writer.write(b"plain ok\n")
            await writer.drain()
            await writer.start_tls(server_ctx)
            writer.write((await reader.readline()).upper())
            await writer.drain()
            writer.close()

        async def main():
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"STARTTLS\n")
            self.assertEqual(await r.readline(), b"plain ok\n")
            await w.start_tls(client_ctx, server_hostname="")
            self.assertIsInstance(w.get_extra_info("ssl_object"), ssl.SSLObject)
            w.write(b"secret\n")
            self.assertEqual(await r.readline(), b"SECRET\n")
            w.close()
            server.close()

        self.run_coro(main())


if __name__ == "__main__":
    unittest.main()
