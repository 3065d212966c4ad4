"""The command line: the only place that prints, and that turns errors into exit codes.

Each group of commands lives in its own module and is registered here.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from publisher import __version__, find_site_root
from publisher.cli.failures import internal_problem, system_problem
from publisher.clock import MomentOutOfRange, parse_moment, system_clock
from publisher.errors import Problem, PublisherError
from publisher.text import plural

if TYPE_CHECKING:  # the configuration's validation is imported only by a command that needs it
    from publisher.config import Settings
    from publisher.models import Clock

__all__ = ["AppContext", "cli", "pass_app", "plural", "report_problems", "warn"]


@dataclass
class AppContext:
    """What every command needs: where the site is, and what time it is."""

    site: Path
    now: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from publisher.config import load_settings

            self._settings = load_settings(self.site)
        return self._settings

    @property
    def clock(self) -> Clock:
        if self.now is None:
            return system_clock
        try:
            moment = parse_moment(self.now, self.settings.zone)
        except MomentOutOfRange as exc:
            raise click.BadParameter(f"{self.now!r} {exc}", param_hint="--now") from None
        except ValueError:
            raise click.BadParameter(
                f"{self.now!r} is not an ISO 8601 date-time, e.g. 2026-11-25T07:00:00+01:00",
                param_hint="--now",
            ) from None
        return lambda: moment


# Which module defines each command. A module is imported only when one of its
# commands runs, so `publisher build` does not pay for the database or the scheduler.
COMMAND_MODULES = {
    "build": "site_commands",
    "check": "site_commands",
    "init": "site_commands",
    "import": "import_command",
    "subscribers": "subscriber_commands",
    "digest": "digest_commands",
    "schedule": "schedule_commands",
    "tick": "schedule_commands",
    "run": "schedule_commands",
    "serve": "web_commands",
    "backup": "store_commands",
    "store": "store_commands",
    "bounces": "bounce_commands",
    "deploy": "deploy_command",
    "worker": "pool_commands",
}


class PublisherGroup(click.Group):
    """Loads commands on demand; turns every `PublisherError` into a message and exit 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMAND_MODULES) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(name)
        if name not in self.commands and module is not None:
            try:
                importlib.import_module(f"publisher.cli.{module}")
            except ModuleNotFoundError as exc:
                if exc.name != f"publisher.cli.{module}":
                    raise
        command = super().get_command(ctx, name)
        if command is not None:
            _accept_site_option(command)
        return command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except PublisherError as exc:
            report_problems(exc.problems, getattr(exc, "summary", None))
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except (click.exceptions.ClickException, click.exceptions.Exit,
                click.exceptions.Abort):
            raise
        except BrokenPipeError:  # `publisher ... | head`: the reader has gone, say nothing
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(1)
        except OSError as exc:
            problem = system_problem(exc) if exc.filename else internal_problem(exc)
            report_problems([problem])
            ctx.exit(1)
        except Exception as exc:
            report_problems([internal_problem(exc)])
            ctx.exit(1)
        return None


def _accept_site_option(command: click.Command) -> None:
    """`--site DIR` after the command's name too (`publisher build --site .`), at any depth."""
    if not any(param.name == "site_after" for param in command.params):
        command.params.append(click.Option(
            ["--site", "site_after"], type=click.Path(file_okay=False, path_type=Path),
            expose_value=False, is_eager=True, callback=_set_site,
            help="The site folder (holding publisher.toml); as `publisher --site DIR`."))
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_site_option(sub)


def _set_site(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    app = ctx.find_object(AppContext)
    if value is not None and app is not None:
        app.site = value
        app._settings = None


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
@click.version_option(version=__version__, prog_name="publisher")
@click.pass_context
def cli(ctx: click.Context, site: Path | None) -> None:
    """Publish a folder of Markdown articles as feeds, an archive site and email digests."""
    ctx.obj = AppContext(find_site_root(site))


def main() -> None:
    cli.main(prog_name="publisher")


if __name__ == "__main__":  # pragma: no cover
    main()
