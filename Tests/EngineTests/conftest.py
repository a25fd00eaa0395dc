"""Puts Sources/ReelfarmEngines on sys.path and keeps every test on one thread (the machine is shared)."""

import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENGINES = os.path.join(ROOT, "Sources", "ReelfarmEngines")
if ENGINES not in sys.path:
    sys.path.insert(0, ENGINES)


@pytest.fixture(autouse=True)
def one_thread():
    import torch
    torch.set_num_threads(1)
    yield
