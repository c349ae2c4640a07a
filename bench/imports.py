"""What importing the kit costs: pytest imports its plugin in every project that installs
the kit, so that import must stay light.

    python bench/imports.py            # medians over 9 fresh interpreters each

Each figure is the time ``import MODULE`` takes after ``import pytest`` (the plugin is only
ever imported by pytest, so what pytest itself loads is not the plugin's cost), each in a fresh
interpreter, so nothing a previous import cached counts. ``bench/run.py`` prints these lines after its table.
"""

from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
from pathlib import Path

MODULES = ("mockserver.testing.pytest_plugin", "mockserver", "chatimg",
           "pytest_httpserver.pytest_plugin")
ROUNDS = 9
CHECKOUT = Path(__file__).resolve().parent.parent


def _seconds(module: str) -> float:
    code = ("import time, pytest; started = time.perf_counter(); "
            f"import {module}; print(time.perf_counter() - started)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=CHECKOUT)
    return float(run.stdout)


def import_costs(rounds: int = ROUNDS) -> dict[str, float]:
    """Milliseconds each installed module of ``MODULES`` adds to ``import pytest``."""
    costs = {}
    for module in MODULES:
        if importlib.util.find_spec(module.partition(".")[0]) is None:
            continue  # (pytest-httpserver, the yardstick, may not be installed)
        costs[module] = statistics.median(_seconds(module) for _ in range(rounds)) * 1000
    return costs


def render(costs: dict[str, float]) -> str:
    return "\n".join(f"import {module}: {ms:6.1f} ms after pytest's own"
                     for module, ms in costs.items())


if __name__ == "__main__":
    print(render(import_costs()))
