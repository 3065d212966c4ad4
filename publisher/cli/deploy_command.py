"""`publisher deploy [TARGET]`: the output folder uploaded to S3-compatible storage."""

from __future__ import annotations

import click

from publisher.cli import AppContext, cli, pass_app, plural
from publisher.errors import ConfigError, Problem


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:,} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return str(count)


@cli.command()
@click.argument("target", required=False, metavar="[s3://BUCKET/PREFIX]")
@pass_app
def deploy(app: AppContext, target: str | None) -> None:
    """Upload the output folder: only changed files, feeds last, then remove what is gone.

    TARGET defaults to [deploy] target in publisher.toml. Credentials come from
    the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE...).
    """
    from publisher.config import S3_TARGET
    from publisher.deploy.upload import deploy as upload

    settings = app.settings
    chosen = target or settings.deploy.target
    if chosen is None or not S3_TARGET.match(chosen):
        raise ConfigError([Problem(
            "no place to deploy to" if chosen is None else f"{chosen!r} is not an S3 location",
            key="deploy.target", hint="pass s3://bucket/folder, or set [deploy] target in "
            "publisher.toml")])
    report = upload(settings.output_path, chosen, endpoint_url=settings.deploy.endpoint_url,
                    region=settings.deploy.region,
                    hashes=settings.state_path / "deploy-hashes.json")
    removed = f", {report.removed:,} removed" if report.removed else ""
    foreign = (f"; {plural(report.foreign, 'object')} not uploaded by publisher left alone"
               if report.foreign else "")
    click.echo(f"deployed to {report.target}: {report.uploaded:,} uploaded "
               f"({_size(report.uploaded_bytes)}), {report.unchanged:,} unchanged{removed}"
               f"{foreign}")
