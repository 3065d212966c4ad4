"""How fast `publisher deploy` uploads a site, and what a deploy with no change costs.

Builds the synthetic archive of `sitegen` (10,000 articles by default), starts a
moto S3 server on 127.0.0.1 and runs `publisher deploy` three times, each as its
own process: to an empty bucket, again with nothing changed, and after one
article was edited and the site rebuilt. For each it prints the wall time, the
objects and bytes uploaded, and the files per second.

moto answers in Python, so the cold figure is bound by the server as much as by
the deploy; the no-change figure (one listing, one manifest read, hashing every
local file) is the deploy's own.

    pip install -e '.[test]'    # boto3 and moto[server]
    python benchmarks/deploy.py [--articles N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sitegen

LINE = re.compile(r"(\d[\d,]*) uploaded \(([^)]*)\), (\d[\d,]*) unchanged")


def publisher(site: Path, *args: str, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "publisher.cli", "--site", str(site), *args],
                          capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"publisher {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return wall, done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    options = parser.parse_args()
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    os.environ.update(env)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench-site")
    figures: dict[str, dict[str, float | str]] = {}
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder) / "site"
        articles = sitegen.make_articles(options.articles, 7)
        sitegen.write_publisher_site(site, articles)
        with (site / "publisher.toml").open("a", encoding="utf-8") as config:
            config.write(f'\n[deploy]\ntarget = "s3://bench-site/news"\n'
                         f'endpoint_url = "{endpoint}"\n')
        publisher(site, "build", env=env)
        files = sum(1 for p in (site / "public").rglob("*") if p.is_file())
        print(f"{options.articles:,} articles, {files:,} files in public/")
        for label in ("cold", "no change", "one article edited"):
            if label == "one article edited":
                newest = max((site / "content").rglob("*.md"), key=lambda p: p.name)
                sitegen.edit_one_sentence(newest)
                publisher(site, "build", env=env)
            wall, line = publisher(site, "deploy", env=env)
            match = LINE.search(line)
            assert match, line
            uploaded = int(match.group(1).replace(",", ""))
            figures[label] = {"wall_s": round(wall, 2), "uploaded": uploaded,
                              "uploaded_size": match.group(2),
                              "files_per_s": round(uploaded / wall, 1)}
            print(f"{label:<20} {wall:7.2f} s  {uploaded:>7,} uploaded ({match.group(2)}), "
                  f"{uploaded / wall:8.1f} files/s")
    server.stop()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
