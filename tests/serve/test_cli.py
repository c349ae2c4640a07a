"""``chatimg-mock`` and ``chatimg-contract`` as a user runs them: one clear line and exit 2 for
what cannot be served, where state lives, the request log, --version and --help."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _support import (
    GEWE_APP_ID,
    GEWE_HEADERS,
    Running,
    assert_refused_in_one_line,
    free_port,
    mock,
    taken_port,
)

GEWE_BODY = {"appId": GEWE_APP_ID, "toWxid": "wxid_friend01",
             "imgUrl": "http://dummyimage.com/40x30"}
@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for server in started:
        server.stop()


# --- refusals: one line, exit 2 ------------------------------------------------------------

@pytest.mark.parametrize("port", ["99999", "-1", "65536"])
def test_a_port_out_of_range_is_one_line(port: str) -> None:
    assert_refused_in_one_line(mock("serve", "--port", port), "--port must be a port number")


@pytest.mark.parametrize("threads", [[], ["--threads", "1"]], ids=["gunicorn", "werkzeug"])
def test_a_port_in_use_is_said_once(threads: list[str]) -> None:
    with taken_port() as port:
        run = mock("serve", "--port", str(port), *threads)
    assert_refused_in_one_line(run, f"cannot listen on 127.0.0.1:{port}: Address already in use")


def test_a_state_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("not a folder")
    assert_refused_in_one_line(mock("serve", "--state-dir", str(tmp_path / "state")),
                               f"cannot keep state in {tmp_path / 'state'}: Not a directory")


def test_a_state_dir_below_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    state = tmp_path / "file" / "state"
    assert_refused_in_one_line(mock("serve", "--state-dir", str(state)),
                               f"cannot keep state in {state}: Not a directory")


def test_a_read_only_state_dir_is_one_line(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o500)
    assert_refused_in_one_line(mock("serve", "--state-dir", str(state), as_a_user=True),
                               f"cannot keep state in {state}: Permission denied")


def test_a_state_dir_in_a_read_only_parent_is_one_line(tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    parent.mkdir(mode=0o500)
    assert_refused_in_one_line(
        mock("serve", "--state-dir", str(parent / "state"), as_a_user=True),
        f"cannot keep state in {parent / 'state'}: Permission denied")


def test_a_read_only_database_is_one_line(tmp_path: Path) -> None:
    from mockserver.storage.sqlite import SqliteStore

    SqliteStore(tmp_path).close()  # a state folder as a run leaves it
    (tmp_path / "state.sqlite3").chmod(0o444)
    assert_refused_in_one_line(mock("serve", "--state-dir", str(tmp_path), as_a_user=True),
                               f"cannot keep state in {tmp_path}: attempt to write a readonly")


def test_a_file_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "state.sqlite3").write_text("these are notes, not a database")
    assert_refused_in_one_line(mock("serve", "--state-dir", str(tmp_path)),
                               f"cannot keep state in {tmp_path}: file is not a database")


# --- where state lives ------------------------------------------------------------------

def test_the_start_up_lines_say_state_is_in_memory_by_default(running: list[Running]) -> None:
    running.append(server := Running())
    assert server.banner == [f"chatimg mock serving on {server.url}",
                             "state: in memory, gone at exit (--state-dir keeps it)"]


def test_the_start_up_lines_say_where_state_is_kept(running: list[Running],
                                                    tmp_path: Path) -> None:
    running.append(server := Running("--state-dir", str(tmp_path)))
    assert server.banner[1] == f"state: kept in {tmp_path}"


def test_workers_without_a_state_dir_share_a_private_folder_removed_at_exit(
        running: list[Running]) -> None:
    first, second = Running("--workers", "2"), Running("--workers", "2")
    running.extend([first, second])
    folders = []
    for server in first, second:
        match = re.fullmatch(r"state: in (.+), removed at exit \(--state-dir keeps it\)",
                             server.banner[1])
        assert match, server.banner
        folders.append(Path(match[1]))
    assert folders[0] != folders[1] and all(folder.is_dir() for folder in folders)

    posted = httpx.post(first.url + "/gewe/v2/api/message/postImage", json=GEWE_BODY,
                        headers=GEWE_HEADERS)
    assert posted.json()["ret"] == 200
    assert len(httpx.get(first.url + "/__admin/images").json()["images"]) == 1
    httpx.post(second.url + "/__admin/reset")  # another instance's reset
    assert len(httpx.get(first.url + "/__admin/images").json()["images"]) == 1

    pid = first.process.pid
    worker = max(map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split()))
    os.kill(worker, signal.SIGTERM)  # gunicorn starts another; the folder stays theirs
    time.sleep(1)
    assert folders[0].is_dir()
    assert len(httpx.get(first.url + "/__admin/images").json()["images"]) == 1

    first.stop()
    running.remove(first)
    assert not folders[0].exists()


# --- the request log ------------------------------------------------------------------------

def test_each_call_is_a_line_with_method_path_status_code_and_ms(running: list[Running]) -> None:
    running.append(server := Running())
    httpx.post(server.url + "/gewe/v2/api/message/postImage", json=GEWE_BODY,
               headers=GEWE_HEADERS)
    httpx.get(server.url + "/open-apis/im/v1/images/img_v3_x")
    lines = [server.line() for _ in range(2)]
    assert re.fullmatch(r"\d\d:\d\d:\d\d POST /gewe/v2/api/message/postImage 200 code=200 "
                        r"\d+\.\d ms", lines[0]), lines
    assert re.fullmatch(r"\d\d:\d\d:\d\d GET /open-apis/im/v1/images/img_v3_x 400 "
                        r"code=99991661 \d+\.\d ms", lines[1]), lines


def test_quiet_keeps_the_console_to_the_start_up_lines(tmp_path: Path) -> None:
    port = free_port()
    with open(tmp_path / "out", "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "mockserver", "serve", "--quiet",
                                    "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while "credentials" not in (tmp_path / "out").read_text():
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert httpx.get(f"http://127.0.0.1:{port}/__admin/clock").status_code == 200
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert "/__admin/clock" not in (tmp_path / "out").read_text()


# --- --version and --help ----------------------------------------------------------------

@pytest.mark.parametrize("module", ["mockserver", "contract_tests"])
def test_version_names_the_kits_version(module: str) -> None:
    from mockserver.data_files import kit_version

    run = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0
    assert run.stdout.strip().endswith(f" {kit_version()}")


@pytest.mark.parametrize("command", [["mockserver", "--help"], ["mockserver", "serve", "--help"],
                                     ["contract_tests", "--help"]])
def test_help_names_the_environment_variables(command: list[str]) -> None:
    run = subprocess.run([sys.executable, "-m", *command], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0
    for name in ("CHATIMG_CONFIG", "CHATIMG_GEWE_TOKEN", "CHATIMG_LARK_APP_SECRET",
                 "CHATIMG_ADMIN_TOKEN"):
        assert name in run.stdout
