"""Benchmark harness of the mock: ``python bench/run.py`` (see bench/README.md).

Not shipped in the wheel and not part of CI; it needs ``wrk`` and ``gunicorn``.
"""
