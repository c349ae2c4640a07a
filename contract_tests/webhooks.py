"""Holding a bot's webhook to what the vendor expects of it.

Vendors post events and take any 2xx answered in time; they post again when unsure, and they
add fields without notice. So for any event the spec's callback schema allows (with unknown
fields, sent twice), the bot must answer 2xx within the vendor's timeout. Lark bots must also
echo the url_verification challenge, and take events encrypted with their key.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.specs import read_spec
from mockserver.vendors.lark.events import (
    challenge_answer_ok,
    encrypt,
    event_body,
    signed_headers,
    url_verification_request,
)

from .server import ContractViolation
from .strategies import SchemaResolver, from_schema

# vendor -> (spec, schema of the callback body, seconds the vendor waits for the bot)
CALLBACKS = {
    "gewe": ("gewe", "AddMsgCallback", 5.0),
    "wid": ("wid", "MessageCallback", 6.0),
    "lark": ("admin", "LarkImageEvent", 3.0),
}


@dataclass(frozen=True)
class Webhook:
    """A bot's endpoint: where a vendor would post, and (Lark) the app's event settings."""

    vendor: str
    url: str
    verification_token: str = "mock-verification-token"
    encrypt_key: str | None = None
    timeout_seconds: float | None = None  # the vendor's own by default

    @property
    def timeout(self) -> float:
        return self.timeout_seconds or CALLBACKS[self.vendor][2]

    def encode(self, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        if self.vendor == "lark" and self.encrypt_key:
            body = event_body(encrypt(payload, self.encrypt_key))
            return body, signed_headers(body, self.encrypt_key)
        return event_body(payload), {"Content-Type": "application/json; charset=utf-8"}


def _hints(webhook: Webhook) -> dict[str, st.SearchStrategy[Any]]:
    """Field values that make an event one of an image, so the bot's image path runs."""
    image_key = st.from_regex(r"img_v3_[0-9a-f]{8}g", fullmatch=True)
    xml = st.sampled_from([
        '<?xml version="1.0"?>\n<msg>\n\t<img aeskey="0" cdnmidimgurl="30ab" length="1" '
        'md5="0" />\n</msg>\n',
        'wxid_sender0001:\n<?xml version="1.0"?>\n<msg><img cdnmidimgurl="30ab"/></msg>'])
    return {
        "TypeName": st.just("AddMsg"), "MsgType": st.just(3), "content": xml,
        "string": xml | st.sampled_from(["wxid_sender0001", "34757816141@chatroom"]),
        "messageType": st.sampled_from([6, 10, "60002", "80002"]),
        "schema": st.just("2.0"), "token": st.just(webhook.verification_token),
        "event_type": st.just("im.message.receive_v1"), "message_type": st.just("image"),
        "chat_type": st.sampled_from(["p2p", "group"]),
    } | ({"content": image_key.map(lambda key: json.dumps({"image_key": key}))}
         if webhook.vendor == "lark" else {})


def events(webhook: Webhook) -> st.SearchStrategy[dict[str, Any]]:
    """Callback bodies the spec allows, with unknown fields added as vendors do."""
    spec_name, schema_name, _ = CALLBACKS[webhook.vendor]
    document = read_spec(spec_name)
    schema = document["components"]["schemas"][schema_name]
    return from_schema(schema, SchemaResolver(document), hints=_hints(webhook),
                       extra_properties=True)


def _post(client: httpx.Client, webhook: Webhook, body: bytes, headers: dict[str, str]
          ) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = client.post(webhook.url, content=body, headers=headers, timeout=webhook.timeout + 1)
    return answer, time.monotonic() - started


def check_answers_events(webhook: Webhook, hypothesis_settings: settings | None = None) -> None:
    """Any allowed event, then the same bytes again: 2xx both times, within the timeout."""

    client = httpx.Client()

    @given(event=events(webhook))
    def answers(event: dict[str, Any]) -> None:
        body, headers = webhook.encode(event)
        for attempt in ("first delivery", "duplicate"):
            try:
                answer, seconds = _post(client, webhook, body, headers)
            except httpx.HTTPError as exc:
                raise ContractViolation(f"{webhook.vendor} webhook {webhook.url}: the {attempt} "
                                        f"got no answer ({exc!r}) for\n  {body[:400]!r}") from exc
            problems = []
            if not 200 <= answer.status_code < 300:
                problems.append(f"answered HTTP {answer.status_code} {answer.text[:200]!r}")
            if seconds > webhook.timeout:
                problems.append(f"took {seconds:.2f} s; {webhook.vendor} gives up after "
                                f"{webhook.timeout:g} s")
            if problems:
                raise ContractViolation(f"{webhook.vendor} webhook {webhook.url}, {attempt} of\n"
                                        f"  {body[:400]!r}\n" + "\n".join(f"  * {p}" for p in
                                                                         problems))

    if hypothesis_settings is not None:
        answers = hypothesis_settings(answers)
    with client:
        answers()


def check_url_verification(webhook: Webhook) -> None:
    """Lark's console posts a challenge before any event; the bot must echo it."""
    challenge = "chatimg-contract-challenge-0001"
    request = url_verification_request(verification_token=webhook.verification_token,
                                       challenge=challenge)
    body = event_body(encrypt(request, webhook.encrypt_key) if webhook.encrypt_key else request)
    with httpx.Client() as client:
        answer, _ = _post(client, webhook, body, signed_headers(body, None))
    if answer.status_code != 200 or not challenge_answer_ok(answer.content, challenge):
        raise ContractViolation(f"lark webhook {webhook.url} did not echo the url_verification "
                                f"challenge: HTTP {answer.status_code} {answer.text[:200]!r}")
