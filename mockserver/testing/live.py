"""The mock on a real socket in a background thread: for tests and the pytest plugin.

``LiveServer``'s helpers go through the admin routes, so a test arms exactly what a script
could: ``send_image`` (a user sends the bot an image), ``fail`` and ``fault`` (rules for later
calls), ``advance_clock``. They answer with the typed records below.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, cast, overload

import httpx
from werkzeug.serving import BaseWSGIServer

from ..http.app import create_app, mock_state
from ..http.serving import werkzeug_server
from ..runtime.journal import JournalView
from ..runtime.state import MockState
from ..vendors.lark.settings import LarkConfig
from ..vendors.registry import VENDOR_NAMES, MockConfig

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from flask import Flask

FaultKind = Literal["latency", "reset", "empty", "truncate", "trickle"]


class _AdminReply(Mapping[str, Any]):
    """Item access reads the admin reply as it came (``received["msgId"]``), for callers
    written before the reply was typed; ``raw`` is that reply."""

    raw: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.raw[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST to the bot: its answer's ``status`` and ``body``, or the ``error`` when no
    answer came; ``replay`` for a duplicate sent on request."""

    at: float
    status: int | None
    body: str | None
    error: str | None
    ms: float
    replay: bool

    @classmethod
    def from_reply(cls, reply: Mapping[str, Any]) -> DeliveryAttempt:
        return cls(at=reply["at"], status=reply["status"], body=reply["body"],
                   error=reply["error"], ms=reply["ms"], replay=reply["replay"])


@dataclass(frozen=True)
class Delivery:
    """A callback or event the mock sent to a bot; ``state`` is pending, delivered or failed."""

    delivery_id: str
    vendor: str
    url: str
    state: str
    message_key: str
    attempts: tuple[DeliveryAttempt, ...]

    @classmethod
    def from_reply(cls, reply: Mapping[str, Any]) -> Delivery:
        return cls(delivery_id=reply["id"], vendor=reply["vendor"], url=reply["url"],
                   state=reply["state"], message_key=reply["message"],
                   attempts=tuple(DeliveryAttempt.from_reply(a) for a in reply["attempts"]))


def _deliveries(reply: Mapping[str, Any]) -> tuple[Delivery, ...]:
    return tuple(Delivery.from_reply(d) for d in reply["deliveries"])


@dataclass(frozen=True)
class ReceivedWechatImage(_AdminReply):
    """An image a user sent the bot on GeWe or wid: the message as the vendor describes it
    (``xml`` the image XML, ``content`` as delivered: prefixed with the sender in groups), the
    stored CDN image (``file_id``, ``aes_key``, whether it has an ``hd`` copy), the
    ``callback`` payload and its ``deliveries`` with the bot's answers."""

    account: str
    from_user: str
    to_user: str
    msg_id: int
    new_msg_id: int
    create_time: int
    xml: str
    content: str
    file_id: str
    aes_key: str
    hd: bool
    callback: Mapping[str, Any] = field(repr=False)  # (holds the thumbnail, base64)
    deliveries: tuple[Delivery, ...]
    raw: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_reply(cls, reply: Mapping[str, Any]) -> ReceivedWechatImage:
        return cls(account=reply["account"], from_user=reply["fromUser"],
                   to_user=reply["toUser"], msg_id=reply["msgId"], new_msg_id=reply["newMsgId"],
                   create_time=reply["createTime"], xml=reply["xml"], content=reply["content"],
                   file_id=reply["fileId"], aes_key=reply["aesKey"], hd=reply["hd"],
                   callback=reply["callback"], deliveries=_deliveries(reply), raw=reply)


@dataclass(frozen=True)
class ReceivedLarkImage(_AdminReply):
    """An image a user sent the bot on Lark: the message's ids and ``image_key`` (download it
    with getMessageResource), the ``event`` and its ``deliveries`` with the bot's answers."""

    app_id: str
    message_id: str
    chat_id: str
    image_key: str
    event: Mapping[str, Any] = field(repr=False)
    deliveries: tuple[Delivery, ...]
    raw: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_reply(cls, reply: Mapping[str, Any]) -> ReceivedLarkImage:
        return cls(app_id=reply["app_id"], message_id=reply["message_id"],
                   chat_id=reply["chat_id"], image_key=reply["image_key"],
                   event=reply["event"], deliveries=_deliveries(reply), raw=reply)


@dataclass(frozen=True)
class ArmedRule:
    """A rule as the mock holds it: calls of ``operation`` whose fields have ``match``'s
    values get ``action`` (``{"error": ...}`` or ``{"fault": ..., parameters}``), ``remaining``
    more times (None: until removed). A snapshot: ``LiveServer.rules()`` reads them anew."""

    rule_id: str
    operation: str
    match: Mapping[str, Any]
    action: Mapping[str, Any]
    remaining: int | None

    @classmethod
    def from_reply(cls, reply: Mapping[str, Any]) -> ArmedRule:
        return cls(rule_id=reply["id"], operation=reply["operation"], match=reply["match"],
                   action=reply["action"], remaining=reply["remaining"])


def _url_host(address: str | bytes | bytearray) -> str:
    """The bound address as a URL's host: an IPv6 one in brackets, else its port would not
    be told from it. An IP socket's address is always a str; bytes only in the stubs."""
    host = address if isinstance(address, str) else bytes(address).decode("ascii")
    return f"[{host}]" if ":" in host else host


class LiveServer:
    """A threaded HTTP server on 127.0.0.1 and a free port, serving one mock app (or, in
    tests, any WSGI app: a bot's endpoint).

    ``with LiveServer() as server: httpx.get(server.url + "/...")``

    The helpers go through the admin routes; when the mock refuses one, AssertionError
    carries its reason.
    """

    def __init__(self, config: MockConfig | None = None, *, app: WSGIApplication | None = None,
                 host: str = "127.0.0.1", port: int = 0):
        config = config or MockConfig()
        self.app = app or create_app(config)
        self._server: BaseWSGIServer = werkzeug_server(self.app, host, port,
                                                       config.request_timeout_seconds)
        # A short poll: stopping the server (after each test that made one) takes no time.
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"mock-{self.port}", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://{_url_host(self._server.server_address[0])}:{self.port}"

    @property
    def state(self) -> MockState:
        return mock_state(cast("Flask", self.app))  # a mock's app: create_app made it

    @overload
    def send_image(self, vendor: Literal["gewe", "wid"], **options: Any
                   ) -> ReceivedWechatImage: ...

    @overload
    def send_image(self, vendor: Literal["lark"], **options: Any) -> ReceivedLarkImage: ...

    def send_image(self, vendor: str, **options: Any
                   ) -> ReceivedWechatImage | ReceivedLarkImage:
        """A user sends the bot an image: stored as ``vendor`` keeps it and delivered to the
        bot's registered callback. Options are those of ``POST /__admin/<vendor>/messages``
        (``fromUser``, ``chatroom``, ``fixture``, ``image`` (bytes or base64), ``hd``; Lark:
        ``sender_open_id``, ``chat_type``)."""
        if vendor not in VENDOR_NAMES:
            raise ValueError(f"no vendor {vendor!r}; known: {', '.join(VENDOR_NAMES)}")
        if isinstance(options.get("image"), bytes):
            options["image"] = base64.b64encode(options["image"]).decode()
        if vendor == "lark":
            return ReceivedLarkImage.from_reply(
                self._admin("POST", "/__admin/lark/messages", json=options, expect=(201,)))
        options.setdefault("fromUser", "wxid_user000000001")
        return ReceivedWechatImage.from_reply(
            self._admin("POST", f"/__admin/{vendor}/messages", json=options, expect=(201,)))

    def subscribe_lark_events(self, url: str, *, app_id: str | None = None,
                              encrypt_key: str | None = None) -> dict[str, Any]:
        """Set a Lark app's event URL (it must echo the url_verification challenge)."""
        app_id = app_id or self.state.config.section(LarkConfig).apps[0].app_id
        body = {"url": url, **({"encrypt_key": encrypt_key} if encrypt_key else {})}
        return self._admin("PUT", f"/__admin/lark/apps/{app_id}/events", json=body)

    def fail(self, operation: str, error: str | int, *, match: Mapping[str, Any] | None = None,
             times: int | None = None) -> ArmedRule:
        """Calls of ``operation`` (an operationId, ``"<vendor>.*"`` or ``"*"``) answer the
        vendor's ``error``: a Lark code (234005), a GeWe name (``wechat_offline``), wid's 1001.
        Only calls whose fields (path parameters such as ``image_key``, top-level body fields,
        ``token``, ``app_id``) equal ``match``'s; the next ``times`` of them, or all until
        removed."""
        return self._arm(operation, {"error": str(error)}, match, times)

    def fault(self, operation: str, kind: FaultKind, *, match: Mapping[str, Any] | None = None,
              times: int | None = None, **parameters: float) -> ArmedRule:
        """Calls of ``operation`` suffer a fault below the vendor's envelope: ``latency``
        (``ms``, or ``min_ms`` and ``max_ms``), ``reset``, ``empty``, ``truncate``
        (``fraction``), ``trickle`` (``chunk``, ``interval_ms``). ``match`` and ``times`` as
        for ``fail``."""
        return self._arm(operation, {"fault": {"fault": kind, **parameters}}, match, times)

    def _arm(self, operation: str, action: Mapping[str, Any],
             match: Mapping[str, Any] | None, times: int | None) -> ArmedRule:
        body: dict[str, Any] = {"operation": operation, **action}
        if match:
            body["match"] = dict(match)
        if times is not None:
            body["times"] = times
        return ArmedRule.from_reply(self._admin("POST", "/__admin/rules", json=body,
                                                expect=(201,)))

    def rules(self) -> list[ArmedRule]:
        """The armed rules, oldest first, with what remains of each."""
        return [ArmedRule.from_reply(r) for r in self._admin("GET", "/__admin/rules")["rules"]]

    def remove_rule(self, rule_id: str) -> None:
        """Disarm one rule (``ArmedRule.rule_id``)."""
        self._admin("DELETE", f"/__admin/rules/{rule_id}")

    def clear_rules(self) -> None:
        """Disarm every rule."""
        for rule in self.rules():
            # (a rule with ``times`` may be used up by a call in flight meanwhile)
            self._admin("DELETE", f"/__admin/rules/{rule.rule_id}", expect=(200, 404))

    def advance_clock(self, seconds: float) -> float:
        """Move the mock's clock (links and tokens expire by it); returns its time now."""
        now: float = self._admin("POST", "/__admin/clock", json={"advance": seconds})["now"]
        return now

    def set_clock(self, epoch_seconds: float) -> float:
        """Set the mock's clock; returns its time now."""
        now: float = self._admin("POST", "/__admin/clock", json={"set": epoch_seconds})["now"]
        return now

    def _admin(self, method: str, path: str, *, expect: Collection[int] = (200,),
               **kwargs: Any) -> dict[str, Any]:
        headers = {}
        if self.state.config.admin_token:
            headers["X-Chatimg-Admin-Token"] = self.state.config.admin_token
        reply = httpx.request(method, self.url + path, headers=headers, timeout=60, **kwargs)
        if reply.status_code not in expect:
            raise AssertionError(f"{method} {path} answered {reply.status_code}: {reply.text}")
        result: dict[str, Any] = reply.json()
        return result

    @property
    def journal(self) -> JournalView:
        """What the mock was asked and answered: ``server.journal.assert_called("getImage")``."""
        return JournalView(self.state.journal_writer)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
        if "chatimg" in getattr(self.app, "extensions", {}):  # a mock, not a test's bot
            self.state.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
