"""venvlock's modules import each other without cycles: deferred and type-checking imports included."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / "venvlock").rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def known(target: str) -> str:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target

    found: set[str] = set()
    for node in ast.walk(tree):  # every import: at the top, deferred in a function, or for type checkers only
        if isinstance(node, ast.Import):
            found.update(known(alias.name) for alias in node.names if alias.name.startswith("venvlock"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base.startswith("venvlock"):
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    found.add(known(full) if full in modules else known(base))
    found.discard(name)
    found.discard("")
    return found


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    cycles: list[list[str]] = []
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycles.append([*trail[trail.index(name) :], name])
            return
        if name in done:
            return
        for target in sorted(graph[name]):
            if not name.startswith(target + "."):  # a module importing its own package's __init__ is no cycle
                visit(target, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert not cycles, "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_adapters_reach_the_core_only_through_the_adapter_layer() -> None:
    """Tool adapters and the command line import no private core module (type-only imports included).

    They go through :mod:`venvlock.adapter` (its :mod:`venvlock.adapter.pip` for
    pip's command line) and name the core's public types; the layer is the one
    place that knows the core's insides.
    """
    offenders = []
    for name, path in sorted(_modules().items()):
        if not name.startswith(("venvlock.plugins.", "venvlock.cli")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("venvlock.core"):
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            offenders += [f"{name}: {t}" for t in targets if t.startswith("venvlock.core.") and "._" in t]
    assert not offenders, "\n".join(offenders)


def test_plugins_still_import_the_markers_from_hookspec() -> None:
    """0.x plugins write ``from venvlock.hookspec import hookimpl``: the leaf module's markers, re-exported."""
    from venvlock import _markers, hookspec

    assert hookspec.hookimpl is _markers.hookimpl
    assert hookspec.hookspec is _markers.hookspec
