"""The pytest plugin, as a user's project sees it: installed, nothing but a test file."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = '''
import httpx
from chatimg import ImageType, LarkImageDeleted
import pytest


def test_gewe_round_trip(chatimg_gewe, chatimg_mock):
    message = httpx.post(chatimg_mock.url + "/__admin/gewe/messages",
                         json={"fromUser": "wxid_user", "hd": False}).json()
    got = chatimg_gewe.download_image(message["xml"], ImageType.HD, fallback=True)
    assert got.type is ImageType.NORMAL
    assert httpx.get(got.file_url).status_code == 200


def test_lark_round_trip(chatimg_lark):
    png = open(__import__("mockserver.data_files", fromlist=["x"]).data_dir("fixtures")
               .joinpath("images/square.png"), "rb").read()
    key = chatimg_lark.upload_image(png)
    assert chatimg_lark.download_image(key) == png


def test_state_is_reset_between_tests_first(chatimg_mock):
    httpx.post(chatimg_mock.url + "/__admin/wid/messages", json={"fromUser": "wxid_user"})
    assert len(httpx.get(chatimg_mock.url + "/__admin/images").json()["images"]) == 1


def test_state_is_reset_between_tests_second(chatimg_mock):
    assert httpx.get(chatimg_mock.url + "/__admin/images").json()["images"] == []


def test_wid_unknown_image_is_an_error(chatimg_wid):
    from chatimg import WidError
    with pytest.raises(WidError):
        chatimg_wid.get_msg_img(1, "wxid_a", "wxid_b", "<msg><img cdnmidimgurl='30ff'/></msg>")
'''


def test_plugin_fixtures_work_from_a_project_that_only_installs_the_kit(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=5)


def test_plugin_takes_a_config_file(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", mock="gewe:\n  tokens: [my-token]\n")
    pytester.makepyfile(test_config='''
def test_token_from_the_file(chatimg_config, chatimg_gewe):
    assert chatimg_config.gewe.tokens == ("my-token",)
    assert chatimg_gewe.post_image("wxid_a", "http://x/10x10").width == 10
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chatimg-config=mock.yaml")
    result.assert_outcomes(passed=1)


HELPER_TESTS = '''
import httpx
import pytest
from chatimg import ImageType, LarkImageDeleted
from mockserver.data_files import fixture_image


def test_an_armed_error_fails_the_next_download_then_lets_it_through(chatimg_mock, chatimg_lark):
    key = chatimg_lark.upload_image(fixture_image("square.png"))
    chatimg_mock.fail("getImage", error="234005", times=1, match={"image_key": key})
    with pytest.raises(LarkImageDeleted):
        chatimg_lark.download_image(key)
    assert chatimg_lark.download_image(key) == fixture_image("square.png")


def test_a_rule_armed_without_times_holds_for_the_whole_test(chatimg_mock, chatimg_gewe):
    chatimg_mock.fail("postImage", error="wechat_offline")
    assert len(chatimg_mock.rules()) == 1


def test_rules_are_gone_in_the_next_test(chatimg_mock, chatimg_gewe):
    assert chatimg_mock.rules() == []
    assert chatimg_gewe.post_image("wxid_a", "http://x/10x10").width == 10


def test_an_advanced_clock_expires_a_gewe_file_url(chatimg_mock, chatimg_gewe):
    received = chatimg_mock.send_image("gewe")
    file_url = chatimg_gewe.download_image(received.xml, ImageType.NORMAL).file_url
    chatimg_mock.advance_clock(7 * 24 * 3600 + 60)
    assert httpx.get(file_url).status_code == 403


def test_a_call_with_another_body(chatimg_mock, chatimg_gewe):
    chatimg_gewe.post_image("wxid_a", "http://x/10x10")
    chatimg_mock.journal.assert_called("postImage", toWxid="wxid_b")
'''


def test_plugin_helpers_arm_failures_move_the_clock_and_report_near_misses(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_helpers=HELPER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "-q")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*near misses: 1 postImage call(s) with another body",
                                 "*toWxid: expected 'wxid_b', got 'wxid_a'"])
