"""The catalogue of contract checks, shared by the command line and the pytest suite."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from mockserver.specs import load_spec
from mockserver.vendors.registry import VENDOR_NAMES

from .client import ClientCall, check_client_call
from .client_methods import client_calls
from .server import check_operation
from .stateful import gewe_machine, lark_machine, wid_machine
from .target import Target
from .webhooks import Webhook, check_answers_events, check_url_verification

PROFILES = {
    # One failure per check, shrunk to its minimal example, is what the report shows.
    "ci": settings(max_examples=25, stateful_step_count=8, deadline=None, database=None,
                   report_multiple_bugs=False, suppress_health_check=[HealthCheck.too_slow]),
    "dev": settings(max_examples=100, stateful_step_count=20, deadline=None,
                    report_multiple_bugs=False, suppress_health_check=[HealthCheck.too_slow]),
}


@dataclass(frozen=True)
class Check:
    """One property: ``run`` raises (with a minimal example) when the target breaks it."""

    name: str
    description: str
    run: Callable[[Target, settings], None]
    needs_user_simulation: bool = False


def server_checks() -> list[Check]:
    checks = []
    for name in VENDOR_NAMES:
        spec = load_spec(name)
        for operation in spec.operations:
            for valid in (True, False):
                def run(target: Target, hypothesis_settings: settings, spec=spec,
                        operation=operation, valid=valid) -> None:
                    check_operation(spec, operation, target, valid=valid,
                                    hypothesis_settings=hypothesis_settings)
                checks.append(Check(
                    name=f"{name}.{operation.operation_id}.{'valid' if valid else 'refused'}",
                    description=("valid requests get replies the spec allows" if valid else
                                 "flawed requests get the vendor's error envelope"),
                    run=run))
    return checks


def stateful_checks(lark_apps: list[tuple[str, str]]) -> list[Check]:
    def machine_check(name: str, make: Callable[[Target], type], description: str,
                      needs_users: bool) -> Check:
        def run(target: Target, hypothesis_settings: settings) -> None:
            run_state_machine_as_test(make(target), settings=hypothesis_settings)
        return Check(name, description, run, needs_users)

    return [
        machine_check("gewe.stateful", gewe_machine, "post, receive, forward, download in any "
                      "order: bytes, md5 and sizes agree; nothing is lost", False),
        machine_check("wid.stateful", wid_machine, "receive and getMsgImg in any order: the URL "
                      "serves the stored bytes", True),
        machine_check("lark.stateful", lambda t: lark_machine(t, lark_apps), "upload, download, "
                      "delete across two apps: bytes exact, 234005/234008 as documented", False),
    ]


def client_checks() -> list[Check]:
    """Per client method, one check for the replies the spec allows and one for those it does
    not. ``run`` ignores its target: the replies are served in-process."""
    checks = []
    for call in client_calls().values():
        for allowed in (True, False):
            def run(target: Target | None, hypothesis_settings: settings, call: ClientCall = call,
                    allowed: bool = allowed) -> None:
                check_client_call(call, allowed=allowed, hypothesis_settings=hypothesis_settings)
            checks.append(Check(
                f"client.{call.name}.{'allowed' if allowed else 'off-spec'}",
                "replies the spec allows: the typed result with their values, or the typed error"
                if allowed else "replies the spec does not allow: a ChatImageError, nothing else",
                run))
    return checks


def all_checks(lark_apps: list[tuple[str, str]]) -> list[Check]:
    return server_checks() + stateful_checks(lark_apps) + client_checks()


def webhook_checks(webhooks: list[Webhook]) -> list[Check]:
    """Checks of bots' endpoints (``--webhook vendor=URL``), not of a server."""
    checks = []
    for webhook in webhooks:
        def answers_events(_target: Target, hypothesis_settings: settings,
                           webhook: Webhook = webhook) -> None:
            check_answers_events(webhook, hypothesis_settings)

        def echoes_challenge(_target: Target, _settings: settings,
                             webhook: Webhook = webhook) -> None:
            check_url_verification(webhook)

        checks.append(Check(
            f"webhook.{webhook.vendor}", "any allowed event, and its duplicate, is answered "
            f"2xx within {webhook.timeout:.0f} s", answers_events))
        if webhook.vendor == "lark":
            checks.append(Check(
                "webhook.lark.url_verification", "the url_verification challenge is echoed",
                echoes_challenge))
    return checks
