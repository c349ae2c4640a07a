"""The README's curl walk-through works as pasted, against ``python -m mockserver serve``."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _support import free_port, taken_port

README = Path(__file__).resolve().parents[1] / "README.md"


def walkthrough() -> str:
    match = re.search(r"## Walk-through with curl.*?```bash\n(.*?)```", README.read_text(), re.S)
    assert match, "README has no walk-through block"
    return match.group(1)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through uses curl")
def test_readme_walkthrough_prints_what_the_readme_says(tmp_path: Path) -> None:
    port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "mockserver", "serve", "--port", str(port)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = serve.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner
        script = walkthrough().replace("http://127.0.0.1:4010", f"http://127.0.0.1:{port}")
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    finally:
        serve.terminate()
        serve.wait(timeout=10)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert '{"ret":200,"msg":"操作成功","data":{"toWxid":"34757816141@chatroom"' in out
    assert '"width":400,"height":300' in out
    assert re.search(r"fileUrl answered 200, \d+ bytes", out)
    assert '{"ret":500,"msg":"header:X-GEWE-TOKEN 不可为空"}' in out
    assert '"code":"1000","data":"http://127.0.0.1:' in out
    assert '{"message":"失败: Authorization 无效或已过期","code":"1001","data":null}' in out
    assert "download answered 200, image/png" in out
    assert "downloaded bytes are the uploaded bytes" in out
    assert "HTTP/1.1 400 BAD REQUEST" in out and "X-Tt-Logid: " in out
    assert '{"code":234005,"msg":"Image has been deleted"' in out


def test_serve_refuses_a_port_in_use_with_a_clear_message() -> None:
    with taken_port() as port:
        run = subprocess.run([sys.executable, "-m", "mockserver", "serve", "--port", str(port)],
                             capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in run.stderr
    assert "Traceback" not in run.stderr


def test_readme_client_example_runs_against_the_served_mock() -> None:
    match = re.search(r"## Client library.*?```python\n(.*?)```", README.read_text(), re.S)
    assert match, "README has no client example"
    port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "mockserver", "serve", "--port", str(port)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        serve.stdout.readline()
        code = match.group(1).replace("http://127.0.0.1:4010", f"http://127.0.0.1:{port}")
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60)
    finally:
        serve.terminate()
        serve.wait(timeout=10)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    new_msg_id, width, md5 = lines[0].split()
    assert int(new_msg_id) > 2**53 and width == "400" and len(md5) == 32
    assert lines[1] == "NORMAL ['HD', 'NORMAL']"
    assert "/__files/" in lines[2]
    assert lines[3].startswith("234005 Image has been deleted ")
