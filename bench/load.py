"""Driving a server with wrk: one bounded run, its figures read from bench/lua/replay.lua."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from .operations import BenchRequest
from .servers import die_with_parent

REPLAY_LUA = Path(__file__).resolve().parent / "lua" / "replay.lua"

WRK_MISSING = """\
wrk is not installed (the load generator this bench drives servers with).
Install it, then run again:
  Debian/Ubuntu:  sudo apt-get install wrk
  macOS:          brew install wrk
  from source:    git clone https://github.com/wg/wrk && make -C wrk && cp wrk/wrk ~/.local/bin/
`python bench/run.py --profile postImage` needs no wrk."""


class WrkError(RuntimeError):
    """wrk failed, hung or printed no result; the message holds its output."""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non2xx: int
    envelope_errors: int
    socket_errors: int  # connect, read, write errors and timeouts
    # HTTP status (as a string) -> {"count": n, "sample": first reply body, cut to 300 bytes};
    # a 2xx status here means replies in the vendor's error envelope.
    failure_kinds: dict[str, dict]

    @property
    def failures(self) -> int:
        return self.non2xx + self.envelope_errors + self.socket_errors

    def to_json(self) -> dict:
        return asdict(self)


def find_wrk() -> str | None:
    return shutil.which("wrk")


def run_wrk(wrk: str, base_url: str, request: BenchRequest, marker: str | None, *,
            duration: float, threads: int, connections: int, request_file: Path,
            timeout: float = 2.0) -> LoadResult:
    """``request`` replayed for ``duration`` seconds; never runs more than 30 s past it."""
    host = base_url.removeprefix("http://")
    request_file.write_bytes(request.raw(host))
    argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout",
            f"{timeout:g}s", "-s", str(REPLAY_LUA), base_url, "--", str(request_file), marker or ""]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=duration + 30,
                              stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
    except subprocess.TimeoutExpired:
        raise WrkError(f"wrk still running {duration + 30:g} s after start: killed") from None
    output = done.stdout.decode(errors="replace")
    line = next((text for text in output.splitlines() if text.startswith("BENCH_RESULT ")),
                None)
    if done.returncode != 0 or line is None:
        raise WrkError(f"wrk exited with {done.returncode}:\n{output[-800:]}"
                       f"{done.stderr.decode(errors='replace')[-800:]}")
    figures = json.loads(line.removeprefix("BENCH_RESULT "))
    seconds = figures["duration_us"] / 1e6
    return LoadResult(
        requests=figures["requests"], seconds=seconds,
        rps=figures["requests"] / seconds if seconds else 0.0,
        p50_ms=figures["p50_us"] / 1000, p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000, max_ms=figures["max_us"] / 1000,
        non2xx=figures["non2xx"], envelope_errors=figures["envelope_errors"],
        socket_errors=sum(figures[k] for k in ("connect_errors", "read_errors", "write_errors",
                                                "timeouts")),
        failure_kinds=figures["failures"])
