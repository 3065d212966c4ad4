"""TOML and pydantic's complaints turned into located `Problem`s, said the way a person
editing the file thinks of them: the file, the line, the dotted key, a hint."""

from __future__ import annotations

import difflib
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from publisher.errors import ConfigError, Problem

M = TypeVar("M", bound=BaseModel)


def validate_model(model: type[M], data: dict[str, Any], label: str, text: str) -> M:
    """Validate `data` with a pydantic model, turning its errors into located `Problem`s."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = key_lines(text)
        problems = [_problem_from(err, model, label, lines) for err in exc.errors()]
        raise ConfigError(problems) from None


def _problem_from(err: Any, model: type[BaseModel], label: str, lines: dict[str, int]) -> Problem:
    loc = [str(part) for part in err["loc"]]
    key = ".".join(loc)
    line = lines.get(key) or lines.get(".".join(loc[:-1]))
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        return Problem("unknown key", path=label, line=line, key=key, hint=hint)
    if kind == "missing":
        table = _is_table(model, loc)
        return Problem(f"required {'table' if table else 'key'} is missing", path=label,
                       line=line, key=key, hint=_missing_hint(model, loc) if table
                       else f"add `{loc[-1]} = ...`")
    given = (err.get("ctx") or {}).get("hint")
    return Problem(_message(err), path=label, line=line, key=key,
                   hint=str(given) if given else None)


def _message(err: Any) -> str:
    """pydantic's message, said the way a person editing a TOML file thinks of it."""
    ctx = err.get("ctx") or {}
    simple = {
        "string_too_short": "must not be empty",
        "too_short": "must not be empty",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "greater_than": f"must be more than {ctx.get('gt')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "tuple_type": "must be a list, e.g. [\"a\", \"b\"]",
        "list_type": "must be a list, e.g. [\"a\", \"b\"]",
        "float_type": "must be a number",
        "string_too_long": f"must be at most {ctx.get('max_length')} characters",
        "float_parsing": "must be a number",
        "bool_parsing": "must be true or false",
        "bool_type": "must be true or false",
        "string_type": "must be a quoted string",
        "literal_error": f"must be {ctx.get('expected')}",
        "string_pattern_mismatch": "is not in the expected format",
        "model_type": "must be a table of keys",
    }
    if err["type"] in simple:
        return simple[err["type"]]
    if err["type"] == "hinted":
        return str(ctx["message"])
    message = str(err["msg"]).removeprefix("Value error, ")
    return message[0].lower() + message[1:]


def _is_table(model: type[BaseModel], loc: list[str]) -> bool:
    current: Any = model
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return False
        current = field.annotation
    return isinstance(current, type) and issubclass(current, BaseModel)


def _missing_hint(model: type[BaseModel], loc: list[str]) -> str:
    required = [k for k, f in _table_fields(model, loc).items() if f.is_required()]
    keys = " and ".join(f'{k} = "..."' for k in required)
    return f"add a table [{'.'.join(loc)}]" + (f" with {keys}" if keys else "")


def _table_fields(model: type[BaseModel], loc: list[str]) -> dict[str, Any]:
    current: Any = model
    for part in loc:
        current = current.model_fields[part].annotation
    return dict(current.model_fields)


def _known_keys(model: type[BaseModel], loc: list[str]) -> list[str]:
    current: Any = model
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = field.annotation
    return sorted(k for k in getattr(current, "model_fields", {}) if k != "root")


_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\s\"]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


def key_lines(text: str) -> dict[str, int]:
    """Map each dotted key written in a TOML text to its line number (1-based)."""
    found: dict[str, int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = header.group(1).replace(" ", "").replace('"', "")
            found.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            found.setdefault(f"{table}.{key.group(1)}" if table else key.group(1), number)
    return found


def toml_error_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None
