"""JSON Feed 1.1 checked against SchemaStore's schema, kept beside the project in ../shared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SCHEMAS = Path(__file__).resolve().parents[2] / "shared/validators/jsonfeed-schema"


def validate_json_feed(feed: Any) -> None:
    """Raise if `feed` breaks the schema; skip (saying why) where the schema is not at hand."""
    if not (SCHEMAS / "feed.json").is_file():
        pytest.skip(f"no JSON Feed schema in {SCHEMAS} to check the whole file against")
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    schemas = {name: json.loads((SCHEMAS / f"{name}.json").read_text("utf-8"))
               for name in ("feed", "feed-1")}
    # feed.json refers to "feed-1#/…", resolved against its own id on schemastore.org:
    # serve that from the local copy, so the check needs no network.
    registry = Registry().with_resources(
        (schema["id"], Resource.from_contents(schema, default_specification=DRAFT4))
        for schema in schemas.values())
    jsonschema.Draft4Validator(schemas["feed"], registry=registry).validate(feed)
