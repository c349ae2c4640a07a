"""The house's rules, read from the source: the mock's packages import only downward, and no
import (not even one inside a function) makes a cycle. ARCHITECTURE.md explains the layers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "mockserver"
# Bottom first: a module may import from its own layer or the ones below it.
LAYERS = [
    {"errors", "extra", "lazy_exports", "data_files"},
    {"storage"},
    {"specs", "config"},
    {"media"},
    {"incoming"},
    {"runtime"},
    {"vendors"},
    {"admin"},
    {"http"},
    {"testing"},
    {"cli", "__main__", "__init__"},
]


def module_files() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, whether it is a package's __init__)."""
    found = {}
    for path in SOURCE.rglob("*.py"):
        parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


MODULES = module_files()


def imports_of(module: str) -> set[str]:
    """The mockserver modules ``module`` imports, wherever in it the import stands."""
    path, is_package = MODULES[module]
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                imported.add(submodule if submodule in MODULES else target)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    return {name for name in imported if name in MODULES and name != module}


GRAPH = {module: imports_of(module) for module in MODULES}


def layer_of(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    for number, names in enumerate(LAYERS):
        if top in names:
            return number
    raise AssertionError(f"{module} is in no layer: add it to LAYERS (and ARCHITECTURE.md)")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_its_layer_or_lower_ones(module: str) -> None:
    upward = sorted(target for target in GRAPH[module] if layer_of(target) > layer_of(module))
    assert upward == []


def test_no_import_makes_a_cycle() -> None:
    cycles, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycles.append(" -> ".join([*path[path.index(module):], module]))
            return
        if module in done:
            return
        for target in sorted(GRAPH[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(GRAPH):
        visit(module, [])
    assert cycles == []


def test_the_checks_see_the_imports() -> None:
    """(So that the two tests above cannot pass by reading nothing.)"""
    assert "mockserver.runtime.state" in GRAPH["mockserver.vendors.base"]
    assert "mockserver.vendors.registry" in GRAPH["mockserver.http.app"]
