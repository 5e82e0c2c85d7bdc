"""Fixtures of the unit tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _callback_logs_reach_caplog(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The callback's default logger does not propagate to the root logger (no doubled lines in users' logs), so
    tests that read its records attach pytest's capture handler to it directly."""
    logger = logging.getLogger("SwarmCallback")
    logger.addHandler(caplog.handler)
    yield
    logger.removeHandler(caplog.handler)
