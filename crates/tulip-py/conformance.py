#!/usr/bin/env python3
"""CPython's own asyncio tests on the tulip loop (tulipio).

Run from anywhere: ``python3 crates/tulip-py/conformance.py``. It builds
the module first (maturin, into a private virtual environment under the
cargo target directory), then runs, each in a child process:

- the loop mixins of ``test.test_asyncio`` (``test_events``'
  ``UnixEventLoopTestsMixin``, ``test_sock_lowlevel.BaseSockTestsMixin``,
  ``test_subprocess.SubprocessMixin``)
  with ``create_event_loop`` returning a tulip loop, and
- the loop-level modules (``test_tasks``, ``test_futures``, ...) with the
  event loop policy set to ``tulipio.EventLoopPolicy`` (so
  ``asyncio.run``, ``asyncio.Runner``, ``IsolatedAsyncioTestCase`` and
  ``asyncio.new_event_loop`` make tulip loops),

and the same tests on asyncio's own loop, for comparison. Tests listed in
``conformance-skips.txt`` (next to this file, each with its reason) are
skipped. It prints passed/failed/skipped per module (and how many of the
tests made a tulip loop: some tests build asyncio's private ``TestLoop``
instead), the tests that pass on asyncio's loop but fail on tulip, and ends
with ``N passed, M failed, K skipped``. Exit status 1 if a test passing on
asyncio's loop fails on tulip.

Options: ``--no-build`` (use the built module as is), ``--only MODULE``
(one module), ``-v`` (name each failure's error). ``TULIPIO_PYTHON=path``
with ``--no-build`` runs another interpreter (another CPython version)
that has tulipio installed.
"""

import argparse
import fnmatch
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SKIPS = os.path.join(HERE, "conformance-skips.txt")

# (module, how it runs): "mixin" modules get the loop through
# create_event_loop; "policy" modules through the event loop policy.
MODULES = [
    ("test_events", "mixin"),
    ("test_sock_lowlevel", "mixin"),
    ("test_subprocess", "mixin"),
    ("test_futures", "policy"),
    ("test_tasks", "policy"),
    ("test_locks", "policy"),
    ("test_queues", "policy"),
    ("test_timeouts", "policy"),
    ("test_taskgroups", "policy"),
    ("test_runners", "policy"),
    ("test_streams", "policy"),
    ("test_waitfor", "policy"),
    ("test_threads", "policy"),
    ("test_pep492", "policy"),
    ("test_context", "policy"),
    ("test_futures2", "policy"),
    ("test_server", "mixin"),
    ("test_buffered_proto", "mixin"),
    ("test_sendfile", "mixin"),
    ("test_sslproto", "mixin"),
    ("test_ssl", "policy"),
    ("test_unix_events", "setup"),
    ("test_base_events", "setup"),
]

# "setup" modules: test classes whose setUp makes a selector loop; the
# runner's subclass replaces it with the tulip loop (or asyncio's own).
SETUP = {
    "test_unix_events": ("SelectorEventLoopUnixSocketTests",),
    "test_base_events": ("BaseEventLoopWithSelectorTests",),
}

# Mixin modules whose loop comes from a concrete selector-loop test class:
# (that class, the name of the method making its loop). The class is
# subclassed with the method returning the tulip loop (or asyncio's own).
CONCRETE = {
    "test_server": ("SelectorStartServerTests", "new_loop"),
    "test_buffered_proto": ("BufferedProtocolSelectorTests", "new_loop"),
    "test_sendfile": ("SelectEventLoopTests", "create_event_loop"),
    "test_sslproto": ("SelectorStartTLSTests", "new_loop"),
}

PER_TEST_TIMEOUT = 60


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(HERE, "target")


def venv_python():
    # TULIPIO_PYTHON: another interpreter with tulipio built for it (with
    # --no-build), to run the suite of another CPython version.
    return os.environ.get("TULIPIO_PYTHON") or os.path.join(
        target_dir(), "tulipio-venv", "bin", "python"
    )


def build():
    """Makes the private venv (with maturin) and builds tulipio into it."""
    venv = os.path.dirname(os.path.dirname(venv_python()))
    if not os.path.exists(venv_python()):
        print(f"conformance: creating {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv_python()
    maturin = os.path.join(venv, "bin", "maturin")
    if not os.path.exists(maturin):
        print("conformance: pip install maturin (into the private venv)", flush=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "maturin"], check=True)
    env = dict(os.environ, VIRTUAL_ENV=venv, CARGO_TARGET_DIR=target_dir())
    env["PATH"] = os.path.join(venv, "bin") + os.pathsep + env.get("PATH", "")
    started = time.monotonic()
    subprocess.run(
        [maturin, "develop", "--release", "-q", "-m", os.path.join(HERE, "Cargo.toml")],
        check=True,
        env=env,
    )
    print(f"conformance: built tulipio in {time.monotonic() - started:.0f}s", flush=True)


def read_skips():
    """The skip list: ``pattern  # reason`` lines; a line without a
    reason is an error."""
    skips = []
    with open(SKIPS) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            pattern, sep, reason = line.partition("#")
            if not sep or not reason.strip():
                raise SystemExit(f"{SKIPS}:{number}: skip without a reason: {line}")
            skips.append((pattern.strip(), reason.strip()))
    return skips


# ---------------------------------------------------------------- child


def make_suite(module_name, how, kind):
    """The tests of one module, on tulip's loop or asyncio's."""
    import asyncio
    import importlib

    import tulipio

    module = importlib.import_module(f"test.test_asyncio.{module_name}")
    loader = unittest.TestLoader()
    if how == "policy":
        return loader.loadTestsFromModule(module)

    def factory(self):
        if kind == "tulip":
            return tulipio.new_event_loop()
        return asyncio.SelectorEventLoop()

    from test.test_asyncio import utils as test_utils

    if how == "setup":
        suite = unittest.TestSuite()
        for base_name in SETUP[module_name]:

            def setUp(self, _base=getattr(module, base_name)):
                _base.setUp(self)
                self.loop.close()
                self.loop = factory(self)
                self.set_event_loop(self.loop)

            cls = type(base_name, (getattr(module, base_name),), {"setUp": setUp})
            cls.__module__ = module.__name__
            suite.addTests(loader.loadTestsFromTestCase(cls))
        return suite
    if module_name in CONCRETE:
        base, method = CONCRETE[module_name]
        cls = type("TulipLoopTests", (getattr(module, base),), {method: factory})
        cls.__module__ = module.__name__
        suite = loader.loadTestsFromTestCase(cls)
        # The module's IsolatedAsyncioTestCase classes (3.12's TestServer2,
        # 3.13's UnixServerCleanupTests) get their loop from the policy.
        for name, obj in sorted(vars(module).items()):
            if isinstance(obj, type) and issubclass(obj, unittest.IsolatedAsyncioTestCase):
                suite.addTests(loader.loadTestsFromTestCase(obj))
        return suite
    members = {"create_event_loop": factory}
    if module_name == "test_events":
        mixin = module.UnixEventLoopTestsMixin
    elif module_name == "test_subprocess":
        mixin = module.SubprocessMixin

        def set_up(self):
            test_utils.TestCase.setUp(self)
            self.loop = self.create_event_loop()
            self.set_event_loop(self.loop)

        members["setUp"] = set_up
    else:
        mixin = module.BaseSockTestsMixin
    cls = type("TulipLoopTests", (mixin, test_utils.TestCase), members)
    cls.__module__ = module.__name__
    return loader.loadTestsFromTestCase(cls)


def short_id(test):
    """``module.Class.test`` without the package prefix."""
    return test.id().replace("test.test_asyncio.", "")


def child(module_name, how, kind, out_path):
    """Runs one module in this process; writes ``{test: outcome}``."""
    import asyncio
    import faulthandler

    import tulipio

    made = [0]
    original_init = tulipio.Loop.__init__

    def counting_init(self, *args, **kwargs):
        made[0] += 1
        original_init(self, *args, **kwargs)

    tulipio.Loop.__init__ = counting_init
    skips = read_skips() if kind == "tulip" else []
    suite = make_suite(module_name, how, kind)
    outcomes = {}

    class Result(unittest.TestResult):
        def startTest(self, test):
            self._made = made[0]
            if kind == "tulip":
                asyncio.set_event_loop_policy(tulipio.EventLoopPolicy())
            else:
                asyncio.set_event_loop_policy(None)
            faulthandler.dump_traceback_later(PER_TEST_TIMEOUT, exit=True)
            super().startTest(test)

        def stopTest(self, test):
            faulthandler.cancel_dump_traceback_later()
            super().stopTest(test)
            entry = outcomes.setdefault(short_id(test), {})
            entry.setdefault("outcome", "passed")
            # (3.12 stops a test it never started when its class is skipped.)
            entry["tulip"] = made[0] > getattr(self, "_made", made[0])

        def _set(self, test, outcome, detail=""):
            outcomes[short_id(test)] = {"outcome": outcome, "detail": detail}

        def addError(self, test, err):
            super().addError(test, err)
            self._set(test, "failed", f"{err[0].__name__}: {err[1]}"[:300])

        def addFailure(self, test, err):
            super().addFailure(test, err)
            self._set(test, "failed", f"{err[0].__name__}: {err[1]}"[:300])

        def addSkip(self, test, reason):
            super().addSkip(test, reason)
            self._set(test, "skipped", reason)

        def addExpectedFailure(self, test, err):
            super().addExpectedFailure(test, err)
            self._set(test, "passed")

        def addUnexpectedSuccess(self, test):
            super().addUnexpectedSuccess(test)
            self._set(test, "failed", "unexpected success")

        def addSubTest(self, test, subtest, err):
            super().addSubTest(test, subtest, err)
            if err is not None:
                self._set(test, "failed", f"{subtest}: {err[0].__name__}: {err[1]}"[:300])

    def apply_skips(suite):
        for test in suite:
            if isinstance(test, unittest.TestSuite):
                apply_skips(test)
                continue
            for pattern, reason in skips:
                if fnmatch.fnmatchcase(short_id(test), pattern):
                    setattr(test, test._testMethodName, unittest.skip(reason)(lambda self: None))
                    break

    apply_skips(suite)
    result = Result()
    suite.run(result)
    asyncio.set_event_loop_policy(None)
    with open(out_path, "w") as f:
        json.dump(outcomes, f)


# --------------------------------------------------------------- parent


def run_module(module_name, how, kind):
    """Runs one module in a child process; its outcomes (or a crash)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out_path = f.name
    try:
        proc = subprocess.run(
            [venv_python(), os.path.abspath(__file__), "--child", module_name, how, kind, out_path],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=900,
        )
        try:
            with open(out_path) as f:
                outcomes = json.load(f) if os.path.getsize(out_path) else None
        except (OSError, ValueError):
            outcomes = None
        if outcomes is None:
            tail = "\n".join(proc.stdout.splitlines()[-30:])
            return {f"{module_name} (crashed)": {"outcome": "failed", "detail": tail}}
        return outcomes
    except subprocess.TimeoutExpired:
        return {f"{module_name} (timed out)": {"outcome": "failed", "detail": "900 s"}}
    finally:
        os.unlink(out_path)


def count(outcomes, what):
    return sum(1 for o in outcomes.values() if o["outcome"] == what)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--only")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    read_skips()  # fail early on a skip without a reason
    if not args.no_build:
        build()
    if os.path.realpath(sys.executable) != os.path.realpath(venv_python()):
        if not os.path.exists(venv_python()):
            raise SystemExit("conformance: tulipio is not built (run without --no-build)")
    started = time.monotonic()
    modules = [(m, h) for m, h in MODULES if not args.only or m == args.only]
    from concurrent.futures import ThreadPoolExecutor

    totals = {"passed": 0, "failed": 0, "skipped": 0}
    regressions = []
    rows = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [
            (m, pool.submit(run_module, m, h, "tulip"), pool.submit(run_module, m, h, "asyncio"))
            for m, h in modules
        ]
        for module_name, tulip_job, asyncio_job in jobs:
            tulip, ref = tulip_job.result(), asyncio_job.result()
            row = (
                module_name,
                count(tulip, "passed"),
                count(tulip, "failed"),
                count(tulip, "skipped"),
                sum(1 for o in tulip.values() if o.get("tulip")),
                count(ref, "passed"),
                count(ref, "failed"),
                count(ref, "skipped"),
            )
            rows.append(row)
            print(
                f"{module_name:20} tulip: {row[1]:4} passed {row[2]:3} failed {row[3]:4} skipped "
                f"({row[4]} on a tulip loop) | asyncio: {row[5]:4} passed {row[6]:3} failed "
                f"{row[7]:4} skipped",
                flush=True,
            )
            for what in totals:
                totals[what] += count(tulip, what)
            for test, o in sorted(tulip.items()):
                if o["outcome"] == "failed":
                    on_ref = ref.get(test, {}).get("outcome")
                    if on_ref == "passed" or test.endswith(")"):
                        regressions.append((test, o.get("detail", "")))
                    if args.verbose:
                        print(f"    FAIL {test}: {o.get('detail', '')}")
    if regressions:
        print(f"\npass on asyncio's loop, fail on tulip ({len(regressions)}):")
        for test, detail in regressions:
            first = detail.strip().splitlines()[0] if detail.strip() else ""
            print(f"  {test}: {first[:160]}")
    print(f"\nconformance: {time.monotonic() - started:.0f}s")
    print(f"{totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
