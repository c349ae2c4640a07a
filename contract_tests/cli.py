"""``chatimg-contract``: hold a server to the specs and print which properties held.

Without ``--base-url`` it starts the in-repo mock; with one, it tests that server (a real
deployment, or another mock) using the credentials in ``CHATIMG_*`` variables, and leaves what
the server holds in place unless ``--allow-reset`` is given.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING

from mockserver import MockConfig
from mockserver.data_files import kit_version
from mockserver.errors import ConfigError
from mockserver.extra import missing_extra

if TYPE_CHECKING:
    from .webhooks import Webhook

# (The checks need hypothesis, openapi-core and flask, which come with the mock extra: they are
# imported in main, so that without them the command says so in one line.)

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
    try:
        from .checks import PROFILES, all_checks, webhook_checks
        from .report import hypothesis_files_in_cache, run_checks
        from .target import Credentials, Target
    except ImportError as exc:
        message = missing_extra(exc)
        if message is None:
            raise
        print(f"chatimg-contract: {message}", file=sys.stderr)
        return 2
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
        stack.enter_context(hypothesis_files_in_cache())
        if args.webhook:
            try:
                webhooks = [_webhook(spec, args) for spec in args.webhook]
            except ValueError as exc:
                parser.error(str(exc))
            target = Target("(no server)", Credentials.from_config(MockConfig()))
            return run_checks(target, webhook_checks(webhooks), args.only, args.profile)

        try:
            config = MockConfig.load()
        except ConfigError as exc:
            parser.error(str(exc))
        credentials = Credentials.from_config(config)
        checks = all_checks([(a.app_id, a.app_secret) for a in config.lark.apps])
        if args.base_url is None:
            from mockserver.testing.live import LiveServer

            # A mock of its own: the configured state_dir and public_url are the user's server's.
            server = LiveServer(dataclasses.replace(config, state_dir=None, public_url=None))
            target = Target(stack.enter_context(server).url, credentials,
                            simulates_users=not args.no_user_simulation, may_reset=True)
        else:
            target = Target(args.base_url, credentials,
                            simulates_users=not args.no_user_simulation,
                            may_reset=args.allow_reset)
        stack.callback(target.close)
        return run_checks(target, checks, args.only, args.profile,
                          probe=args.base_url is not None)


def _webhook(spec: str, args: argparse.Namespace) -> Webhook:
    from .webhooks import CALLBACKS, Webhook  # (main has imported the mock extra)

    vendor, _, url = spec.partition("=")
    if vendor not in CALLBACKS or not url:
        raise ValueError(f"--webhook takes VENDOR=URL with VENDOR one of {', '.join(CALLBACKS)}")
    return Webhook(vendor, url, args.lark_verification_token, args.lark_encrypt_key)
