"""The servers the bench starts, as users run them, and their lifetime.

``SERVERS`` is the one place that says how each server is started: change a command line there
(or with ``run.py --cmd NAME='...'``). Each server runs in its own process group on a free
127.0.0.1 port with its output in a log file, and is stopped (SIGTERM, then SIGKILL to the whole
group) when its run ends, whatever happened; ``stop_all`` is the last resort at exit. A
``Deployment`` is what one run starts: one server, or several replicas of one command and the
redis-server they share.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from .operations import REPO, BenchRequest

PRISM_PACKAGE = "@stoplight/prism-cli@5"


class StartError(RuntimeError):
    """A server did not answer 200 in time, or exited; the message holds its log's tail."""


@dataclass(frozen=True)
class ServerKind:
    name: str
    # Placeholders: {port}, {repo}; {state_dir} is a fresh empty folder for this run;
    # {spec} is specs/<spec>.yaml of the operation (Prism); {prism} is Prism's executable;
    # {quiet} is --quiet where the mock has it; {store} is the URL of the run's redis-server.
    command: str
    # "GET /path" polled until it answers 200; None: poll with the operation's own request.
    ready: str | None
    # Implements the mock's state and admin routes, so operations set up their data on it;
    # otherwise it is sent each operation's fixed request and any 2xx body counts as success.
    stateful: bool
    # Answers in the vendors' envelopes, so a 2xx body must hold the operation's success marker.
    envelopes: bool = True
    start_timeout: float = 30.0
    description: str = ""
    # The code the server runs (first on PYTHONPATH, and its cwd): None is the checkout the
    # bench sits in; ``run.py --baseline REV`` points it at an older commit's files.
    source: Path | None = None
    # Starts a redis-server of its own first (a free port, no persistence): {store} is its URL.
    redis: bool = False
    # Copies of ``command`` started together, each on its own port, and driven at once.
    replicas: int = 1


GUNICORN_2_SYNC = "gunicorn -w 2 -b 127.0.0.1:{port}"

SERVERS: dict[str, ServerKind] = {kind.name: kind for kind in [
    ServerKind("ceiling", GUNICORN_2_SYNC + " --chdir {repo} bench.ceiling_app:app",
               ready="GET /", stateful=False, envelopes=False,
               description="bare Flask, fixed body, gunicorn 2 sync workers"),
    # {quiet}: no request log, as a benchmark of a web server turns its access log off.
    ServerKind("mock", "chatimg-mock serve --port {port} {quiet}",
               ready="GET /__admin/credentials", stateful=True,
               description="chatimg-mock serve (one process, threads, state in memory)"),
    # Two gunicorn workers sharing one SQLite store, in a fresh folder each run.
    ServerKind("mock-workers", "chatimg-mock serve --workers 2 --port {port} "
               "--state-dir {state_dir} {quiet}", ready="GET /__admin/credentials", stateful=True,
               description="chatimg-mock serve --workers 2 (gunicorn, shared SQLite store)"),
    # create_app() keeps its state in memory, so each worker has its own: data set up through
    # one worker is unknown to the other, and the error counts show it.
    ServerKind("mock-gunicorn", GUNICORN_2_SYNC + " mockserver:create_app()",
               ready="GET /__admin/credentials", stateful=True,
               description="the mock's create_app() under gunicorn 2 sync workers"),
    # Two replicas, one process each, sharing their state in one redis-server: a mock behind a
    # load balancer, without the balancer (run.py gives each replica its own wrk).
    ServerKind("mock-redis", "chatimg-mock serve --store {store} --store-prefix bench: "
               "--port {port} {quiet}", ready="GET /__admin/credentials", stateful=True,
               redis=True, replicas=2,
               description="2 × chatimg-mock serve --store redis://... (state in one Redis)"),
    ServerKind("prism", "{prism} mock {spec} -p {port}", ready=None, stateful=False,
               start_timeout=60.0,
               description=f"{PRISM_PACKAGE} mock, validation on, static examples"),
]}


def with_command(kind: ServerKind | None, name: str, command: str) -> ServerKind:
    """``kind`` started by ``command``; a new name is taken to be a variant of the mock, one
    that names {store} gets a redis-server."""
    base = kind or replace(SERVERS["mock"], description="")
    return replace(base, name=name, command=command, description=f"custom: {command}",
                   redis=base.redis or "{store}" in command)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _executable(name: str) -> str | None:
    """``name`` from this interpreter's venv first (it may not be on PATH), then from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def find_redis_server() -> str | None:
    """Debian's (or any) ``redis-server`` on PATH."""
    return shutil.which("redis-server")


def find_prism(timeout: float = 300.0) -> tuple[str | None, str]:
    """Prism's executable and how it was found, or None and why not.

    ``npx`` installs the package into its cache once (the first call may take a minute); the
    bench then runs Prism's own script, so start-up time and RSS are Prism's, not npm's.
    """
    installed = shutil.which("prism")
    if installed:
        return installed, "prism on PATH"
    if not shutil.which("npx"):
        return None, "neither prism nor npx (Node.js) is on PATH"
    try:
        found = subprocess.run(["npx", "--yes", "-p", PRISM_PACKAGE, "-c", "command -v prism"],
                               capture_output=True, text=True, timeout=timeout,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    except subprocess.TimeoutExpired:
        return None, f"npx did not fetch {PRISM_PACKAGE} within {timeout:.0f} s"
    path = found.stdout.strip().splitlines()[-1] if found.stdout.strip() else ""
    if found.returncode != 0 or not path:
        return None, f"npx could not get {PRISM_PACKAGE}: {found.stderr.strip()[-300:]}"
    return path, f"npx cache ({path})"


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    if not os.path.isdir("/proc"):  # not Linux: RssSampler reports no figure
        return [root]
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                # The command name may hold spaces and parentheses: fields start after the last ")".
                ppid = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def rss_bytes(pids: list[int]) -> int:
    """The summed VmRSS of ``pids`` (shared pages of forked workers count once per process)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


class RssSampler:
    """Samples the RSS of process trees in a thread; ``peak`` is the largest sum seen (bytes),
    or None without /proc."""

    def __init__(self, *roots: int, interval: float = 0.2) -> None:
        self.roots, self.interval = roots, interval
        self.peak: int | None = 0 if os.path.isdir("/proc") else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while self.peak is not None:
            pids = [pid for root in self.roots for pid in process_tree(root)]
            self.peak = max(self.peak, rss_bytes(pids))
            if self._stop.wait(self.interval):
                return


_RUNNING: set[RunningServer] = set()


def _has_quiet(code: Path) -> bool:
    """Whether the mock in ``code`` (maybe an older commit's) has serve --quiet."""
    cli = code / "mockserver" / "cli.py"
    return cli.exists() and '"--quiet"' in cli.read_text(encoding="utf-8")


class RunningServer:
    """One started server; use as a context manager so it is always stopped."""

    def __init__(self, kind: ServerKind, argv: list[str], port: int, log_path: Path,
                 extra_env: dict[str, str] | None = None) -> None:
        self.kind, self.argv, self.port, self.log_path = kind, argv, port, log_path
        self.base_url = f"http://127.0.0.1:{port}"
        self.startup_s: float | None = None
        # The user's CHATIMG_* settings would change the credentials the operations use.
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATIMG_")}
        # The code of the checkout the bench sits in (or the kind's source), whatever is
        # installed (gunicorn also puts its cwd first; `chatimg-mock` would not).
        code = kind.source or REPO
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
        env.update(extra_env or {})
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        self._log = open(log_path, "wb")
        self.spawned_at = time.perf_counter()
        try:
            self.process = subprocess.Popen(argv, cwd=code, env=env, stdin=subprocess.DEVNULL,
                                            stdout=self._log, stderr=subprocess.STDOUT,
                                            start_new_session=True, preexec_fn=die_with_parent)
        except OSError as exc:
            self._log.close()
            raise StartError(f"cannot run {argv[0]}: {exc.strerror}") from None
        _RUNNING.add(self)

    @classmethod
    def start(cls, kind: ServerKind, log_dir: Path, label: str, spec: str,
              prism: str | None, extra_env: dict[str, str] | None = None,
              store: str | None = None) -> RunningServer:
        port = free_port()
        fields = {"port": port, "repo": str(REPO), "spec": str(REPO / "specs" / f"{spec}.yaml"),
                  "prism": prism or "prism", "state_dir": str(log_dir / f"{label}-state"),
                  "quiet": "--quiet" if _has_quiet(kind.source or REPO) else "",
                  "store": store or ""}
        if "{state_dir}" in kind.command:
            Path(fields["state_dir"]).mkdir(parents=True, exist_ok=True)
        argv = [part.format(**fields) for part in shlex.split(kind.command)]
        argv = [part for part in argv if part]
        argv[0] = _executable(argv[0]) or argv[0]
        return cls(kind, argv, port, log_dir / f"{label}.log", extra_env)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_ready(self, probe: BenchRequest, timeout: float) -> float:
        """Seconds from spawn to the first 200 to ``probe``."""
        deadline = self.spawned_at + timeout
        with httpx.Client(base_url=self.base_url, timeout=1.0) as client:
            while True:
                if self.process.poll() is not None:
                    raise StartError(f"exited with {self.process.returncode} before answering 200"
                                     f"{self.log_tail()}")
                try:
                    reply = client.request(probe.method, probe.path, headers=probe.headers,
                                           content=probe.body or None)
                    if reply.status_code == 200:
                        self.startup_s = time.perf_counter() - self.spawned_at
                        return self.startup_s
                except httpx.TransportError:
                    pass
                if time.perf_counter() > deadline:
                    raise StartError(f"no 200 to {probe.method} {probe.path} within {timeout:g} s"
                                     f"{self.log_tail()}")
                time.sleep(0.02)

    def log_tail(self, lines: int = 12) -> str:
        """'; log FILE ends:' and the log's last lines, indented; '' for an empty log."""
        self._log.flush()
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        if not tail:
            return f" (log {self.log_path} is empty)"
        return f"; log {self.log_path} ends:\n" + "\n".join("    " + line for line in tail)

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL after 5 s; never raises."""
        try:
            if self.process.poll() is None:
                _signal_group(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            # Workers may outlive their parent: the group gets SIGKILL whatever the leader did.
            _signal_group(self.process.pid, signal.SIGKILL)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        finally:
            self._log.close()
            _RUNNING.discard(self)


def _answers_ping(port: int) -> bool:
    """Whether Redis on ``port`` answers PING (in its protocol's plainest form)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(7) == b"+PONG\r\n"
    except OSError:
        return False


class Deployment:
    """What one run of a kind starts: its server, or its replicas and the redis-server they
    share; use as a context manager so that all of it is always stopped."""

    REDIS_START_TIMEOUT = 10.0

    def __init__(self, kind: ServerKind) -> None:
        self.kind = kind
        self.redis: RunningServer | None = None
        self.replicas: list[RunningServer] = []

    @classmethod
    def start(cls, kind: ServerKind, log_dir: Path, label: str, spec: str,
              prism: str | None, extra_env: dict[str, str] | None = None) -> Deployment:
        deployment = cls(kind)
        try:
            store = deployment._start_redis(log_dir, label) if kind.redis else None
            for number in range(1, kind.replicas + 1):
                name = label if kind.replicas == 1 else f"{label}-{number}"
                deployment.replicas.append(
                    RunningServer.start(kind, log_dir, name, spec, prism, extra_env, store))
        except BaseException:
            deployment.stop()
            raise
        return deployment

    def _start_redis(self, log_dir: Path, label: str) -> str:
        """A redis-server on a free port, saving nothing, its folder under ``log_dir``: its URL."""
        program = find_redis_server()
        if program is None:
            raise StartError("redis-server is not on PATH")
        folder = log_dir / f"{label}-redis"
        folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        argv = [program, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(folder), "--daemonize", "no"]
        self.redis = RunningServer(self.kind, argv, port, log_dir / f"{label}-redis.log")
        deadline = time.perf_counter() + self.REDIS_START_TIMEOUT
        while not _answers_ping(port):
            if self.redis.process.poll() is not None or time.perf_counter() > deadline:
                raise StartError(f"redis-server did not answer PING on port {port}"
                                 f"{self.redis.log_tail()}")
            time.sleep(0.01)
        return f"redis://127.0.0.1:{port}/0"

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_urls(self) -> list[str]:
        return [replica.base_url for replica in self.replicas]

    @property
    def pids(self) -> list[int]:
        """The root of each process tree: the replicas', and the redis-server's."""
        servers = [*self.replicas, *([self.redis] if self.redis else [])]
        return [server.process.pid for server in servers]

    def wait_ready(self, probe: BenchRequest, timeout: float) -> float:
        """Seconds from the first spawn (the redis-server's, if any) to the last replica's
        first 200 to ``probe``."""
        ready_at = [replica.spawned_at + replica.wait_ready(probe, timeout)
                    for replica in self.replicas]
        return max(ready_at) - (self.redis or self.replicas[0]).spawned_at

    def stop(self) -> None:
        """The replicas, then the redis-server; never raises."""
        for server in [*self.replicas, *([self.redis] if self.redis else [])]:
            server.stop()


def _find_prctl():  # resolved in the parent: a forked child should run as little as possible
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _find_prctl()
_PR_SET_PDEATHSIG = 1
_SIGKILL = int(signal.SIGKILL)


def die_with_parent() -> None:
    """Linux: the child gets SIGKILL if the bench itself is killed (no finally runs then)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, _SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()


atexit.register(stop_all)
