"""Playing a WeChat user who sends the bot a picture: the admin route GeWe and wid share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Response

from ...media import images
from ...storage.records import ImageMessage
from ..base import Handler, VendorApi, json_response
from ..user_side import AdminError, delivery_view, image_of
from .cdn import receive_image


def user_sends_image(api: VendorApi, accounts: Mapping[str, str],
                     callback_of: Callable[[ImageMessage], dict[str, Any]]) -> Handler:
    """The admin route where a user sends the bot of an account a picture (``accounts``: the
    account ids the vendor's config names, and the bot's wxid on each)."""
    return lambda call: _send(api, call.body, accounts, callback_of)


def _send(api: VendorApi, body: Mapping[str, Any], accounts: Mapping[str, str],
          callback_of: Callable[[ImageMessage], dict[str, Any]]) -> Response:
    """Store the picture as WeChat would, then call the bot back."""
    account = body.get("account") or next(iter(accounts))
    if account not in accounts:
        raise AdminError(400, f"no {api.spec_name} account {account!r}; "
                              f"configured: {sorted(accounts)}")
    try:
        message, image = receive_image(api.state, vendor=api.spec_name, account=account,
                                       bot=accounts[account], sender=body["fromUser"],
                                       chatroom=body.get("chatroom"), data=image_of(body),
                                       hd=body.get("hd", True))
    except images.NotAnImage as exc:
        raise AdminError(400, f"the image cannot be read: {exc}") from exc
    callback = callback_of(message)
    deliveries = api.deliver(callback, message.key, wait=body.get("wait", True))
    return json_response({
        "account": account, "fromUser": message.from_user, "toUser": message.to_user,
        "msgId": message.msg_id, "newMsgId": message.new_msg_id,
        "createTime": message.create_time, "xml": message.extra["clean_xml"],
        "content": message.xml, "fileId": image.image_id, "aesKey": image.aes_key,
        "hd": "hd" in image.variants, "callback": callback,
        "deliveries": [delivery_view(d) for d in deliveries]}, 201)
