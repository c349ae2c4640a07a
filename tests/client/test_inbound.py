"""chatimg.inbound reads the vendors' image callbacks and events: the specs' examples, what the
mock delivers (in every configured shape), and what the download calls then accept."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from _support import APP_A, DEFAULTS, GEWE_TOKEN, W_ID

from chatimg import (
    GeweClient,
    GeweImageMessage,
    ImageType,
    LarkClient,
    LarkImageMessage,
    ProtocolError,
    WidClient,
    WidImageMessage,
    parse_gewe_callback,
    parse_lark_event,
    parse_wid_callback,
)
from chatimg.inbound import lark_image_key
from mockserver import GeweConfig, LiveServer, MockConfig
from mockserver.specs import read_spec

BIG_ID = 8992614056172360123  # past 2**53: a float would round it
GROUP = "24225252625@chatroom"


def callback_example(vendor: str, path: str, callback: str, name: str | None = None) -> Any:
    """A callback body as the spec gives it (its one example, or the one named)."""
    spec = read_spec(vendor)
    operation = next(iter(spec["paths"][path].values()))
    [expression] = operation["callbacks"][callback].values()
    content = expression["post"]["requestBody"]["content"]["application/json"]
    return copy.deepcopy(content["examples"][name]["value"] if name else content["example"])


def gewe_example() -> dict[str, Any]:
    example: dict[str, Any] = callback_example("gewe", "/gewe/v2/api/tools/setCallback",
                                               "message")
    return example


def wid_example(name: str) -> dict[str, Any]:
    example: dict[str, Any] = callback_example("wid", "/setHttpCallbackUrl", "message", name)
    return example


def lark_example() -> dict[str, Any]:
    example: dict[str, Any] = callback_example("admin", "/__admin/lark/apps/{app_id}/events",
                                               "imageMessage")
    return example


# --- GeWe ------------------------------------------------------------------------------------


def test_gewe_spec_example_reads_as_an_image_message() -> None:
    message = parse_gewe_callback(gewe_example())

    assert isinstance(message, GeweImageMessage)
    assert message.new_msg_id == BIG_ID and message.msg_id == 1040356095
    assert (message.from_user, message.sender, message.chatroom) == (
        "wxid_phyyedw9xap22", "wxid_phyyedw9xap22", None)
    assert message.to_user == message.bot_wxid == "wxid_mockbot0000001"
    assert message.app_id == "wx_MockDevice00000000001" and message.create_time == 1704163145
    assert message.xml.startswith("<?xml") and message.thumbnail == b"\xff\xd8\xff\xe0"


@pytest.mark.parametrize("new_msg_id", [BIG_ID, str(BIG_ID)], ids=["number", "string"])
def test_gewe_new_msg_id_is_an_exact_int_from_a_number_or_a_string(new_msg_id: object) -> None:
    payload = gewe_example()
    payload["Data"]["NewMsgId"] = new_msg_id

    message = parse_gewe_callback(payload)

    assert message is not None and message.new_msg_id == BIG_ID


def test_gewe_group_image_has_the_sender_prefix_cut_from_the_xml() -> None:
    payload = gewe_example()
    xml = payload["Data"]["Content"]["string"]
    payload["Data"]["FromUserName"]["string"] = GROUP
    payload["Data"]["Content"]["string"] = f"wxid_sender0001:\n{xml}"

    message = parse_gewe_callback(payload)

    assert message is not None
    assert (message.from_user, message.sender, message.chatroom) == (GROUP, "wxid_sender0001",
                                                                     GROUP)
    assert message.xml == xml


def test_gewe_lowercase_data_key_is_read_too() -> None:
    payload = gewe_example()
    payload["data"] = payload.pop("Data")

    assert parse_gewe_callback(payload) is not None


@pytest.mark.parametrize("change", [
    lambda p: p.update(TypeName="ModContacts"),
    lambda p: p["Data"].update(MsgType=1),
    lambda p: p["Data"].update(MsgType=49),
], ids=["other-callback-type", "text", "app-message"])
def test_gewe_callbacks_that_are_no_image_read_as_none(change: Any) -> None:
    payload = gewe_example()
    change(payload)

    assert parse_gewe_callback(payload) is None


@pytest.mark.parametrize("change", [
    lambda p: p.pop("Data"),
    lambda p: p["Data"].pop("Content"),
    lambda p: p["Data"].update(Content="not wrapped"),
    lambda p: p["Data"].update(NewMsgId=1.5e18),
    lambda p: p["Data"].update(NewMsgId="12e5"),
    lambda p: p["Data"].update(ImgBuf={"iLen": 3, "buffer": "not base64!"}),
], ids=["no-data", "no-content", "content-not-wrapped", "float-id", "id-not-digits",
        "thumbnail-not-base64"])
def test_gewe_image_callback_missing_what_an_image_has_raises_protocol_error(
        change: Any) -> None:
    payload = gewe_example()
    change(payload)

    with pytest.raises(ProtocolError):
        parse_gewe_callback(payload)


@pytest.mark.parametrize("payload", [[], "AddMsg", None], ids=["list", "string", "null"])
def test_a_body_that_is_not_an_object_raises_protocol_error(payload: Any) -> None:
    for parse in (parse_gewe_callback, parse_wid_callback, parse_lark_event):
        with pytest.raises(ProtocolError):
            parse(payload)


@pytest.fixture(scope="module")
def string_id_server() -> Iterator[LiveServer]:
    with LiveServer(MockConfig(gewe=GeweConfig(new_msg_id_as_string=True))) as server:
        yield server


@pytest.mark.parametrize("chatroom", [None, GROUP], ids=["private", "group"])
@pytest.mark.parametrize("id_as", ["number", "string"])
def test_gewe_callback_the_mock_delivers_downloads_with_the_parsed_xml(
        server: LiveServer, request: pytest.FixtureRequest, chatroom: str | None,
        id_as: str) -> None:
    mock = server if id_as == "number" else request.getfixturevalue("string_id_server")
    received = mock.send_image("gewe", fromUser="wxid_friend01", hd=False,
                               **({"chatroom": chatroom} if chatroom else {}))
    assert isinstance(received["callback"]["Data"]["NewMsgId"],
                      int if id_as == "number" else str)

    message = parse_gewe_callback(received["callback"])

    assert message is not None and message.new_msg_id == received["newMsgId"]
    assert message.sender == "wxid_friend01" and message.chatroom == chatroom
    assert message.xml == received["xml"] and len(message.thumbnail) > 0
    with GeweClient(mock.url + "/gewe/v2/api", GEWE_TOKEN,
                    message.app_id) as gewe:
        assert gewe.download_image(message.xml, ImageType.NORMAL).type is ImageType.NORMAL


# --- wid -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, message_type, chatroom", [
    ("privateImageOld", 6, None), ("groupImageNew", "80002", "24225252625@chatroom"),
])
def test_wid_spec_examples_of_both_formats_read_as_image_messages(
        name: str, message_type: int | str, chatroom: str | None) -> None:
    message = parse_wid_callback(wid_example(name))

    assert isinstance(message, WidImageMessage)
    assert message.message_type == message_type and message.chatroom == chatroom
    assert message.from_user == "wxid_i6qsbbjenjuj22" and message.w_id == W_ID
    assert message.new_msg_id > 2**53 and not message.self_sent
    assert message.xml.startswith("<?xml") and message.content.endswith(message.xml)


@pytest.mark.parametrize("message_type", [10, "6", "60002", 80002])
def test_wid_image_types_match_as_numbers_or_strings(message_type: int | str) -> None:
    payload = wid_example("privateImageOld")
    payload["messageType"] = message_type

    assert parse_wid_callback(payload) is not None


@pytest.mark.parametrize("message_type", [5, 9, "60001", "80001", "00000", True, None])
def test_wid_callbacks_that_are_no_image_read_as_none(message_type: object) -> None:
    payload = wid_example("privateImageOld")
    payload["messageType"] = message_type

    assert parse_wid_callback(payload) is None


def test_wid_own_message_is_marked_self_sent() -> None:
    payload = wid_example("privateImageOld")
    payload["data"]["self"] = True

    message = parse_wid_callback(payload)

    assert message is not None and message.self_sent


@pytest.mark.parametrize("change", [
    lambda p: p.pop("data"),
    lambda p: p["data"].pop("content"),
    lambda p: p["data"].update(newMsgId=None),
    lambda p: p.pop("wcId"),
], ids=["no-data", "no-content", "no-new-msg-id", "no-wc-id"])
def test_wid_image_callback_missing_what_an_image_has_raises_protocol_error(
        change: Any) -> None:
    payload = wid_example("privateImageOld")
    change(payload)

    with pytest.raises(ProtocolError):
        parse_wid_callback(payload)


@pytest.mark.parametrize("chatroom", [None, GROUP], ids=["private", "group"])
def test_wid_callback_the_mock_delivers_downloads_with_the_parsed_fields(
        server: LiveServer, chatroom: str | None) -> None:
    received = server.send_image("wid", fromUser="wxid_friend01",
                                 **({"chatroom": chatroom} if chatroom else {}))

    message = parse_wid_callback(received["callback"])

    assert message is not None and message.chatroom == chatroom
    assert (message.from_user, message.new_msg_id) == ("wxid_friend01", received["newMsgId"])
    with WidClient(server.url, DEFAULTS.wid.authorizations[0], message.w_id) as wid:
        assert wid.get_msg_img(message.msg_id, message.from_user, message.to_user, message.xml)


# --- Lark ------------------------------------------------------------------------------------


def test_lark_spec_example_reads_as_an_image_message() -> None:
    message = parse_lark_event(lark_example())

    assert message == LarkImageMessage(
        event_id="5e3702a84e847582be8db7fb73283c02", app_id="cli_mock0000000000a1",
        tenant_key="2ca1d211f64f6438", token="mock-verification-token",
        message_id="om_5ce6d572455d361153b7cb51da133945",
        chat_id="oc_5ce6d572455d361153b7xx51da133945", chat_type="p2p",
        image_key="img_v3_02ab_7f2b6a7e-8c1d-4f1a-9b3e-0c6f5d2a1b9g",
        sender_open_id="ou_84aad35d084aa403a838cf73ee18467", create_time="1609073151345")


@pytest.mark.parametrize("payload", [
    {"challenge": "abc", "token": "t", "type": "url_verification"},
    {"uuid": "u", "event": {"type": "message"}, "token": "t", "ts": "1"},
], ids=["url-verification", "schema-1.0"])
def test_lark_bodies_that_are_no_schema_2_event_read_as_none(payload: dict[str, Any]) -> None:
    assert parse_lark_event(payload) is None


@pytest.mark.parametrize("change", [
    lambda p: p["header"].update(event_type="im.message.message_read_v1"),
    lambda p: p["event"]["message"].update(message_type="text", content='{"text":"hi"}'),
], ids=["other-event", "text-message"])
def test_lark_events_that_are_no_image_read_as_none(change: Any) -> None:
    payload = lark_example()
    change(payload)

    assert parse_lark_event(payload) is None


@pytest.mark.parametrize("change", [
    lambda p: p["event"]["message"].update(content='{"file_key":"file_x"}'),
    lambda p: p["event"]["message"].update(content={"image_key": "img_x"}),
    lambda p: p["event"].pop("message"),
    lambda p: p["header"].pop("event_id"),
], ids=["no-image-key", "content-not-a-string", "no-message", "no-event-id"])
def test_lark_image_event_missing_what_an_image_has_raises_protocol_error(change: Any) -> None:
    payload = lark_example()
    change(payload)

    with pytest.raises(ProtocolError):
        parse_lark_event(payload)


def test_lark_encrypted_event_raises_protocol_error_that_says_so() -> None:
    with pytest.raises(ProtocolError, match="encrypted"):
        parse_lark_event({"encrypt": "FIQkTK4xE0bA5jA5..."})


@pytest.mark.parametrize("content, key", [
    ('{"image_key":"img_v3_k"}', "img_v3_k"), ('{"image_key":""}', None), ("[]", None),
    ("not json", None), ('{"image_key": 5}', None),
])
def test_lark_image_key_is_read_from_the_content_string(content: str, key: str | None) -> None:
    assert lark_image_key(content) == key


@pytest.mark.parametrize("chat_type", ["p2p", "group"])
def test_lark_event_the_mock_builds_downloads_with_the_parsed_ids(server: LiveServer,
                                                                  chat_type: str) -> None:
    received = server.send_image("lark", chat_type=chat_type)

    message = parse_lark_event(json.loads(json.dumps(received["event"])))

    assert message is not None and message.chat_type == chat_type
    assert (message.message_id, message.chat_id, message.image_key) == (
        received["message_id"], received["chat_id"], received["image_key"])
    with LarkClient(APP_A.app_id, APP_A.app_secret, base_url=server.url) as lark:
        assert lark.download_message_resource(message.message_id, message.image_key)
