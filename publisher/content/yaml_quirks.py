"""PyYAML, and its quirks, in one place: front matter read as its author meant it.

- An impossible date (`2026-02-30`, month 13, year 0, an offset of +99:00) makes
  PyYAML's timestamp constructor raise; here it stays the text it was, and the
  date reader says what is wrong with it.
- A key written twice silently keeps the last value; here each repeat is
  reported with both lines.
- YAML 1.1 reads `title: No` as False, `title: 12:30` as 750 and `tags: [010]` as
  8; a text field takes the scalar as written instead (`text_as_written`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:  # the C parser is several times faster; PyYAML ships it in its wheels
    from yaml import CSafeLoader as _Base
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Base

MERGE_TAG = "tag:yaml.org,2002:merge"


class _Loader(_Base):  # type: ignore[misc]
    """The safe loader, with impossible timestamps kept as text."""


def _timestamp(loader: SafeConstructor, node: Node) -> object:
    try:
        return SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A key written a second time in one mapping (lines counted within the YAML text)."""

    key: str
    first_line: int  # 0-based
    line: int


@dataclass
class Document:
    """The front matter's data, with what the author wrote for each top-level value."""

    data: Any
    written: dict[str, Any] = field(default_factory=dict)
    duplicates: list[Duplicate] = field(default_factory=list)


def load(text: str) -> Document:
    """Parse one YAML document; `yaml.YAMLError` for broken syntax."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()
    if node is None:
        return Document(None)
    return Document(data, _written(node), _duplicates(node))


def text_as_written(value: Any, written: Any) -> Any:
    """A text field's value: the scalar as typed when YAML made it a number, boolean or date.

    Lists and mappings of scalars (tags, an author) are taken item by item.
    """
    if isinstance(value, bool | int | float | date | bytes) and isinstance(written, str):
        return written
    if isinstance(value, list) and isinstance(written, list) and len(value) == len(written):
        return [text_as_written(v, w) for v, w in zip(value, written, strict=True)]
    if isinstance(value, dict) and isinstance(written, dict):
        return {k: text_as_written(v, written.get(k)) for k, v in value.items()}
    return value


def _written(node: Node) -> dict[str, Any]:
    """Each top-level key's scalar text (or list or mapping of scalar texts)."""
    if not isinstance(node, MappingNode):
        return {}
    return {key.value: _scalar_texts(value) for key, value in node.value
            if isinstance(key, ScalarNode)}


def _scalar_texts(node: Node) -> Any:
    if isinstance(node, ScalarNode):
        return node.value
    if isinstance(node, SequenceNode):
        return [item.value if isinstance(item, ScalarNode) else None for item in node.value]
    if isinstance(node, MappingNode):
        return {k.value: v.value for k, v in node.value
                if isinstance(k, ScalarNode) and isinstance(v, ScalarNode)}
    return None


def _duplicates(root: Node) -> list[Duplicate]:
    """Keys repeated in any mapping, each node visited once (aliases may share or loop)."""
    found: list[Duplicate] = []
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                pending.append(value)
                if not isinstance(key, ScalarNode) or key.tag == MERGE_TAG:
                    continue
                earlier = first.get((key.tag, key.value))
                if earlier is None:
                    first[(key.tag, key.value)] = key.start_mark.line
                else:
                    found.append(Duplicate(key.value, earlier, key.start_mark.line))
        elif isinstance(node, SequenceNode):
            pending.extend(node.value)
    return sorted(found, key=lambda d: d.line)


YAMLError = yaml.YAMLError
