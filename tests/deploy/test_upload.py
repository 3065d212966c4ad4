"""Deploys to a real S3 API: moto's server on 127.0.0.1, reached through boto3 over HTTP."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from publisher import publish
from publisher.config import load_settings
from publisher.deploy.plan import IMMUTABLE, MANIFEST, LocalFile
from publisher.deploy.upload import deploy
from publisher.errors import DeployError
from tests.conftest import NOW, SiteFactory, article

ARTICLES = {
    "content/ferry.md": article("Ferry fares rise", "2026-11-02 09:00", id="ferry",
                                tags="[transport]"),
    "content/bridge.md": article("Bridge closes", "2026-11-10 09:00", id="bridge"),
    "static/images/map.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
    "static/fonts/body.3f2a9c1d77.woff2": b"\x00font",
    "static/downloads/report.csv.gz": b"\x1f\x8bnot really",
}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    moto = pytest.importorskip("moto.server", reason="moto[server] is needed for deploy tests")
    server = moto.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                        "AWS_CONFIG_FILE": "/dev/null",
                        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def bucket(endpoint: str) -> tuple[str, Any]:
    import boto3

    name = f"site-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=name)
    return name, client


def built(make_site: SiteFactory, clock: Any) -> Path:
    root = make_site(ARTICLES)
    publish.build(load_settings(root), clock)
    return root


def objects(client: Any, name: str, prefix: str = "") -> dict[str, bytes]:
    listed = client.list_objects_v2(Bucket=name, Prefix=prefix).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=name, Key=o["Key"])["Body"].read()
            for o in listed}


def output_files(root: Path) -> dict[str, bytes]:
    public = root / "public"
    return {p.relative_to(public).as_posix(): p.read_bytes()
            for p in sorted(public.rglob("*")) if p.is_file()}


def test_a_deploy_stores_every_file_with_its_headers_feeds_last(
        make_site: SiteFactory, clock: Any, bucket: tuple[str, Any], endpoint: str) -> None:
    name, client = bucket
    root = built(make_site, clock)
    order: list[str] = []
    report = deploy(root / "public", f"s3://{name}/news", endpoint_url=endpoint,
                    progress=lambda f: order.append(f.path))
    stored = objects(client, name, "news/")
    files = output_files(root)
    assert {k.removeprefix("news/"): v for k, v in stored.items() if k != "news/" + MANIFEST} \
        == files
    assert (report.uploaded, report.unchanged, report.removed) == (len(files), 0, 0)
    feeds = [i for i, path in enumerate(order) if path.endswith(("rss.xml", "atom.xml",
                                                                  "feed.json"))]
    assert len(feeds) == 6 and min(feeds) == len(order) - 6  # every feed after every page

    def head(key: str) -> dict[str, Any]:
        found: dict[str, Any] = client.head_object(Bucket=name, Key="news/" + key)
        return found

    assert head("rss.xml")["ContentType"] == "application/rss+xml; charset=utf-8"
    assert head("rss.xml")["CacheControl"] == "public, max-age=300"
    assert head("index.html")["ContentType"] == "text/html; charset=utf-8"
    assert head("images/map.svg")["CacheControl"] == "public, max-age=86400"
    assert head("fonts/body.3f2a9c1d77.woff2")["CacheControl"] == IMMUTABLE
    packed = head("downloads/report.csv.gz")
    assert (packed["ContentEncoding"], packed["ContentType"]) == ("gzip",
                                                                  "text/csv; charset=utf-8")


def test_a_second_deploy_uploads_nothing_and_an_edit_only_what_changed(
        make_site: SiteFactory, clock: Any, bucket: tuple[str, Any], endpoint: str) -> None:
    name, _ = bucket
    root = built(make_site, clock)
    deploy(root / "public", f"s3://{name}", endpoint_url=endpoint)
    again = deploy(root / "public", f"s3://{name}", endpoint_url=endpoint)
    assert (again.uploaded, again.uploaded_bytes) == (0, 0)
    assert again.unchanged == len(output_files(root))
    (root / "content/bridge.md").write_text(article("Bridge closes", "2026-11-10 09:00",
                                                    id="bridge", body="Now on Sunday.\n"))
    written = set(publish.build(load_settings(root), clock).written)
    uploaded: list[str] = []
    deploy(root / "public", f"s3://{name}", endpoint_url=endpoint,
           progress=lambda f: uploaded.append(f.path))
    assert written and set(uploaded) == written


def test_what_the_site_no_longer_has_is_removed_and_foreign_objects_stay(
        make_site: SiteFactory, clock: Any, bucket: tuple[str, Any], endpoint: str) -> None:
    name, client = bucket
    client.put_object(Bucket=name, Key="keep-me.txt", Body=b"not ours")
    root = built(make_site, clock)
    deploy(root / "public", f"s3://{name}", endpoint_url=endpoint)
    (root / "content/ferry.md").unlink()
    removed = set(publish.build(load_settings(root), clock).removed)
    report = deploy(root / "public", f"s3://{name}", endpoint_url=endpoint)
    stored = objects(client, name)
    assert removed and report.removed == len(removed) and not removed & set(stored)
    assert stored["keep-me.txt"] == b"not ours" and report.foreign == 1
    assert {k: v for k, v in stored.items() if k not in ("keep-me.txt", MANIFEST)} \
        == output_files(root)


def test_a_deploy_stopped_halfway_is_finished_by_the_next(
        make_site: SiteFactory, clock: Any, bucket: tuple[str, Any], endpoint: str) -> None:
    name, client = bucket
    root = built(make_site, clock)
    done: list[str] = []

    def stop_after_five(file: LocalFile) -> None:
        done.append(file.path)
        if len(done) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        deploy(root / "public", f"s3://{name}", endpoint_url=endpoint, progress=stop_after_five)
    assert not any(p.endswith("rss.xml") for p in objects(client, name))  # feeds wait
    report = deploy(root / "public", f"s3://{name}", endpoint_url=endpoint)
    assert report.uploaded == len(output_files(root)) - report.unchanged
    assert report.unchanged >= 5
    assert {k: v for k, v in objects(client, name).items() if k != MANIFEST} \
        == output_files(root)


def test_mistakes_are_told_plainly(make_site: SiteFactory, clock: Any, endpoint: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root = built(make_site, clock)
    with pytest.raises(DeployError) as caught:
        deploy(root / "public", "s3://no-such-bucket-here", endpoint_url=endpoint)
    assert str(caught.value) == (
        "s3://no-such-bucket-here/: NoSuchBucket The specified bucket does not exist\n"
        "  hint: create the bucket, or correct [deploy] target in publisher.toml")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(DeployError) as caught:
        deploy(root / "public", "s3://any-bucket", endpoint_url=endpoint)
    assert str(caught.value).startswith("no credentials to reach s3://any-bucket/\n  hint: set "
                                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    with pytest.raises(DeployError) as caught:
        deploy(root / "nothing-here", "s3://any-bucket", endpoint_url=endpoint)
    assert caught.value.problem.hint == "run `publisher build` first"


def test_the_command_reads_the_target_from_the_configuration(
        make_site: SiteFactory, bucket: tuple[str, Any], endpoint: str) -> None:
    from click.testing import CliRunner

    from publisher.cli import cli
    from tests.conftest import BASE_CONFIG

    name, _ = bucket
    config = BASE_CONFIG + (f'\n[deploy]\ntarget = "s3://{name}/site"\n'
                            f'endpoint_url = "{endpoint}"\n')
    root = make_site(ARTICLES, config=config)
    runner = CliRunner()
    now = ["--now", NOW.isoformat()]
    assert runner.invoke(cli, ["--site", str(root), "build", *now]).exit_code == 0
    first = runner.invoke(cli, ["--site", str(root), "deploy"])
    assert first.exit_code == 0, first.output
    count = len(output_files(root))
    assert first.output.startswith(f"deployed to s3://{name}/site/: {count} uploaded (")
    again = runner.invoke(cli, ["--site", str(root), "deploy"])
    assert again.output == (f"deployed to s3://{name}/site/: 0 uploaded (0 bytes), "
                            f"{count} unchanged\n")
    bad = runner.invoke(cli, ["--site", str(root), "deploy", "ftp://x"])
    assert bad.exit_code == 1
    assert "deploy.target: 'ftp://x' is not an S3 location" in bad.output


def test_a_schedule_deploys_after_its_build(make_site: SiteFactory, bucket: tuple[str, Any],
                                            endpoint: str, tmp_path: Path) -> None:
    from datetime import timedelta

    from publisher.clock import fixed_clock
    from publisher.jobs import SiteJobs
    from publisher.models import Schedule
    from publisher.schedule.files import load_schedules
    from publisher.store.database import Store
    from tests.conftest import BASE_CONFIG

    name, client = bucket
    config = BASE_CONFIG + (f'\n[deploy]\ntarget = "s3://{name}"\n'
                            f'endpoint_url = "{endpoint}"\n')
    root = make_site({**ARTICLES, "schedules/feed.toml": 'action = "build"\nevery = "15m"\n'
                                                         "deploy = true\n"}, config=config)
    settings = load_settings(root)
    [schedule] = load_schedules(settings)
    assert schedule.deploy
    with Store.open(settings.store_url) as store:
        summary = SiteJobs(settings, fixed_clock(NOW), store).run(schedule, NOW)
    count = len(output_files(root))
    assert summary.endswith(f"; deployed {count} of {count} files to s3://{name}/")
    assert len([k for k in objects(client, name) if k != MANIFEST]) == count

    bare = make_site({"schedules/feed.toml": 'action = "build"\nevery = "15m"\ndeploy = true\n'},
                     name="bare")
    from publisher.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        load_schedules(load_settings(bare))
    assert [str(p) for p in caught.value.problems] == [
        "schedules/feed.toml:3: deploy: there is nowhere to deploy to\n  hint: set [deploy] "
        'target = "s3://bucket/folder" in publisher.toml, or remove this line']
    assert Schedule("x", "build", "UTC", every=timedelta(minutes=1)).deploy is False


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files built before a deploy are old enough to trust their stamps."""
    from publisher.content import stamps

    monkeypatch.setattr(stamps, "RACY_NS", 0)


def test_unchanged_files_are_not_read_again_and_an_edit_that_hides_is_still_seen(
        make_site: SiteFactory, clock: Any, bucket: tuple[str, Any], endpoint: str,
        tmp_path: Path, settled: None) -> None:
    from publisher.deploy.plan import local_files, read_hashes

    name, client = bucket
    root = built(make_site, clock)
    hashes = tmp_path / "state/deploy-hashes.json"
    deploy(root / "public", f"s3://{name}", endpoint_url=endpoint, hashes=hashes)
    known = read_hashes(hashes)
    assert set(known) == set(output_files(root))
    fresh = {f.path: f.md5 for f in local_files(root / "public")}
    assert {path: md5 for path, (_, md5) in known.items()} == fresh
    manifest_before = client.head_object(Bucket=name, Key=MANIFEST)["ETag"]
    again = deploy(root / "public", f"s3://{name}", endpoint_url=endpoint, hashes=hashes)
    assert again.uploaded == 0
    assert client.head_object(Bucket=name, Key=MANIFEST)["ETag"] == manifest_before

    page = root / "public/index.html"  # rewritten in place, same size, old time restored
    before = page.stat()
    data = page.read_bytes()
    page.write_bytes(data.replace(b"Bridge closes", b"Bridge closed"))
    os.utime(page, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert page.stat().st_size == before.st_size
    uploaded: list[str] = []
    deploy(root / "public", f"s3://{name}", endpoint_url=endpoint, hashes=hashes,
           progress=lambda f: uploaded.append(f.path))
    assert uploaded == ["index.html"]
    assert b"Bridge closed" in objects(client, name)["index.html"]


def test_a_damaged_hash_file_only_costs_a_reading(
        make_site: SiteFactory, clock: Any, bucket: tuple[str, Any], endpoint: str,
        tmp_path: Path, settled: None) -> None:
    name, _ = bucket
    root = built(make_site, clock)
    hashes = tmp_path / "deploy-hashes.json"
    hashes.write_bytes(b'{"format": 1, "context": "deploy md5", "files": {"index.html": 7}}')
    report = deploy(root / "public", f"s3://{name}", endpoint_url=endpoint, hashes=hashes)
    assert report.uploaded == len(output_files(root))
    assert deploy(root / "public", f"s3://{name}", endpoint_url=endpoint,
                  hashes=hashes).uploaded == 0
