"""How much memory the mock's image work takes: large images sent through its real HTTP API.

    python bench/memory.py                        # every route, one image and four at once
    python bench/memory.py --route postImage --count 4
    python bench/memory.py --baseline HEAD        # also the code of commit HEAD: before and after

Each (route, count) run starts the mock fresh as users run it (``python -m mockserver serve``),
warms the route up with one small image, reads the server's idle RSS, sends COUNT large images
at once (each with its own bytes, so no remembered result is reused), and reads the peak RSS
(VmHWM, and VmRSS sampled meanwhile) and the RSS --settle seconds after the last reply, all from
/proc (Linux only). See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import shlex
import shutil
import struct
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python bench/memory.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.operations import GEWE_APP_ID, GEWE_TOKEN, LARK_APP, BenchRequest
from bench.run import baseline_servers
from bench.servers import RssSampler, RunningServer, ServerKind, StartError, process_tree, stop_all

MOCK = ServerKind("mock", f"{shlex.quote(sys.executable)} -m mockserver serve --port {{port}} "
                  "{quiet}",
                  ready="GET /__admin/credentials", stateful=True,
                  description="python -m mockserver serve (one process, threads, in memory)")
REQUEST_TIMEOUT = 300.0
MB = 2**20


# --- the images -------------------------------------------------------------------------

def large_png(side: int) -> bytes:
    """An RGBA PNG of side x side pixels that compresses to a few hundred KB: two gradients
    in a disc on a transparent ground, as a large sticker or poster might be."""
    from PIL import Image, ImageDraw

    gradient = Image.linear_gradient("L").resize((side, side))
    alpha = Image.new("L", (side, side), 0)
    ImageDraw.Draw(alpha).ellipse((side // 10, side // 10, side * 9 // 10, side * 9 // 10),
                                  fill=255)
    image = Image.merge("RGBA", (gradient.transpose(Image.Transpose.ROTATE_90), gradient,
                                 Image.new("L", (side, side), 128), alpha))
    out = BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def variant(png: bytes, number: int) -> bytes:
    """The same picture with a text chunk naming ``number`` after its header: other bytes, so
    the mock cannot answer from what it remembers of an earlier copy."""
    body = b"tEXt" + f"bench\0{number}".encode()
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    header_end = 8 + 25  # the signature, then IHDR: length, type, 13 bytes, CRC
    return png[:header_end] + chunk + png[header_end:]


def small_png() -> bytes:
    from PIL import Image

    out = BytesIO()
    Image.new("RGBA", (64, 64), (200, 30, 30, 128)).save(out, "PNG")
    return out.getvalue()


# --- the routes -------------------------------------------------------------------------

def _post_image(client: httpx.Client, png: bytes) -> str | None:
    reply = client.post("/gewe/v2/api/message/postImage", headers={"X-GEWE-TOKEN": GEWE_TOKEN},
                        json={"appId": GEWE_APP_ID, "toWxid": "wxid_bench",
                              "imgUrl": "data:image/png;base64," + base64.b64encode(png).decode()})
    return None if reply.status_code == 200 and reply.json().get("ret") == 200 else reply.text


def _gewe_message(client: httpx.Client, png: bytes) -> str | None:
    reply = client.post("/__admin/gewe/messages",
                        json={"fromUser": "wxid_bench", "image": base64.b64encode(png).decode()})
    return None if reply.status_code == 201 else reply.text


def _lark_upload(client: httpx.Client, png: bytes) -> str | None:
    token = client.post("/open-apis/auth/v3/tenant_access_token/internal", json=LARK_APP)
    reply = client.post("/open-apis/im/v1/images",
                        headers={"Authorization": f"Bearer {token.json()['tenant_access_token']}"},
                        data={"image_type": "message"}, files={"image": ("bench.png", png)})
    return None if reply.status_code == 200 and reply.json().get("code") == 0 else reply.text


# A route sends one image and answers None, or the reply that refused it.
ROUTES: dict[str, Callable[[httpx.Client, bytes], str | None]] = {
    "postImage": _post_image,  # GeWe, the image in a data: URL: a thumbnail is made
    "gewe-message": _gewe_message,  # a user sends it: normal copy and thumbnail are made
    "lark-upload": _lark_upload,  # probed and stored as it is
}


# --- one run ----------------------------------------------------------------------------

@dataclass
class Run:
    server: str
    route: str
    count: int
    idle_mb: float = 0.0
    peak_growth_mb: float = 0.0
    settled_growth_mb: float = 0.0
    seconds: float = 0.0
    error: str | None = None


def status_bytes(pids: list[int], field: str) -> int:
    """The sum of a /proc/<pid>/status field (VmRSS, VmHWM) over ``pids``, in bytes."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                total += next((int(line.split()[1]) * 1024 for line in status
                               if line.startswith(field + ":")), 0)
        except OSError:
            continue
    return total


def reset_peaks(pids: list[int]) -> None:
    """VmHWM back to the current VmRSS, so it holds the peak of what follows (Linux 4.0+);
    where this is not allowed, the sampled VmRSS still gives a (coarser) peak."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
                clear_refs.write("5")
        except OSError:
            pass


def send_at_once(base_url: str, route: Callable[[httpx.Client, bytes], str | None],
                 images: list[bytes]) -> list[str]:
    """Each image from its own thread and connection, all released together; the refusals."""
    refusals: list[str] = []
    start = threading.Barrier(len(images))

    def send(png: bytes) -> None:
        with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT) as client:
            start.wait()
            try:
                refusal = route(client, png)
            except httpx.HTTPError as exc:
                refusal = f"{type(exc).__name__}: {exc}"
            if refusal is not None:
                refusals.append(refusal[:200])

    threads = [threading.Thread(target=send, args=(png,)) for png in images]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return refusals


def measure(kind: ServerKind, route_name: str, images: list[bytes], settle: float,
            log_dir: Path) -> Run:
    run = Run(kind.name, route_name, len(images))
    route = ROUTES[route_name]
    try:
        with RunningServer.start(kind, log_dir, f"{kind.name}-{route_name}-{len(images)}",
                                 "gewe", None) as server:
            server.wait_ready(BenchRequest("GET", "/__admin/credentials"), 30.0)
            refusals = send_at_once(server.base_url, route, [small_png()])  # imports, caches
            time.sleep(1.0)
            pids = process_tree(server.process.pid)
            idle = status_bytes(pids, "VmRSS")
            reset_peaks(pids)
            started = time.perf_counter()
            with RssSampler(server.process.pid, interval=0.02) as sampled:
                refusals += send_at_once(server.base_url, route, images)
            run.seconds = time.perf_counter() - started
            peak = max(status_bytes(pids, "VmHWM"), sampled.peak or 0)
            time.sleep(settle)
            settled = status_bytes(pids, "VmRSS")
            run.idle_mb, run.peak_growth_mb = idle / MB, (peak - idle) / MB
            run.settled_growth_mb = (settled - idle) / MB
            if refusals:
                run.error = f"{len(refusals)} refused, first: {refusals[0]}"
    except (StartError, httpx.HTTPError) as exc:
        run.error = f"{type(exc).__name__}: {exc}"
    return run


# --- the command ------------------------------------------------------------------------

COLUMNS = ("server", "route", "images", "idle MB", "peak growth MB", "after MB", "s")


def render(runs: list[Run], settle: float) -> str:
    rows = [COLUMNS] + [(r.server, r.route, str(r.count), f"{r.idle_mb:.0f}",
                         f"{r.peak_growth_mb:.0f}", f"{r.settled_growth_mb:.0f}",
                         f"{r.seconds:.1f}") for r in runs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) if i < 2 else cell.rjust(width)
                       for i, (cell, width) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    notes = [f"- {r.server} / {r.route} / {r.count}: {r.error}" for r in runs if r.error]
    return "\n".join([*lines, *notes,
                      f"\nafter MB: RSS {settle:g} s after the last reply, above idle."])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python bench/memory.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--route", action="append", choices=list(ROUTES),
                        help="a route to send the images through (repeatable; default: all)")
    parser.add_argument("--count", action="append", type=int,
                        help="images sent at once (repeatable; default: 1 and 4)")
    parser.add_argument("--side", type=int, default=9400,
                        help="width and height of the RGBA PNG (9400: just under Pillow's "
                             "decompression-bomb limit)")
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds after the last reply before RSS is read again (5)")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run the mock from commit REV of this checkout")
    args = parser.parse_args(argv)
    if any(count < 1 for count in args.count or ()):
        parser.error("--count must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    log_dir = Path(tempfile.mkdtemp(prefix="chatimg-memory-"))
    kinds = [MOCK, *(baseline_servers([MOCK], args.baseline, log_dir) if args.baseline else [])]
    print(f"making a {args.side}x{args.side} RGBA PNG...", file=sys.stderr, flush=True)
    png = large_png(args.side)
    counts = args.count or [1, 4]
    print(f"{len(png) / 1024:.0f} KB; routes: {', '.join(args.route or ROUTES)}; "
          f"images at once: {', '.join(map(str, counts))}", flush=True)
    runs = []
    try:
        for route in args.route or ROUTES:
            for count in counts:
                for kind in kinds:
                    run = measure(kind, route, [variant(png, n) for n in range(count)],
                                  args.settle, log_dir)
                    runs.append(run)
                    print(f"  {kind.name} {route} x{count}: peak +{run.peak_growth_mb:.0f} MB"
                          f"{' (' + run.error + ')' if run.error else ''}",
                          file=sys.stderr, flush=True)
    finally:
        stop_all()
        if not any(run.error for run in runs):
            shutil.rmtree(log_dir, ignore_errors=True)
    print(render(runs, args.settle))
    if any(run.error for run in runs):
        print(f"server logs kept in {log_dir}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
