"""The command line: the only place that prints, and that turns errors into exit codes.

Each group of commands lives in its own module and is registered here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from publisher.clock import parse_moment, system_clock
from publisher.config import Settings, find_site_root, load_settings
from publisher.errors import Problem, PublisherError
from publisher.models import Clock


@dataclass
class AppContext:
    """What every command needs: where the site is, and what time it is."""

    site: Path
    now: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.site)
        return self._settings

    @property
    def clock(self) -> Clock:
        if self.now is None:
            return system_clock
        try:
            moment = parse_moment(self.now, self.settings.zone)
        except ValueError:
            raise click.BadParameter(
                f"{self.now!r} is not an ISO 8601 date-time, e.g. 2026-11-25T07:00:00+01:00",
                param_hint="--now",
            ) from None
        return lambda: moment


class PublisherGroup(click.Group):
    """Turns every `PublisherError` into a message on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except PublisherError as exc:
            report_problems(exc.problems, getattr(exc, "summary", None))
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


def report_problems(problems: list[Problem], summary: str | None = None) -> None:
    """Print errors and warnings, each with its place and hint, then a summary."""
    for problem in problems:
        label = "warning" if problem.warning else "error"
        colour = "yellow" if problem.warning else "red"
        click.echo(click.style(f"{label}: ", fg=colour, bold=True) + str(problem), err=True)
    if summary and len(problems) > 1:
        click.echo(summary, err=True)


def warn(problems: list[Problem]) -> None:
    for problem in problems:
        click.echo(click.style("warning: ", fg="yellow", bold=True) + str(problem), err=True)


pass_app = click.make_pass_decorator(AppContext)


@click.group(cls=PublisherGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--site", "site", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The site folder (holding publisher.toml). Default: $PUBLISHER_SITE or the "
              "current folder.")
@click.version_option(package_name="publisher")
@click.pass_context
def cli(ctx: click.Context, site: Path | None) -> None:
    """Publish a folder of Markdown articles as feeds, an archive site and email digests."""
    ctx.obj = AppContext(find_site_root(site))


def main() -> None:
    cli.main(prog_name="publisher")


# Each module adds its commands to `cli` when imported.
from publisher.cli import (  # noqa: E402
    import_command,  # noqa: F401
    site_commands,  # noqa: F401
    subscriber_commands,  # noqa: F401
)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
