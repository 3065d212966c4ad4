"""Jinja2 templates: the site's own `templates/` first, then the default theme, file by file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import jinja2
import jinja2.bccache

from publisher.errors import TemplateError
from publisher.text import direction

PACKAGE_DIR = Path(__file__).resolve().parent


def default_theme_path() -> Path:
    """The theme packaged in the wheel, or the repository's `templates/` in a checkout."""
    packaged = PACKAGE_DIR / "_theme"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / "templates"


def template_folders(site_templates: Path) -> list[Path]:
    folders = [site_templates] if site_templates.is_dir() else []
    return [*folders, default_theme_path()]


def environment(site_templates: Path) -> jinja2.Environment:
    """Autoescaping for HTML and XML, and an error for every undefined name."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in template_folders(site_templates)]),
        autoescape=jinja2.select_autoescape(["html", "htm", "xml", "xsl"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["direction"] = direction
    return env


class CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Templates compiled by an earlier build, kept in the state folder: compiling the
    site's templates took longer than rendering what a one-article edit changes.

    Jinja keys each file on the template's name and path and checks the source's
    hash and Python's version before using it. A cache is only a shortcut: a file that
    cannot be read or written is ignored, and the template is compiled as usual.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__(str(folder), "%s.cache")
        self._folder = folder

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError, TypeError):  # damaged: compile afresh
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            super().dump_bytecode(bucket)
        except OSError:
            pass


def get_template(env: jinja2.Environment, name: str) -> jinja2.Template:
    """Load a template, turning a syntax error into a message naming file and line."""
    try:
        return env.get_template(name)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"broken template: {exc.message}", path=exc.filename or name,
                            line=exc.lineno, hint="fix the Jinja2 syntax at that line") from None
    except jinja2.TemplateNotFound:
        raise TemplateError(f"template {name!r} not found",
                            hint="restore it in templates/ or delete your copy to use the "
                            "default theme's") from None


def render(template: jinja2.Template, **context: object) -> str:
    """Render, turning an undefined name or a failing filter into a located message."""
    try:
        return template.render(**context)
    except jinja2.UndefinedError as exc:
        path, line = _template_location(exc, template)
        raise TemplateError(f"template error: {exc.message}", path=path, line=line,
                            hint="check the names the template uses") from None
    except jinja2.TemplateError as exc:
        path, line = _template_location(exc, template)
        raise TemplateError(f"template error: {exc}", path=path, line=line) from None
    except Exception as exc:  # a filter or a method called by the template failed
        path, line = _template_location(exc, template)
        raise TemplateError(f"template error: {type(exc).__name__}: {exc}", path=path,
                            line=line, hint="check what the template does at that line") \
            from None


def _template_location(exc: BaseException, template: jinja2.Template
                       ) -> tuple[str | None, int | None]:
    """The template file and line where rendering failed (an included one, if that failed).

    Jinja rewrites the traceback so that template frames carry the template's
    file name and line; the deepest such frame is where the mistake is.
    """
    path, line = template.filename, None
    tb = exc.__traceback__
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            path, line = tb.tb_frame.f_code.co_filename, tb.tb_lineno
        tb = tb.tb_next
    return path, line


def fingerprint(env: jinja2.Environment, prefix: str = "") -> str:
    """A hash of every theme file under `prefix`: what a set of outputs was made from.

    Files are hashed as bytes, so an image in the theme (the site's icon) counts too.
    """
    digest = hashlib.sha256()
    loader = env.loader
    assert isinstance(loader, jinja2.FileSystemLoader)
    for name in sorted(n for n in env.list_templates() if n.startswith(prefix)):
        path = theme_file(loader, name)
        data = path.read_bytes() if path is not None else b""
        digest.update(f"{name}\0{path}\0".encode() + data + b"\0")
    return digest.hexdigest()


def theme_file(loader: jinja2.FileSystemLoader, name: str) -> Path | None:
    """The file that `name` comes from: the site's own copy first, else the default theme's."""
    for folder in loader.searchpath:
        path = Path(folder, *name.split("/"))
        if path.is_file():
            return path
    return None
