"""tenant_access_token values that carry their issue time and a signature.

They stay valid across a reset or a restart of the mock, and across workers: the official SDK
caches a token for about 110 minutes and never drops it on 99991663 (sdk-notes), so a mock
that forgot its tokens would fail every call.
"""

from __future__ import annotations

import hashlib
import hmac

from .settings import LarkApp, LarkConfig


def sign_token(settings: LarkConfig, app_id: str, issued_ms: int) -> str:
    mac = hmac.new(settings.token_secret.encode(), f"{app_id}|{issued_ms}".encode(),
                   hashlib.sha256).hexdigest()
    return f"t-{issued_ms:011x}{mac[:29]}"


def token_app(settings: LarkConfig, token: str, now: float) -> LarkApp | None:
    """The app a valid, unexpired token was issued to, or None."""
    try:
        issued_ms = int(token[2:13], 16)
    except ValueError:
        return None
    if issued_ms / 1000 + settings.token_ttl_seconds <= now:
        return None
    for app in settings.apps:
        if hmac.compare_digest(sign_token(settings, app.app_id, issued_ms), token):
            return app
    return None
