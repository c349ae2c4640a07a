"""One module per vendor: its handlers, its envelope and its codes.

Each module holds everything the mock knows about that vendor; nothing outside it spells a
GeWe ``ret`` or a Lark ``234005``.
"""

from __future__ import annotations

import hmac
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from flask import Request, Response

from ..config import Section
from ..errors import RequestProblem, VendorError
from ..incoming import ValidRequest, body_problem, read_json
from ..runtime.delivery import CallbackUrlRefused, check_callback_url
from ..runtime.state import MockState
from ..specs import Operation
from ..storage.records import Delivery, StoredImage, Subscription


@dataclass(frozen=True)
class Call:
    """A request that passed authentication and validation, on its way to a handler."""

    operation: Operation
    request: Request
    valid: ValidRequest
    principal: Any = None

    @property
    def body(self) -> Any:
        return self.valid.body


Handler = Callable[[Call], Response]


class MessageOfImage(NamedTuple):
    """The message an image came or went in, as the dashboard shows it: its key in the store
    (the key deliveries of it name) and its fields, in the vendor's words."""

    key: str
    fields: dict[str, Any]


class VendorApi(ABC):
    """The mock's side of one spec."""

    spec_name: ClassVar[str]
    # Paths under these prefixes that match no operation still get this vendor's envelope.
    path_prefixes: ClassVar[tuple[str, ...]] = ()
    # Where a client's base URL points, below the mock's origin (for the index at /).
    base_paths: ClassVar[tuple[str, ...]] = ("",)
    # Other prefixes the API is served under, and the spec's prefix each stands for.
    path_aliases: ClassVar[Mapping[str, str]] = {}

    # This vendor's section of the configuration, if it has one.
    settings_type: ClassVar[type[Section] | None] = None

    def __init__(self, state: MockState, operations: tuple[Operation, ...] = ()):
        self.state = state
        self.operations = operations
        self.settings = (state.config.section(self.settings_type) if self.settings_type
                         else None)

    @abstractmethod
    def handlers(self) -> Mapping[str, Handler]:
        """Handler per operationId; the app checks this covers the spec exactly."""

    def admin_handlers(self) -> Mapping[str, Handler]:
        """Handlers of the admin spec's operations that play this vendor's users (send the
        bot an image, subscribe to events), per operationId."""
        return {}

    # The header whose value identifies the caller, for rules that match a token.
    credential_header: ClassVar[str | None] = None
    # What the journal masks of this API's calls, beyond Authorization and Cookie: request
    # headers, and JSON fields (in any body) that hold a credential.
    secret_headers: ClassVar[tuple[str, ...]] = ()
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # Whether rules, scenarios and the journal apply to this API's calls (not to the mock's own).
    is_vendor: ClassVar[bool] = True
    # Whether the account a callback subscription is kept under is a credential (a token).
    account_is_secret: ClassVar[bool] = True

    def admit(self, operation: Operation, request: Request) -> Any:
        """Credentials (and rate limits) before anything else, as the vendors check them;
        returns who is calling."""
        return None

    def error_names(self, operation: Operation) -> tuple[str, ...]:
        """The errors a rule or a Prefer header may ask of this operation: codes or names."""
        return ()

    def armed_error(self, operation: Operation, name: str, context: Mapping[str, Any]
                    ) -> VendorError:
        """The error ``name`` (one of ``error_names``) as this operation would answer it."""
        raise KeyError(name)

    def scenario_context(self, request: Request, principal: Any) -> dict[str, Any]:
        """What rules may match on: path parameters, top-level body fields, the credential."""
        context: dict[str, Any] = dict(request.view_args or {})
        if request.is_json and body_problem(request) is None:
            try:
                body = read_json(request.get_data())
            except (ValueError, RequestProblem):  # (validation refuses it in a moment)
                body = None
            if isinstance(body, dict):
                context.update(body)
        if self.credential_header:
            value = request.headers.get(self.credential_header, "")
            context["token"] = value.removeprefix("Bearer ").strip()
        return context

    def reply_code(self, payload: Any) -> Any:
        """The vendor's result code in a JSON reply, for the journal."""
        return None

    @property
    def callback_timeout(self) -> float:
        """How long the vendor waits for a bot to take a callback (its config section's)."""
        return float(getattr(self.settings, "callback_timeout_seconds", 0.0))

    def callback_request(self, subscription: Subscription, payload: Mapping[str, Any]
                         ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a callback, as this vendor sends it."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return body, {"Content-Type": "application/json; charset=utf-8"}

    def subscribe(self, account: str, url: str, options: Mapping[str, Any] | None = None
                  ) -> Subscription:
        """Register where callbacks go; loopback or an allowed host only."""
        try:
            check_callback_url(url, self.state.config.callback_allow_hosts)
        except CallbackUrlRefused as exc:
            raise self.callback_refused(str(exc)) from exc
        subscription = Subscription(self.spec_name, account, url, dict(options or {}))
        self.state.store.save(subscription)
        return subscription

    def callback_refused(self, reason: str) -> VendorError:
        """The vendor's answer to registering a callback URL the mock will not post to."""
        return self.rejection(None, RequestProblem("body", "url", "invalid", reason))

    def deliver(self, payload: Mapping[str, Any], message_key: str, *,
                wait: bool = True) -> list[Delivery]:
        """Send ``payload`` to every callback registered with this vendor."""
        deliveries = []
        for subscription in self.state.store.records(Subscription):
            if subscription.vendor != self.spec_name or not self.accepts(subscription, payload):
                continue
            body, headers = self.callback_request(subscription, payload)
            deliveries.append(self.state.deliverer.deliver(
                vendor=self.spec_name, url=subscription.url, body=body, headers=headers,
                message_key=message_key, timeout=self.callback_timeout, wait=wait))
        return deliveries

    def image_message(self, image: StoredImage) -> MessageOfImage | None:
        """The message ``image`` came or went in (the first, if several), for the dashboard;
        None when there is none (an upload not sent yet) or the vendor keeps no messages."""
        return None

    def accepts(self, subscription: Subscription, payload: Mapping[str, Any]) -> bool:
        """Whether this subscription wants this payload (e.g. the Lark app it was sent to)."""
        return True

    @abstractmethod
    def rejection(self, operation: Operation | None, problem: RequestProblem) -> VendorError:
        """The vendor's answer to a request that does not match the spec."""

    def owns(self, path: str) -> bool:
        """Whether a path no operation matches is this vendor's to answer."""
        return path.startswith(self.path_prefixes) or any(op.path == path
                                                          for op in self.operations)

    @abstractmethod
    def no_route(self, status: int, detail: str) -> VendorError:
        """The vendor's answer to a path it has no operation at (404), or a method its path
        does not take (405)."""

    @abstractmethod
    def unavailable(self, detail: str) -> VendorError:
        """The vendor's answer, with HTTP 503, when the mock cannot serve for now: its store
        (Redis) is out of reach."""

    def finish(self, response: Response) -> Response:
        """Last touch on every response of this vendor (e.g. a log-id header)."""
        return response


def credential_in(value: str, accepted: Iterable[str]) -> bool:
    """Whether ``value`` is one of the ``accepted`` credentials, compared in constant time:
    how long a refusal takes must not tell a caller how much of a token was right."""
    given = value.encode("utf-8", "surrogatepass")
    # (A list, not a generator: every credential is compared, whichever matches.)
    return any([hmac.compare_digest(given, credential.encode("utf-8", "surrogatepass"))  # noqa: C419
                for credential in accepted])


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # built once


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None,
                  content_type: str = "application/json; charset=utf-8") -> Response:
    """JSON as the vendors send it: UTF-8 text, key order kept, big integers exact."""
    body = _ENCODER.encode(payload)
    return Response(body, status, headers=dict(headers or {}), content_type=content_type)
