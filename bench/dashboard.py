"""How long the dashboard takes to show its first view when the mock holds 1,000 images and
10,000 journal entries (the target: under 300 ms).

    python bench/dashboard.py                        # memory and SQLite stores, 20 rounds
    python bench/dashboard.py --store memory --rounds 5 --images 200 --journal 2000
    python bench/dashboard.py --no-browser           # the HTTP part only
    python bench/dashboard.py --profile              # in-process: where the server's time goes

For each store the mock is started as users run it (``chatimg-mock serve``, in memory or with
``--state-dir``: SQLite) on a free 127.0.0.1 port and filled through its real routes: images the
bot sends (GeWe postImage, Lark token and upload) and users send (the admin routes that play
them), each with its own bytes, then vendor calls until the journal is full. After --warmup
unmeasured rounds, each of --rounds rounds measures:

  (a) over HTTP, everything the page asks for to show a view (the page, its files, the basics,
      then the images' first pages and their thumbnails, or the journal's newest entries):
      each request, and the whole, one request at a time and over 6 connections as a browser;
  (b) in headless Chromium, from navigation start to the view's data on the page (the
      ``performance.now()`` of the moment, taken inside the page), with an empty cache and again
      with the cache of the visit before.

Loopback only; Linux (RSS from /proc). See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):  # run as a script: python bench/dashboard.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.operations import GEWE_APP_ID, GEWE_TOKEN, REPO, WID_AUTHORIZATION, BenchRequest
from bench.servers import RunningServer, ServerKind, StartError, process_tree, rss_bytes, stop_all

TARGET_MS = 300.0
MB = 2**20
UI = "/__admin/ui/"
UI_SCRIPT = REPO / "mockserver" / "admin" / "ui" / "dashboard.js"
# The mock's other Lark app (mockserver/config.py's defaults): uploads go to both.
LARK_APPS = ({"app_id": "cli_mock0000000000a1", "app_secret": "mock-secret-a"},
             {"app_id": "cli_mock0000000000b2", "app_secret": "mock-secret-b"})
LARK_TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
REQUEST_TIMEOUT = 30.0
BROWSER_CONNECTIONS = 6  # what a browser opens to one host over HTTP/1.1

STORES: dict[str, ServerKind] = {kind.name: kind for kind in [
    ServerKind("memory", "chatimg-mock serve --port {port} {quiet}",
               ready="GET /__admin/credentials", stateful=True,
               description="chatimg-mock serve (one process, threads, state in memory)"),
    ServerKind("sqlite", "chatimg-mock serve --port {port} --state-dir {state_dir} {quiet}",
               ready="GET /__admin/credentials", stateful=True,
               description="chatimg-mock serve --state-dir (one process, SQLite and files)"),
]}

# How the images are made, as shares of --images: the bot's (sent) and users' (received).
IMAGE_MIX = (("postImage", 0.40), ("gewe-message", 0.20), ("wid-message", 0.10),
             ("lark-upload", 0.15), ("lark-message", 0.15))

# As the browser tests start it (tests/browser/conftest.py): headless, nothing beyond loopback.
WINDOW_SIZE = (1400, 1000)
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
    f"--window-size={WINDOW_SIZE[0]},{WINDOW_SIZE[1]}",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--no-first-run", "--no-default-browser-check",
)


class BenchError(RuntimeError):
    """The mock refused the bench's data, or did not hold what it should after seeding."""


# --- what the page asks for -------------------------------------------------------------

def journal_limit() -> int:
    """JOURNAL_LIMIT of the page's script: the bench asks what the page asks."""
    found = re.search(r"\bconst JOURNAL_LIMIT = (\d+);", UI_SCRIPT.read_text(encoding="utf-8"))
    return int(found.group(1)) if found else 200


def ui_files() -> list[str]:
    """The files index.html links to (style sheet, script, icon), in the order it names them."""
    html = (REPO / "mockserver" / "admin" / "ui" / "index.html").read_text(encoding="utf-8")
    names = re.findall(r'<(?:link|script)[^>]*?(?:href|src)="([^"/:]+)"', html)
    return [UI + name for name in dict.fromkeys(names)]


BASICS = ("/", "/__admin/credentials", "/__admin/fixtures")  # loadBasics(), on every view


# The images view's data: each account's first page in each direction, in one request.
BY_ACCOUNT = ("images by account", "/__admin/images/by-account")


def journal_path(journal_limit: int) -> str:
    return "/__admin/journal?" + urlencode({"order": "newest", "limit": journal_limit})


# --- images with bytes of their own -----------------------------------------------------

def distinct_image(number: int, rng: random.Random) -> bytes:
    """A small picture no other number gets (its number is drawn on it), JPEG or PNG, of
    96 to 360 pixels a side: some smaller than a thumbnail, some bigger."""
    from PIL import Image, ImageDraw

    width, height = rng.randrange(96, 361), rng.randrange(96, 361)
    image = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x, y = rng.randrange(width), rng.randrange(height)
        draw.rectangle((x, y, x + rng.randrange(8, width), y + rng.randrange(8, height)),
                       fill=tuple(rng.randrange(256) for _ in range(3)))
    draw.text((6, 6), f"bench #{number}", fill=(255, 255, 255))
    out = BytesIO()
    if number % 3 == 0:
        image.save(out, "PNG")
    else:
        image.save(out, "JPEG", quality=85)
    return out.getvalue()


# --- seeding ----------------------------------------------------------------------------

@dataclass
class Seeding:
    images: Counter = field(default_factory=Counter)  # made, by route
    vendor_calls: Counter = field(default_factory=Counter)  # journaled calls, by operation
    rate_limited: int = 0  # Lark 429s waited out (journaled too)
    seconds: float = 0.0
    images_total: int = 0  # GET /__admin/images' total afterwards
    journal_entries: int = 0  # entries the journal holds afterwards
    gewe_xml: list[str] = field(default_factory=list)
    wid_messages: list[dict] = field(default_factory=list)


class Seeder:
    """Fills one mock through its routes from a pool of threads, each with its connection."""

    def __init__(self, base_url: str, threads: int, deadline: float,
                 transport: httpx.BaseTransport | None = None):
        self.base_url, self.threads, self.deadline = base_url, threads, deadline
        self.transport = transport  # (the profile's: the app in this process)
        self.result = Seeding()
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}

    def client(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT,
                                  transport=self.transport)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def _count(self, counter: Counter, key: str) -> None:
        with self._lock:
            counter[key] += 1

    def _check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise BenchError("seeding took longer than --seed-timeout")

    # one image each

    def post_image(self, number: int, data: bytes) -> None:
        kind = "png" if data.startswith(b"\x89PNG") else "jpeg"
        reply = self.client().post(
            "/gewe/v2/api/message/postImage", headers={"X-GEWE-TOKEN": GEWE_TOKEN},
            json={"appId": GEWE_APP_ID, "toWxid": f"wxid_bench{number % 20:02d}",
                  "imgUrl": f"data:image/{kind};base64,{base64.b64encode(data).decode()}"})
        self._count(self.result.vendor_calls, "postImage")
        _expect(reply, "postImage", lambda body: body.get("ret") == 200)

    def gewe_message(self, number: int, data: bytes) -> None:
        reply = self.client().post("/__admin/gewe/messages", json={
            "fromUser": f"wxid_user{number % 50:02d}", "image": base64.b64encode(data).decode(),
            "hd": number % 2 == 0, "wait": False})
        message = _expect(reply, "POST /__admin/gewe/messages", status=201)
        with self._lock:
            self.result.gewe_xml.append(message["xml"])

    def wid_message(self, number: int, data: bytes) -> None:
        reply = self.client().post("/__admin/wid/messages", json={
            "fromUser": f"wxid_user{number % 50:02d}", "image": base64.b64encode(data).decode(),
            "hd": number % 2 == 0, "wait": False})
        message = _expect(reply, "POST /__admin/wid/messages", status=201)
        with self._lock:
            self.result.wid_messages.append(message)

    def lark_token(self, app: dict[str, str]) -> str:
        reply = self.client().post(LARK_TOKEN_PATH, json=app)
        self._count(self.result.vendor_calls, "getTenantAccessToken")
        return _expect(reply, "tenant_access_token",
                       lambda body: body.get("code") == 0)["tenant_access_token"]

    def lark_upload(self, number: int, data: bytes) -> None:
        app = LARK_APPS[number % len(LARK_APPS)]
        token = self._tokens[app["app_id"]]
        while True:  # Lark's documented rate limit (50/s per app) is on: wait it out
            self._check_time()
            reply = self.client().post(
                "/open-apis/im/v1/images", headers={"Authorization": f"Bearer {token}"},
                data={"image_type": "message"}, files={"image": (f"bench{number}.img", data)})
            self._count(self.result.vendor_calls, "uploadImage")
            if reply.status_code != 429:
                break
            with self._lock:
                self.result.rate_limited += 1
            time.sleep(float(reply.headers.get("x-ogw-ratelimit-reset", "1")))
        _expect(reply, "POST /open-apis/im/v1/images", lambda body: body.get("code") == 0)

    def lark_message(self, number: int, data: bytes) -> None:
        app = LARK_APPS[number % len(LARK_APPS)]
        reply = self.client().post("/__admin/lark/messages", json={
            "app_id": app["app_id"], "sender_open_id": f"ou_bench{number % 50:04d}",
            "image": base64.b64encode(data).decode(), "wait": False})
        _expect(reply, "POST /__admin/lark/messages", status=201)

    # journal entries: cheap vendor calls (the journal keeps vendor calls, not admin ones)

    def journal_call(self, number: int) -> None:
        client, which = self.client(), number % 3
        if which == 0 or not (self.result.gewe_xml or self.result.wid_messages):
            app = LARK_APPS[number % len(LARK_APPS)]
            self._count(self.result.vendor_calls, "getTenantAccessToken")
            _expect(client.post(LARK_TOKEN_PATH, json=app), "tenant_access_token",
                    lambda body: body.get("code") == 0)
        elif (which == 1 and self.result.gewe_xml) or not self.result.wid_messages:
            xml = self.result.gewe_xml[number % len(self.result.gewe_xml)]
            self._count(self.result.vendor_calls, "downloadImage")
            _expect(client.post("/gewe/v2/api/message/downloadImage",
                                headers={"X-GEWE-TOKEN": GEWE_TOKEN},
                                json={"appId": GEWE_APP_ID, "type": 2, "xml": xml}),
                    "downloadImage", lambda body: body.get("ret") == 200)
        else:
            m = self.result.wid_messages[number % len(self.result.wid_messages)]
            self._count(self.result.vendor_calls, "getMsgImg")
            _expect(client.post("/getMsgImg", headers={"Authorization": WID_AUTHORIZATION},
                                json={"wId": m["account"], "msgId": m["msgId"],
                                      "fromUser": m["fromUser"], "toUser": m["toUser"],
                                      "content": m["content"]}),
                    "getMsgImg", lambda body: body.get("code") == "1000")

    def run(self, images: int, journal: int) -> Seeding:
        started = time.perf_counter()
        routes: dict[str, Callable[[int, bytes], None]] = {
            "postImage": self.post_image, "gewe-message": self.gewe_message,
            "wid-message": self.wid_message, "lark-upload": self.lark_upload,
            "lark-message": self.lark_message}
        plan = _image_plan(images)
        rng = random.Random(1000)
        if "lark-upload" in plan:
            for app in LARK_APPS:
                self._tokens[app["app_id"]] = self.lark_token(app)

        def one_image(number: int, route: str) -> None:
            self._check_time()
            routes[route](number, distinct_image(number, random.Random(rng.random() + number)))
            self._count(self.result.images, route)

        with ThreadPoolExecutor(self.threads) as pool:
            _all(pool.map(lambda item: one_image(*item), enumerate(plan)))
            # The journal keeps the newest entries: these come on top of the images' calls.
            _all(pool.map(self._timed_journal_call, range(journal)))
        self.result.seconds = time.perf_counter() - started
        return self.result

    def _timed_journal_call(self, number: int) -> None:
        self._check_time()
        self.journal_call(number)


def _all(results: Iterable[Any]) -> None:
    for _ in results:  # (raises the first error of the pool's calls)
        pass


def _image_plan(images: int) -> list[str]:
    """The route of each image: IMAGE_MIX's shares of ``images``, interleaved."""
    counts = {route: int(images * share) for route, share in IMAGE_MIX}
    counts[IMAGE_MIX[0][0]] += images - sum(counts.values())
    plan = [route for route, count in counts.items() for _ in range(count)]
    random.Random(7).shuffle(plan)
    return plan


def _expect(reply: httpx.Response, what: str, ok: Callable[[dict], bool] | None = None,
            status: int = 200) -> dict:
    try:
        body = reply.json()
    except ValueError:
        body = None
    if reply.status_code != status or not isinstance(body, dict) or (ok and not ok(body)):
        raise BenchError(f"{what} answered {reply.status_code}: {reply.text[:300]}")
    return body


def check_seeded(client: httpx.Client, seeding: Seeding, images: int, journal: int) -> None:
    """BenchError unless the mock reports the images and the journal entries asked for."""
    seeding.images_total = _expect(client.get("/__admin/images", params={"limit": 1}),
                                   "GET /__admin/images")["total"]
    seeding.journal_entries = len(_expect(client.get("/__admin/journal",
                                                     params={"limit": journal}),
                                          "GET /__admin/journal")["entries"])
    if seeding.images_total < images or seeding.journal_entries < journal:
        raise BenchError(f"after seeding the mock holds {seeding.images_total} images and "
                         f"{seeding.journal_entries} journal entries; asked: {images} and "
                         f"{journal}")


# --- (a) over HTTP ----------------------------------------------------------------------

@dataclass
class Fetched:
    label: str
    ms: float
    status: int
    size: int


def _fetch(client: httpx.Client, label: str, path: str) -> tuple[Fetched, httpx.Response]:
    started = time.perf_counter()
    reply = client.get(path)
    ms = (time.perf_counter() - started) * 1000
    return Fetched(label, ms, reply.status_code, len(reply.content)), reply


def _labelled_files() -> list[tuple[str, str]]:
    return [("page " + UI, UI)] + [(path.rsplit("/", 1)[1], path) for path in ui_files()]


def _labelled_basics() -> list[tuple[str, str]]:
    return [("GET " + path, path) for path in BASICS]


def _thumbnails(reply: httpx.Response) -> list[str]:
    """The thumbnails the page loads at once of a reply of GET /__admin/images/by-account:
    those of the first strip (EAGER_STRIPS); the others load as they are scrolled to."""
    try:
        return [image["thumbnailUrl"] for group in reply.json()["groups"][:1]
                for image in group["images"]]
    except (ValueError, AttributeError, KeyError, TypeError):
        return []


@dataclass
class ViewPlan:
    name: str  # images, journal
    data: list[tuple[str, str]]  # (label, path) of the view's data requests
    follow: bool  # the data's replies name thumbnails to fetch next


def cpu_seconds(root: int) -> float:
    """User and system CPU time of ``root``'s process tree so far (Linux; 0 elsewhere)."""
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK") if total else 0.0


def sequential(base_url: str, plan: ViewPlan) -> tuple[float, list[Fetched]]:
    """One request at a time on one connection, in the page's order; the whole in ms (from
    the first request: making the client is no part of it)."""
    fetched: list[Fetched] = []
    first = _labelled_files() + _labelled_basics()
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT) as client:
        started = time.perf_counter()
        for label, path in first:
            fetched.append(_fetch(client, label, path)[0])
        thumbnails: list[str] = []
        for label, path in plan.data:
            one, reply = _fetch(client, label, path)
            fetched.append(one)
            thumbnails += _thumbnails(reply) if plan.follow else []
        for path in thumbnails:
            fetched.append(_fetch(client, "thumbnail", path)[0])
        total = (time.perf_counter() - started) * 1000
    return total, fetched


def parallel(base_url: str, plan: ViewPlan, connections: int) -> tuple[float, list[Fetched]]:
    """As a browser: the page; its files at once; the basics at once (the script runs them
    together); then the view's data at once, each listing's thumbnails as soon as it comes;
    over ``connections`` connections. The whole in ms."""
    fetched: list[Fetched] = []
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    files, basics = _labelled_files(), _labelled_basics()
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT, limits=limits) as client, \
            ThreadPoolExecutor(connections) as pool:
        started = time.perf_counter()
        fetched.append(_fetch(client, *files[0])[0])
        for phase in (files[1:], basics):
            fetched += [f.result()[0] for f in [pool.submit(_fetch, client, *item)
                                                for item in phase]]
        waiting: set[Future] = {pool.submit(_fetch, client, *item) for item in plan.data}
        while waiting:
            done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
            for future in done:
                one, reply = future.result()
                fetched.append(one)
                if plan.follow and one.label != "thumbnail":
                    waiting |= {pool.submit(_fetch, client, "thumbnail", path)
                                for path in _thumbnails(reply)}
        total = (time.perf_counter() - started) * 1000
    return total, fetched


# --- (b) in the browser -----------------------------------------------------------------

# Runs in each new document before the page's own script: notes the performance.now() (ms
# from navigation start) at which each view's data is on the page, watching every change to
# the document and every image that loads or fails.
PROBE = """
(() => {
  const marks = {};
  window.__dashboardBench = marks;
  const inView = (node) => {  // (what the page does not lay out yet is not in view)
    if (node.checkVisibility && !node.checkVisibility({ contentVisibilityAuto: true })) {
      return false;
    }
    const r = node.getBoundingClientRect();
    return r.width > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight
      && r.left < innerWidth;
  };
  const check = () => {
    const now = performance.now();
    if (!marks.imagesListed) {
      const strips = [...document.querySelectorAll("#images-sections .strip")];
      if (strips.length && strips.every((s) => s.querySelector(".pager-info").textContent
          || s.querySelector(".status").textContent)) {
        marks.imagesListed = now;
      }
    }
    if (marks.imagesListed && !marks.imagesShown) {
      const shown = [...document.querySelectorAll("img[data-testid=thumbnail]")].filter(inView);
      if (shown.every((img) => img.complete)) {
        marks.imagesShown = now;
        marks.thumbnails = document.querySelectorAll("img[data-testid=thumbnail]").length;
        marks.thumbnailsInView = shown.length;
        marks.broken = shown.filter((img) => !img.naturalWidth).length;
      }
    }
    if (!marks.journalShown) {
      const status = document.querySelector("#journal-status");
      const rows = document.querySelectorAll("#journal-rows tr[data-testid=journal-row]");
      if (status && status.textContent && rows.length) {
        marks.journalShown = now;
        marks.journalRows = rows.length;
      }
    }
    marks.errors = document.querySelectorAll("[data-testid=error]").length;
  };
  marks.longTasks = [];
  try {  // main-thread tasks over 50 ms (layout, paint, script): time the page cannot react
    new PerformanceObserver((list) => list.getEntries().forEach((task) => marks.longTasks.push(
      [task.startTime, task.duration]))).observe({ type: "longtask" });
  } catch { /* (a browser without the Long Tasks API) */ }
  new MutationObserver(check).observe(document,
    { childList: true, subtree: true, characterData: true });
  document.addEventListener("load", check, true);
  document.addEventListener("error", check, true);
})();
"""

# Waits (polling inside the page) until the probe has noted the view's mark, then answers the
# marks and the Navigation and Resource Timing figures, in ms from navigation start.
COLLECT = r"""
const [mark, timeoutMs, done] = arguments;
const started = performance.now();
const finish = () => {
  const marks = window.__dashboardBench || {};
  if (!(mark in marks) && performance.now() - started < timeoutMs) {
    setTimeout(finish, 5);
    return;
  }
  const nav = performance.getEntriesByType("navigation")[0] || {};
  const resources = performance.getEntriesByType("resource");
  const last = (test) => Math.max(0, ...resources.filter(test).map((r) => r.responseEnd));
  const at = marks[mark] ?? performance.now();
  done({ ...marks, longTasks: undefined,
    longTaskMs: (marks.longTasks || []).filter(([start]) => start < at)
      .reduce((sum, [start, ms]) => sum + Math.min(ms, at - start), 0),
    basicsDone: last((r) => /\/(__admin\/(credentials|fixtures))?$/.test(r.name)),
    document: nav.responseEnd, domContentLoaded: nav.domContentLoadedEventEnd,
    load: nav.loadEventEnd,
    dataDone: last((r) => /\/__admin\/(images\/by-account|images\?|journal\?)/.test(r.name)),
    thumbnailsFetched: resources.filter((r) => /\/thumbnail$/.test(r.name)).length });
};
finish();
"""


class Browser:
    """Headless Chromium through the system's chromedriver, the probe on every page."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        chromedriver = shutil.which("chromedriver")
        if not chromium or not chromedriver:
            raise BenchError("chromium and chromedriver must be on PATH "
                             "(Debian: apt-get install chromium chromium-driver)")
        options = Options()
        options.binary_location = chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        # Given the driver's path, Selenium never runs Selenium Manager (no download).
        self.driver = webdriver.Chrome(options=options,
                                       service=Service(executable_path=chromedriver))
        self.driver.set_page_load_timeout(REQUEST_TIMEOUT)
        self.driver.set_script_timeout(REQUEST_TIMEOUT + 5)
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
        self.version = self.driver.capabilities.get("browserVersion", "?")

    def visit(self, url: str, mark: str, *, cold: bool) -> dict[str, Any]:
        """Opens ``url`` afresh (from a blank page, so a hash change is a new document) and
        answers the probe's marks once ``mark`` is noted (or the wait timed out)."""
        self.driver.get("about:blank")
        if cold:
            self.driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        self.driver.get(url)
        return self.driver.execute_async_script(COLLECT, mark, REQUEST_TIMEOUT * 1000)

    def quit(self) -> None:
        self.driver.quit()


VIEWS = {"images": "imagesShown", "journal": "journalShown"}


# --- one store --------------------------------------------------------------------------

@dataclass
class StoreRun:
    store: str
    seeding: Seeding | None = None
    rss_seeded_mb: float | None = None
    rss_end_mb: float | None = None
    startup_s: float | None = None
    requests: list[Fetched] = field(default_factory=list)  # sequential rounds
    totals: dict[str, list[float]] = field(default_factory=dict)  # "images sequential": ms
    server_cpu_ms: dict[str, float] = field(default_factory=dict)  # per view, sequential runs
    first: dict[str, float] = field(default_factory=dict)  # the first (warm-up) round's totals
    browser: dict[str, list[dict]] = field(default_factory=dict)  # "images cold": marks
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def measure_store(kind: ServerKind, args: argparse.Namespace, log_dir: Path,
                  browser: Browser | None) -> StoreRun:
    run = StoreRun(kind.name)
    newest = journal_limit()
    try:
        with RunningServer.start(kind, log_dir, f"dashboard-{kind.name}", "admin", None) as server:
            run.startup_s = server.wait_ready(BenchRequest("GET", "/__admin/credentials"),
                                              args.start_timeout)
            _progress(f"{kind.name}: seeding {args.images:,} images and {args.journal:,} "
                      "vendor calls...")
            seeder = Seeder(server.base_url, args.seed_threads,
                            time.monotonic() + args.seed_timeout)
            try:
                run.seeding = seeder.run(args.images, args.journal)
            finally:
                seeder.close()
            with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as client:
                expected_journal = min(args.journal, args.journal_limit)
                check_seeded(client, run.seeding, args.images, expected_journal)
            run.rss_seeded_mb = rss_bytes(process_tree(server.process.pid)) / MB
            _progress(f"{kind.name}: seeded in {run.seeding.seconds:.0f} s: "
                      f"{run.seeding.images_total:,} images, {run.seeding.journal_entries:,} "
                      f"journal entries; RSS {run.rss_seeded_mb:.0f} MB")
            plans = {  # (the images' data alone too: the listing without the thumbnails)
                "images": ViewPlan("images", [BY_ACCOUNT], follow=True),
                "listing": ViewPlan("listing", [BY_ACCOUNT], follow=False),
                "journal": ViewPlan("journal", [(f"journal newest {newest}",
                                                 journal_path(newest))], follow=False)}
            http_rounds(run, server, plans, args)
            if browser is not None:
                browser_rounds(run, browser, server.base_url, args)
            run.rss_end_mb = rss_bytes(process_tree(server.process.pid)) / MB
            if server.process.poll() is not None:
                raise BenchError(f"the mock exited during the run{server.log_tail()}")
    except (StartError, BenchError, httpx.HTTPError) as exc:
        run.error = f"{type(exc).__name__}: {exc}"
    return run


def http_rounds(run: StoreRun, server: RunningServer, plans: dict[str, ViewPlan],
                args: argparse.Namespace) -> None:
    base_url, pid = server.base_url, server.process.pid
    cpu: dict[str, float] = {}
    for number in range(-args.warmup + 1, args.rounds + 1):  # warm-up rounds: 0 and below
        for plan in plans.values():
            for how, go in (("sequential", lambda p: sequential(base_url, p)),
                            (f"{args.connections} connections",
                             lambda p: parallel(base_url, p, args.connections))):
                cpu_before = cpu_seconds(pid)
                total, fetched = go(plan)
                if number >= 1 and how == "sequential":
                    cpu[plan.name] = cpu.get(plan.name, 0.0) + cpu_seconds(pid) - cpu_before
                failed = [f for f in fetched if f.status != 200]
                if failed:
                    raise BenchError(f"{plan.name}: {failed[0].label} answered "
                                     f"{failed[0].status} ({len(failed)} request(s) failed)")
                key = f"{plan.name} {how}"
                if number == -args.warmup + 1:
                    run.first[key] = total
                if number < 1:
                    continue
                run.totals.setdefault(key, []).append(total)
                if how == "sequential":
                    run.requests += fetched
                    run.totals.setdefault(f"{plan.name} requests", []).append(len(fetched))
        run.server_cpu_ms = {view: spent * 1000 / max(number, 1) for view, spent in cpu.items()}
        if number >= 1:
            _progress(f"{run.store}: HTTP round {number}/{args.rounds}: " + ", ".join(
                f"{key} {values[-1]:.0f} ms" for key, values in run.totals.items()
                if not key.endswith("requests")))


def browser_rounds(run: StoreRun, browser: Browser, base_url: str,
                   args: argparse.Namespace) -> None:
    for number in range(-args.warmup + 1, args.rounds + 1):
        for view, mark in VIEWS.items():
            for cache in ("cold", "warm"):
                marks = browser.visit(f"{base_url}{UI}#{view}", mark, cold=cache == "cold")
                if mark not in marks:
                    raise BenchError(f"the {view} view showed no data within "
                                     f"{REQUEST_TIMEOUT:g} s ({cache} cache): {marks}")
                if marks.get("errors"):
                    run.notes.append(f"{view} ({cache}): the page showed "
                                     f"{marks['errors']} error(s)")
                if number >= 1:
                    run.browser.setdefault(f"{view} {cache}", []).append(marks)
        if number >= 1:
            _progress(f"{run.store}: browser round {number}/{args.rounds}: " + ", ".join(
                f"{key} {values[-1][VIEWS[key.split()[0]]]:.0f} ms"
                for key, values in run.browser.items()))


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- --profile: where the server's time goes ---------------------------------------------

PROFILE_BASE_URL = "http://127.0.0.1:4010"


def _wsgi_sender(app: Any, path: str) -> Callable[[], int]:
    """One GET of ``path`` straight into the WSGI app (the environ built once, as
    bench/profiling.py does); answers the status."""
    from werkzeug.test import EnvironBuilder

    route, _, query = path.partition("?")
    builder = EnvironBuilder(path=route, query_string=query, base_url=PROFILE_BASE_URL)
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    statuses: list[str] = []

    def start_response(status: str, headers: list, exc_info: object = None) -> Callable:
        statuses.append(status)
        return lambda data: None

    def send() -> int:
        statuses.clear()
        result = app(dict(environ, **{"wsgi.input": BytesIO()}), start_response)
        try:
            for _ in result:
                pass
        finally:
            getattr(result, "close", lambda: None)()
        return int(statuses[0].split()[0])

    return send


def profile_store(name: str, args: argparse.Namespace) -> str:
    """The mock in this process with the store ``name``, seeded as the bench seeds it; each
    request of the first views sent straight into the app: CPU and wall time per request,
    then cProfile's top functions of the images' listing and of the journal."""
    import cProfile
    import dataclasses
    import io
    import pstats

    from mockserver import MockConfig
    from mockserver.http.app import create_app

    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATIMG_")}
    config = MockConfig.load(None, env=env)
    state_dir = tempfile.mkdtemp(prefix="chatimg-dash-profile-") if name == "sqlite" else None
    if state_dir:
        config = dataclasses.replace(config, state_dir=state_dir)
    app = create_app(config)
    newest = journal_limit()
    try:
        seeder = Seeder(PROFILE_BASE_URL, args.seed_threads, time.monotonic() + args.seed_timeout,
                        httpx.WSGITransport(app=app))
        try:
            seeding = seeder.run(args.images, args.journal)
            client = seeder.client()
            check_seeded(client, seeding, args.images, min(args.journal, args.journal_limit))
            thumbnails = _thumbnails(client.get(BY_ACCOUNT[1]))
        finally:
            seeder.close()
        groups = {label: [path] for label, path in _labelled_files() + _labelled_basics()}
        groups |= {BY_ACCOUNT[0]: [BY_ACCOUNT[1]], "thumbnail": thumbnails,
                   f"journal newest {newest}": [journal_path(newest)]}
        rows, per_view = [], {"images": 0.0, "journal": 0.0}
        for label, paths in groups.items():
            senders = [_wsgi_sender(app, path) for path in paths]
            for send in senders:  # warm-up: thumbnails made, caches filled
                if send() != 200:
                    raise BenchError(f"{label} answered {send()} in-process")
            cpu, wall = [], []
            for _ in range(args.rounds):
                for send in senders:
                    started, started_cpu = time.perf_counter(), time.thread_time()
                    send()
                    cpu.append((time.thread_time() - started_cpu) * 1000)
                    wall.append((time.perf_counter() - started) * 1000)
            view_share = statistics.median(cpu) * len(paths)
            if label in ("thumbnail", BY_ACCOUNT[0]):
                per_view["images"] += view_share
            elif label.startswith("journal"):
                per_view["journal"] += view_share
            else:
                per_view["images"] += view_share
                per_view["journal"] += view_share
            rows.append([label, str(len(paths)), f"{statistics.median(cpu):.2f}",
                         f"{pct(cpu, 95):.2f}", f"{statistics.median(wall):.2f}",
                         f"{view_share:.1f}"])
        out = [f"== {name}: in-process profile ({seeding.images_total:,} images, "
               f"{seeding.journal_entries:,} journal entries; each request straight into the "
               f"WSGI app, no HTTP server; {args.rounds} rounds)",
               _table(["request", "per view", "CPU p50 ms", "CPU p95 ms", "wall p50 ms",
                       "CPU per view ms"], rows),
               "CPU per view (the medians times the requests): " + ", ".join(
                   f"{view} {ms:.0f} ms" for view, ms in per_view.items())]
        for label in (BY_ACCOUNT[0], f"journal newest {newest}"):
            senders = [_wsgi_sender(app, path) for path in groups[label]]
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.rounds):
                for send in senders:
                    send()
            profiler.disable()
            for order, top in (("cumulative", args.top), ("tottime", 15)):
                stream = io.StringIO()
                pstats.Stats(profiler, stream=stream).sort_stats(order).print_stats(top)
                text = stream.getvalue()
                out += ["", f"cProfile of {label} ({len(senders)} request(s) x {args.rounds}), "
                        f"top {top} by {'cumulative' if order == 'cumulative' else 'own'} "
                        "time:", _trim_stats(text)]
        return "\n".join(out)
    finally:
        app.extensions["chatimg"].close()  # (the mock's state: its store and journal)
        if state_dir:
            shutil.rmtree(state_dir, ignore_errors=True)


def _trim_stats(text: str) -> str:
    """pstats' table without its header lines, paths from site-packages and the checkout
    shortened."""
    lines = [line for line in text.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    shortened = []
    for line in lines[start:]:
        line = re.sub(r"\S*/site-packages/", "", line)
        shortened.append(line.replace(str(REPO) + "/", ""))
    return "\n".join(shortened)


# --- the report -------------------------------------------------------------------------

def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the nearest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    at = (len(ordered) - 1) * q / 100
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = [list(header)] + [list(row) for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = ["  ".join(text.ljust(width) if i == 0 else text.rjust(width)
                       for i, (text, width) in enumerate(zip(line, widths, strict=True))).rstrip()
             for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _ms(values: Sequence[float]) -> list[str]:
    return [f"{pct(values, 50):.1f}", f"{pct(values, 95):.1f}", f"{max(values):.1f}"]


def verdict(value: float) -> str:
    return "ok" if value < TARGET_MS else "OVER"


def render(run: StoreRun, args: argparse.Namespace) -> str:
    kind = STORES[run.store]
    out = [f"== {run.store}: {kind.description}"]
    if run.seeding is not None:
        s = run.seeding
        made = ", ".join(f"{route} {count:,}" for route, count in s.images.items())
        calls = ", ".join(f"{op} {count:,}" for op, count in s.vendor_calls.most_common())
        out.append(f"seeded in {s.seconds:.0f} s: {s.images_total:,} images ({made}); "
                   f"journal holds {s.journal_entries:,} entries of {sum(s.vendor_calls.values()):,}"
                   f" vendor calls ({calls}; {s.rate_limited} Lark 429s waited out)")
    if run.rss_seeded_mb is not None:
        out.append(f"server RSS after seeding: {run.rss_seeded_mb:.0f} MB"
                   + (f" (after the measurements: {run.rss_end_mb:.0f} MB)"
                      if run.rss_end_mb is not None else ""))
    if run.error:
        out.append(f"FAILED: {run.error}")
    if run.requests:
        by_label: dict[str, list[Fetched]] = {}
        for one in run.requests:
            by_label.setdefault(one.label, []).append(one)
        rows = [[label, f"{len(items):,}", f"{statistics.median(f.size for f in items):,.0f}",
                 *_ms([f.ms for f in items])] for label, items in by_label.items()]
        out += ["", f"(a) HTTP, each request (sequential runs, {args.rounds} rounds of both "
                "views; the page's files and basics count once per view)",
                _table(["request", "count", "bytes", "p50 ms", "p95 ms", "max ms"], rows)]
        rows = []
        for key, values in run.totals.items():
            if key.endswith("requests"):
                continue
            view = key.split()[0]
            count = int(statistics.median(run.totals[f"{view} requests"]))
            cpu = run.server_cpu_ms.get(view) if key.endswith("sequential") else None
            rows.append([key, str(count), *_ms(values),
                         f"{run.first.get(key, float('nan')):.1f}",
                         "" if cpu is None else f"{cpu:.0f}", verdict(pct(values, 95))])
        out += ["", f"(a) HTTP, the whole first view ({args.rounds} rounds). images: the page, "
                "its files, the basics, every account's first pages (one request) and the "
                "thumbnails of the first strip; listing: the same without the thumbnails; "
                "journal: the page, its files, the basics and the newest entries. first: the "
                "first warm-up round, right after "
                "seeding; server CPU: the mock's user + system time per view, mean",
                _table(["view, how", "requests", "p50 ms", "p95 ms", "max ms", "first ms",
                        "server CPU ms", f"p95 < {TARGET_MS:.0f}"], rows)]
    if run.browser:
        rows = []
        for key, marks in run.browser.items():
            view = key.split()[0]
            shown = [m[VIEWS[view]] for m in marks]

            def p50(name: str, of: list[dict] = marks) -> str:
                values = [m[name] for m in of if isinstance(m.get(name), int | float)]
                return f"{pct(values, 50):.0f}" if values else "-"

            detail = (f"listed p50 {p50('imagesListed')} ms; thumbnails in view "
                      f"{p50('thumbnailsInView')} of {p50('thumbnails')} on the page, fetched "
                      f"{p50('thumbnailsFetched')}" if view == "images"
                      else f"rows {p50('journalRows')}")
            rows.append([key, *_ms(shown), p50("document"), p50("domContentLoaded"),
                         p50("basicsDone"), p50("dataDone"), p50("longTaskMs"),
                         verdict(pct(shown, 95)), detail])
        out += ["", f"(b) headless Chromium {args.browser_version}, navigation start → the "
                f"view's data on the page ({args.rounds} rounds; cold: empty cache, warm: the "
                "cache of the visit before; the p50 columns in ms from navigation start: "
                "document received, DOMContentLoaded, basics and view data fetched; long "
                "tasks: main-thread time in tasks over 50 ms before the data showed)",
                _table(["view, cache", "p50 ms", "p95 ms", "max ms", "document", "DCL",
                        "basics", "data", "long tasks", f"p95 < {TARGET_MS:.0f}", "detail"],
                       rows)]
    for note in dict.fromkeys(run.notes):
        out.append(f"- {note}")
    return "\n".join(out)


def overall_verdict(runs: list[StoreRun]) -> str:
    worst = []
    for run in runs:
        for key, marks in run.browser.items():
            worst.append((pct([m[VIEWS[key.split()[0]]] for m in marks], 95),
                          f"{run.store} {key} (browser)"))
        for key, values in run.totals.items():
            if not key.endswith("requests"):
                worst.append((pct(values, 95), f"{run.store} {key} (HTTP)"))
    if not worst:
        return "verdict: nothing measured"
    over = sorted((item for item in worst if item[0] >= TARGET_MS), reverse=True)
    if not over:
        top = max(worst)
        return (f"verdict: MET: every p95 is under {TARGET_MS:.0f} ms (the highest: "
                f"{top[1]}, {top[0]:.0f} ms)")
    return (f"verdict: NOT MET: p95 at or over {TARGET_MS:.0f} ms in " + "; ".join(
        f"{name} {value:.0f} ms" for value, name in over))


# --- the command ------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    from mockserver.config import ServerConfig

    parser = argparse.ArgumentParser(prog="python bench/dashboard.py",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", action="append", choices=list(STORES),
                        help="memory or sqlite (repeatable; default: both)")
    parser.add_argument("--images", type=int, default=1000, help="images to store (1000)")
    parser.add_argument("--journal", type=int, default=10_000,
                        help="vendor calls to journal, on top of the images' own (10000; the "
                             "mock keeps the newest journal_limit)")
    parser.add_argument("--rounds", type=int, default=20, help="measured rounds (20)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured rounds first (2)")
    parser.add_argument("--connections", type=int, default=BROWSER_CONNECTIONS,
                        help=f"connections of the browser-like HTTP runs ({BROWSER_CONNECTIONS})")
    parser.add_argument("--no-browser", action="store_true", help="the HTTP part only")
    parser.add_argument("--seed-threads", type=int, default=8,
                        help="threads (each with its connection) that seed the mock (8)")
    parser.add_argument("--seed-timeout", type=float, default=600.0,
                        help="seconds seeding may take per store (600)")
    parser.add_argument("--start-timeout", type=float, default=30.0,
                        help="seconds the mock has to answer 200 (30)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure")
    parser.add_argument("--profile", action="store_true",
                        help="instead: the mock in this process, seeded the same way; CPU time "
                             "of each request of the first views, and cProfile's top functions "
                             "of the images' listing and the journal")
    parser.add_argument("--top", type=int, default=25, help="functions the profile shows (25)")
    parser.add_argument("--logs", metavar="DIR", help="keep the server logs here")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.warmup < 1 or args.images < 0 or args.journal < 0:
        parser.error("--rounds and --warmup must be at least 1, --images and --journal >= 0")
    args.journal_limit = ServerConfig().journal_limit
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile:
        for name in dict.fromkeys(args.store or STORES):
            _progress(f"{name}: seeding {args.images:,} images and {args.journal:,} vendor "
                      "calls in-process...")
            try:
                print(profile_store(name, args) + "\n", flush=True)
            except BenchError as exc:
                print(f"{name}: profile: {exc}", file=sys.stderr)
                return 1
        return 0
    log_dir = Path(args.logs) if args.logs else Path(tempfile.mkdtemp(prefix="chatimg-dash-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    browser = None
    args.browser_version = "-"
    if not args.no_browser:
        try:
            browser = Browser()
            args.browser_version = browser.version
        except (ImportError, BenchError) as exc:
            _progress(f"no browser part: {exc}")
        except Exception as exc:  # selenium's own errors: a driver that would not start
            _progress(f"no browser part: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    started = time.time()
    args.load_before = _load()
    runs: list[StoreRun] = []
    try:
        for name in dict.fromkeys(args.store or STORES):
            runs.append(measure_store(STORES[name], args, log_dir, browser))
    except KeyboardInterrupt:
        _progress("interrupted: the mock is stopped")
    finally:
        if browser is not None:
            browser.quit()
        stop_all()
    print(f"dashboard first view: {args.images:,} images, {args.journal:,} vendor calls "
          f"journaled (the mock keeps {args.journal_limit:,}), {args.rounds} rounds after "
          f"{args.warmup} warm-up; target {TARGET_MS:.0f} ms")
    print(f"{os.cpu_count()} CPUs; load average at the start {args.load_before}, at the end "
          f"{_load()}: other work on the machine slows every figure but the server's CPU time")
    for run in runs:
        print("\n" + render(run, args))
    print("\n" + overall_verdict(runs))
    print(f"{time.time() - started:.0f} s in all")
    failed = any(run.error for run in runs) or len(runs) < len(args.store or STORES)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"settings": {k: v for k, v in vars(args).items() if k != "json"},
             "runs": [_run_json(run) for run in runs]}, indent=2, default=str) + "\n")
    if failed or args.logs:
        print(f"server logs kept in {log_dir}")
    else:
        shutil.rmtree(log_dir, ignore_errors=True)
    return 1 if failed else 0


def _load() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def _run_json(run: StoreRun) -> dict[str, Any]:
    seeding = run.seeding
    return {"store": run.store, "error": run.error, "rss_seeded_mb": run.rss_seeded_mb,
            "rss_end_mb": run.rss_end_mb, "startup_s": run.startup_s,
            "seeding": None if seeding is None else {
                "seconds": seeding.seconds, "images": dict(seeding.images),
                "vendor_calls": dict(seeding.vendor_calls), "rate_limited": seeding.rate_limited,
                "images_total": seeding.images_total, "journal_entries": seeding.journal_entries},
            "http_totals_ms": run.totals, "http_first_ms": run.first,
            "server_cpu_ms_per_view": run.server_cpu_ms,
            "http_requests": [vars(f) for f in run.requests], "browser": run.browser,
            "notes": run.notes}


if __name__ == "__main__":
    sys.exit(main())
