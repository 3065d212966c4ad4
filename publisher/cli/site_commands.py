"""`build`, `check`, `init` and `import`: the commands that work on the site's files."""

from __future__ import annotations

from pathlib import Path

import click

from publisher.build import quick
from publisher.cli import AppContext, cli, pass_app, plural, warn
from publisher.models import BuildReport


@cli.command()
@click.option("--strict", is_flag=True, help="Treat warnings (such as unknown keys) as errors.")
@click.option("--now", metavar="ISO-DATETIME",
              help="Build as if it were this moment (articles dated later stay unpublished).")
@pass_app
def build(app: AppContext, strict: bool, now: str | None) -> None:
    """Publish the site's feeds (and pages) into the output folder."""
    app.now = now
    answer = quick.unchanged(app.site, app.clock(), strict=strict) if now is None else None
    if answer is not None:  # told from the files' stamps, without loading the site
        _summarise(answer.report, answer.output_dir)
        return
    from publisher import publish

    settings = app.settings
    _summarise(publish.build(settings, app.clock, strict=strict), settings.output_dir)


def _summarise(report: BuildReport, output_dir: str) -> None:
    warn(list(report.warnings))
    _list_assigned_ids(report.ids_assigned)
    extras = []
    if report.drafts:
        extras.append(plural(report.drafts, "draft") + " skipped")
    if report.scheduled:
        extras.append(plural(report.scheduled, "article") + " scheduled for later")
    tail = f" ({', '.join(extras)})" if extras else ""
    click.echo(
        f"Published {plural(report.articles, 'article')} to {output_dir}/: "
        f"{len(report.written):,} written, {report.unchanged:,} unchanged, "
        f"{len(report.removed):,} removed{tail}"
    )


def _list_assigned_ids(sources: tuple[str, ...], shown: int = 10) -> None:
    """Name the articles that got an id; a first build of a large archive gets a count."""
    for source in sources[:shown]:
        click.echo(f"assigned a permanent id to {source}")
    if len(sources) > shown:
        click.echo(f"... and to {plural(len(sources) - shown, 'other article')}")


@cli.command()
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--now", metavar="ISO-DATETIME", help="Check as if it were this moment.")
@pass_app
def check(app: AppContext, strict: bool, now: str | None) -> None:
    """Validate the configuration and every article without writing anything."""
    from publisher import publish

    app.now = now
    settings = app.settings
    loaded, warnings = publish.check(settings, app.clock, strict=strict)
    warn(warnings)
    pending = len(loaded.pending_ids)
    note = f"; {plural(pending, 'article')} will get a permanent id at the next build" \
        if pending else ""
    click.echo(f"OK: {plural(len(loaded.articles), 'article')}, "
               f"{plural(len(warnings), 'warning')}{note}")


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--title", default="My Publication", show_default=True)
@click.option("--base-url", default="https://example.org/", show_default=True)
def init(directory: Path, title: str, base_url: str) -> None:
    """Create a new site in DIRECTORY, ready for `publisher build`."""
    from publisher.scaffold import create_site

    created = create_site(directory, title=title, base_url=base_url)
    for path in created:
        click.echo(f"created {path}")
    click.echo(f"\nNext: cd {directory} && publisher build")
