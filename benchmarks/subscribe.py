"""`POST /subscribe` answered per second, with the confirmation going to a real SMTP server.

A throwaway site with `[delivery] transport = "smtp"` pointing at an aiosmtpd server
on 127.0.0.1 that accepts and discards everything (in a process of its own), and the
service driven in this process through Starlette's test client: each request is a
new address, so each one sends its confirmation. Prints requests per second.

    python benchmarks/subscribe.py [--requests 300]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import tempfile
import time
from pathlib import Path

CONFIG = """\
title = "Bench"
base_url = "https://bench.example.org/"
[author]
name = "Desk"
[email]
from_address = "digest@bench.example.org"
[delivery]
transport = "smtp"
host = "127.0.0.1"
port = {port}
security = "none"
[web]
subscribe_per_hour = 1000000
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sink(port: int) -> None:
    from aiosmtpd.controller import Controller

    class Discard:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            return "250 OK"

    controller = Controller(Discard(), hostname="127.0.0.1", port=port)
    controller.start()
    time.sleep(3600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    port = free_port()
    server = multiprocessing.Process(target=sink, args=(port,), daemon=True)
    server.start()
    time.sleep(1.0)
    from starlette.testclient import TestClient

    from publisher import publish
    from publisher.clock import system_clock
    from publisher.config import load_settings
    from publisher.web.app import create_app

    os.environ.setdefault("PUBLISHER_SECRET_KEY", "a benchmark key, not a secret")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "content").mkdir()
        (root / "publisher.toml").write_text(CONFIG.format(port=port))
        publish.build(load_settings(root), system_clock)
        with TestClient(create_app(load_settings(root))) as client:
            client.post("/subscribe", data={"email": "warm@example.org"})
            started = time.perf_counter()
            for n in range(args.requests):
                answer = client.post("/subscribe", data={"email": f"reader{n}@example.org"})
                assert answer.status_code == 200, answer.text
            elapsed = time.perf_counter() - started
    server.terminate()
    print(f"subscribe over SMTP: {args.requests} requests in {elapsed:.2f} s, "
          f"{args.requests / elapsed:,.0f} requests/s")


if __name__ == "__main__":
    main()
