"""The house rules of the package layout, read from the imports themselves."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "publisher"
ORCHESTRATORS = {"publisher.publish", "publisher.send", "publisher.jobs", "publisher.fleet"}
WINGS = ("content", "build", "digest", "mail", "delivery", "store", "subscribers", "schedule",
         "web", "deploy", "pool")
SHARED = ("errors", "models", "config", "clock", "text", "atomic", "lock", "theme", "scaffold")


def imports() -> dict[str, set[str]]:
    """Each module of the package and the publisher modules it imports (at any depth)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        found[name] = {t for t in targets if t.startswith("publisher")}
    return found


def wing_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_wing_imports_an_orchestrator() -> None:
    offenders = sorted((module, target) for module, targets in imports().items()
                       for target in targets
                       if wing_of(module) in WINGS and target in ORCHESTRATORS)
    assert offenders == []


def test_shared_modules_import_no_wing_and_no_orchestrator() -> None:
    offenders = sorted((module, target) for module, targets in imports().items()
                       if wing_of(module) in SHARED for target in targets
                       if wing_of(target) in WINGS or target in ORCHESTRATORS)
    assert offenders == []


def test_digest_and_delivery_read_neither_the_configuration_nor_the_concrete_store() -> None:
    forbidden = {"publisher.config", "publisher.store", "publisher.store.database"}
    offenders = sorted((module, target) for module, targets in imports().items()
                       if wing_of(module) in ("digest", "delivery")
                       for target in targets if target in forbidden)
    assert offenders == []


def test_the_wings_import_each_other_without_a_cycle() -> None:
    graph: dict[str, set[str]] = {w: set() for w in WINGS}
    for module, targets in imports().items():
        for target in targets:
            if wing_of(module) in WINGS and wing_of(target) in WINGS \
                    and wing_of(target) != wing_of(module):
                graph[wing_of(module)].add(wing_of(target))
    done: set[str] = set()

    def visit(wing: str, path: tuple[str, ...]) -> None:
        assert wing not in path, " -> ".join((*path, wing))
        if wing not in done:
            for other in sorted(graph[wing]):
                visit(other, (*path, wing))
            done.add(wing)

    for wing in WINGS:
        visit(wing, ())


def test_at_most_a_dozen_modules_stay_at_the_top() -> None:
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert set(top) <= set(SHARED) | {o.split(".")[1] for o in ORCHESTRATORS}
    assert len(top) <= 12
