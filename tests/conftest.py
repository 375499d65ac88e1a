"""Shared test set-up.

Integration tests use real system parts. Where one is missing they skip with a reason that
names the Debian package; when ``KINDPULSE_REQUIRE_INTEGRATION=1`` (set by the test script
when it runs as root, as CI does) such a skip is turned into a failure, so nothing passes
by being left out.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def require_integration() -> bool:
    return os.environ.get("KINDPULSE_REQUIRE_INTEGRATION") == "1"


def need_program(program: str, package: str) -> str:
    """Path of ``program``; skip (or fail, when integration is required) if missing."""
    path = shutil.which(program)
    if path is None:
        message = f"needs '{program}' (Debian package {package})"
        if require_integration():
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.skipped and require_integration() and item.get_closest_marker("integration"):
        report.outcome = "failed"
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"integration test skipped while integration is required: {reason}"


@pytest.fixture
def data_dir() -> Path:
    return DATA
