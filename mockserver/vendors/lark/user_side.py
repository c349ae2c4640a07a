"""Playing Lark's side for a test: the console that sets an app's event URL, and a user who
sends the bot a picture (the admin routes ``/__admin/lark/...``)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

import httpx
from flask import Response

from ...media import images
from ...runtime.delivery import CallbackUrlRefused, check_callback_url
from ...storage.records import StoredImage, Subscription, image_key
from ..base import Call, Handler, VendorApi, json_response
from ..user_side import AdminError, delivery_view, image_of
from ..wechat.cdn import variant_of
from .chats import p2p_chat, union_id, user_id
from .errors import LarkEventsRefused
from .events import (
    challenge_answer_ok,
    encrypt,
    event_body,
    image_message_event,
    lark_id,
    signed_headers,
    url_verification_request,
)
from .records import LarkMessage
from .settings import LarkApp, LarkConfig

DEFAULT_USER = "ou_84aad35d084aa403a838cf73ee18467"


class LarkUsers:
    """What Lark's console and users do to an app, over the API that delivers its events."""

    def __init__(self, api: VendorApi, settings: LarkConfig):
        self.api = api
        self.state = api.state
        self.settings = settings

    def handlers(self) -> Mapping[str, Handler]:
        return {"subscribeLarkEvents": self.subscribe_route, "receiveLarkImage": self.receive_route,
                "deleteLarkImage": self.delete_route}

    def _app(self, app_id: str) -> LarkApp:
        app = self.settings.app(app_id)
        if app is None:
            raise AdminError(404, f"no Lark app {app_id!r}")
        return app

    def subscribe_route(self, call: Call) -> Response:
        app = self._app(call.valid.path["app_id"])
        body = call.body
        subscription = self.subscribe_events(
            app, body["url"], body.get("verification_token") or app.verification_token,
            body.get("encrypt_key"))
        return json_response({"app_id": app.app_id, "url": subscription.url,
                              "encrypted": bool(subscription.options.get("encrypt_key"))})

    def receive_route(self, call: Call) -> Response:
        body = call.body
        app = self._app(body.get("app_id") or self.settings.apps[0].app_id)
        try:
            message, event = self.receive_image(
                app, data=image_of(body), sender_open_id=body.get("sender_open_id") or DEFAULT_USER,
                chat_type=body.get("chat_type", "p2p"), chat_id=body.get("chat_id"))
        except images.NotAnImage as exc:
            raise AdminError(400, f"the image cannot be read: {exc}") from exc
        deliveries = self.api.deliver(event, message.key, wait=body.get("wait", True))
        return json_response({
            "app_id": app.app_id, "message_id": message.message_id, "chat_id": message.chat_id,
            "image_key": message.image_keys[0], "event": event,
            "deliveries": [delivery_view(d) for d in deliveries]}, 201)

    def delete_route(self, call: Call) -> Response:
        key = call.valid.path["image_key"]
        image = self.state.store.load(StoredImage, image_key("lark", key))
        if image is None:
            raise AdminError(404, f"no Lark image {key}")
        self.state.store.save(replace(image, deleted=True))
        return json_response({"deleted": key})

    def subscribe_events(self, app: LarkApp, url: str, verification_token: str,
                         encrypt_key: str | None) -> Subscription:
        """Register an app's event request URL the way Lark's console does: it must echo a
        url_verification challenge first, or no event will flow."""
        try:
            check_callback_url(url, self.state.config.callback_allow_hosts)
        except CallbackUrlRefused as exc:
            raise LarkEventsRefused(str(exc)) from exc
        challenge = secrets.token_hex(16)
        request = url_verification_request(verification_token=verification_token,
                                           challenge=challenge)
        body = event_body(encrypt(request, encrypt_key) if encrypt_key else request)
        try:
            answer = httpx.post(url, content=body, headers=signed_headers(body, None),
                                timeout=self.api.callback_timeout)
        except httpx.HTTPError as exc:
            raise LarkEventsRefused(f"the URL did not answer the challenge: {exc}") from exc
        if answer.status_code != 200 or not challenge_answer_ok(answer.content, challenge):
            raise LarkEventsRefused(f"the URL did not echo the challenge: HTTP "
                                    f"{answer.status_code} {answer.text[:200]!r}")
        subscription = Subscription("lark", app.app_id, url, {
            "verification_token": verification_token, "encrypt_key": encrypt_key})
        self.state.store.save(subscription)
        return subscription

    def configured_subscription(self, app: LarkApp) -> Subscription | None:
        """The app's subscription; one set in the config file is verified on first use."""
        subscription = self.state.store.load(Subscription, f"lark:{app.app_id}")
        if subscription is None and app.event_url:
            subscription = self.subscribe_events(app, app.event_url, app.verification_token,
                                                 app.encrypt_key)
        return subscription

    def receive_image(self, app: LarkApp, *, data: bytes, sender_open_id: str,
                      chat_type: Literal["p2p", "group"], chat_id: str | None
                      ) -> tuple[LarkMessage, dict[str, Any]]:
        """A user sends the bot a picture: kept as a user-sent resource of a new message,
        and the im.message.receive_v1 event that tells the bot."""
        subscription = self.configured_subscription(app)
        key = f"img_v3_{uuid.uuid4()}g"
        self.state.store.save_many([StoredImage(
            vendor="lark", image_id=key, owner=app.app_id, variants={"original": variant_of(data)},
            origin="received", created_at=self.state.clock.now())], [data])
        if chat_type == "p2p":  # a chat given here is the user's from now on, if none was
            users_chat = p2p_chat(self.state.store, app.app_id, sender_open_id,
                                  user_id(sender_open_id), union_id(sender_open_id), new=chat_id)
            chat_id = chat_id or users_chat
        now_ms = int(self.state.clock.now() * 1000)
        message_id, chat_id = lark_id("om"), chat_id or lark_id("oc")
        # subscribe_events, the only maker of Lark subscriptions, always keeps a token
        token: str = (subscription.options["verification_token"] if subscription
                      else app.verification_token)
        event = image_message_event(
            app_id=app.app_id, tenant_key=app.tenant_key, verification_token=token,
            message_id=message_id, chat_id=chat_id, chat_type=chat_type,
            sender_open_id=sender_open_id, sender_user_id=user_id(sender_open_id),
            sender_union_id=union_id(sender_open_id), image_key=key, create_time_ms=now_ms)
        message = LarkMessage(
            message_id=message_id, app_id=app.app_id, chat_id=chat_id, chat_type=chat_type,
            sender=sender_open_id, image_keys=(key,), create_time_ms=now_ms, event=event)
        self.state.store.save(message)
        return message, event
