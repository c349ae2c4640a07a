"""Light at import: the pytest plugin is imported by every pytest run of every project that
installs the kit, and a bot that only uses the client must not load a server. Each check runs
in a fresh interpreter, so what this session already imported does not count."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEAVY = ("flask", "werkzeug", "openapi_core", "PIL", "gunicorn", "hypothesis", "yaml")
EXTRA_LINE = "needs the mock extra: pip install 'chatimg-kit[mock]' (no module named 'flask')"


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("module", ["mockserver", "mockserver.testing.pytest_plugin",
                                    "chatimg", "mockserver.errors", "mockserver.cli"])
def test_importing_loads_no_server_library(module: str) -> None:
    result = run_python(f"""
        import sys, {module}
        print(",".join(name for name in {HEAVY!r} if name in sys.modules))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_package_still_exports_its_names_on_use() -> None:
    result = run_python("""
        import mockserver
        print(mockserver.MockConfig().port, mockserver.LiveServer.__name__,
              "create_app" in dir(mockserver))
    """)
    assert result.stdout.split() == ["4010", "LiveServer", "True"], result.stderr


def test_an_unknown_name_is_an_attribute_error() -> None:
    import mockserver

    with pytest.raises(AttributeError, match="no attribute 'create_ap'"):
        mockserver.create_ap  # noqa: B018


def without_flask(code: str) -> str:
    """``code`` run as if the mock extra were not installed (``import flask`` fails)."""
    return "import sys\nsys.modules['flask'] = None\n" + textwrap.dedent(code)


def test_serve_without_the_extra_is_one_line_naming_it() -> None:
    result = run_python(without_flask("""
        from mockserver.cli import main
        sys.exit(main(["serve", "--port", "0", "--quiet"]))
    """))
    assert result.returncode == 2
    assert result.stderr == f"chatimg-mock: serve {EXTRA_LINE}\n"


def test_the_fixture_without_the_extra_fails_with_one_line_naming_it(
        tmp_path: Path) -> None:
    test_file = tmp_path / "test_bot.py"
    test_file.write_text("def test_bot(chatimg_mock):\n    pass\n")
    result = run_python(without_flask("""
        import pytest
        sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", sys.argv[1]]))
    """), str(test_file))
    assert result.returncode == 1
    assert f"the chatimg_mock fixture {EXTRA_LINE}" in result.stdout
    assert "import of flask halted" not in result.stdout  # (no chained ImportError)
