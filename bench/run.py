"""Benchmark the mock against a bare-Flask ceiling with wrk, as users run it.

    python bench/run.py                          # every server and operation, 3 rounds of 5 s
    python bench/run.py --duration 3 --rounds 1 --server mock --server ceiling
    python bench/run.py --profile postImage      # in-process cProfile, no wrk needed

Each (round, operation, server) run starts the server fresh on a free 127.0.0.1 port, waits for
its first 200, sets up the operation's data, warms up, drives it with wrk for --duration seconds
while sampling its RSS, and stops it. Rounds are interleaved (operation by operation, the servers
in a rotating order) and every ratio is taken against the ceiling measured in the same round, so
ratios, not absolute req/s, are comparable across runs and machines. A server of replicas
(mock-redis) gets one wrk per replica, at once, each with an even share of the threads and
connections. See bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python bench/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench import imports
from bench.load import WRK_MISSING, LoadResult, WrkError, find_wrk, run_wrk
from bench.operations import OPERATIONS, REPO, BenchRequest, Operation, SetupError
from bench.servers import (
    SERVERS,
    Deployment,
    RssSampler,
    ServerKind,
    StartError,
    find_prism,
    find_redis_server,
    stop_all,
    with_command,
)

CEILING = "ceiling"
# Seconds to wait before reading a mock's round trips: its journal writes every 10 ms, so the
# calls just answered have their entries written by then.
JOURNAL_SETTLE_S = 0.1


@dataclass
class RunOutcome:
    round: int
    server: str
    operation: str
    result: LoadResult | None = None
    startup_s: float | None = None
    peak_rss_mb: float | None = None
    # Requests the server's processes sent to Redis during the measured run (GET /__admin/store
    # before and after, summed over replicas); None for a server without Redis.
    round_trips: int | None = None
    # One wrk's result per replica, when the server has several (``result`` merges them).
    replica_results: list[LoadResult] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict:
        return {"round": self.round, "server": self.server, "operation": self.operation,
                "startup_s": self.startup_s, "peak_rss_mb": self.peak_rss_mb,
                "round_trips": self.round_trips, "error": self.error,
                **(self.result.to_json() if self.result else {}),
                **({"replicas": [r.to_json() for r in self.replica_results]}
                   if self.replica_results else {})}


@dataclass
class Bench:
    args: argparse.Namespace
    wrk: str
    servers: list[ServerKind]
    operations: list[Operation]
    log_dir: Path
    prism: str | None = None
    outcomes: list[RunOutcome] = field(default_factory=list)

    def run(self) -> None:
        for number in range(1, self.args.rounds + 1):
            shift = (number - 1) % len(self.servers)
            order = self.servers[shift:] + self.servers[:shift]
            for operation in self.operations:
                for kind in order:
                    outcome = self.run_one(number, kind, operation)
                    self.outcomes.append(outcome)
                    _progress(outcome, self.args.rounds)

    def run_one(self, number: int, kind: ServerKind, operation: Operation) -> RunOutcome:
        outcome = RunOutcome(number, kind.name, operation.name)
        label = f"r{number}-{kind.name}-{operation.name}"
        extra_env = {"CHATIMG_CONFIG": self.args.mock_config} if self.args.mock_config else None
        try:
            with Deployment.start(kind, self.log_dir, label, operation.spec, self.prism,
                                  extra_env) as deployment:
                probe = _probe(kind, operation)
                timeout = self.args.start_timeout or kind.start_timeout
                outcome.startup_s = deployment.wait_ready(probe, timeout)
                urls = deployment.base_urls
                # (one replica is enough: they share their state, or the errors show they don't)
                with httpx.Client(base_url=urls[0], timeout=10.0) as client:
                    request = operation.prepare(client) if kind.stateful else operation.fixed()
                load = SplitLoad(self.wrk, urls, request,
                                 operation.success_marker if kind.envelopes else None,
                                 self.args.threads, self.args.connections, self.log_dir / label)
                if self.args.warmup > 0:
                    load.run(self.args.warmup)
                before = store_round_trips(urls) if kind.stateful else None
                with RssSampler(*deployment.pids) as rss:
                    outcome.result, outcome.replica_results = load.run(self.args.duration)
                if before is not None:
                    after = store_round_trips(urls)
                    outcome.round_trips = None if after is None else after - before
                outcome.peak_rss_mb = None if rss.peak is None else rss.peak / 2**20
        except (StartError, SetupError, WrkError, httpx.HTTPError, ValueError, KeyError) as exc:
            outcome.error = f"{type(exc).__name__}: {exc}"
        return outcome


@dataclass
class SplitLoad:
    """One operation's load on a server: one wrk per URL, all at once, each with an even share
    of the threads and connections, so that replicas are driven round-robin without a balancer
    in between (one that would be measured too)."""

    wrk: str
    urls: list[str]
    request: BenchRequest
    marker: str | None
    threads: int
    connections: int
    request_stem: Path  # each wrk's raw request goes to STEM.http, or STEM-N.http per replica

    def run(self, duration: float) -> tuple[LoadResult, list[LoadResult]]:
        """The merged result, and each replica's (none for a single server)."""
        if len(self.urls) == 1:
            return self._one(self.urls[0], duration, self.threads, self.connections, ""), []
        threads, connections = wrk_share(self.threads, self.connections, len(self.urls))
        with ThreadPoolExecutor(len(self.urls)) as pool:
            futures = [pool.submit(self._one, url, duration, threads, connections, f"-{n}")
                       for n, url in enumerate(self.urls, 1)]
            parts = [future.result() for future in futures]
        return merged_results(parts), parts

    def _one(self, url: str, duration: float, threads: int, connections: int,
             suffix: str) -> LoadResult:
        request_file = self.request_stem.with_name(f"{self.request_stem.name}{suffix}.http")
        return run_wrk(self.wrk, url, self.request, self.marker, duration=duration,
                       threads=threads, connections=connections, request_file=request_file)


def wrk_share(threads: int, connections: int, parts: int) -> tuple[int, int]:
    """Each of ``parts`` wrk processes' threads and connections (wrk wants -c >= -t)."""
    share_threads = max(1, threads // parts)
    return share_threads, max(share_threads, connections // parts)


def merged_results(parts: list[LoadResult]) -> LoadResult:
    """wrk runs made at once, as one: counts and req/s summed; each latency percentile the
    highest of the runs', an upper bound on the merged one (wrk's Lua API gives no histogram
    that could be merged at a bounded cost)."""
    return LoadResult(
        requests=sum(p.requests for p in parts), seconds=max(p.seconds for p in parts),
        rps=sum(p.rps for p in parts), p50_ms=max(p.p50_ms for p in parts),
        p90_ms=max(p.p90_ms for p in parts), p99_ms=max(p.p99_ms for p in parts),
        max_ms=max(p.max_ms for p in parts), non2xx=sum(p.non2xx for p in parts),
        envelope_errors=sum(p.envelope_errors for p in parts),
        socket_errors=sum(p.socket_errors for p in parts),
        failure_kinds=_merged_failure_kinds(parts))


def store_round_trips(urls: list[str]) -> int | None:
    """The Redis round trips the mocks at ``urls`` made so far, summed (GET /__admin/store);
    None when one of them keeps no count (not on Redis, or a mock without the route)."""
    time.sleep(JOURNAL_SETTLE_S)
    total = 0
    try:
        with httpx.Client(timeout=5.0) as client:
            for url in urls:
                reply = client.get(f"{url}/__admin/store")
                count = reply.json().get("round_trips") if reply.status_code == 200 else None
                if not isinstance(count, int):
                    return None
                total += count
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return total


def _probe(kind: ServerKind, operation: Operation) -> BenchRequest:
    if kind.ready is None:
        return operation.fixed()
    method, path = kind.ready.split(maxsplit=1)
    return BenchRequest(method, path)


def _progress(outcome: RunOutcome, rounds: int) -> None:
    head = f"round {outcome.round}/{rounds}  {outcome.operation:<14} {outcome.server:<14}"
    if outcome.error:
        first = outcome.error.splitlines()[0]
        print(f"{head} FAILED {first}", file=sys.stderr, flush=True)
        return
    result = outcome.result
    per_call = _per_call(outcome.round_trips, result.requests)
    print(f"{head} {result.rps:>8,.0f} req/s  p99 {result.p99_ms:7.1f} ms  "
          f"failed {result.failures:>6}/{result.requests:<7}  start {outcome.startup_s:5.2f} s  "
          f"RSS {_cell('peak_rss_mb', outcome.peak_rss_mb):>6} MB"
          + ("" if per_call is None else f"  Redis RT/call {per_call:.2f}"),
          file=sys.stderr, flush=True)


def _per_call(round_trips: int | None, requests: int) -> float | None:
    return None if round_trips is None or not requests else round_trips / requests


# --- the summary ------------------------------------------------------------------------

def summarize(outcomes: list[RunOutcome], servers: list[ServerKind],
              operations: list[Operation]) -> list[dict]:
    """One row per (server, operation): medians over rounds; failures summed; ratios per round."""
    ceiling_rps = {(o.round, o.operation): o.result.rps for o in outcomes
                   if o.server == CEILING and o.result and o.result.rps}
    rows = []
    for operation in operations:
        for kind in servers:
            runs = [o for o in outcomes if o.server == kind.name and o.operation == operation.name]
            done = [o for o in runs if o.result]
            if not runs:
                continue
            row: dict = {"server": kind.name, "operation": operation.name, "rounds": len(done),
                         "failed_runs": [o.error for o in runs if o.error]}
            if done:
                results = [o.result for o in done]
                ratios = [o.result.rps / ceiling_rps[(o.round, o.operation)] for o in done
                          if (o.round, o.operation) in ceiling_rps]
                row.update(
                    rps=statistics.median(r.rps for r in results),
                    ratio=statistics.median(ratios) if ratios else None,
                    p50_ms=statistics.median(r.p50_ms for r in results),
                    p99_ms=statistics.median(r.p99_ms for r in results),
                    requests=sum(r.requests for r in results),
                    non2xx=sum(r.non2xx for r in results),
                    envelope_errors=sum(r.envelope_errors for r in results),
                    socket_errors=sum(r.socket_errors for r in results),
                    peak_rss_mb=max((o.peak_rss_mb for o in done if o.peak_rss_mb is not None),
                                    default=None),
                    round_trips_per_call=_round_trips_per_call(done),
                    startup_s=statistics.median(o.startup_s for o in done),
                    failure_kinds=_merged_failure_kinds(results))
            rows.append(row)
    return rows


def _round_trips_per_call(done: list[RunOutcome]) -> float | None:
    """Redis round trips over requests, both summed over the rounds that counted them."""
    counted = [(o.round_trips, o.result.requests) for o in done
               if o.round_trips is not None and o.result is not None]
    if not counted:
        return None
    return _per_call(sum(trips for trips, _ in counted), sum(calls for _, calls in counted))


def _merged_failure_kinds(results: list[LoadResult]) -> dict[str, dict]:
    merged: dict[str, dict] = {}
    for result in results:
        for status, kind in result.failure_kinds.items():
            entry = merged.setdefault(status, {"count": 0, "sample": kind["sample"]})
            entry["count"] += kind["count"]
    return dict(sorted(merged.items(), key=lambda item: -item[1]["count"]))


COLUMNS = [("server", "server", "<"), ("operation", "operation", "<"), ("req/s", "rps", ">"),
           ("× ceiling", "ratio", ">"), ("p50 ms", "p50_ms", ">"), ("p99 ms", "p99_ms", ">"),
           ("requests", "requests", ">"), ("non-2xx", "non2xx", ">"),
           ("envelope", "envelope_errors", ">"), ("socket", "socket_errors", ">"),
           ("peak RSS MB", "peak_rss_mb", ">"), ("start s", "startup_s", ">"),
           ("Redis RT/call", "round_trips_per_call", ">")]


def _cell(key: str, value: object) -> str:
    if value is None:
        return "-"
    if key == "rps":
        return f"{value:,.0f}"
    if key == "ratio":
        return f"{value:.2f}"
    if key in ("p50_ms", "p99_ms", "peak_rss_mb"):
        return f"{value:.1f}"
    if key in ("startup_s", "round_trips_per_call"):
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_table(rows: list[dict]) -> str:
    cells = [[title for title, _, _ in COLUMNS]]
    for row in rows:
        if "rps" in row:
            cells.append([_cell(key, row.get(key)) for _, key, _ in COLUMNS])
        else:
            cells.append([row["server"], row["operation"], "failed"] + [""] * (len(COLUMNS) - 3))
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    out = []
    for number, line in enumerate(cells):
        aligned = (text.ljust(width) if align == "<" else text.rjust(width)
                   for text, width, (_, _, align) in zip(line, widths, COLUMNS, strict=True))
        out.append("  ".join(aligned).rstrip())
        if number == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def render_notes(rows: list[dict], skipped: dict[str, str]) -> str:
    notes = []
    for row in rows:
        where = f"{row['server']} / {row['operation']}"
        for status, kind in row.get("failure_kinds", {}).items():
            what = (f"HTTP {status} in an error envelope" if status.startswith("2")
                    else f"HTTP {status}")
            sample = " ".join(kind["sample"].split())
            notes.append(f"- {where}: {kind['count']:,} × {what}, first: {sample[:160]}")
        for error in row["failed_runs"]:
            notes.append(f"- {where}: run failed: {error}")
    for name, reason in skipped.items():
        notes.append(f"- {name}: skipped: {reason}")
    return "\n".join(notes)


# --- the command ------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/run.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="servers: " + ", ".join(SERVERS) + "; operations: " + ", ".join(OPERATIONS))
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of each wrk run (5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians (3)")
    parser.add_argument("--server", action="append", metavar="NAME",
                        help="a server to run (repeatable; default: all)")
    parser.add_argument("--operation", action="append", metavar="NAME",
                        choices=list(OPERATIONS), help="an operation (repeatable; default: all)")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t (2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c (32)")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds of unmeasured wrk load before each run (1; 0: none)")
    parser.add_argument("--start-timeout", type=float,
                        help="seconds a server has to answer 200 (default 30, Prism 60)")
    parser.add_argument("--cmd", action="append", default=[], metavar="NAME=COMMAND",
                        help="start server NAME with COMMAND ({port}, {repo}, {spec}, {prism}); "
                             "a new NAME is a variant of the mock and is added to the run")
    parser.add_argument("--mock-cmd", metavar="COMMAND",
                        help="shorthand for --cmd mock=COMMAND")
    parser.add_argument("--mock-config", metavar="FILE",
                        help="config file for the servers, as $CHATIMG_CONFIG "
                             "(e.g. bench/mock-unlimited.yaml: no Lark rate limit)")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run each mock server from commit REV of this checkout, as "
                             "NAME@REV: before and after in one run")
    parser.add_argument("--json", metavar="FILE", help="also write every run and the summary")
    parser.add_argument("--logs", metavar="DIR",
                        help="keep server logs and request files here (default: a temporary "
                             "folder, removed at the end)")
    parser.add_argument("--profile", metavar="OP", choices=list(OPERATIONS),
                        help="instead: profile OP in-process and print the top functions")
    parser.add_argument("--profile-requests", type=int, default=500, metavar="N",
                        help="requests the profile runs (500)")
    parser.add_argument("--profiler", choices=["cprofile", "pyinstrument"], default="cprofile")
    parser.add_argument("--top", type=int, default=25, help="functions the profile shows (25)")
    args = parser.parse_args(argv)
    if args.mock_cmd:
        args.cmd.append(f"mock={args.mock_cmd}")
    if args.mock_config:
        args.mock_config = str(Path(args.mock_config).resolve())
    if args.duration <= 0 or args.rounds < 1:
        parser.error("--duration must be > 0 and --rounds >= 1")
    return args


def choose_servers(args: argparse.Namespace) -> list[ServerKind]:
    kinds = dict(SERVERS)
    for item in args.cmd:
        name, sep, command = item.partition("=")
        if not sep or not name or not command.strip():
            raise SystemExit(f"--cmd wants NAME=COMMAND, got {item!r}")
        kinds[name] = with_command(kinds.get(name), name, command)
    custom = [item.partition("=")[0] for item in args.cmd if item.partition("=")[0] not in SERVERS]
    names = args.server or [*SERVERS, *custom]
    unknown = [name for name in names if name not in kinds]
    if unknown:
        raise SystemExit(f"unknown server(s) {', '.join(unknown)}; known: {', '.join(kinds)}")
    return [kinds[name] for name in dict.fromkeys(names)]


def _raise_on_signal(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile:
        from bench.profiling import ProfileError, profile_operation
        try:
            print(profile_operation(OPERATIONS[args.profile], requests=args.profile_requests,
                                    top=args.top, profiler=args.profiler,
                                    config_path=args.mock_config))
        except (ProfileError, SetupError) as exc:
            print(f"profile: {exc}", file=sys.stderr)
            return 1
        return 0

    wrk = find_wrk()
    if wrk is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2
    servers = choose_servers(args)
    operations = [OPERATIONS[name] for name in dict.fromkeys(args.operation or OPERATIONS)]
    skipped: dict[str, str] = {}
    prism = None
    if any(kind.name == "prism" for kind in servers):
        print("looking for Prism (npx may fetch it once)...", file=sys.stderr, flush=True)
        prism, how = find_prism()
        if prism is None:
            skipped["prism"] = how
            servers = [kind for kind in servers if kind.name != "prism"]
    if any(kind.redis for kind in servers) and find_redis_server() is None:
        for kind in servers:
            if kind.redis:
                skipped[kind.name] = ("redis-server is not on PATH "
                                      "(Debian: apt-get install redis-server)")
                print(f"{kind.name}: skipped: {skipped[kind.name]}", file=sys.stderr, flush=True)
        servers = [kind for kind in servers if not kind.redis]
    if not servers:
        print("no server left to run", file=sys.stderr)
        return 2

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_on_signal)
    log_dir = Path(args.logs) if args.logs else Path(tempfile.mkdtemp(prefix="chatimg-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    args.source_state = _source_state()
    if args.baseline:
        try:
            servers = [*servers, *baseline_servers(servers, args.baseline, log_dir)]
        except (OSError, subprocess.SubprocessError, tarfile.TarError) as exc:
            print(f"--baseline {args.baseline}: {exc}", file=sys.stderr)
            return 2
    bench = Bench(args, wrk, servers, operations, log_dir, prism)
    started = time.time()
    _print_header(args, servers, operations, prism)
    interrupted = False
    try:
        bench.run()
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: servers stopped; the table holds the runs that finished",
              file=sys.stderr)
    finally:
        stop_all()
    failed_runs = any(o.error for o in bench.outcomes)
    if not args.logs and not failed_runs:
        shutil.rmtree(log_dir, ignore_errors=True)

    rows = summarize(bench.outcomes, servers, operations)
    print()
    print(render_table(rows))
    notes = render_notes(rows, skipped)
    if notes:
        print("\n" + notes)
    print("\n" + imports.render(imports.import_costs()))
    print(f"\n{len(bench.outcomes)} runs in {time.time() - started:.0f} s; medians over rounds, "
          f"× ceiling is the median of per-round ratios to the ceiling's req/s.")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"settings": _settings(args, servers, operations, prism), "skipped": skipped,
             "summary": rows, "runs": [o.to_json() for o in bench.outcomes]},
            ensure_ascii=False, indent=2) + "\n")
    if failed_runs or args.logs:
        print(f"server logs and request files kept in {log_dir}")
    if interrupted:
        return 130
    return 1 if failed_runs else 0


def _settings(args: argparse.Namespace, servers: list[ServerKind],
              operations: list[Operation], prism: str | None) -> dict:
    return {"source": args.source_state, "duration_s": args.duration, "rounds": args.rounds,
            "warmup_s": args.warmup,
            "wrk": f"-t{args.threads} -c{args.connections}", "cpus": os.cpu_count(),
            "load_average": os.getloadavg(), "mock_config": args.mock_config,
            "prism": prism, "operations": [op.name for op in operations],
            "servers": {kind.name: {"command": kind.command, "description": kind.description,
                                    "replicas": kind.replicas, "redis": kind.redis}
                        for kind in servers}}


def baseline_servers(servers: list[ServerKind], rev: str, log_dir: Path) -> list[ServerKind]:
    """Each mock server of ``servers`` again, running commit ``rev``'s code (extracted under
    ``log_dir``), named NAME@<short hash>."""
    commit = _git("rev-parse", "--short", "--verify", f"{rev}^{{commit}}", check=True)
    source = log_dir / f"baseline-{commit}"
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit],
                             capture_output=True, check=True, timeout=60).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later
            tar.extractall(source, filter="data")
        else:
            tar.extractall(source)  # (our own repository's archive)
    return [replace(kind, name=f"{kind.name}@{commit}", source=source,
                    description=f"{kind.command}, at commit {commit}")
            for kind in servers if kind.stateful]


def _git(*argv: str, check: bool = False) -> str:
    return subprocess.run(["git", "-C", str(REPO), *argv], capture_output=True, text=True,
                          timeout=10, stdin=subprocess.DEVNULL, check=check).stdout.strip()


def _source_state() -> str:
    """The commit the mock runs from, and whether its code differs from it."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        changed = _git("status", "--porcelain", "--", "mockserver", "specs").splitlines()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (no git)"
    if not commit:
        return "unknown (not a git checkout)"
    return commit + (f" + uncommitted changes in {len(changed)} file(s) of mockserver/, specs/"
                     if changed else "")


def _print_header(args: argparse.Namespace, servers: list[ServerKind],
                  operations: list[Operation], prism: str | None) -> None:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"mock source: {args.source_state}")
    print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s (+{args.warmup:g} s "
          f"warm-up), {args.rounds} round(s), {os.cpu_count()} CPUs, load average {load}")
    for kind in servers:
        command = kind.command.replace("{prism}", shlex.quote(prism or "prism"))
        print(f"  {kind.name:<14} {command}")
        if kind.replicas > 1:
            threads, connections = wrk_share(args.threads, args.connections, kind.replicas)
            print(f"  {'':<14} ×{kind.replicas} replicas, each driven by its own wrk -t{threads} "
                  f"-c{connections}, all at once")
        if kind.redis:
            print(f"  {'':<14} {{store}}: a redis-server of its own on a free port, no persistence")
    print(f"  operations: {', '.join(op.name for op in operations)}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
