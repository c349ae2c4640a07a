"""LarkClient.download_message_resource and send_image against the mock on a real socket:
a user's image through the message it came in, the bot's image sent back, each refusal typed."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from _support import APP_A, APP_B, PNG, lark_client

from chatimg import (
    AsyncLarkClient,
    LarkClient,
    LarkCode,
    LarkError,
    LarkFileNotInMessage,
    LarkImageDeleted,
    LarkNotResourceSender,
    LarkSendRefused,
    SentMessage,
)
from mockserver import LarkApp, LarkConfig, LiveServer, MockConfig

USER = "ou_84aad35d084aa403a838cf73ee18467"
MESSAGE_RESOURCE = "/open-apis/im/v1/messages/{}/resources/{}"


def user_sends(server: LiveServer, **options: Any) -> dict[str, Any]:
    """A user sends the app an image; the mock's reply has message_id, chat_id, image_key."""
    return server.send_image("lark", image=PNG, sender_open_id=USER, **options)


def arm(server: LiveServer, operation: str, error: str) -> None:
    """The next ``operation`` call answers ``error`` (a rule of the mock)."""
    answer = httpx.post(server.url + "/__admin/rules",
                        json={"operation": operation, "error": error, "times": 1})
    assert answer.status_code == 201, answer.text


# --- download_message_resource --------------------------------------------------------------


def test_message_resource_is_the_image_the_user_sent(lark: LarkClient,
                                                     server: LiveServer) -> None:
    message = user_sends(server)

    assert lark.download_message_resource(message["message_id"], message["image_key"]) == PNG
    [call] = server.journal.assert_called("getMessageResource", times=1)
    assert call.path == MESSAGE_RESOURCE.format(message["message_id"], message["image_key"])
    assert call.query == "type=image"


def test_message_resource_to_a_path_and_to_a_file(lark: LarkClient, server: LiveServer,
                                                  tmp_path: Path) -> None:
    message = user_sends(server)
    sink = io.BytesIO()

    lark.download_message_resource_to(message["message_id"], message["image_key"],
                                      tmp_path / "got.png")
    lark.download_message_resource_to(message["message_id"], message["image_key"], sink)

    assert (tmp_path / "got.png").read_bytes() == PNG and sink.getvalue() == PNG


def test_user_sent_image_is_not_served_by_the_image_api(lark: LarkClient,
                                                        server: LiveServer) -> None:
    message = user_sends(server)

    with pytest.raises(LarkNotResourceSender):
        lark.download_image(message["image_key"])


def test_key_of_another_message_raises_file_not_in_message(lark: LarkClient,
                                                           server: LiveServer,
                                                           tmp_path: Path) -> None:
    first, second = user_sends(server), user_sends(server)

    with pytest.raises(LarkFileNotInMessage) as caught:
        lark.download_message_resource(first["message_id"], second["image_key"])
    with pytest.raises(LarkFileNotInMessage):
        lark.download_message_resource_to(first["message_id"], second["image_key"],
                                          tmp_path / "got.png")

    error = caught.value
    assert (error.code, error.http_status, error.msg) == (LarkCode.FILE_NOT_IN_MESSAGE, 400,
                                                           "File not in msg.")
    assert error.log_id and not (tmp_path / "got.png").exists()


def test_message_of_another_app_raises_file_not_in_message(server: LiveServer) -> None:
    message = user_sends(server)  # to app A

    with lark_client(server, APP_B) as other_app:
        with pytest.raises(LarkFileNotInMessage):
            other_app.download_message_resource(message["message_id"], message["image_key"])


def test_deleted_message_resource_raises_image_deleted(lark: LarkClient,
                                                       server: LiveServer) -> None:
    message = user_sends(server)
    httpx.delete(f"{server.url}/__admin/lark/images/{message['image_key']}")

    with pytest.raises(LarkImageDeleted):
        lark.download_message_resource(message["message_id"], message["image_key"])


def test_message_resource_is_fetched_again_with_a_fresh_token(lark: LarkClient,
                                                              server: LiveServer) -> None:
    message = user_sends(server)
    arm(server, "getMessageResource", "99991663")

    assert lark.download_message_resource(message["message_id"], message["image_key"]) == PNG
    calls = server.journal.entries("getMessageResource")
    assert [(c.status, c.vendor_code) for c in calls] == [(400, 99991663), (200, None)]


# --- send_image -------------------------------------------------------------------------------


def test_send_image_to_a_user_answers_the_message_in_their_chat(lark: LarkClient,
                                                                server: LiveServer) -> None:
    chat_id = user_sends(server)["chat_id"]
    image_key = lark.upload_image(PNG)

    sent = lark.send_image(USER, image_key)

    assert isinstance(sent, SentMessage) and sent.message_id.startswith("om_")
    assert (sent.chat_id, sent.msg_type) == (chat_id, "image")
    assert json.loads(sent.content or "") == {"image_key": image_key}
    assert sent.create_time_ms == int(sent.create_time or "x")
    [call] = server.journal.assert_called("sendMessage", times=1, receive_id=USER,
                                          msg_type="image")
    assert call.query == "receive_id_type=open_id"
    assert call.request_body["content"] == f'{{"image_key":"{image_key}"}}'  # a JSON string


def test_send_image_to_a_chat_by_chat_id(lark: LarkClient, server: LiveServer) -> None:
    chat_id = user_sends(server, chat_type="group")["chat_id"]

    sent = lark.send_image(chat_id, lark.upload_image(PNG), "chat_id", uuid="echo-1")

    assert sent.chat_id == chat_id
    [call] = server.journal.assert_called("sendMessage", times=1, receive_id=chat_id,
                                          uuid="echo-1")
    assert call.query == "receive_id_type=chat_id"


@pytest.mark.parametrize("image_key", ["img_v3_no_such_image", "avatar", "other-app"])
def test_send_of_an_image_the_app_did_not_upload_for_messages_raises_send_refused(
        lark: LarkClient, server: LiveServer, image_key: str) -> None:
    if image_key == "avatar":
        image_key = lark.upload_image(PNG, image_type="avatar")
    elif image_key == "other-app":
        with lark_client(server, APP_B) as other_app:
            image_key = other_app.upload_image(PNG)

    with pytest.raises(LarkSendRefused) as caught:
        lark.send_image(USER, image_key)

    error = caught.value
    assert (error.code, error.http_status) == (LarkCode.SEND_INVALID_PARAM, 400)
    assert error.detail["field_violations"][0]["field"] == "content.image_key"


def test_send_of_a_user_sent_image_key_raises_send_refused(lark: LarkClient,
                                                           server: LiveServer) -> None:
    message = user_sends(server)

    with pytest.raises(LarkSendRefused):
        lark.send_image(USER, message["image_key"])


def test_bot_outside_the_group_raises_send_refused(lark: LarkClient, server: LiveServer) -> None:
    image_key = lark.upload_image(PNG)
    arm(server, "sendMessage", "230002")  # the mock does not model chat membership

    with pytest.raises(LarkSendRefused) as caught:
        lark.send_image("oc_not_a_member", image_key, "chat_id")

    assert caught.value.code == LarkCode.BOT_NOT_IN_CHAT
    assert caught.value.msg == "The bot can not be outside the group."


def test_app_without_bot_ability_raises_send_refused() -> None:
    app = LarkApp("cli_mock_no_bot", "secret-n", bot_enabled=False)
    with LiveServer(MockConfig(lark=LarkConfig(apps=(app,)))) as server:
        with lark_client(server, app) as client:
            with pytest.raises(LarkSendRefused) as caught:
                client.send_image(USER, "img_v3_any")
    assert caught.value.code == LarkCode.BOT_NOT_ACTIVATED


def test_send_is_retried_with_a_fresh_token_and_after_a_rate_limit(server: LiveServer) -> None:
    slept: list[float] = []
    with lark_client(server, sleep=slept.append) as lark:
        image_key = lark.upload_image(PNG)
        arm(server, "sendMessage", "99991663")
        arm(server, "sendMessage", "99991400")

        lark.send_image(USER, image_key)

    calls = server.journal.entries("sendMessage")
    assert [c.status for c in calls] == [400, 429, 200]
    assert slept == [1.0]  # x-ogw-ratelimit-reset


# --- async --------------------------------------------------------------------------------------


def test_async_download_and_send_run_the_same_flows(server: LiveServer, tmp_path: Path) -> None:
    message = user_sends(server)

    async def echo() -> tuple[bytes, SentMessage]:
        async with AsyncLarkClient(APP_A.app_id, APP_A.app_secret,
                                   base_url=server.url) as lark:
            data = await lark.download_message_resource(message["message_id"],
                                                        message["image_key"])
            await lark.download_message_resource_to(message["message_id"],
                                                    message["image_key"], tmp_path / "got")
            sent = await lark.send_image(USER, await lark.upload_image(data))
            return data, sent

    data, sent = asyncio.run(echo())

    assert data == PNG and (tmp_path / "got").read_bytes() == PNG
    assert sent.chat_id == message["chat_id"]


def test_async_file_not_in_message_is_typed(server: LiveServer) -> None:
    message = user_sends(server)

    async def download() -> bytes:
        async with AsyncLarkClient(APP_A.app_id, APP_A.app_secret,
                                   base_url=server.url) as lark:
            return await lark.download_message_resource(message["message_id"], "img_v3_other")

    with pytest.raises(LarkFileNotInMessage):
        asyncio.run(download())


@pytest.mark.parametrize("code, error_class", [
    (234003, LarkFileNotInMessage), (230001, LarkSendRefused), (230002, LarkSendRefused),
    (230006, LarkSendRefused),
])
def test_codes_of_message_resources_and_sending_have_a_name_and_a_class(
        code: int, error_class: type) -> None:
    error = LarkError.for_code(code, "msg", "log", 400)
    assert type(error) is error_class and error.code == LarkCode(code) and error.code.name
