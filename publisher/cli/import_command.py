"""`publisher import FILE...`: bring plain-text articles from the old site into `content/`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from publisher.cli import AppContext, cli, pass_app
from publisher.clock import MomentOutOfRange, parse_moment
from publisher.content.importer import ImportOptions, import_files
from publisher.errors import ProblemsError
from publisher.text import plural, slugify


def _tags(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """Tags as the loader will keep them: white space tidied, one per slug."""
    tags: dict[str, str] = {}
    for value in values:
        name = " ".join(value.split())
        if not name.isprintable() or "<" in name or ">" in name:
            raise click.BadParameter(f"tag {value!r} holds a control character or markup", ctx,
                                     param)
        if not slugify(name):
            raise click.BadParameter(f"tag {value!r} has no letters or digits", ctx, param)
        tags.setdefault(slugify(name), name)
    return tuple(tags.values())


def _date(app: AppContext, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_moment(text, app.settings.zone)
    except MomentOutOfRange as exc:
        raise click.BadParameter(f"{text!r} {exc}", param_hint="--date") from None
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 date or date-time, e.g. 2026-11-03 or "
            "2026-11-03T09:30:00+01:00",
            param_hint="--date",
        ) from None


@cli.command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--date", "date_text", metavar="ISO-DATE",
              help="The articles' date (without an offset: in the site's timezone). "
              "Default: each file's modification time.")
@click.option("--tag", "tags", multiple=True, callback=_tags, metavar="NAME",
              help="Tag every imported article (repeat for several tags).")
@click.option("--draft", is_flag=True, help="Import as drafts, which the build does not publish.")
@pass_app
def import_(app: AppContext, files: tuple[Path, ...], date_text: str | None,
            tags: tuple[str, ...], draft: bool) -> None:
    """Import plain-text articles (title line, then the text) as Markdown articles.

    Existing articles are never overwritten. Files that cannot be imported are
    listed with the reason; the others are imported all the same.
    """
    options = ImportOptions(date=_date(app, date_text), tags=tags, draft=draft)
    report = import_files(files, app.settings, options)
    for done in report.imported:
        note = f" ({plural(done.left_out, 'invisible control character')} left out)" \
            if done.left_out else ""
        click.echo(f"imported {done.source} as {done.target}{note}")
    count = len(report.imported)
    click.echo(f"imported {count} of {plural(len(files), 'file')}")
    if report.problems:
        failed = len(report.problems)
        raise ProblemsError(report.problems,
                            summary=f"{plural(failed, 'file')} not imported")
