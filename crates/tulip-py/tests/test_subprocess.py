"""tulipio's pipes and subprocesses: connect_read_pipe/connect_write_pipe,
subprocess_exec/subprocess_shell and asyncio.create_subprocess_* on the
tulip loop, with real pipes and real child processes.

Run: ``python3 -m unittest discover -s crates/tulip-py/tests``.
"""

import asyncio
import os
import subprocess
import sys
import tempfile
import unittest

import tulipio

DEADLINE = 20.0
PY = sys.executable


class LoopTestCase(unittest.TestCase):
    def setUp(self):
        self.loop = tulipio.new_event_loop()
        self.addCleanup(self.loop.close)
        self.loop.call_later(DEADLINE, self.loop.stop)

    def run_coro(self, coro):
        return self.loop.run_until_complete(asyncio.wait_for(coro, DEADLINE))


class Recorder(asyncio.SubprocessProtocol):
    """Records every call, in order; ``done`` resolves on connection_lost."""

    def __init__(self, loop):
        self.events = []
        self.output = {1: b"", 2: b""}
        self.done = loop.create_future()
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.events.append("made")

    def pipe_data_received(self, fd, data):
        self.output[fd] += data
        if not self.events or self.events[-1] != f"data{fd}":
            self.events.append(f"data{fd}")

    def pipe_connection_lost(self, fd, exc):
        self.events.append(f"pipe_lost{fd}")

    def process_exited(self):
        self.events.append("exited")

    def connection_lost(self, exc):
        self.events.append("lost")
        self.done.set_result(exc)


class SubprocessProtocolTests(LoopTestCase):
    def test_calls_come_in_asyncio_order(self):
        async def main():
            protocol = Recorder(self.loop)
            transport, got = await self.loop.subprocess_shell(
                lambda: protocol, "echo out; echo err >&2; exit 5", stdin=subprocess.DEVNULL
            )
            self.assertIs(got, protocol)
            self.assertIs(protocol.transport, transport)
            self.assertGreater(transport.get_pid(), 0)
            self.assertIsNone(transport.get_pipe_transport(0))
            self.assertIsNone(await protocol.done)
            self.assertEqual(transport.get_returncode(), 5)
            self.assertEqual(protocol.output, {1: b"out\n", 2: b"err\n"})
            events = protocol.events
            self.assertEqual(events[0], "made")
            self.assertEqual(events[-1], "lost")
            self.assertEqual(sorted(events[1:-1]),
                             sorted(["data1", "data2", "pipe_lost1", "pipe_lost2", "exited"]))
            self.assertLess(events.index("data1"), events.index("pipe_lost1"))
            transport.close()

        self.run_coro(main())

    def test_set_protocol_switches_the_receiver(self):
        async def main():
            first, second = Recorder(self.loop), Recorder(self.loop)
            code = "import sys; sys.stdin.readline(); print('late')"
            transport, _ = await self.loop.subprocess_exec(lambda: first, PY, "-c", code)
            transport.set_protocol(second)
            self.assertIs(transport.get_protocol(), second)
            transport.get_pipe_transport(0).write(b"go\n")
            await second.done
            self.assertEqual(second.output[1], b"late\n")
            self.assertEqual(first.events, ["made"])
            transport.close()

        self.run_coro(main())

    def test_exec_passes_arguments_as_they_are(self):
        async def main():
            protocol = Recorder(self.loop)
            transport, _ = await self.loop.subprocess_exec(
                lambda: protocol, "printf", "%s|%s|%s", "a b", "$HOME", os.fsencode("bytes")
            )
            await protocol.done
            self.assertEqual(protocol.output[1], b"a b|$HOME|bytes")
            transport.close()

        self.run_coro(main())

    def test_close_kills_a_running_child_and_signals_after_close_fail(self):
        async def main():
            protocol = Recorder(self.loop)
            transport, _ = await self.loop.subprocess_exec(lambda: protocol, "sleep", "60")
            self.assertIsNone(transport.get_returncode())
            transport.close()
            self.assertTrue(transport.is_closing())
            await protocol.done
            self.assertEqual(transport.get_returncode(), -9)
            with self.assertRaises(ProcessLookupError):
                transport.kill()

        self.run_coro(main())

    def test_signals_reach_the_child(self):
        async def main():
            proc = await asyncio.create_subprocess_exec("sleep", "60")
            proc.send_signal(15)
            self.assertEqual(await proc.wait(), -15)
            proc = await asyncio.create_subprocess_exec("sleep", "60")
            proc.terminate()
            self.assertEqual(await proc.wait(), -15)

        self.run_coro(main())

    def test_pipe_transports_pause_and_resume_reading(self):
        async def main():
            protocol = Recorder(self.loop)
            code = "import sys, time; sys.stdout.write('a'); sys.stdout.flush(); time.sleep(0.3); print('b')"
            transport, _ = await self.loop.subprocess_exec(lambda: protocol, PY, "-c", code)
            stdout = transport.get_pipe_transport(1)
            self.assertIs(stdout, transport.get_pipe_transport(1))
            while not protocol.output[1]:
                await asyncio.sleep(0.01)
            stdout.pause_reading()
            self.assertFalse(stdout.is_reading())
            await asyncio.sleep(0.6)
            self.assertEqual(protocol.output[1], b"a")
            stdout.resume_reading()
            await protocol.done
            self.assertEqual(protocol.output[1], b"ab\n")
            transport.close()

        self.run_coro(main())


class CreateSubprocessTests(LoopTestCase):
    def test_communicate_through_stdin_and_stdout(self):
        async def main():
            proc = await asyncio.create_subprocess_exec(
                "cat", stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            data = os.urandom(1 << 20)
            out, err = await proc.communicate(data)
            self.assertEqual(out, data)
            self.assertIsNone(err)
            self.assertEqual(proc.returncode, 0)

        self.run_coro(main())

    def test_stderr_to_stdout_devnull_and_files(self):
        async def main():
            proc = await asyncio.create_subprocess_shell(
                "echo out; echo err >&2", stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            out, _ = await proc.communicate()
            self.assertEqual(out, b"out\nerr\n")
            with tempfile.TemporaryFile() as f:
                proc = await asyncio.create_subprocess_shell(
                    "echo to-file; cat", stdin=subprocess.DEVNULL, stdout=f
                )
                self.assertEqual(await proc.wait(), 0)
                f.seek(0)
                self.assertEqual(f.read(), b"to-file\n")

        self.run_coro(main())

    def test_cwd_env_executable_umask_and_new_session(self):
        async def main():
            with tempfile.TemporaryDirectory() as tmp:
                code = ("import os; print(os.getcwd(), os.environ.get('ONLY'), "
                        "'PATH' not in os.environ, os.getsid(0) == os.getpid(), "
                        "oct(os.umask(0)))")
                proc = await asyncio.create_subprocess_exec(
                    "renamed", "-c", code, executable=PY, cwd=tmp, env={"ONLY": "this"},
                    start_new_session=True, umask=0o027, stdout=subprocess.PIPE,
                )
                out, _ = await proc.communicate()
                self.assertEqual(out.decode().split(),
                                 [os.path.realpath(tmp), "this", "True", "True", "0o27"])

        self.run_coro(main())

    def test_pass_fds_hands_a_descriptor_to_the_child(self):
        async def main():
            r, w = os.pipe()
            try:
                code = f"import os; os.write({w}, b'through the fd')"
                proc = await asyncio.create_subprocess_exec(PY, "-c", code, pass_fds=[w])
                self.assertEqual(await proc.wait(), 0)
                os.close(w)
                w = -1
                self.assertEqual(os.read(r, 100), b"through the fd")
            finally:
                os.close(r)
                if w >= 0:
                    os.close(w)

        self.run_coro(main())

    def test_bad_arguments_are_errors_as_in_asyncio(self):
        async def main():
            for kwargs in ({"text": True}, {"bufsize": 1}, {"encoding": "utf-8"},
                           {"errors": "strict"}, {"universal_newlines": True}):
                with self.subTest(**kwargs), self.assertRaises(ValueError):
                    await self.loop.subprocess_exec(asyncio.SubprocessProtocol, "true", **kwargs)
            with self.assertRaisesRegex(ValueError, "shell must be False"):
                await self.loop.subprocess_exec(asyncio.SubprocessProtocol, "true", shell=True)
            with self.assertRaisesRegex(ValueError, "cmd must be a string"):
                await self.loop.subprocess_shell(asyncio.SubprocessProtocol, ["true"])
            with self.assertRaisesRegex(ValueError, "preexec_fn"):
                await self.loop.subprocess_exec(asyncio.SubprocessProtocol, "true",
                                                preexec_fn=lambda: None)
            with self.assertRaisesRegex(TypeError, "no_such_option"):
                await self.loop.subprocess_exec(asyncio.SubprocessProtocol, "true",
                                                no_such_option=1)
            with self.assertRaisesRegex(ValueError, "only stderr"):
                await self.loop.subprocess_exec(asyncio.SubprocessProtocol, "true",
                                                stdout=subprocess.STDOUT)
            with self.assertRaises(FileNotFoundError) as caught:
                await asyncio.create_subprocess_exec("/no/such/program")
            self.assertEqual(caught.exception.filename, "/no/such/program")
            with self.assertRaises(FileNotFoundError):
                await asyncio.create_subprocess_exec("true", cwd="/no/such/dir")

        self.run_coro(main())

    def test_a_child_exiting_early_gives_broken_pipe_on_stdin(self):
        async def main():
            proc = await asyncio.create_subprocess_exec("true", stdin=subprocess.PIPE)
            await proc.wait()
            with self.assertRaises((BrokenPipeError, ConnectionResetError)):
                for _ in range(100):
                    proc.stdin.write(b"x" * 65536)
                    await proc.stdin.drain()

        self.run_coro(main())


class PipeProtocol(asyncio.Protocol):
    def __init__(self, loop):
        self.events = []
        self.data = b""
        self.done = loop.create_future()

    def connection_made(self, transport):
        self.events.append("made")

    def data_received(self, data):
        self.data += data

    def eof_received(self):
        self.events.append("eof")

    def connection_lost(self, exc):
        self.events.append("lost")
        self.done.set_result(exc)


class PipeTests(LoopTestCase):
    def test_write_pipe_to_read_pipe_then_eof(self):
        async def main():
            r, w = os.pipe()
            rpipe, wpipe = open(r, "rb", 0), open(w, "wb", 0)
            reader = PipeProtocol(self.loop)
            rt, got = await self.loop.connect_read_pipe(lambda: reader, rpipe)
            self.assertIs(got, reader)
            self.assertIs(rt.get_extra_info("pipe"), rpipe)
            self.assertIsInstance(rt, asyncio.ReadTransport)
            wt, _ = await self.loop.connect_write_pipe(asyncio.Protocol, wpipe)
            self.assertIsInstance(wt, asyncio.WriteTransport)
            wt.write(b"one ")
            wt.writelines([b"two ", bytearray(b"three")])
            wt.write_eof()
            self.assertIsNone(await reader.done)
            self.assertEqual(reader.data, b"one two three")
            self.assertEqual(reader.events, ["made", "eof", "lost"])
            self.assertTrue(rpipe.closed)
            with self.assertRaises(TypeError):
                wt.write("text")

        self.run_coro(main())

    def test_a_write_pipe_is_lost_when_its_reader_closes(self):
        async def main():
            r, w = os.pipe()
            writer = PipeProtocol(self.loop)
            wt, _ = await self.loop.connect_write_pipe(lambda: writer, open(w, "wb", 0))
            os.close(r)
            await writer.done
            self.assertTrue(wt.is_closing())

        self.run_coro(main())

    def test_a_regular_file_is_refused(self):
        async def main():
            with tempfile.TemporaryFile() as f:
                with self.assertRaisesRegex(ValueError, "pipes/sockets only"):
                    await self.loop.connect_read_pipe(asyncio.Protocol, f)

        self.run_coro(main())

    def test_a_failing_protocol_goes_to_the_exception_handler(self):
        seen = []
        self.loop.set_exception_handler(lambda loop, context: seen.append(context))

        class Failing(PipeProtocol):
            def data_received(self, data):
                raise ZeroDivisionError

        async def main():
            r, w = os.pipe()
            reader = Failing(self.loop)
            rt, _ = await self.loop.connect_read_pipe(lambda: reader, open(r, "rb", 0))
            os.write(w, b"x")
            await reader.done
            os.close(w)
            self.assertTrue(rt.is_closing())

        self.run_coro(main())
        self.assertEqual(len(seen), 1)
        self.assertIsInstance(seen[0]["exception"], ZeroDivisionError)
        self.assertIn("data_received", seen[0]["message"])


if __name__ == "__main__":
    unittest.main()
