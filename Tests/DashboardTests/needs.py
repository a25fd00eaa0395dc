"""What the dashboard's tests share: finding the tools they need."""
from __future__ import annotations

import os

import pytest


def need(path: str | None, what: str) -> str:
    """`path` when it is an executable; otherwise the test is skipped, or fails under CI=true (where it must run)."""
    if path and os.access(path, os.X_OK):
        return path
    message = f"{what} is missing ({path or 'not found'})"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
