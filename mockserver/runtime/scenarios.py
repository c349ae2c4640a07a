"""Failure on demand: per request with a ``Prefer`` header, or armed rules for later calls.

``Prefer: error=234005`` (or ``code=``, as Prism spells it) makes this one call answer with
that vendor error; ``Prefer: fault=latency, ms=300`` delays it. A rule armed through the admin
API does the same for matching calls: "the next 3 getImage calls answer 234042", "every call
for image key K", "this token has expired".
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..storage.records import Rule
from ..storage.store import Store
from .faults import FaultError, check_fault

PREFER_HEADER = "Prefer"


class ScenarioError(ValueError):
    """A Prefer header or a rule that cannot be applied; the message says why."""


@dataclass(frozen=True)
class Directive:
    """What to do to one call instead of (or besides) answering it normally."""

    source: str
    error: str | None = None
    fault: Mapping[str, Any] | None = None


def parse_prefer(header: str | None) -> Directive | None:
    """``error=234005`` / ``code=234005`` / ``fault=latency, ms=300``; None if neither."""
    if not header:
        return None
    pairs: dict[str, str] = {}
    for part in header.replace(";", ",").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            pairs[name.strip().lower()] = value.strip().strip('"')
    error = pairs.pop("error", None) or pairs.pop("code", None)
    if "fault" in pairs:
        try:
            fault = check_fault(pairs)
        except FaultError as exc:
            raise ScenarioError(f"Prefer header: {exc}") from exc
        return Directive("Prefer header", error=error, fault=fault)
    return Directive("Prefer header", error=error) if error else None


def arm(store: Store, *, operation: str, action: Mapping[str, Any],
        match: Mapping[str, Any] | None = None, times: int | None = None,
        now: float = 0.0) -> Rule:
    """Keep a rule; ``times`` None means every matching call until the rule is removed."""
    if times is not None and times < 1:
        raise ScenarioError("times must be at least 1 (or left out for every call)")
    if "fault" in action:
        try:
            action = check_fault(action)
        except FaultError as exc:
            raise ScenarioError(str(exc)) from exc
    elif not action.get("error"):
        raise ScenarioError("a rule needs an error (a vendor code or name) or a fault")
    rule = Rule(rule_id=f"rule-{secrets.token_hex(4)}", operation=operation,
                match=dict(match or {}), action=dict(action), remaining=times, created_at=now)
    store.save(rule)
    return rule


def _applies(rule: Rule, api: str, operation: str, context: Mapping[str, Any]) -> bool:
    if rule.operation not in ("*", f"{api}.*", operation):
        return False
    return all(str(context.get(field)) == str(value) for field, value in rule.match.items())


def take(store: Store, api: str, operation: str, context: Callable[[], Mapping[str, Any]],
         can_apply: Callable[[Mapping[str, Any]], bool]) -> Directive | None:
    """The oldest armed rule for this call whose action ``can_apply``, used up once
    (atomically, across workers). ``context`` is only worked out when rules are armed."""
    rules = store.records(Rule)
    if not rules:
        return None
    fields = context()
    for rule in sorted(rules, key=lambda r: r.created_at):
        if not _applies(rule, api, operation, fields) or not can_apply(rule.action):
            continue
        taken: list[Rule] = []  # what the last try of ``use`` found: the one that was written

        def use(current: Rule | None, taken: list[Rule] = taken) -> Rule | None:
            # (A store may call this again when another process wrote first: only the
            # last call counts, so a rule used up meanwhile does not fire once more.)
            taken[:] = [] if current is None else [current]  # (None: used up by another)
            if current is None or current.remaining is None:
                return current
            left = current.remaining - 1
            return None if left == 0 else replace(current, remaining=left)

        store.update(Rule, rule.key, use)
        if taken:
            action = taken[0].action
            return Directive(f"rule {rule.rule_id}", error=action.get("error"),
                             fault=action if "fault" in action else None)
    return None
