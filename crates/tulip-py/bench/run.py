#!/usr/bin/env python3
"""tulipio against uvloop and asyncio's own loop, in one run.

Run from anywhere: ``python3 crates/tulip-py/bench/run.py`` (or ``cargo
xtask bench py``). It builds tulipio (as ``conformance.py`` does, into the
private venv under the cargo target directory), makes a second venv for
the comparison (``tulipio-bench-venv``: uvloop, uvicorn and httptools from
pip, tulipio from the source tree), builds the workspace's ``loadgen``,
then measures, each loop in a fresh interpreter:

- ``call_soon``: 1,000 self-rescheduling callbacks in flight, 1 M calls;
- ``call_later``: rounds of 10,000 timers due within 0.1 ms, half of
  them cancelled before they fire;
- ``create_task+gather``: rounds of 1,000 trivial tasks gathered;
- ``echo Protocol`` and ``echo streams``: an ``asyncio.Protocol`` echo
  server and an ``asyncio.start_server`` one under ``loadgen`` (the load
  generator of the Rust network benches), 1 connection x 64 B and
  50 connections x 1 KiB ping-pong;
- ``uvicorn hello``: uvicorn (httptools) serving a hello ASGI app, under
  ``wrk -t1 -c50``; and the same with ``Connection: close``, a new
  connection per request (the server's accept and connection set-up).

Servers run on CPU 0 and their clients on CPU 1 when the machine has two.
It prints one table: operations per second for each loop and the
tulipio/uvloop and tulipio/asyncio ratios. Options: ``--secs S`` (measured
seconds of each server run, default 5), ``--only SUBSTRING`` (rows whose
name contains it), ``--no-build``.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(CRATE))
LOOPS = ("asyncio", "uvloop", "tulipio")
BENCH_PACKAGES = ("uvloop", "uvicorn", "httptools")


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")


def bench_python():
    return os.path.join(target_dir(), "tulipio-bench-venv", "bin", "python")


def setup(build):
    """Builds tulipio and loadgen; makes the bench venv."""
    sys.path.insert(0, CRATE)
    import conformance

    if build:
        conformance.build()
    venv = os.path.dirname(os.path.dirname(bench_python()))
    if not os.path.exists(bench_python()):
        print(f"bench: creating {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    missing = subprocess.run(
        [bench_python(), "-c", "import uvloop, uvicorn, httptools"], capture_output=True
    ).returncode
    if missing:
        print(f"bench: pip install {' '.join(BENCH_PACKAGES)} (into the bench venv)", flush=True)
        subprocess.run([bench_python(), "-m", "pip", "install", "-q", *BENCH_PACKAGES], check=True)
    # tulipio as built in the source tree by `maturin develop`.
    site = subprocess.run(
        [bench_python(), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    with open(os.path.join(site, "tulipio-source.pth"), "w") as f:
        f.write(os.path.join(CRATE, "python") + "\n")
    loadgen = os.path.join(target_dir(), "release", "loadgen")
    if build or not os.path.exists(loadgen):
        subprocess.run(
            ["cargo", "build", "--release", "-q", "-p", "tulip-benches", "--bin", "loadgen"],
            check=True, cwd=ROOT, env=dict(os.environ, CARGO_TARGET_DIR=target_dir()),
        )
    return loadgen


# ------------------------------------------------------------- children


def new_loop(kind):
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    if kind == "tulipio":
        import tulipio

        return tulipio.new_event_loop()
    return asyncio.SelectorEventLoop()


def bench_call_soon(loop):
    total, in_flight = 1_000_000, 1_000
    count = 0

    def callback():
        nonlocal count
        count += 1
        if count >= total:
            loop.stop()
        elif count <= total - in_flight:
            loop.call_soon(callback)

    for _ in range(in_flight):
        loop.call_soon(callback)
    started = time.perf_counter()
    loop.run_forever()
    return total / (time.perf_counter() - started)


def bench_call_later(loop):
    rounds, per_round = 40, 10_000

    async def main():
        fired = 0
        done = None

        def callback():
            nonlocal fired
            fired += 1
            if fired == per_round // 2:
                done.set_result(None)

        for _ in range(rounds):
            fired = 0
            done = loop.create_future()
            handles = [loop.call_later((i % 100) * 1e-6, callback) for i in range(per_round)]
            for handle in handles[1::2]:
                handle.cancel()
            await done

    started = time.perf_counter()
    loop.run_until_complete(main())
    return rounds * per_round / (time.perf_counter() - started)


def bench_gather(loop):
    rounds, per_round = 100, 1_000

    async def leaf(i):
        return i

    async def main():
        for _ in range(rounds):
            await asyncio.gather(*[loop.create_task(leaf(i)) for i in range(per_round)])

    started = time.perf_counter()
    loop.run_until_complete(main())
    return rounds * per_round / (time.perf_counter() - started)


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def eof_received(self):
        self.transport.close()


async def streams_echo(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def hello_app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")]})
    await send({"type": "http.response.body", "body": b"Hello, world!"})


def serve(loop, what):
    """Serves until killed; prints ``PORT n`` once listening."""

    async def main():
        if what == "echo_protocol":
            server = await loop.create_server(EchoProtocol, "127.0.0.1", 0)
        elif what == "echo_streams":
            server = await asyncio.start_server(streams_echo, "127.0.0.1", 0)
        else:
            import socket

            import uvicorn

            # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on
            # sockets whose proto says TCP (a proto of 0 would leave Nagle
            # on, and every response would wait out a delayed ACK).
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.bind(("127.0.0.1", 0))
            config = uvicorn.Config(hello_app, loop="none", http="httptools",
                                    lifespan="off", log_level="warning", access_log=False)
            server = uvicorn.Server(config)
            serving = asyncio.ensure_future(server.serve(sockets=[sock]))
            while not server.started:
                if serving.done():
                    serving.result()  # its error, if it failed to start
                await asyncio.sleep(0.01)
            print(f"PORT {sock.getsockname()[1]}", flush=True)
            await serving
            return
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()

    loop.run_until_complete(main())


def child(kind, what):
    if os.cpu_count() and os.cpu_count() >= 2:
        os.sched_setaffinity(0, {0})
    loop = new_loop(kind)
    asyncio.set_event_loop(loop)
    if what.startswith("serve:"):
        serve(loop, what[len("serve:"):])
        return
    ops = {"call_soon": bench_call_soon, "call_later": bench_call_later,
           "gather": bench_gather}[what](loop)
    loop.close()
    print(json.dumps({"ops": ops}))


# --------------------------------------------------------------- parent


def run_micro(kind, what):
    out = subprocess.run([bench_python(), __file__, "--child", kind, what],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed")
    return json.loads(out.stdout.strip().splitlines()[-1])["ops"]


def client_command(args):
    if os.cpu_count() and os.cpu_count() >= 2:
        return ["taskset", "-c", "1", *args]
    return args


def run_server(kind, what, client):
    """Starts the server child, runs ``client(port)``, stops the server."""
    server = subprocess.Popen([bench_python(), __file__, "--child", kind, "serve:" + what],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        if not line.startswith("PORT "):
            server.kill()
            err = server.stderr.read().strip().splitlines()
            raise RuntimeError(err[-1] if err else "server did not start")
        return client(int(line.split()[1]))
    finally:
        server.kill()
        server.wait()


def loadgen_client(loadgen, conns, size, secs):
    def client(port):
        out = subprocess.run(client_command([
            loadgen, f"--addr=127.0.0.1:{port}", f"--conns={conns}", f"--size={size}",
            f"--secs={secs}", "--warmup=1",
        ]), capture_output=True, text=True, timeout=secs + 120)
        line = next((l for l in out.stdout.splitlines() if l.startswith("rps=")), None)
        if out.returncode != 0 or line is None:
            raise RuntimeError(f"loadgen: {out.stderr.strip()[-200:]}")
        fields = dict(kv.split("=", 1) for kv in line.split())
        return float(fields["rps"])

    return client


def wrk_client(secs, *headers):
    def client(port):
        extra = [arg for header in headers for arg in ("-H", header)]
        out = subprocess.run(client_command([
            "wrk", "-t1", "-c50", *extra, f"-d{max(1, round(secs))}s", f"http://127.0.0.1:{port}/",
        ]), capture_output=True, text=True, timeout=secs + 120)
        for line in out.stdout.splitlines():
            if "Non-2xx" in line or "Socket errors" in line:
                raise RuntimeError(f"wrk: {line.strip()}")
            if line.startswith("Requests/sec:"):
                return float(line.split()[1])
        raise RuntimeError(f"wrk: {out.stdout.strip()[-200:]} {out.stderr.strip()[-200:]}")

    return client


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--secs", type=float, default=5.0)
    parser.add_argument("--only")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    loadgen = setup(not args.no_build)
    secs = args.secs
    rows = [
        ("call_soon", lambda kind: run_micro(kind, "call_soon")),
        ("call_later (half cancelled)", lambda kind: run_micro(kind, "call_later")),
        ("create_task+gather", lambda kind: run_micro(kind, "gather")),
        ("echo Protocol 1x64B", lambda kind: run_server(
            kind, "echo_protocol", loadgen_client(loadgen, 1, 64, secs))),
        ("echo Protocol 50x1KiB", lambda kind: run_server(
            kind, "echo_protocol", loadgen_client(loadgen, 50, 1024, secs))),
        ("echo streams 1x64B", lambda kind: run_server(
            kind, "echo_streams", loadgen_client(loadgen, 1, 64, secs))),
        ("echo streams 50x1KiB", lambda kind: run_server(
            kind, "echo_streams", loadgen_client(loadgen, 50, 1024, secs))),
        ("uvicorn hello (wrk -c50)", lambda kind: run_server(
            kind, "uvicorn", wrk_client(secs))),
        ("uvicorn hello, a connection per request", lambda kind: run_server(
            kind, "uvicorn", wrk_client(secs, "Connection: close"))),
    ]
    rows = [(name, fn) for name, fn in rows if not args.only or args.only in name]
    header = (f"{'benchmark':40} {'asyncio':>12} {'uvloop':>12} {'tulipio':>12} "
              f"{'tulipio/uvloop':>15} {'tulipio/asyncio':>16}")
    print("\nops/s (higher is better), one run\n" + header + "\n" + "-" * len(header), flush=True)
    errors = []
    for name, fn in rows:
        results = {}
        for kind in LOOPS:
            try:
                results[kind] = fn(kind)
            except Exception as exc:  # a row that cannot run says why, below
                results[kind] = None
                errors.append(f"{name} [{kind}]: {exc}")

        def cell(value):
            return f"{value:12,.0f}" if value is not None else f"{'n/a':>12}"

        def ratio(a, b):
            return f"{a / b:.2f}x" if a and b else "n/a"

        t, u, a = results["tulipio"], results["uvloop"], results["asyncio"]
        print(f"{name:40} {cell(a)} {cell(u)} {cell(t)} {ratio(t, u):>15} {ratio(t, a):>16}",
              flush=True)
    for error in errors:
        print(f"  n/a: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
