"""The mock's configuration: defaults, then a YAML or JSON file, then ``CHATIMG_*`` variables.

A file or variable the mock cannot use is refused before anything starts, with one error that
names the file (or variable), and the place and value of every problem in it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver import ConfigError, LarkErrorOverride, MockConfig
from mockserver.config import check_port

README = Path(__file__).resolve().parents[2] / "README.md"
CHECKOUT = README.parent


def config_file(tmp_path: Path, text: str, name: str = "mock.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        MockConfig.load(path, env=env or {})
    return str(raised.value)


def test_unknown_keys_at_several_levels_are_reported_together(tmp_path: Path) -> None:
    path = config_file(tmp_path, "gewe:\n  tokenz: [t]\n"
                                 "lark:\n  apps:\n    - {app_id: a, app_secret: s, secret: s}\n")

    message = load_error(path)

    assert message.startswith(f"{path}: unknown settings: gewe.tokenz")
    assert "lark.apps[0].secret" in message


def test_unknown_key_names_the_close_known_setting(tmp_path: Path) -> None:
    path = config_file(tmp_path, "gewe:\n  tokenz: [t]\n")

    assert load_error(path) == f"{path}: unknown setting: gewe.tokenz (did you mean tokens?)"


def test_unknown_keys_that_are_not_strings_are_reported(tmp_path: Path) -> None:
    path = config_file(tmp_path, "1: one\nportt: 4010\n")

    assert load_error(path) == f"{path}: unknown settings: 1, portt (did you mean port?)"


def test_negative_ttl_is_refused_with_file_place_and_value(tmp_path: Path) -> None:
    path = config_file(tmp_path, "lark:\n  token_ttl_seconds: -1\n")

    assert load_error(path) == f"{path}: lark.token_ttl_seconds must be at least 0, not -1"


def test_nan_retry_delay_is_refused(tmp_path: Path) -> None:
    path = config_file(tmp_path, "delivery_retry_seconds: [1, .nan]\n")

    assert load_error(path) == (f"{path}: delivery_retry_seconds[1] must be a finite number, "
                                "not nan")


def test_infinite_whole_number_is_refused(tmp_path: Path) -> None:
    path = config_file(tmp_path, "gewe:\n  file_url_ttl_seconds: .inf\n")

    assert load_error(path) == (f"{path}: gewe.file_url_ttl_seconds must be a whole number, "
                                "not inf")


@pytest.mark.parametrize(("setting", "problem"), [
    ("port: 70000", "port must be a port number from 0 to 65535, not 70000"),
    ("max_body_bytes: 0", "max_body_bytes must be at least 1, not 0"),
    ("journal_limit: -1", "journal_limit must be at least 0, not -1"),
    ("lark: {rate_limit_per_minute: -5}", "lark.rate_limit_per_minute must be at least 0, not -5"),
    ("wid: {callback_timeout_seconds: .inf}",
     "wid.callback_timeout_seconds must be a finite number, not inf"),
    ("gewe: {tokens: []}", "gewe.tokens must list at least one"),
    ("wid: {data_shape: obj}", "wid.data_shape must be one of 'string', 'object', not 'obj'"),
    ("wid: {callback_format: newest}",
     "wid.callback_format must be one of 'old', 'new', not 'newest'"),
    ("public_url: localhost:4010",
     "public_url must be http(s)://host[:port], not 'localhost:4010'"),
])
def test_value_that_makes_no_sense_is_refused(tmp_path: Path, setting: str, problem: str) -> None:
    path = config_file(tmp_path, setting + "\n")

    assert load_error(path) == f"{path}: {problem}"


def test_all_problems_of_a_file_are_reported_in_one_line(tmp_path: Path) -> None:
    path = config_file(tmp_path, "portt: 1\nport: -1\nlark:\n  token_ttl_seconds: -1\n"
                                 "  apps: [{app_id: a}]\n")

    message = load_error(path)

    assert message == (f"{path}: unknown setting: portt (did you mean port?); "
                       "port must be a port number from 0 to 65535, not -1; "
                       "lark.token_ttl_seconds must be at least 0, not -1; "
                       "lark.apps[0].app_secret is missing")


@pytest.mark.parametrize("port", ["70000", "-1", "abc"])
def test_port_variable_out_of_range_is_refused_naming_it(port: str) -> None:
    with pytest.raises(ConfigError, match=f"^CHATIMG_PORT must be .*, not '?{port}'?$"):
        MockConfig.load(env={"CHATIMG_PORT": port})


def test_check_port_refuses_a_port_out_of_range_naming_its_source() -> None:
    with pytest.raises(ConfigError, match=r"^--port must be a port number from 0 to 65535, not 65536$"):
        check_port(65536, "--port")


@pytest.mark.parametrize("origin", ["http://mock.example.com", "https://[::1]:8443/"])
def test_public_url_that_is_an_origin_is_kept_as_written(tmp_path: Path, origin: str) -> None:
    path = config_file(tmp_path, f"public_url: '{origin}'\n")

    assert MockConfig.load(path, env={}).public_url == origin


def test_public_url_variable_that_is_no_origin_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"^CHATIMG_PUBLIC_URL must be http"):
        MockConfig.load(env={"CHATIMG_PUBLIC_URL": "ftp://files.example.com"})


def test_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = config_file(tmp_path, "port: 4010\ngewe:\n  tokens: [a\n")

    message = load_error(path)

    assert message.startswith(f"{path}: not valid YAML at line 4, column 1: ")
    assert "\n" not in message


def test_yaml_value_that_cannot_be_read_names_the_file(tmp_path: Path) -> None:
    path = config_file(tmp_path, "state_dir: 2024-13-01\n")

    assert load_error(path) == f"{path}: not valid YAML: month must be in 1..12"


def test_json_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = config_file(tmp_path, '{"port": 4010,\n "gewe": }\n', name="mock.json")

    assert load_error(path) == f"{path}: not valid JSON at line 2, column 10: Expecting value"


def test_file_that_is_not_utf8_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "mock.yaml"
    path.write_bytes(b"port: \xff\n")

    assert load_error(path) == f"{path}: not UTF-8 text"


def test_readme_configuration_example_loads_as_the_defaults_plus_its_override(
        tmp_path: Path) -> None:
    match = re.search(r"## Configuration\n.*?```yaml\n(.*?)```", README.read_text("utf-8"), re.S)
    assert match, "README has no configuration example"
    path = config_file(tmp_path, match.group(1))

    config = MockConfig.load(path, env={})

    defaults = MockConfig()
    assert config == dataclasses.replace(defaults, lark=dataclasses.replace(
        defaults.lark, error_overrides={99991663: LarkErrorOverride(status=401)}))


def serve_output(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m mockserver serve ...`` with no ``CHATIMG_*`` variables but ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHATIMG_")}
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "mockserver", "serve", *args],
                          env={**clean, **env}, capture_output=True, text=True, timeout=60)


def test_serve_with_a_bad_config_file_exits_2_with_one_line(tmp_path: Path) -> None:
    path = config_file(tmp_path, "gewe:\n  tokenz: [t]\nlark:\n  token_ttl_seconds: -1\n",
                       name="bad.yaml")

    run = serve_output(["--config", str(path), "--port", "0"], env={})

    assert run.returncode == 2
    assert run.stderr.startswith("chatimg-mock: ")
    assert run.stderr.count("\n") == 1
    assert "Traceback" not in run.stderr
    assert "bad.yaml" in run.stderr


def test_serve_with_port_variable_out_of_range_exits_2_with_one_line() -> None:
    run = serve_output([], env={"CHATIMG_PORT": "70000"})

    assert run.returncode == 2
    assert run.stderr == ("chatimg-mock: CHATIMG_PORT must be a port number from 0 to 65535, "
                          "not 70000\n")
