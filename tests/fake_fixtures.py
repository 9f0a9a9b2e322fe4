"""Pytest fixtures for the fake provider; import them into a conftest.

# tests/conftest.py
from tests.fake_fixtures import fake_provider  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.fake_provider import FakeProvider


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    """A fresh fake provider on a free port of 127.0.0.1, stopped after the test."""
    with FakeProvider() as fake:
        yield fake
