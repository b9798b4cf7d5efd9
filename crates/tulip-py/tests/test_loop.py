"""tulipio's own tests: the loop's behaviour through Python, on the real OS.

Run: ``python3 -m unittest discover -s crates/tulip-py/tests`` with tulipio
importable (``cargo xtask ci`` runs them in the private venv that
``conformance.py`` builds).
"""

import asyncio
import contextvars
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

import tulipio

DEADLINE = 10.0


class LoopTestCase(unittest.TestCase):
    def setUp(self):
        self.loop = tulipio.new_event_loop()
        self.addCleanup(self.loop.close)
        # Never hang: stop the loop after the deadline whatever happens.
        self.loop.call_later(DEADLINE, self.loop.stop)

    def run_coro(self, coro):
        return self.loop.run_until_complete(asyncio.wait_for(coro, DEADLINE))


class CallbackTests(LoopTestCase):
    def test_is_an_abstract_event_loop(self):
        self.assertIsInstance(self.loop, asyncio.AbstractEventLoop)
        self.assertFalse(self.loop.is_running())
        self.assertFalse(self.loop.is_closed())

    def test_call_soon_runs_in_order_with_args(self):
        log = []
        for i in range(5):
            self.loop.call_soon(log.append, i)
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(log, [0, 1, 2, 3, 4])

    def test_handle_cancel(self):
        log = []
        h = self.loop.call_soon(log.append, "cancelled")
        self.loop.call_soon(log.append, "ran")
        self.assertFalse(h.cancelled())
        h.cancel()
        self.assertTrue(h.cancelled())
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(log, ["ran"])

    def test_context(self):
        var = contextvars.ContextVar("var", default="unset")
        ctx = contextvars.copy_context()
        ctx.run(var.set, "in ctx")
        seen = []
        h = self.loop.call_soon(lambda: seen.append(var.get()), context=ctx)
        self.assertIs(h.get_context(), ctx)
        var.set("current")
        self.loop.call_soon(lambda: seen.append(var.get()))  # a copy of the current one
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(seen, ["in ctx", "current"])

    def test_stop_before_run_runs_one_pass(self):
        log = []
        self.loop.call_soon(log.append, 1)
        self.loop.stop()
        self.loop.run_forever()
        self.assertEqual(log, [1])

    def test_exception_goes_to_the_handler(self):
        contexts = []
        self.loop.set_exception_handler(lambda loop, ctx: contexts.append(ctx))

        def boom():
            raise ZeroDivisionError("boom")

        h = self.loop.call_soon(boom)
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(len(contexts), 1)
        self.assertIsInstance(contexts[0]["exception"], ZeroDivisionError)
        self.assertIs(contexts[0]["handle"], h)
        self.assertIn("Exception in callback", contexts[0]["message"])

    def test_debug_mode_records_where_a_handle_was_made(self):
        self.loop.set_debug(True)
        self.assertTrue(self.loop.get_debug())
        contexts = []
        self.loop.set_exception_handler(lambda loop, ctx: contexts.append(ctx))

        def boom():
            raise ValueError("x")

        h = self.loop.call_soon(boom)  # this line is the source
        self.assertIn("created at", repr(h))
        self.assertEqual(h._source_traceback[-1].name, "test_debug_mode_records_where_a_handle_was_made")
        with self.assertRaisesRegex(TypeError, "coroutines cannot be used"):
            self.loop.call_soon(asyncio.sleep)
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertIn("source_traceback", contexts[0])

    def test_keyboard_interrupt_leaves_run_forever(self):
        def interrupt():
            raise KeyboardInterrupt

        self.loop.call_soon(interrupt)
        with self.assertRaises(KeyboardInterrupt):
            self.loop.run_forever()
        self.assertFalse(self.loop.is_running())

    def test_callbacks_after_an_interrupt_wait_for_the_next_run(self):
        log = []

        def interrupt():
            raise KeyboardInterrupt

        self.loop.call_soon(log.append, 1)
        self.loop.call_soon(interrupt)
        self.loop.call_soon(log.append, 2)
        with self.assertRaises(KeyboardInterrupt):
            self.loop.run_forever()
        self.assertEqual(log, [1])  # as asyncio: 2 stays queued
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(log, [1, 2])

    def test_other_threads_cannot_drive_the_loop(self):
        errors = []

        def use():
            try:
                self.loop.call_soon(print)
            except RuntimeError as exc:
                errors.append(exc)

        t = threading.Thread(target=use)
        t.start()
        t.join()
        self.assertEqual(len(errors), 1)
        self.assertIn("thread", str(errors[0]))

    def test_close_lets_go_of_python_objects(self):
        import gc
        import weakref

        class Callback:
            def __call__(self):
                pass

        loop = tulipio.new_event_loop()
        refs = []
        for schedule in (
            lambda cb: loop.call_soon(cb),
            lambda cb: loop.call_later(3600, cb),
            lambda cb: loop.call_soon_threadsafe(cb),
        ):
            cb = Callback()
            refs.append(weakref.ref(cb))
            schedule(cb)
            del cb
        a, b = socket.socketpair()
        with a, b:
            cb = Callback()
            refs.append(weakref.ref(cb))
            loop.add_reader(a, cb)
            del cb
            loop.close()
        gc.collect()
        self.assertEqual([r() for r in refs], [None] * len(refs))

    def test_closed_loop_refuses_callbacks(self):
        self.loop.close()
        self.assertTrue(self.loop.is_closed())
        with self.assertRaisesRegex(RuntimeError, "closed"):
            self.loop.call_soon(print)
        self.loop.close()  # idempotent


class TimerTests(LoopTestCase):
    def test_call_later_order_and_when(self):
        log = []
        start = self.loop.time()
        h = self.loop.call_later(0.05, log.append, "late")
        self.loop.call_later(0.01, log.append, "early")
        self.assertIsInstance(h, tulipio.TimerHandle)
        self.assertGreaterEqual(h.when(), start + 0.05)
        self.loop.call_later(0.1, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(log, ["early", "late"])
        self.assertGreaterEqual(self.loop.time() - start, 0.1)

    def test_cancelled_timer_never_runs(self):
        log = []
        h = self.loop.call_later(0.01, log.append, "no")
        h.cancel()
        self.assertTrue(h.cancelled())
        self.loop.call_later(0.05, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(log, [])

    def test_call_at_on_the_monotonic_clock(self):
        self.assertLess(abs(self.loop.time() - time.monotonic()), 0.5)
        fired = []
        self.loop.call_at(self.loop.time() + 0.02, lambda: fired.append(self.loop.time()))
        self.loop.call_later(0.05, self.loop.stop)
        when = self.loop.time() + 0.02
        self.loop.run_forever()
        self.assertEqual(len(fired), 1)
        self.assertGreaterEqual(fired[0], when - 0.001)

    def test_handles_made_directly_as_asyncio_allows(self):
        h = tulipio.Handle(print, (1,), self.loop)
        self.assertFalse(h.cancelled())
        t = tulipio.TimerHandle(12.5, print, (), self.loop)
        self.assertEqual(t.when(), 12.5)
        self.assertLess(tulipio.TimerHandle(1.0, print, (), self.loop), t)
        t.cancel()
        self.assertTrue(t.cancelled())
        self.assertIn("cancelled", repr(t))

    def test_none_delay_is_a_type_error(self):
        with self.assertRaises(TypeError):
            self.loop.call_later(None, print)
        with self.assertRaises(TypeError):
            self.loop.call_at(None, print)


class ThreadTests(LoopTestCase):
    def test_call_soon_threadsafe_from_threads(self):
        results = []
        done = self.loop.create_future()
        n = 8

        def worker(i):
            self.loop.call_soon_threadsafe(results.append, i)
            if i == n - 1:
                pass

        def check():
            if len(results) == n and not done.done():
                done.set_result(None)
            elif not done.done():
                self.loop.call_later(0.001, check)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.loop.call_soon(check)
        self.run_coro(done)
        self.assertEqual(sorted(results), list(range(n)))

    def test_threadsafe_wakes_a_waiting_loop(self):
        def wake():
            time.sleep(0.05)
            self.loop.call_soon_threadsafe(self.loop.stop)

        t = threading.Thread(target=wake)
        t.start()
        started = time.monotonic()
        self.loop.run_forever()
        t.join()
        self.assertLess(time.monotonic() - started, DEADLINE / 2)

    def test_gil_released_while_waiting(self):
        # A Python thread makes progress while the loop sleeps in the reactor.
        counter = [0]
        stop = threading.Event()

        def spin():
            while not stop.is_set():
                counter[0] += 1

        t = threading.Thread(target=spin)
        t.start()
        self.loop.call_later(0.2, self.loop.stop)
        self.loop.run_forever()
        stop.set()
        t.join()
        self.assertGreater(counter[0], 1000)

    def test_run_in_executor(self):
        async def main():
            loop = asyncio.get_running_loop()
            ident = await loop.run_in_executor(None, threading.get_ident)
            return ident

        self.assertNotEqual(self.run_coro(main()), threading.get_ident())
        self.run_coro(self.loop.shutdown_default_executor())

    def test_getaddrinfo(self):
        infos = self.run_coro(self.loop.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM))
        self.assertEqual(infos[0][4], ("127.0.0.1", 80))


class BackgroundLoopTests(unittest.TestCase):
    def test_loop_made_here_runs_on_another_thread(self):
        # The common pattern: make a loop, run it forever on a thread, hand
        # it coroutines with run_coroutine_threadsafe.
        loop = tulipio.new_event_loop()
        early = []
        loop.call_soon_threadsafe(early.append, "before the thread")
        t = threading.Thread(target=loop.run_forever)
        t.start()

        async def work(x):
            await asyncio.sleep(0.01)
            return threading.get_ident(), x * 2

        ident, doubled = asyncio.run_coroutine_threadsafe(work(21), loop).result(DEADLINE)
        self.assertEqual(doubled, 42)
        self.assertEqual(ident, t.ident)
        self.assertEqual(early, ["before the thread"])
        loop.call_soon_threadsafe(loop.stop)
        t.join(DEADLINE)
        self.assertFalse(t.is_alive())
        self.assertFalse(loop.is_running())
        # The loop belongs to its thread: closing here only marks it closed.
        loop.close()
        self.assertTrue(loop.is_closed())

    def test_time_from_any_thread(self):
        loop = tulipio.new_event_loop()
        self.addCleanup(loop.close)
        seen = []
        t = threading.Thread(target=lambda: seen.append(loop.time()))
        t.start()
        t.join()
        self.assertLess(abs(seen[0] - time.monotonic()), 1.0)


class TaskTests(LoopTestCase):
    def test_tasks_are_asyncio_tasks(self):
        async def child():
            await asyncio.sleep(0.01)
            return asyncio.current_task()

        async def main():
            t = self.loop.create_task(child(), name="kid")
            self.assertIsInstance(t, asyncio.Task)
            self.assertEqual(t.get_name(), "kid")
            self.assertIn(t, asyncio.all_tasks())
            return t, await t

        t, current = self.run_coro(main())
        self.assertIs(t, current)

    def test_task_factory(self):
        made = []

        def factory(loop, coro, **kwargs):
            task = asyncio.Task(coro, loop=loop, **kwargs)
            made.append(task)
            return task

        self.loop.set_task_factory(factory)
        self.assertIs(self.loop.get_task_factory(), factory)

        async def one():
            return 1

        self.assertEqual(self.run_coro(one()), 1)
        self.assertGreaterEqual(len(made), 1)

    def test_create_future(self):
        fut = self.loop.create_future()
        self.assertIsInstance(fut, asyncio.Future)
        self.loop.call_soon(fut.set_result, "v")
        self.assertEqual(self.loop.run_until_complete(fut), "v")


class IoTests(LoopTestCase):
    def test_add_reader_on_a_socketpair(self):
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        a.setblocking(False)
        got = self.loop.create_future()

        def readable():
            got.set_result(a.recv(100))
            self.assertTrue(self.loop.remove_reader(a))

        self.loop.add_reader(a, readable)
        self.loop.call_later(0.01, b.send, b"ping")
        self.assertEqual(self.run_coro(got), b"ping")
        self.assertFalse(self.loop.remove_reader(a))

    def test_add_writer(self):
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        ready = self.loop.create_future()
        self.loop.add_writer(a.fileno(), lambda: ready.done() or ready.set_result(True))
        self.assertTrue(self.run_coro(ready))
        self.assertTrue(self.loop.remove_writer(a.fileno()))

    def test_sock_ops_over_loopback(self):
        async def main():
            loop = asyncio.get_running_loop()
            with socket.socket() as listener:
                listener.bind(("127.0.0.1", 0))
                listener.listen()
                listener.setblocking(False)
                with socket.socket() as client:
                    client.setblocking(False)
                    accept = loop.create_task(loop.sock_accept(listener))
                    await loop.sock_connect(client, listener.getsockname())
                    conn, _ = await accept
                    with conn:
                        payload = os.urandom(1 << 20)
                        send = loop.create_task(loop.sock_sendall(client, payload))
                        received = bytearray()
                        while len(received) < len(payload):
                            chunk = await loop.sock_recv(conn, 65536)
                            self.assertTrue(chunk)
                            received += chunk
                        await send
                        self.assertEqual(bytes(received), payload)
                        buf = bytearray(4)
                        await loop.sock_sendall(conn, b"pong")
                        n = await loop.sock_recv_into(client, buf)
                        self.assertEqual(bytes(buf[:n]), b"pong"[:n])

        self.run_coro(main())

    def test_sock_datagrams(self):
        async def main():
            loop = asyncio.get_running_loop()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, socket.socket(
                socket.AF_INET, socket.SOCK_DGRAM
            ) as b:
                a.bind(("127.0.0.1", 0))
                a.setblocking(False)
                b.setblocking(False)
                await loop.sock_sendto(b, b"hello", a.getsockname())
                data, addr = await loop.sock_recvfrom(a, 100)
                self.assertEqual(data, b"hello")
                await loop.sock_sendto(a, b"back", addr)
                buf = bytearray(10)
                n, _ = await loop.sock_recvfrom_into(b, buf)
                self.assertEqual(bytes(buf[:n]), b"back")

        self.run_coro(main())

    def test_sock_sendfile(self):
        async def main():
            loop = asyncio.get_running_loop()
            data = os.urandom(200_000)
            with tempfile.TemporaryFile() as f:
                f.write(data)
                f.seek(0)
                a, b = socket.socketpair()
                with a, b:
                    a.setblocking(False)
                    b.setblocking(False)
                    send = loop.create_task(loop.sock_sendfile(a, f))
                    received = bytearray()
                    while len(received) < len(data):
                        received += await loop.sock_recv(b, 65536)
                    self.assertEqual(await send, len(data))
                    self.assertEqual(bytes(received), data)

        self.run_coro(main())

    def test_sock_connect_refused(self):
        async def main():
            loop = asyncio.get_running_loop()
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                address = probe.getsockname()  # bound, not listening
            with socket.socket() as client:
                client.setblocking(False)
                with self.assertRaises(ConnectionRefusedError):
                    await loop.sock_connect(client, address)

        self.run_coro(main())


@unittest.skipUnless(threading.current_thread() is threading.main_thread(), "signals: main thread")
class SignalTests(LoopTestCase):
    def test_sigusr1_runs_the_handler(self):
        got = self.loop.create_future()
        self.loop.add_signal_handler(signal.SIGUSR1, lambda: got.done() or got.set_result("usr1"))
        self.addCleanup(self.loop.remove_signal_handler, signal.SIGUSR1)
        self.loop.call_later(0.01, os.kill, os.getpid(), signal.SIGUSR1)
        self.assertEqual(self.run_coro(got), "usr1")
        self.assertTrue(self.loop.remove_signal_handler(signal.SIGUSR1))
        self.assertFalse(self.loop.remove_signal_handler(signal.SIGUSR1))

    def test_signal_from_another_thread_wakes_the_loop(self):
        got = self.loop.create_future()
        self.loop.add_signal_handler(signal.SIGUSR2, lambda: got.set_result(True))
        self.addCleanup(self.loop.remove_signal_handler, signal.SIGUSR2)
        t = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR2))
        t.start()
        self.assertTrue(self.run_coro(got))
        t.join()

    def test_sigint_interrupts_a_waiting_loop(self):
        # The loop waits in the reactor without the GIL; SIGINT (Python's
        # default handler) ends run_forever with KeyboardInterrupt.
        t = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
        t.start()
        started = time.monotonic()
        with self.assertRaises(KeyboardInterrupt):
            self.loop.run_forever()
        t.join()
        self.assertLess(time.monotonic() - started, DEADLINE / 2)

    def test_sigint_on_another_thread_still_wakes_the_loop(self):
        # The C handler runs on the thread the signal hit; the wakeup byte
        # on the loop's self-pipe wakes the main thread's wait.
        def hit_me():
            time.sleep(0.05)
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)

        t = threading.Thread(target=hit_me)
        t.start()
        started = time.monotonic()
        with self.assertRaises(KeyboardInterrupt):
            self.loop.run_forever()
        t.join()
        self.assertLess(time.monotonic() - started, DEADLINE / 2)

    def test_runner_cancels_main_on_ctrl_c(self):
        async def main():
            await asyncio.sleep(DEADLINE)

        t = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
        t.start()
        with self.assertRaises(KeyboardInterrupt):
            tulipio.run(main())
        t.join()

    def test_bad_signals(self):
        with self.assertRaises(TypeError):
            self.loop.add_signal_handler("SIGUSR1", print)
        with self.assertRaises(ValueError):
            self.loop.add_signal_handler(100000, print)
        with self.assertRaises(RuntimeError):
            self.loop.add_signal_handler(signal.SIGKILL, print)


class EntryPointTests(unittest.TestCase):
    def test_run(self):
        async def main():
            await asyncio.sleep(0)
            return type(asyncio.get_running_loop())

        self.assertIs(tulipio.run(main()), tulipio.Loop)

    def test_runner_with_loop_factory(self):
        async def main():
            return type(asyncio.get_running_loop())

        with asyncio.Runner(loop_factory=tulipio.new_event_loop) as runner:
            self.assertIs(runner.run(main()), tulipio.Loop)
            self.assertIsInstance(runner.get_loop(), tulipio.Loop)

    @unittest.skipIf(sys.version_info < (3, 12), "asyncio.run(loop_factory=) is 3.12+")
    def test_asyncio_run_with_loop_factory(self):
        async def main():
            return type(asyncio.get_running_loop())

        self.assertIs(asyncio.run(main(), loop_factory=tulipio.new_event_loop), tulipio.Loop)

    def test_policy(self):
        asyncio.set_event_loop_policy(tulipio.EventLoopPolicy())
        try:
            loop = asyncio.new_event_loop()
            self.assertIsInstance(loop, tulipio.Loop)
            loop.close()
        finally:
            asyncio.set_event_loop_policy(None)

    def test_asyncgens_are_finalized(self):
        closed = []

        async def gen():
            try:
                yield 1
                yield 2
            finally:
                closed.append(True)

        async def main():
            g = gen()
            await g.__anext__()
            # left open: shutdown_asyncgens (asyncio.run) closes it

        tulipio.run(main())
        self.assertEqual(closed, [True])


if __name__ == "__main__":
    unittest.main()
