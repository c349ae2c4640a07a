"""The ``chatimg_mock`` fixture's helpers on its real socket: failure on demand, the clock, the
typed reply of ``send_image``, and the near misses of ``journal.assert_called``."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterable

import httpx
import pytest
from _support import PNG, RecordingBot

from chatimg import GeweClient, GeweError, ImageType, LarkClient, LarkImageDeleted
from mockserver import LiveServer, MockConfig
from mockserver.testing.live import ArmedRule, Delivery, ReceivedLarkImage, ReceivedWechatImage

SEVEN_DAYS = 7 * 24 * 3600
POST_IMAGE = "/gewe/v2/api/message/postImage"


def post_image_raw(mock: LiveServer, config: MockConfig) -> httpx.Response:
    """GeWe's postImage by hand, to see the reply's bytes as they came."""
    return httpx.post(mock.url + POST_IMAGE, headers={"X-GEWE-TOKEN": config.gewe.tokens[0]},
                      json={"appId": config.gewe.devices[0].app_id, "toWxid": "wxid_a",
                            "imgUrl": "http://x/10x10"})


# --- fail ------------------------------------------------------------------------------------


def test_fail_answers_the_vendor_error_the_given_times_then_lets_calls_through(
        chatimg_mock: LiveServer, chatimg_lark: LarkClient) -> None:
    key = chatimg_lark.upload_image(PNG)

    chatimg_mock.fail("getImage", error="234005", times=2, match={"image_key": key})

    for _ in range(2):
        with pytest.raises(LarkImageDeleted):
            chatimg_lark.download_image(key)
    assert chatimg_lark.download_image(key) == PNG


def test_fail_spares_the_calls_whose_fields_do_not_match(chatimg_mock: LiveServer,
                                                         chatimg_lark: LarkClient) -> None:
    key = chatimg_lark.upload_image(PNG)

    chatimg_mock.fail("getImage", error=234005, match={"image_key": "img_v3_another"})

    assert chatimg_lark.download_image(key) == PNG


def test_fail_takes_a_gewe_error_by_name(chatimg_mock: LiveServer,
                                         chatimg_gewe: GeweClient) -> None:
    chatimg_mock.fail("gewe.*", error="wechat_offline", times=1)

    with pytest.raises(GeweError, match="微信已离线"):
        chatimg_gewe.post_image("wxid_a", "http://x/10x10")
    assert chatimg_gewe.post_image("wxid_a", "http://x/10x10").width == 10


def test_fail_with_an_error_the_operation_cannot_answer_says_which_it_can(
        chatimg_mock: LiveServer) -> None:
    with pytest.raises(AssertionError, match="getImage cannot answer error 'nope'; known: 234001"):
        chatimg_mock.fail("getImage", error="nope")
    assert chatimg_mock.rules() == []


# --- fault -----------------------------------------------------------------------------------


def test_fault_latency_slows_the_matching_call(chatimg_mock: LiveServer,
                                               chatimg_gewe: GeweClient) -> None:
    chatimg_mock.fault("gewe.*", "latency", ms=300, times=1)

    started = time.perf_counter()
    chatimg_gewe.post_image("wxid_a", "http://x/10x10")

    assert time.perf_counter() - started >= 0.3


def test_fault_empty_answers_the_call_without_a_body(chatimg_mock: LiveServer,
                                                     chatimg_config: MockConfig) -> None:
    chatimg_mock.fault("postImage", "empty", times=1)

    assert post_image_raw(chatimg_mock, chatimg_config).content == b""
    assert post_image_raw(chatimg_mock, chatimg_config).json()["ret"] == 200


# --- rules -----------------------------------------------------------------------------------


def test_armed_rule_describes_itself_as_the_mock_keeps_it(chatimg_mock: LiveServer) -> None:
    rule = chatimg_mock.fail("getImage", error="234005", times=3, match={"image_key": "img_x"})

    assert rule == ArmedRule(rule_id=rule.rule_id, operation="getImage",
                             match={"image_key": "img_x"}, action={"error": "234005"},
                             remaining=3)


def test_rules_lists_the_armed_rules_with_what_remains_of_each(
        chatimg_mock: LiveServer, chatimg_gewe: GeweClient) -> None:
    error = chatimg_mock.fail("postImage", error="wechat_offline", times=2)
    slow = chatimg_mock.fault("lark.*", "latency", min_ms=1, max_ms=2)
    with pytest.raises(GeweError):
        chatimg_gewe.post_image("wxid_a", "http://x/10x10")

    rules = {rule.rule_id: rule for rule in chatimg_mock.rules()}

    assert rules == {error.rule_id: ArmedRule(error.rule_id, "postImage", {},
                                              {"error": "wechat_offline"}, 1),
                     slow.rule_id: ArmedRule(slow.rule_id, "lark.*", {},
                                             {"fault": "latency", "min_ms": 1, "max_ms": 2},
                                             None)}


def test_remove_rule_disarms_it(chatimg_mock: LiveServer, chatimg_gewe: GeweClient) -> None:
    rule = chatimg_mock.fail("postImage", error="wechat_offline")

    chatimg_mock.remove_rule(rule.rule_id)

    assert chatimg_mock.rules() == []
    assert chatimg_gewe.post_image("wxid_a", "http://x/10x10").width == 10


def test_clear_rules_disarms_every_rule(chatimg_mock: LiveServer,
                                       chatimg_gewe: GeweClient) -> None:
    chatimg_mock.fail("postImage", error="wechat_offline")
    chatimg_mock.fault("gewe.*", "reset")

    chatimg_mock.clear_rules()

    assert chatimg_mock.rules() == []
    assert chatimg_gewe.post_image("wxid_a", "http://x/10x10").width == 10


# --- the clock -------------------------------------------------------------------------------


def test_advance_clock_past_seven_days_makes_a_gewe_file_url_expire(
        chatimg_mock: LiveServer, chatimg_gewe: GeweClient) -> None:
    received = chatimg_mock.send_image("gewe")
    file_url = chatimg_gewe.download_image(received.xml, ImageType.NORMAL).file_url
    assert httpx.get(file_url).status_code == 200

    now = chatimg_mock.advance_clock(SEVEN_DAYS + 60)

    assert now == pytest.approx(time.time() + SEVEN_DAYS + 60, abs=5)
    assert httpx.get(file_url).status_code == 403


def test_set_clock_sets_the_mock_time(chatimg_mock: LiveServer) -> None:
    now = chatimg_mock.set_clock(2_000_000_000)

    assert now == pytest.approx(2_000_000_000, abs=5)
    assert chatimg_mock.state.clock.now() == pytest.approx(2_000_000_000, abs=5)


# --- send_image ------------------------------------------------------------------------------


def test_send_image_on_gewe_answers_the_message_typed(chatimg_mock: LiveServer) -> None:
    received = chatimg_mock.send_image("gewe", hd=False)

    assert isinstance(received, ReceivedWechatImage)
    assert received.from_user == "wxid_user000000001"
    assert received.xml.startswith("<?xml") and received.content == received.xml
    assert received.hd is False and received.deliveries == ()
    assert (received.msg_id, received.new_msg_id, received.file_id, received.aes_key) == (
        received.raw["msgId"], received.raw["newMsgId"], received.raw["fileId"],
        received.raw["aesKey"])


def test_send_image_on_lark_answers_the_message_typed(chatimg_mock: LiveServer) -> None:
    received = chatimg_mock.send_image("lark", image=PNG)

    assert isinstance(received, ReceivedLarkImage)
    assert received.message_id.startswith("om_") and received.chat_id.startswith("oc_")
    content = json.loads(received.event["event"]["message"]["content"])
    assert content == {"image_key": received.image_key}


def test_send_image_reads_as_the_raw_admin_reply_too(chatimg_mock: LiveServer) -> None:
    received = chatimg_mock.send_image("wid")

    assert dict(received) == received.raw
    assert received["newMsgId"] == received.new_msg_id


def test_send_image_answers_the_deliveries_typed_with_the_bots_answers(
        chatimg_mock: LiveServer, chatimg_gewe: GeweClient) -> None:
    with RecordingBot() as bot:
        chatimg_gewe.set_callback(bot.url)

        received = chatimg_mock.send_image("gewe")

    [delivery] = received.deliveries
    assert isinstance(delivery, Delivery)
    assert (delivery.vendor, delivery.url, delivery.state) == ("gewe", bot.url, "delivered")
    [attempt] = delivery.attempts
    assert (attempt.status, attempt.body, attempt.error, attempt.replay) == (
        200, '{"taken":true}', None, False)


def test_send_image_to_an_unknown_vendor_names_the_known_ones(chatimg_mock: LiveServer) -> None:
    with pytest.raises(ValueError, match="no vendor 'wechat'; known: gewe, wid, lark"):
        chatimg_mock.send_image("wechat")  # type: ignore[call-overload]


# --- near misses of journal.assert_called ----------------------------------------------------


def test_assert_called_failure_shows_the_near_miss_and_the_field_that_differs(
        chatimg_mock: LiveServer, chatimg_gewe: GeweClient) -> None:
    chatimg_gewe.post_image("wxid_a", "http://x/10x10")

    with pytest.raises(AssertionError) as raised:
        chatimg_mock.journal.assert_called("postImage", toWxid="wxid_b")

    near_misses = str(raised.value).split("\n", 2)[2]
    assert near_misses.startswith(
        "near misses: 1 postImage call(s) with another body\n"
        f"  POST {POST_IMAGE} -> 200 code=200\n"
        "    toWxid: expected 'wxid_b', got 'wxid_a'\n"
        '    body: {"appId": ')
    assert '"toWxid": "wxid_a", "imgUrl": "http://x/10x10"}' in near_misses


def test_near_miss_names_an_expected_field_absent_from_the_body(
        chatimg_mock: LiveServer, chatimg_gewe: GeweClient) -> None:
    chatimg_gewe.post_image("wxid_a", "http://x/10x10")

    with pytest.raises(AssertionError, match="    caption: expected 'hi', absent from the body"):
        chatimg_mock.journal.assert_called("postImage", toWxid="wxid_a", caption="hi")


def test_near_misses_are_only_calls_of_the_asserted_operation(
        chatimg_mock: LiveServer, chatimg_gewe: GeweClient) -> None:
    chatimg_gewe.post_image("wxid_a", "http://x/10x10")
    received = chatimg_mock.send_image("gewe")
    chatimg_gewe.download_image(received.xml, ImageType.NORMAL)

    with pytest.raises(AssertionError) as raised:
        chatimg_mock.journal.assert_called("downloadImage", type=1)

    journal, near_misses = str(raised.value).split("near misses: ")
    assert "(postImage) -> 200" in journal and "(downloadImage) -> 200" in journal
    assert near_misses.startswith("1 downloadImage call(s) with another body\n")
    assert "    type: expected 1, got 2\n" in near_misses and "postImage" not in near_misses


def test_assert_called_failure_stays_bounded_however_full_the_journal(
        chatimg_mock: LiveServer, chatimg_gewe: GeweClient) -> None:
    for index in range(22):
        chatimg_gewe.post_image(f"wxid_{index:02d}", "http://x/10x10")

    with pytest.raises(AssertionError) as raised:
        chatimg_mock.journal.assert_called("postImage", toWxid="wxid_b")

    lines = str(raised.value).splitlines()
    assert lines[1] == "  … 2 earlier"
    assert sum(line.startswith(f"  POST {POST_IMAGE} (postImage)") for line in lines) == 20
    assert sum(line.startswith("    toWxid: expected 'wxid_b', got") for line in lines) == 10
    assert lines[-1] == "  … 12 more"


def test_assert_called_shows_no_near_misses_when_too_many_calls_matched(
        chatimg_mock: LiveServer, chatimg_gewe: GeweClient) -> None:
    for wxid in ("wxid_a", "wxid_a", "wxid_b"):
        chatimg_gewe.post_image(wxid, "http://x/10x10")

    with pytest.raises(AssertionError) as raised:
        chatimg_mock.journal.assert_called("postImage", times=1, toWxid="wxid_a")

    assert "found 2" in str(raised.value) and "near misses" not in str(raised.value)


# --- url -------------------------------------------------------------------------------------


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_url_on_ipv6_loopback_puts_the_host_in_brackets() -> None:
    def bot(environ: dict[str, object], start_response: Callable[..., object]
            ) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with LiveServer(app=bot, host="::1") as server:
        assert server.url == f"http://[::1]:{server.port}"
        assert httpx.get(server.url + "/").text == "ok"
