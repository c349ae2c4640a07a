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
