"""``chatimg-contract``: hold a server to the specs and print which properties held.

Without ``--base-url`` it starts the in-repo mock; with one, it tests that server (a real
deployment, or another mock) using the credentials in ``CHATIMG_*`` variables, and leaves what
the server holds in place unless ``--allow-reset`` is given.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import io
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.reporting import with_reporter

from mockserver.config import MockConfig
from mockserver.data_files import kit_version
from mockserver.errors import ConfigError

from .checks import PROFILES, Check, all_checks, webhook_checks
from .target import Credentials, Target
from .webhooks import CALLBACKS, Webhook

DESCRIPTION = """\
Hold a chat image API server (or a bot's webhook) to the specs with hypothesis and print
which properties held."""
EPILOG = """\
examples:
  chatimg-contract          # start the in-repo mock and test it
  chatimg-contract --base-url http://127.0.0.1:2531 --only 'gewe.*'
  chatimg-contract --webhook gewe=http://127.0.0.1:8080/gewe/callback

A server given with --base-url is never reset: what it holds stays. Its credentials come from
the CHATIMG_* variables. Exit status: 0 every check held, 1 a check failed, 2 the command line
or the server is unusable.

environment variables:
  CHATIMG_BASE_URL                           as --base-url
  CHATIMG_CONFIG                             a mock config file to take credentials from
  CHATIMG_GEWE_TOKEN, CHATIMG_GEWE_APP_ID    GeWe's X-GEWE-TOKEN and appId
  CHATIMG_WID_AUTHORIZATION, CHATIMG_WID_ID  wid's Authorization and wId
  CHATIMG_LARK_APP_ID, CHATIMG_LARK_APP_SECRET
  CHATIMG_ADMIN_TOKEN                        a mock's admin token (X-Chatimg-Admin-Token)"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatimg-contract", description=DESCRIPTION,
                                     epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {kit_version()}")
    parser.add_argument("--base-url", default=os.environ.get("CHATIMG_BASE_URL"), metavar="URL",
                        help="server to test (default: $CHATIMG_BASE_URL, else start the "
                             "in-repo mock)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="ci",
                        help="hypothesis effort: ci (bounded, the default) or dev (more examples)")
    parser.add_argument("--only", action="append", default=[], metavar="PATTERN",
                        help="run checks whose name matches (glob, e.g. 'lark.*'); repeatable; a "
                             "pattern that matches nothing lists the names")
    parser.add_argument("--no-user-simulation", action="store_true",
                        help="never play a user sending the bot an image (by default that is "
                             "done when the server has the mock's /__admin routes)")
    parser.add_argument("--allow-reset", action="store_true",
                        help="let the stateful checks reset the --base-url server first "
                             "(POST /__admin/reset: it forgets every stored image)")
    parser.add_argument("--webhook", action="append", default=[], metavar="VENDOR=URL",
                        help="check a bot's endpoint instead (gewe, wid or lark); repeatable")
    parser.add_argument("--lark-verification-token", default="mock-verification-token",
                        metavar="TOKEN",
                        help="the Lark app's verification token, for --webhook lark=...")
    parser.add_argument("--lark-encrypt-key", metavar="KEY",
                        help="the Lark app's encrypt key, if it has one")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        stack.enter_context(_hypothesis_files_in_cache())
        if args.webhook:
            try:
                webhooks = [_webhook(spec, args) for spec in args.webhook]
            except ValueError as exc:
                parser.error(str(exc))
            target = Target("(no server)", Credentials.from_config(MockConfig()))
            return _run(target, webhook_checks(webhooks), args)

        try:
            config = MockConfig.load()
        except ConfigError as exc:
            parser.error(str(exc))
        credentials = Credentials.from_config(config)
        checks = all_checks([(a.app_id, a.app_secret) for a in config.lark.apps])
        if args.base_url is None:
            from mockserver.live import LiveServer

            # A mock of its own: the configured state_dir and public_url are the user's server's.
            server = LiveServer(dataclasses.replace(config, state_dir=None, public_url=None))
            target = Target(stack.enter_context(server).url, credentials,
                            simulates_users=not args.no_user_simulation, may_reset=True)
        else:
            target = Target(args.base_url, credentials,
                            simulates_users=not args.no_user_simulation,
                            may_reset=args.allow_reset)
        stack.callback(target.close)
        return _run(target, checks, args, probe=args.base_url is not None)


def _run(target: Target, checks: list[Check], args: argparse.Namespace, *,
         probe: bool = False) -> int:
    """Report the checks ``--only`` selects; 2 when it selects none or the server is unusable."""
    selected = [c for c in checks
                if not args.only or any(fnmatch.fnmatch(c.name, p) for p in args.only)]
    if not selected:
        names = "\n".join(f"  {c.name}" for c in checks)
        print(f"chatimg-contract: no check matches --only {', '.join(map(repr, args.only))}; "
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
    return report(target, selected, args.profile, sys.stdout)


@contextmanager
def _hypothesis_files_in_cache() -> Iterator[None]:
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
