"""tulipio: asyncio's event loop rebuilt in Rust (tulip).

Use it as uvloop is used::

    import asyncio, tulipio
    asyncio.run(main(), loop_factory=tulipio.new_event_loop)   # 3.12+
    tulipio.run(main())                                         # 3.11+
"""

import asyncio as _asyncio
import sys as _sys

from ._loop import Loop
from ._tulipio import Handle, TimerHandle

__all__ = ("Loop", "Handle", "TimerHandle", "new_event_loop", "run", "EventLoopPolicy")


def new_event_loop():
    """A new tulip event loop (not set as the thread's current loop)."""
    return Loop()


def run(main, *, debug=None, **run_kwargs):
    """Runs the coroutine ``main`` on a new tulip loop, as ``asyncio.run``."""
    if _sys.version_info >= (3, 12):
        return _asyncio.run(main, loop_factory=new_event_loop, debug=debug, **run_kwargs)
    if run_kwargs:
        raise TypeError(f"run() got unexpected keyword arguments {sorted(run_kwargs)}")
    with _asyncio.Runner(loop_factory=new_event_loop, debug=debug) as runner:
        return runner.run(main)


class EventLoopPolicy(_asyncio.DefaultEventLoopPolicy):
    """An event loop policy whose loops are tulip loops::

        asyncio.set_event_loop_policy(tulipio.EventLoopPolicy())
    """

    def _loop_factory(self):
        return Loop()

    def __repr__(self):
        return "<tulipio.EventLoopPolicy>"
