"""What ``chatimg-contract`` runs: the checks ``--only`` selects, against a target, printed one
line each with the minimal example of every failure."""

from __future__ import annotations

import fnmatch
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import httpx
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.reporting import with_reporter

from .checks import PROFILES, Check
from .target import Target


def run_checks(target: Target, checks: list[Check], only: Sequence[str], profile: str, *,
               probe: bool = False) -> int:
    """Report the checks ``only`` selects; 2 when it selects none or the server is unusable."""
    selected = [c for c in checks if not only or any(fnmatch.fnmatch(c.name, p) for p in only)]
    if not selected:
        names = "\n".join(f"  {c.name}" for c in checks)
        print(f"chatimg-contract: no check matches --only {', '.join(map(repr, only))}; "
              f"the checks are:\n{names}", file=sys.stderr)
        return 2
    if probe:
        try:
            why = target.why_no_user_simulation()
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            print(f"chatimg-contract: cannot reach {target.base_url}: {exc}", file=sys.stderr)
            return 2
        if why and target.simulates_users:
            print(f"chatimg-contract: no user simulation, {why}; skipping what needs it")
            target.simulates_users = False
    return report(target, selected, profile, sys.stdout)


@contextmanager
def hypothesis_files_in_cache() -> Iterator[None]:
    """hypothesis keeps its files in ``.hypothesis/`` of the working directory by default; the
    kit keeps them in the user's cache instead, unless HYPOTHESIS_STORAGE_DIRECTORY says where."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        yield
        return
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    set_hypothesis_home_dir(Path(cache) / "chatimg-contract" / "hypothesis")
    try:
        yield
    finally:
        set_hypothesis_home_dir(None)


def report(target: Target, checks: list[Check], profile: str, out: TextIO) -> int:
    """Run ``checks`` and print one line per check, with the minimal example of each failure."""
    subject = target.base_url if target.base_url.startswith("http") else "bot webhooks"
    print(f"chatimg contract report for {subject} (profile {profile})", file=out)
    failed = skipped = 0
    for check in checks:
        if check.needs_user_simulation and not target.simulates_users:
            print(f"  SKIP  {check.name:<40} needs the mock's user simulation", file=out)
            skipped += 1
            continue
        notes: list[object] = []  # what hypothesis reports: the minimal example
        started = time.monotonic()
        try:
            with with_reporter(notes.append):
                check.run(target, PROFILES[profile])
        except Exception as exc:  # any failure of the target is reported, not raised
            failed += 1
            print(f"  FAIL  {check.name:<40} {check.description}", file=out)
            for line in _minimal_example(exc, notes):
                print(f"        {line}", file=out)
        else:
            seconds = time.monotonic() - started
            print(f"  PASS  {check.name:<40} {check.description} ({seconds:.1f}s)", file=out)
    held = len(checks) - failed - skipped
    print(f"{held} held, {failed} failed, {skipped} skipped", file=out)
    return 1 if failed else 0


def _minimal_example(exc: BaseException, notes: list[object]) -> list[str]:
    lines = [line for note in notes for line in str(note).splitlines()
             if line.strip() and not line.startswith("You can reproduce")]
    failures = list(exc.exceptions) if isinstance(exc, BaseExceptionGroup) else [exc]
    for failure in failures:
        lines += [f"{type(failure).__name__}: {line}" if i == 0 else line
                  for i, line in enumerate(str(failure).splitlines() or [repr(failure)])]
    return lines[-25:]
