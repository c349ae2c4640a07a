"""The dashboard (``/__admin/ui/``) in a real browser, on a live mock over loopback.

Everything the page shows is put there by the mock's real routes: images stored through the
vendors' own calls and the user-side admin routes, calls made with httpx after the page is
open, a recording bot on a real socket for the callbacks. The page is driven through the hooks
dashboard.js names (``data-testid``, ``#view-*``), and what a test checks about an image (that
it loaded, its size) is read in the browser. Each view is photographed once it holds real data
(``CHATIMG_SCREENSHOTS=docs`` keeps those pictures for the documentation).
"""

from __future__ import annotations

import base64
import io
import json
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from _support import (
    APP_A,
    APP_B,
    GEWE_API,
    GEWE_APP_ID,
    GEWE_HEADERS,
    GEWE_TOKEN,
    W_ID,
    RecordingBot,
    client_of,
    lark_auth,
)
from PIL import Image

from mockserver import LiveServer, MockConfig
from mockserver.data_files import fixture_image

if TYPE_CHECKING:
    from selenium.webdriver import Chrome
    from selenium.webdriver.remote.webelement import WebElement

LARK_IMAGES = "/open-apis/im/v1/images"
ADMIN_TOKEN = "dashboard-admin-token"
WAIT = 10  # seconds: the longest any step may take before the test fails
JOURNAL_WAIT = 2  # seconds: a call shows in the journal within this (the promise)

# Every thumbnail on the page: where it is shown (the vendor, account and origin of its strip)
# and whether it loaded. A thumbnail not loaded yet is scrolled to: they load lazily.
THUMBNAILS = """
return [...document.querySelectorAll('img[data-testid="thumbnail"]')].map((img) => {
  const account = img.closest("section.account");
  const badge = account.querySelector("h2 .badge");
  if (!img.complete) img.scrollIntoView({block: "center"});
  return {
    imageId: img.dataset.imageId,
    vendor: [...badge.classList].find((c) => c.startsWith("v-")).slice(2),
    account: account.querySelector("h2 span.mono:not(.badge)").textContent,
    origin: img.closest("section.strip").querySelector("h3").textContent,
    complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
  };
});
"""
# The fixtures that are pictures, in the order the bot sends them in the images test.
PICTURES = ("landscape.jpg", "square.png", "transparent.png", "photo.webp", "scan.tiff",
            "tiny.gif")
ORIGIN_HEADINGS = {"Sent by the bot": "sent", "Sent to the bot by users": "received"}

# The full image in the open dialog, and the texts of its code blocks (XML, event JSON).
DIALOG = """
const dialog = document.getElementById("image-dialog");
const img = dialog.querySelector(".detail a.full img");
return {open: dialog.open, complete: Boolean(img && img.complete),
        width: img ? img.naturalWidth : 0, height: img ? img.naturalHeight : 0,
        codes: [...dialog.querySelectorAll("pre.code")].map((pre) => pre.textContent)};
"""

# The HTTP status of the page the browser shows (after redirects).
NAVIGATION_STATUS = 'return performance.getEntriesByType("navigation")[0].responseStatus;'

# The text of a journal row's exchange, once expanded (else null).
EXPANDED = """
const detail = arguments[0].nextElementSibling;
return detail.hidden || !detail.textContent ? null : detail.textContent;
"""

# The facts (<dt> label -> <dd> text) of the play form's result.
PLAY_FACTS = """
const result = arguments[0].querySelector('[data-testid="play-result"]');
return Object.fromEntries([...result.querySelectorAll("dt")]
  .map((dt) => [dt.textContent, dt.nextElementSibling.textContent]));
"""


# --- the page ---------------------------------------------------------------------------


class Dashboard:
    """The dashboard of one mock in the browser: opening a view, waiting on a condition."""

    def __init__(self, browser: Chrome, mock: LiveServer) -> None:
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select, WebDriverWait

        self.browser, self.mock = browser, mock
        self._by, self._select, self._wait = By, Select, WebDriverWait
        self._timeout = TimeoutException

    def open(self, view: str, query: str = "") -> None:
        self.browser.get(f"{self.mock.url}/__admin/ui/{query}#{view}")

    def until(self, condition: Callable[[Chrome], Any], what: str, timeout: float = WAIT) -> Any:
        """``condition``'s first true answer, polled for up to ``timeout`` seconds."""
        return self._wait(self.browser, timeout, poll_frequency=0.05).until(
            condition, f"waited {timeout} s for {what}")

    def observe(self, script: str, accept: Callable[[Any], bool], what: str,
                *arguments: Any, timeout: float = WAIT) -> Any:
        """What ``script`` returns in the page, once ``accept`` takes it; on a timeout the
        failure shows what it returned last."""
        seen: list[Any] = [None]

        def accepted(browser: Chrome) -> Any:
            seen[0] = browser.execute_script(script, *arguments)
            return accept(seen[0]) and seen[0]

        try:
            return self.until(accepted, what, timeout)
        except self._timeout as exc:
            raise AssertionError(f"waited {timeout} s for {what}; last seen: {seen[0]!r}"
                                 ) from exc

    def find(self, selector: str, root: WebElement | None = None) -> WebElement:
        return (root or self.browser).find_element(self._by.CSS_SELECTOR, selector)

    def find_all(self, selector: str, root: WebElement | None = None) -> list[WebElement]:
        return (root or self.browser).find_elements(self._by.CSS_SELECTOR, selector)

    def shown(self, selector: str, what: str, timeout: float = WAIT) -> WebElement:
        """The first element of ``selector``, once there is one."""
        return self.until(lambda _: next(iter(self.find_all(selector)), None), what, timeout)

    def choose(self, select: WebElement, value: str) -> None:
        """Pick an option of a <select> as a user does (the page hears its change event)."""
        self._select(select).select_by_value(value)

    def thumbnails(self, count: int) -> dict[str, dict[str, Any]]:
        """The page's ``count`` thumbnails, once all of them have loaded, by image id; the
        page is then scrolled back to its top."""
        def all_loaded(shown: list[dict[str, Any]]) -> bool:
            broken = [t for t in shown if t["complete"] and not t["width"]]
            assert not broken, f"thumbnails that did not load: {broken}"
            return len(shown) == count and all(t["complete"] for t in shown)

        found = self.observe(THUMBNAILS, all_loaded, f"{count} loaded thumbnails")
        self.browser.execute_script("window.scrollTo(0, 0)")  # (back from the lazy ones)
        return {t["imageId"]: {**t, "origin": ORIGIN_HEADINGS[t["origin"]]} for t in found}


@pytest.fixture
def dashboard(browser: Chrome, live_mock: LiveServer) -> Dashboard:
    return Dashboard(browser, live_mock)


# --- storing images through the mock's real calls -----------------------------------------


def fixture_size(name: str) -> tuple[int, int]:
    with Image.open(io.BytesIO(fixture_image(name))) as image:
        return image.size


def gewe_post_image(mock: LiveServer, fixture: str) -> str:
    """The bot sends a friend the fixture on GeWe (postImage, the image in a data: URL)."""
    content_type, _ = mimetypes.guess_type(fixture)
    data_url = f"data:{content_type};base64,{base64.b64encode(fixture_image(fixture)).decode()}"
    with client_of(mock) as http:
        reply = http.post(f"{GEWE_API}/message/postImage", headers=GEWE_HEADERS, json={
            "appId": GEWE_APP_ID, "toWxid": "wxid_friend01", "imgUrl": data_url})
    assert reply.status_code == 200 and reply.json()["ret"] == 200, reply.text
    file_id: str = reply.json()["data"]["fileId"]
    return file_id


def lark_upload(http: httpx.Client, fixture: str, auth: dict[str, str]) -> str:
    """The bot uploads the fixture to Lark (the official upload); its image_key."""
    reply = http.post(LARK_IMAGES, headers=auth, data={"image_type": "message"},
                      files={"image": (fixture, fixture_image(fixture))})
    assert reply.status_code == 200 and reply.json()["code"] == 0, reply.text
    image_key: str = reply.json()["data"]["image_key"]
    return image_key


def set_gewe_callback(mock: LiveServer, url: str) -> None:
    """The bot registers its callback URL with GeWe (setCallback)."""
    with client_of(mock) as http:
        reply = http.post(f"{GEWE_API}/tools/setCallback", headers=GEWE_HEADERS,
                          json={"token": GEWE_TOKEN, "callbackUrl": url})
    assert reply.json() == {"ret": 200, "msg": "操作成功"}, reply.text


# --- images -------------------------------------------------------------------------------


def test_stored_images_show_as_thumbnails_under_their_account_and_open_in_full(
        dashboard: Dashboard, live_mock: LiveServer,
        screenshot: Callable[[str], Path]) -> None:
    stored: dict[str, tuple[str, str, str, str]] = {}  # id -> vendor, account, origin, fixture
    for fixture in PICTURES:  # a full row of the bot's pictures on GeWe
        stored[gewe_post_image(live_mock, fixture)] = ("gewe", GEWE_APP_ID, "sent", fixture)
    with client_of(live_mock) as http:
        for app, fixture in ((APP_A, "square.png"), (APP_B, "scan.tiff")):
            key = lark_upload(http, fixture, lark_auth(http, app))
            stored[key] = ("lark", app.app_id, "sent", fixture)
    from_user = live_mock.send_image("gewe", fixture="photo.webp")
    stored[from_user.file_id] = ("gewe", GEWE_APP_ID, "received", "photo.webp")
    stored[live_mock.send_image("wid", fixture="transparent.png").file_id] = (
        "wid", W_ID, "received", "transparent.png")
    stored[live_mock.send_image("lark", fixture="landscape.jpg").image_key] = (
        "lark", APP_A.app_id, "received", "landscape.jpg")

    dashboard.open("images")
    thumbnails = dashboard.thumbnails(len(stored))

    assert {image_id: (t["vendor"], t["account"], t["origin"])
            for image_id, t in thumbnails.items()} == {
        image_id: place[:3] for image_id, place in stored.items()}
    for image_id, (*_, fixture) in stored.items():  # each thumbnail is of its picture
        width, height = fixture_size(fixture)
        shown = thumbnails[image_id]
        assert shown["width"] / shown["height"] == pytest.approx(width / height, rel=0.03), \
            (fixture, shown)
    screenshot("dashboard-images")

    # Opened: the full image, and the message XML the bot was called back with.
    dashboard.find(f'img[data-testid="thumbnail"][data-image-id="{from_user.file_id}"]').click()
    opened = dashboard.observe(
        DIALOG, lambda d: d["open"] and d["complete"] and from_user.xml in d["codes"],
        "the dialog's full image and the message's XML")
    assert (opened["width"], opened["height"]) == fixture_size("photo.webp")


# --- journal ------------------------------------------------------------------------------


def test_a_call_shows_in_the_journal_within_two_seconds(
        dashboard: Dashboard, live_mock: LiveServer,
        screenshot: Callable[[str], Path]) -> None:
    with client_of(live_mock) as http:
        auth = lark_auth(http)  # (journalled before the page opens)
        dashboard.open("journal")
        dashboard.shown('tr[data-testid="journal-row"][data-operation="getTenantAccessToken"]',
                        "the journal's first load")

        image_key = lark_upload(http, "square.png", auth)
        missing = http.get(f"{LARK_IMAGES}/img_v3_no_such_image", headers=auth)
        found = http.get(f"{LARK_IMAGES}/{image_key}", headers=auth)
    assert missing.status_code == 400 and found.status_code == 200

    for operation, status in (("getImage", 400), ("getImage", 200), ("uploadImage", 200)):
        dashboard.shown(f'tr[data-testid="journal-row"][data-operation="{operation}"]'
                        f'[data-status="{status}"]', f"{operation} {status} in the journal",
                        timeout=JOURNAL_WAIT)
    refused = dashboard.find('tr[data-testid="journal-row"][data-status="400"]')
    assert str(missing.json()["code"]) in refused.text  # the vendor's code, beside the status

    upload = dashboard.find('tr[data-testid="journal-row"][data-operation="uploadImage"]')
    upload.click()  # expanded: the exchange, as the mock journalled it
    expanded = dashboard.observe(EXPANDED, bool, "the entry's exchange, expanded", upload)
    assert f"POST {LARK_IMAGES}" in expanded and image_key in expanded
    screenshot("dashboard-journal")


# --- failure on demand ----------------------------------------------------------------------


def test_a_rule_armed_through_the_form_answers_the_next_call_with_its_error(
        dashboard: Dashboard, live_mock: LiveServer,
        screenshot: Callable[[str], Path]) -> None:
    with client_of(live_mock) as http:
        auth = lark_auth(http)
        image_key = lark_upload(http, "square.png", auth)
        dashboard.open("rules")
        form = dashboard.shown('form[data-testid="rule-form"]', "the rule form")
        dashboard.shown('form[data-testid="rule-form"] option[value="getImage"]',
                        "the operations in the rule form")
        dashboard.choose(dashboard.find('select[name="operation"]', form), "getImage")
        dashboard.shown('form[data-testid="rule-form"] select[name="error"] '
                        'option[value="234005"]', "getImage's errors in the rule form")
        dashboard.choose(dashboard.find('select[name="error"]', form), "234005")
        dashboard.find('textarea[name="match"]', form).send_keys(f"image_key={image_key}")
        dashboard.find('input[name="times"]', form).send_keys("1")
        dashboard.find('button[type="submit"]', form).click()

        row = dashboard.shown('tr[data-testid="rule-row"]', "the armed rule in the list")
        (rule,) = live_mock.rules()
        assert row.get_attribute("data-rule-id") == rule.rule_id
        assert (rule.operation, dict(rule.match), dict(rule.action), rule.remaining) == (
            "getImage", {"image_key": image_key}, {"error": "234005"}, 1)
        assert f"Armed {rule.rule_id}." in dashboard.find(".form-result", form).text
        screenshot("dashboard-rules")

        refused = http.get(f"{LARK_IMAGES}/{image_key}", headers=auth)
        again = http.get(f"{LARK_IMAGES}/{image_key}", headers=auth)
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == 234005
    assert again.status_code == 200  # (once, as the form said)
    assert again.content == fixture_image("square.png")


# --- deliveries ---------------------------------------------------------------------------


def test_replay_sends_the_bot_the_same_callback_again(
        dashboard: Dashboard, live_mock: LiveServer, bot: RecordingBot,
        screenshot: Callable[[str], Path]) -> None:
    set_gewe_callback(live_mock, bot.url)
    received = live_mock.send_image("gewe", fixture="square.png")
    (delivery,) = received.deliveries
    (first,) = bot.wait_for(1)

    dashboard.open("deliveries")
    row_selector = f'tr[data-testid="delivery-row"][data-delivery-id="{delivery.delivery_id}"]'
    row = dashboard.shown(row_selector, "the delivery's row")
    assert "delivered" in row.text
    dashboard.find('button[data-testid="replay"]', row).click()

    # The row is redrawn with the replayed attempt once the bot has answered it.
    dashboard.until(lambda _: len(dashboard.find_all(f"{row_selector} ol.attempts > li")) == 2,
                    "the replayed attempt in the delivery's row")
    assert "replay" in dashboard.find(f"{row_selector} ol.attempts > li:last-child").text
    _, second = bot.wait_for(2)
    assert len(bot.requests) == 2
    assert second.body == first.body
    assert second.json()["Data"]["NewMsgId"] == received.new_msg_id
    screenshot("dashboard-deliveries")


# --- the admin token ----------------------------------------------------------------------


def test_the_admin_token_keeps_the_page_closed_without_it(
        browser: Chrome, start_mock: Callable[[MockConfig], LiveServer]) -> None:
    mock = start_mock(MockConfig(admin_token=ADMIN_TOKEN))
    stored = mock.send_image("gewe", fixture="square.png").file_id
    dashboard = Dashboard(browser, mock)
    advice = "open /__admin/ui/?token=<admin token>"

    for query in ("", "?token=wrong-token"):
        dashboard.open("images", query)
        assert browser.execute_script(NAVIGATION_STATUS) == 401, query
        assert advice in json.loads(dashboard.find("body").text)["error"], query
        assert not dashboard.find_all('img[data-testid="thumbnail"]'), query

    dashboard.open("images", f"?token={ADMIN_TOKEN}")
    assert browser.current_url == f"{mock.url}/__admin/ui/#images"  # (the token left the URL)
    assert browser.execute_script(NAVIGATION_STATUS) == 200
    assert set(dashboard.thumbnails(1)) == {stored}
    assert dashboard.find("#notice").get_attribute("hidden") is not None

    # The cookie gone, the page's next reads are refused, and it says what to do.
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    dashboard.find("#images-refresh").click()
    errors = dashboard.until(lambda _: dashboard.find_all('[data-testid="error"]'),
                             "the refusal in the images view")
    assert all("answered 401" in error.text for error in errors)
    notice = dashboard.shown("#notice:not([hidden])", "the token notice")
    assert "/__admin/ui/?token=<admin token>" in notice.text


# --- play the user --------------------------------------------------------------------------


def test_playing_a_gewe_user_sends_the_bot_the_image_and_it_shows_as_received(
        dashboard: Dashboard, live_mock: LiveServer, bot: RecordingBot,
        screenshot: Callable[[str], Path]) -> None:
    set_gewe_callback(live_mock, bot.url)
    dashboard.open("play")
    form = dashboard.shown('form[data-testid="play-gewe"]', "the GeWe play form")
    dashboard.shown('form[data-testid="play-gewe"] select[name="fixture"] '
                    'option[value="landscape.jpg"]', "the fixtures in the play form")
    dashboard.choose(dashboard.find('select[name="fixture"]', form), "landscape.jpg")
    dashboard.find('button[type="submit"]', form).click()

    facts = dashboard.observe(PLAY_FACTS, lambda f: "image (fileId)" in f, "the play reply",
                              form)
    result = dashboard.find('[data-testid="play-result"]', form).text
    assert "Sent (201)" in result and "delivered" in result
    (callback,) = bot.wait_for(1)
    assert facts["fromUser"] == "wxid_friend01" and facts["account"] == GEWE_APP_ID
    assert str(callback.json()["Data"]["NewMsgId"]) == facts["newMsgId"]
    dashboard.browser.execute_script('arguments[0].scrollIntoView({block: "end"})',
                                      dashboard.find('[data-testid="play-result"]', form))
    screenshot("dashboard-play")

    dashboard.find("a[href='#images']", form).click()
    thumbnails = dashboard.thumbnails(1)
    assert {image_id: (t["vendor"], t["account"], t["origin"])
            for image_id, t in thumbnails.items()} == {
        facts["image (fileId)"]: ("gewe", GEWE_APP_ID, "received")}
