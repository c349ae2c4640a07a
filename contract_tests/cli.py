"""``chatimg-contract``: hold a server to the specs and print which properties held.

Without ``--base-url`` it starts the in-repo mock; with one, it tests that server (a real
deployment, or another mock) using the credentials in ``CHATIMG_*`` variables.
"""

from __future__ import annotations

import argparse
import fnmatch
import io
import os
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack

from hypothesis.reporting import with_reporter

from mockserver.config import MockConfig

from .checks import PROFILES, Check, all_checks, webhook_checks
from .target import Credentials, Target
from .webhooks import CALLBACKS, Webhook


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatimg-contract", description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("CHATIMG_BASE_URL"),
                        help="server to test (default: start the in-repo mock)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="ci",
                        help="hypothesis effort: ci (bounded) or dev (more examples)")
    parser.add_argument("--only", action="append", default=[], metavar="PATTERN",
                        help="run checks whose name matches (glob, e.g. 'lark.*'); repeatable")
    parser.add_argument("--no-user-simulation", action="store_true",
                        help="the server has no mock admin routes (a real service)")
    parser.add_argument("--webhook", action="append", default=[], metavar="VENDOR=URL",
                        help="check a bot's endpoint instead (gewe, wid or lark); repeatable")
    parser.add_argument("--lark-verification-token", default="mock-verification-token",
                        help="the Lark app's verification token, for --webhook lark=...")
    parser.add_argument("--lark-encrypt-key", help="the Lark app's encrypt key, if it has one")
    args = parser.parse_args(argv)
    if args.webhook:
        try:
            webhooks = [_webhook(spec, args) for spec in args.webhook]
        except ValueError as exc:
            parser.error(str(exc))
        target = Target("(no server)", Credentials.from_config(MockConfig()))
        checks = [c for c in webhook_checks(webhooks)
                  if not args.only or any(fnmatch.fnmatch(c.name, p) for p in args.only)]
        return report(target, checks, args.profile, sys.stdout)

    config = MockConfig.load()
    with ExitStack() as stack:
        base_url = args.base_url
        if base_url is None:
            from mockserver.live import LiveServer

            base_url = stack.enter_context(LiveServer(config)).url
        target = Target(base_url, Credentials.from_config(config),
                        simulates_users=not args.no_user_simulation)
        stack.callback(target.close)
        checks = [c for c in all_checks([(a.app_id, a.app_secret) for a in config.lark.apps])
                  if not args.only or any(fnmatch.fnmatch(c.name, p) for p in args.only)]
        return report(target, checks, args.profile, sys.stdout)


def _webhook(spec: str, args: argparse.Namespace) -> Webhook:
    vendor, _, url = spec.partition("=")
    if vendor not in CALLBACKS or not url:
        raise ValueError(f"--webhook takes VENDOR=URL with VENDOR one of {', '.join(CALLBACKS)}")
    return Webhook(vendor, url, args.lark_verification_token, args.lark_encrypt_key)


def report(target: Target, checks: list[Check], profile: str, out: io.TextIOBase) -> int:
    """Run ``checks`` and print one line per check, with the minimal example of each failure."""
    subject = target.base_url if target.base_url.startswith("http") else "bot webhooks"
    print(f"chatimg contract report for {subject} (profile {profile})", file=out)
    failed = skipped = 0
    for check in checks:
        if check.needs_user_simulation and not target.simulates_users:
            print(f"  SKIP  {check.name:<40} needs the mock's user simulation", file=out)
            skipped += 1
            continue
        notes: list[str] = []
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


def _minimal_example(exc: BaseException, notes: list[str]) -> list[str]:
    lines = [line for note in notes for line in str(note).splitlines()
             if line.strip() and not line.startswith("You can reproduce")]
    failures = list(exc.exceptions) if isinstance(exc, BaseExceptionGroup) else [exc]
    for failure in failures:
        lines += [f"{type(failure).__name__}: {line}" if i == 0 else line
                  for i, line in enumerate(str(failure).splitlines() or [repr(failure)])]
    return lines[-25:]
