"""The import rules of ``docs/architecture.md``, checked on the source: which package may import
which (``ALLOWED``), no import cycle between kpose modules, and no import of another module's
private (``_name``) names. Imports inside functions count as much as top-level ones.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kpose"
CLIS = {"fit", "evaluate", "infer", "convert", "export"}

# Room -> the rooms it may import (besides itself). A room is a subpackage of kpose, or one of
# the top-level modules; the five CLI modules and their shared kpose/cli.py form the room
# "cli". Keep docs/architecture.md's table in step with this one.
ALLOWED = {
    room: set(rooms.split())
    for room, rooms in {
        "errors": "",
        "devices": "errors",
        "metainfo": "errors",
        "recipe": "errors metainfo",
        "geometry": "errors",
        "codecs": "errors metainfo geometry recipe",
        "data": "errors metainfo geometry codecs recipe",
        "models": "errors metainfo recipe",
        "weights": "errors models",
        "detection": "errors models weights",
        "visualize": "errors metainfo data",
        "inference": "errors devices metainfo geometry codecs recipe data models weights "
        "detection visualize presets",
        "evaluation": "errors devices metainfo geometry codecs recipe data models weights "
        "inference",
        "training": "errors devices metainfo geometry codecs recipe data models weights "
        "inference evaluation visualize presets",
        "metrics": "evaluation",
        "presets": "errors recipe",
        "kpose": "errors metainfo presets recipe data models inference weights detection",
        "cli": "errors metainfo recipe presets data inference evaluation training weights "
        "detection kpose",
    }.items()
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _room(module: str) -> str:
    if module == "kpose.data.metainfo":
        return "metainfo"  # keypoint metadata: a leaf that every room may read
    parts = module.split(".")
    if len(parts) == 1:
        return "kpose"
    return "cli" if parts[1] in CLIS | {"cli"} and len(parts) == 2 else parts[1]


def _resolve(name: str) -> str | None:
    """The kpose module a dotted import name refers to (a module, or the module holding it)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> list[tuple[str, list[str], int]]:
    """(imported module, imported names, line) of every kpose import in ``module``."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "kpose":
                    found.append((_resolve(alias.name), [], node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "kpose":
                continue
            for alias in node.names:
                target = _resolve(f"{node.module}.{alias.name}")
                if target == f"{node.module}.{alias.name}":
                    found.append((target, [], node.lineno))  # a submodule
                else:
                    found.append((_resolve(node.module), [alias.name], node.lineno))
    return [entry for entry in found if entry[0] is not None]


def _graph() -> dict[str, set[str]]:
    return {m: {target for target, _, _ in _imports(m) if target != m} for m in MODULES}


def test_rooms_import_only_what_they_may():
    wrong = []
    for module in MODULES:
        room = _room(module)
        assert room in ALLOWED, f"{module}: room {room!r} is not in the table"
        for target, _, line in _imports(module):
            other = _room(target)
            if other != room and other not in ALLOWED[room]:
                wrong.append(
                    f"{MODULES[module].relative_to(PACKAGE.parent)}:{line} ({room}) "
                    f"imports {target} ({other})"
                )
    assert not wrong, "imports the table does not allow:\n" + "\n".join(wrong)


def test_no_import_cycle():
    graph = _graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_no_private_names_from_other_modules():
    wrong = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        aliases = {}  # local name -> kpose module it is bound to
        for target, names, line in _imports(module):
            if any(name.startswith("_") and not name.startswith("__") for name in names):
                wrong.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} imports {names} from {target}"
                )
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if full in MODULES:
                        aliases[alias.asname or alias.name] = full
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name in MODULES:
                        aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                wrong.append(
                    f"{path.relative_to(PACKAGE.parent)}:{node.lineno} uses "
                    f"{aliases[node.value.id]}.{node.attr}"
                )
    assert not wrong, "private names used across modules:\n" + "\n".join(wrong)


@pytest.mark.parametrize("module", sorted(f"kpose.{verb}" for verb in CLIS))
def test_cli_modules_are_not_imported_by_the_library(module):
    importers = [m for m, targets in _graph().items() if module in targets]
    assert not importers, f"{module} is a CLI; the library must not import it: {importers}"
