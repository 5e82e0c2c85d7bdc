"""Fixtures of the integration tests that need a real Docker engine (one per test session, see docker_engine.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.docker_engine import Engine, docker_engine, ensure_images


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with docker_engine(tmp_path_factory.mktemp("docker-engine")) as started:
        yield started


@pytest.fixture(scope="session")
def swarm_images(engine: Engine) -> Engine:
    """The engine, holding the images the tests run: runtime, sn, sl and ml-pytorch of this version."""
    ensure_images(engine)
    return engine
