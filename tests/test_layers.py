"""The house's rules, read from the source: the mock's packages import only downward, and no
import (not even one inside a function) makes a cycle. ARCHITECTURE.md explains the layers."""

from __future__ import annotations

import ast
import io
import re
import tokenize
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


# (f-strings are one STRING token up to Python 3.11, and FSTRING_MIDDLE parts after it)
TEXT_TOKENS = (tokenize.NAME, tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING))
VENDOR_NAME = re.compile(r"gewe|lark|feishu|wechat|\bwid\b", re.IGNORECASE)
# Where the mock may name a vendor in code: the vendors' packages and the registry, the
# fixtures for the vendors' clients, and the package's public exports of their settings.
MAY_NAME_VENDORS = ("mockserver.vendors", "mockserver.testing", "mockserver")


def vendor_names_in_code(module: str) -> list[str]:
    """Lines of ``module`` whose identifiers or strings (not comments or docstrings) name a
    vendor."""
    path, _ = MODULES[module]
    source = path.read_text(encoding="utf-8")
    docstrings = {node.body[0].value.lineno for node in ast.walk(ast.parse(source))
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                                | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in TEXT_TOKENS \
                and token.start[0] not in docstrings and VENDOR_NAME.search(token.string):
            found.append(f"{path.name}:{token.start[0]}: {token.line.strip()}")
    return found


@pytest.mark.parametrize("module", sorted(
    m for m in MODULES if not m.startswith(MAY_NAME_VENDORS[:2]) and m != MAY_NAME_VENDORS[2]))
def test_only_the_vendors_packages_name_a_vendor(module: str) -> None:
    assert vendor_names_in_code(module) == []


def test_the_vendor_name_check_sees_names() -> None:
    assert any("LarkConfig" in line for line in vendor_names_in_code("mockserver.vendors.registry"))
