"""`publisher serve`: the published site and the subscription service over HTTP (uvicorn)."""

from __future__ import annotations

import errno
import logging
import os
import socket
from pathlib import Path

import click

from publisher.cli import AppContext, cli, pass_app
from publisher.config import SITE_ENV, load_settings
from publisher.errors import PublisherError

PREVIEW_ENV = "PUBLISHER_SERVE_PREVIEW"  # --preview, for the worker processes
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes answering requests.")
@click.option("--access-log", is_flag=True,
              help="Log every request (the lines include the tokens of the links).")
@click.option("--preview/--no-preview", default=None,
              help="Show the pages pointed at the address they are opened on (images, "
              "links, the subscribe form). Default: only for requests to a local address "
              "such as 127.0.0.1 or localhost.")
@pass_app
def serve(app: AppContext, host: str, port: int, workers: int, access_log: bool,
          preview: bool | None) -> None:
    """Serve the output folder, and subscribe / confirm / unsubscribe, until Ctrl+C."""
    import uvicorn

    from publisher.web.app import create_app
    from publisher.web.preview import PreviewMode

    settings = app.settings
    mode = PreviewMode.AUTO if preview is None else PreviewMode.ON if preview \
        else PreviewMode.OFF
    # configuration problems stop us here, with a message
    application = create_app(settings, preview=mode)
    _check_free(host, port)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Serving {settings.output_dir}/ and the subscription service at "
               f"http://{shown}:{port}/ (Ctrl+C to stop)")
    # The service reads X-Forwarded-For itself, and only from `[web] trusted_proxies`:
    # uvicorn's own reading would trust any local process that sets it.
    options = {"host": host, "port": port, "log_level": "warning", "access_log": access_log,
               "server_header": False, "proxy_headers": False}
    if workers == 1:
        uvicorn.run(application, **options)  # type: ignore[arg-type]
        return
    os.environ[SITE_ENV] = str(settings.root.resolve())  # each worker loads the site again
    os.environ[PREVIEW_ENV] = mode.value
    uvicorn.run("publisher.cli.web_commands:worker_app", factory=True, workers=workers,
                **options)  # type: ignore[arg-type]


def _check_free(host: str, port: int) -> None:
    """Say plainly when the address is taken, before uvicorn logs and exits on its own."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PublisherError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                                 hint=_listen_hint(exc, port)) from None


def _listen_hint(exc: OSError, port: int) -> str:
    """What to change when the address cannot be bound, as the system's reason says."""
    if isinstance(exc, socket.gaierror):
        return "--host is not an address or a name this machine can look up: use an IP " \
            "address such as 127.0.0.1 or 0.0.0.0"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "--host is not an address of this machine: use 127.0.0.1, 0.0.0.0 (every " \
            "address) or one that `ip addr` lists"
    if exc.errno == errno.EACCES and port < 1024:
        return "ports below 1024 need privileges: use a higher --port and let nginx or a " \
            "proxy listen on the low one"
    if exc.errno == errno.EADDRINUSE:
        return "another program is using the port: choose another with --port, or stop it"
    return "check --host and --port"


def worker_app() -> object:
    """The application of one of several worker processes."""
    from publisher.web.app import create_app
    from publisher.web.preview import PreviewMode

    mode = PreviewMode(os.environ.get(PREVIEW_ENV, PreviewMode.AUTO.value))
    return create_app(load_settings(Path(os.environ[SITE_ENV])), preview=mode)
