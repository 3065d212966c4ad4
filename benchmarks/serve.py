"""Requests per second for a feed from `publisher serve`, against nginx on the same folder.

A synthetic archive (`sitegen.py`, 200 articles by default) is built once; its
`rss.xml` (50 items, full content) is then fetched by `wrk` on 127.0.0.1 from:

- `publisher serve` with one worker process, and with `--workers 2`;
- nginx (Debian's package), started here with a minimal configuration written to
  a temporary folder (`etag on`, `gzip_static` with a .gz copy of the feed written
  beside it, no access log), as the current user, stopped at the end; one worker
  process, then two.

Each server is measured three ways: a full answer (200), a revalidation with the
feed's ETag (`If-None-Match`, 304), and a full answer to a client that accepts
gzip, as feed readers do. Before measuring, one request of each kind checks the
status, the content type and the ETag, so that no figure counts the wrong answer.
The last line is JSON with every figure.

Run: python benchmarks/serve.py [--articles N] [--duration S] [--connections N]
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import platform
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from sitegen import make_articles, write_publisher_site

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
FEED = "rss.xml"
KINDS = ("200", "304", "200 gzip")
NGINX_CONF = """\
{user}worker_processes {workers};
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    etag on;
    gzip_static on;  # the feed's .gz copy, written beside it by this script
    gzip on;
    gzip_types application/rss+xml application/atom+xml application/feed+json text/xsl
               text/css image/svg+xml;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {public};
        location ~ /rss\\.xml$ {{ types {{ }} default_type application/rss+xml; }}
        location ~ /atom\\.xml$ {{ types {{ }} default_type application/atom+xml; }}
        location / {{ try_files $uri $uri/ =404; }}
    }}
}}
"""


def uvicorn_parts() -> str:
    """Which HTTP parser and event loop uvicorn will pick (the fast ones if installed)."""
    parts = [name for name in ("httptools", "uvloop") if importlib.util.find_spec(name)]
    return " and ".join(parts) if parts else "h11 and asyncio (pure Python)"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def publisher_command() -> list[str]:
    script = Path(sys.executable).parent / "publisher"
    return [str(script)] if script.is_file() else [
        sys.executable, "-c", "from publisher.cli import main; main()"]


def build_site(folder: Path, articles: int) -> Path:
    """The archive, and a gzip copy of the feed for nginx's gzip_static (as a deployment
    that compresses once would have; publisher serve keeps its own copy in memory)."""
    site = folder / "site"
    write_publisher_site(site, make_articles(articles, seed=7))
    subprocess.run([*publisher_command(), "--site", str(site), "build"], check=True,
                   stdout=subprocess.DEVNULL)
    feed = site / "public" / FEED
    feed.with_name(FEED + ".gz").write_bytes(gzip.compress(feed.read_bytes(), 9, mtime=0))
    return site


def wait_until_up(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own server
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"no answer from {url} within 20 s:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_publisher(site: Path, port: int, workers: int, folder: Path
                    ) -> subprocess.Popen[bytes]:
    log = folder / f"publisher-{workers}.log"
    env = {**os.environ, "PUBLISHER_SECRET_KEY": secrets.token_hex(16)}
    command = [*publisher_command(), "--site", str(site), "serve", "--port", str(port),
               "--workers", str(workers)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_until_up(process, f"http://127.0.0.1:{port}/{FEED}", log)
    return process


def start_nginx(public: Path, port: int, workers: int, folder: Path
                ) -> subprocess.Popen[bytes]:
    conf_dir = folder / f"nginx-{workers}"
    conf_dir.mkdir()
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    conf = conf_dir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, workers=workers, folder=conf_dir, port=port,
                                      public=public))
    log = conf_dir / "start.log"
    with log.open("wb") as out:
        process = subprocess.Popen([NGINX, "-p", str(conf_dir), "-c", str(conf),
                                    "-e", str(conf_dir / "error.log")],
                                   stdout=out, stderr=subprocess.STDOUT)
    wait_until_up(process, f"http://127.0.0.1:{port}/{FEED}", log)
    return process


def probe(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], int]:
    """One request: status, headers (lower-case names), body length."""
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - our own server
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            body = answer.read()
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, len(body)
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, 0


def request_headers(url: str) -> dict[str, dict[str, str]]:
    """The headers of each kind of request, checked to get the answer they stand for."""
    status, first, size = probe(url, {"Accept-Encoding": "identity"})
    etag = first.get("etag", "")
    assert status == 200 and size > 0 and etag, (status, first)
    assert first["content-type"].startswith("application/rss+xml"), first["content-type"]
    kinds = {"200": {}, "304": {"If-None-Match": etag}, "200 gzip": {"Accept-Encoding": "gzip"}}
    for kind, headers in kinds.items():
        status, answer, _ = probe(url, {"Accept-Encoding": "identity", **headers})
        assert status == int(kind[:3]), (kind, status)
        if kind == "200 gzip":
            assert answer.get("content-encoding") == "gzip", (kind, answer)
    return kinds


def wrk(url: str, headers: dict[str, str], args: argparse.Namespace) -> float:
    command = [WRK, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx responses" in output or "Socket errors" in output:
        print(output, file=sys.stderr)
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if found is None:
        sys.exit(f"cannot read wrk's output:\n{output}")
    return float(found.group(1))


def measure(name: str, url: str, args: argparse.Namespace) -> dict[str, float]:
    kinds = request_headers(url)
    figures = {}
    for kind in KINDS:
        wrk(url, kinds[kind], argparse.Namespace(**{**vars(args), "duration": 1}))  # warm up
        figures[kind] = wrk(url, kinds[kind], args)
        print(f"  {name:<28} {kind:<9} {figures[kind]:>10,.0f} requests/s", flush=True)
    return figures


def run_server(kind: str, workers: int, site: Path, folder: Path,
               args: argparse.Namespace) -> dict[str, float]:
    port = free_port()
    if kind == "publisher":
        process = start_publisher(site, port, workers, folder)
        name = f"publisher serve ({workers} worker{'s' if workers > 1 else ''})"
    else:
        process = start_nginx(site / "public", port, workers, folder)
        name = f"nginx ({workers} worker{'s' if workers > 1 else ''})"
    try:
        return measure(name, f"http://127.0.0.1:{port}/{FEED}", args)
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk's threads")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    for tool in (NGINX, WRK):
        if not Path(tool).is_file():
            sys.exit(f"{tool} is missing: apt-get install nginx-light wrk")
    print(f"{os.cpu_count()} cores, Python {platform.python_version()}, load average "
          f"{os.getloadavg()[0]:.2f}; wrk -t{args.threads} -c{args.connections} "
          f"-d{args.duration}s on 127.0.0.1; uvicorn with {uvicorn_parts()}")
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="publisher-serve-bench-") as temp:
        folder = Path(temp)
        site = build_site(folder, args.articles)
        size = (site / "public" / FEED).stat().st_size
        print(f"{FEED}: {size / 1024:.0f} KB, {args.articles} articles built\n")
        for workers in args.workers:
            for kind in ("publisher", "nginx"):
                results[f"{kind}-{workers}"] = run_server(kind, workers, site, folder, args)
    print("\nratio (publisher serve / nginx, same number of worker processes):")
    ratios = {}
    for workers in args.workers:
        ours, theirs = results[f"publisher-{workers}"], results[f"nginx-{workers}"]
        for kind in KINDS:
            ratio = ours[kind] / theirs[kind]
            ratios[f"{workers}-{kind}"] = round(ratio, 3)
            print(f"  {workers} worker(s), {kind:<9} {ratio:6.1%}")
    print(json.dumps({"feed_bytes": size, "args": vars(args), "uvicorn": uvicorn_parts(),
                      "requests_per_second": results,
                      "ratios": ratios, "load_average_after": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
