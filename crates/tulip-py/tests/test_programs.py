"""Real programs on the tulip loop: uvicorn serving an ASGI app (with
``loop="tulipio:new_event_loop"``: uvicorn 0.36+ takes a loop factory by
its import path; asked with urllib, as a user's client would) and an
aiohttp server with an aiohttp client. Skipped, saying so, when uvicorn or aiohttp is not
installed (``cargo xtask ci`` installs both into its private venv).
"""

import asyncio
import json
import socket
import threading
import time
import unittest
import urllib.request

import tulipio

DEADLINE = 20.0

try:
    import uvicorn
except ImportError:  # pragma: no cover
    uvicorn = None

try:
    import aiohttp
    from aiohttp import web
except ImportError:  # pragma: no cover
    aiohttp = None


def loop_kind():
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


async def hello_app(scope, receive, send):
    """A hello-world ASGI app that says which loop runs it."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = json.dumps({"hello": "world", "loop": loop_kind(), "path": scope["path"]}).encode()
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json")],
    })
    await send({"type": "http.response.body", "body": body})


@unittest.skipIf(uvicorn is None, "uvicorn is not installed (pip install uvicorn)")
class UvicornTests(unittest.TestCase):
    def test_uvicorn_serves_hello_on_tulip(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            hello_app,
            loop="tulipio:new_event_loop",
            log_level="warning",
            lifespan="on",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        self.addCleanup(sock.close)
        try:
            started = time.monotonic()
            while not server.started:
                self.assertLess(time.monotonic() - started, DEADLINE, "uvicorn did not start")
                self.assertTrue(thread.is_alive(), "uvicorn exited before it started")
                time.sleep(0.02)
            for path in ("/", "/again", "/third"):
                url = f"http://127.0.0.1:{port}{path}"
                with urllib.request.urlopen(url, timeout=DEADLINE) as response:
                    self.assertEqual(response.status, 200)
                    got = json.loads(response.read())
                self.assertEqual(got, {"hello": "world", "loop": "tulipio", "path": path})
        finally:
            server.should_exit = True
            thread.join(DEADLINE)
        self.assertFalse(thread.is_alive(), "uvicorn did not shut down")


@unittest.skipIf(aiohttp is None, "aiohttp is not installed (pip install aiohttp)")
class AiohttpTests(unittest.TestCase):
    def test_aiohttp_server_and_client_round_trip_on_tulip(self):
        async def hello(request):
            name = request.match_info.get("name", "world")
            return web.json_response({"hello": name, "loop": loop_kind()})

        async def echo(request):
            body = await request.read()
            return web.Response(body=body[::-1])

        async def main():
            app = web.Application()
            app.add_routes([web.get("/hello/{name}", hello), web.post("/echo", echo)])
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]
            try:
                async with aiohttp.ClientSession() as session:
                    async with session.get(f"http://127.0.0.1:{port}/hello/tulip") as r:
                        self.assertEqual(r.status, 200)
                        got = await r.json()
                    payload = bytes(range(256)) * 1024  # 256 KiB: many reads and writes
                    async with session.post(f"http://127.0.0.1:{port}/echo", data=payload) as r:
                        self.assertEqual(r.status, 200)
                        echoed = await r.read()
            finally:
                await runner.cleanup()
            return got, echoed, payload, loop_kind()

        got, echoed, payload, client_loop = tulipio.run(asyncio.wait_for(main(), DEADLINE))
        self.assertEqual(got, {"hello": "tulip", "loop": "tulipio"})
        self.assertEqual(client_loop, "tulipio")
        self.assertEqual(echoed, payload[::-1])


if __name__ == "__main__":
    unittest.main()
