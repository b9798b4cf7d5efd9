"""How the loop schedules: its vectorcall entries (``call_soon``,
``call_soon_threadsafe``, ``call_later``, ``call_at``) parse arguments as
asyncio's methods do; its own ready queue keeps one first-in, first-out
order with everything else the loop runs; its timer heap runs timers in
order and lets go of cancelled ones.

Run: ``python3 -m unittest discover -s crates/tulip-py/tests``.
"""

import asyncio
import contextvars
import gc
import socket
import unittest
import weakref

import tulipio
from test_loop import DEADLINE, LoopTestCase as BaseCase


class LoopTestCase(BaseCase):
    def run_pass(self):
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()


class ArgumentTests(LoopTestCase):
    def test_callback_and_context_by_keyword(self):
        var = contextvars.ContextVar("var", default="outer")
        ctx = contextvars.copy_context()
        ctx.run(var.set, "inner")
        log = []
        self.loop.call_soon(callback=lambda: log.append(var.get()))
        self.loop.call_soon(lambda: log.append(var.get()), context=ctx)
        self.loop.call_later(0, callback=lambda: log.append("later"), context=None)
        self.loop.call_later(delay=0, callback=lambda: log.append("delay by keyword"))
        self.loop.call_at(self.loop.time(), log.append, "at")
        self.run_pass()
        self.run_pass()
        self.assertEqual(log[:2], ["outer", "inner"])
        self.assertEqual(sorted(log[2:]), ["at", "delay by keyword", "later"])

    def test_extra_positional_arguments_are_the_callbacks(self):
        log = []
        self.loop.call_soon(log.append, 1)
        self.loop.call_later(0, lambda *a: log.append(a), 2, 3)
        self.loop.call_soon_threadsafe(lambda *a: log.append(a), 4, 5, 6)
        self.run_pass()
        self.run_pass()
        self.assertEqual(log, [1, (4, 5, 6), (2, 3)])

    def test_errors_read_as_pythons(self):
        cases = [
            (lambda: self.loop.call_soon(), "call_soon() missing 1 required positional argument: 'callback'"),
            (lambda: self.loop.call_later(), "call_later() missing 2 required positional arguments: 'delay' and 'callback'"),
            (lambda: self.loop.call_at(1.0), "call_at() missing 1 required positional argument: 'callback'"),
            (lambda: self.loop.call_soon(print, bogus=1), "call_soon() got an unexpected keyword argument 'bogus'"),
            (lambda: self.loop.call_soon(print, callback=print), "call_soon() got multiple values for argument 'callback'"),
            (lambda: self.loop.call_later(1, print, delay=2), "call_later() got multiple values for argument 'delay'"),
            (lambda: self.loop.call_later(None, print), "delay must not be None"),
            (lambda: self.loop.call_at(None, print), "when cannot be None"),
        ]
        for call, message in cases:
            with self.subTest(message=message):
                with self.assertRaises(TypeError) as caught:
                    call()
                self.assertEqual(str(caught.exception), message)
        with self.assertRaises(ValueError):
            self.loop.call_at(float("nan"), print)

    def test_methods_check_their_self(self):
        with self.assertRaises(TypeError):
            tulipio.Loop.call_soon(object(), print)

    def test_signatures_for_inspect(self):
        import inspect

        self.assertEqual(
            str(inspect.signature(self.loop.call_later)),
            "(delay, callback, *args, context=None)",
        )


class TaskEntryTests(LoopTestCase):
    def test_create_task_with_name_and_context(self):
        var = contextvars.ContextVar("var", default="outer")
        ctx = contextvars.copy_context()
        ctx.run(var.set, "inner")

        async def read():
            return var.get()

        task = self.loop.create_task(read(), name="reader", context=ctx)
        self.assertIsInstance(task, asyncio.Task)
        self.assertEqual(task.get_name(), "reader")
        self.assertEqual(self.loop.run_until_complete(task), "inner")

    def test_create_task_through_the_factory(self):
        seen = []

        def factory(loop, coro, **kwargs):
            seen.append(sorted(kwargs))
            return asyncio.Task(coro, loop=loop, **kwargs)

        async def nothing():
            return 1

        self.loop.set_task_factory(factory)
        task = self.loop.create_task(nothing(), name="named")
        self.assertEqual(task.get_name(), "named")
        self.loop.run_until_complete(task)
        task = self.loop.create_task(nothing(), context=contextvars.copy_context())
        self.loop.run_until_complete(task)
        self.assertEqual(seen, [[], ["context"]])

    def test_create_task_errors(self):
        async def nothing():
            pass

        coro = nothing()
        with self.assertRaisesRegex(TypeError, "missing 1 required positional argument: 'coro'"):
            self.loop.create_task()
        with self.assertRaisesRegex(TypeError, "unexpected keyword argument 'bogus'"):
            self.loop.create_task(coro, bogus=1)
        with self.assertRaisesRegex(TypeError, "takes 1 positional argument but 2 were given"):
            self.loop.create_task(coro, "name")
        closed = tulipio.new_event_loop()
        closed.close()
        with self.assertRaisesRegex(RuntimeError, "Event loop is closed"):
            closed.create_task(coro)
        coro.close()

    def test_create_future_and_debug(self):
        future = self.loop.create_future()
        self.assertIsInstance(future, asyncio.Future)
        self.assertIs(future.get_loop(), self.loop)
        self.assertFalse(self.loop.get_debug())
        self.loop.set_debug(True)
        self.assertTrue(self.loop.get_debug())
        self.loop.set_debug(False)


class ExceptionHandlerContextTests(LoopTestCase):
    """The custom exception handler runs in the failing callback's (or
    task's) context, as asyncio's does since 3.12."""

    def test_a_failing_callbacks_context(self):
        var = contextvars.ContextVar("var", default="outside")
        seen = []
        self.loop.set_exception_handler(lambda loop, ctx: seen.append(var.get()))

        def callback():
            var.set("inside")
            1 / 0

        self.loop.call_soon(callback)
        self.run_pass()
        self.assertEqual(seen, ["inside"])
        self.assertEqual(var.get(), "outside")

    def test_a_context_without_a_handle_runs_in_the_current_one(self):
        var = contextvars.ContextVar("var", default="current")
        seen = []
        self.loop.set_exception_handler(lambda loop, ctx: seen.append(var.get()))
        self.loop.call_exception_handler({"message": "no handle"})
        self.assertEqual(seen, ["current"])


class FreeListTests(LoopTestCase):
    """Handles come back from the free list as new ones: nothing of the
    handle that was freed shows through."""

    def test_a_reused_handle_is_new(self):
        log = []
        refs = []
        for i in range(1000):
            handle = self.loop.call_soon(log.append, i)
            refs.append(weakref.ref(handle))
            if i % 2:
                handle.cancel()
        del handle
        self.run_pass()
        self.assertEqual(log, list(range(0, 1000, 2)))
        gc.collect()
        self.assertTrue(all(ref() is None for ref in refs))
        for i in range(1000):
            handle = self.loop.call_soon(log.append, -i)
            self.assertFalse(handle.cancelled())
            self.assertEqual(handle._args, (-i,))
            self.assertIsNotNone(weakref.ref(handle)())
        self.assertTrue(all(ref() is None for ref in refs))

    def test_timer_handles_and_subclasses_beside_the_lists(self):
        class MyHandle(tulipio.Handle):
            pass

        mine = [MyHandle(print, (), self.loop) for _ in range(300)]
        timers = [self.loop.call_later(3600, print) for _ in range(300)]
        for timer in timers:
            timer.cancel()
        del mine, timers
        gc.collect()
        again = [self.loop.call_later(0, print, i) for i in range(300)]
        self.assertEqual([t._args for t in again], [(i,) for i in range(300)])
        self.assertTrue(all(isinstance(t, tulipio.TimerHandle) for t in again))
        for timer in again:
            timer.cancel()


class OrderTests(LoopTestCase):
    def test_handles_keep_fifo_order_with_a_transports_callbacks(self):
        # close() queues connection_lost on the tulip loop itself: a
        # handle scheduled after it runs after it, as on asyncio's loop.
        log = []

        class Proto(asyncio.Protocol):
            def connection_lost(self, exc):
                log.append("lost")

        async def main():
            a, b = socket.socketpair()
            self.addCleanup(b.close)
            transport, _ = await self.loop.connect_accepted_socket(Proto, a)
            await asyncio.sleep(0.01)

            def go():
                self.loop.call_soon(log.append, "before")
                transport.close()
                self.loop.call_soon(log.append, "after")

            self.loop.call_soon(go)
            await asyncio.sleep(0.05)

        self.loop.run_until_complete(asyncio.wait_for(main(), DEADLINE))
        self.assertEqual(log, ["before", "lost", "after"])

    def test_a_callback_scheduled_during_a_pass_runs_in_the_next(self):
        log = []

        def first():
            log.append("first")
            self.loop.call_soon(log.append, "next pass")
            self.loop.stop()

        self.loop.call_soon(first)
        self.loop.run_forever()
        self.assertEqual(log, ["first"])
        self.run_pass()
        self.assertEqual(log, ["first", "next pass"])


class TimerHeapTests(LoopTestCase):
    def test_same_time_runs_in_scheduling_order(self):
        log = []
        when = self.loop.time() + 0.01
        for i in range(50):
            self.loop.call_at(when, log.append, i)
        self.loop.call_at(when + 0.01, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(log, list(range(50)))

    def test_earlier_timers_scheduled_later_run_first(self):
        log = []
        self.loop.call_later(0.05, log.append, "late")
        self.loop.call_later(0.01, log.append, "early")
        self.loop.call_later(0.03, log.append, "middle")
        self.loop.call_later(0.08, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(log, ["early", "middle", "late"])

    def test_cancelled_timers_are_let_go(self):
        class Callback:
            def __call__(self):
                raise AssertionError("a cancelled timer ran")

        callback = Callback()
        ref = weakref.ref(callback)
        handles = [self.loop.call_later(3600, callback) for _ in range(10_000)]
        del callback
        for handle in handles:
            handle.cancel()
        # Cancelling lets go of the callback at once...
        gc.collect()
        self.assertIsNone(ref())
        refs = [weakref.ref(h) for h in handles]
        del handles, handle
        # ...and later scheduling sweeps the cancelled handles themselves.
        for _ in range(20_000):
            self.loop.call_later(3600, print).cancel()
        gc.collect()
        self.assertEqual(sum(r() is not None for r in refs), 0)

    def test_only_cancelled_timers_left_does_not_keep_the_loop_busy(self):
        far = self.loop.call_later(0.01, print)
        far.cancel()
        fired = []
        self.loop.call_later(0.05, lambda: fired.append(self.loop.time()))
        self.loop.call_later(0.06, self.loop.stop)
        started = self.loop.time()
        self.loop.run_forever()
        self.assertEqual(len(fired), 1)
        self.assertGreaterEqual(fired[0] - started, 0.04)

    def test_a_timer_beyond_the_clock_never_fires(self):
        log = []
        self.loop.call_at(float("inf"), log.append, "never")
        self.loop.call_later(1e300, log.append, "never either")
        self.loop.call_later(0.01, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(log, [])

    def test_close_lets_go_of_pending_timers(self):
        loop = tulipio.new_event_loop()

        class Callback:
            def __call__(self):
                pass

        callback = Callback()
        ref = weakref.ref(callback)
        loop.call_later(60, callback)
        del callback
        loop.close()
        gc.collect()
        self.assertIsNone(ref())


if __name__ == "__main__":
    unittest.main()
