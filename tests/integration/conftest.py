"""Fixtures of the integration tests that need a real Docker engine: one per test session, prepared in the
background from the session's start (``tests/conftest.py``, ``docker_engine.py``)."""

from __future__ import annotations

import pytest

from tests.conftest import ENGINE_SUPPLY
from tests.integration.docker_engine import Engine, EngineSupply


def _supply(config: pytest.Config) -> EngineSupply:
    supply = config.stash.get(ENGINE_SUPPLY, None)
    assert supply is not None, (
        "tests using the Docker engine must be recognised at collection (docker_engine.needs_docker)"
    )
    return supply


@pytest.fixture(scope="session")
def engine(pytestconfig: pytest.Config) -> Engine:
    return _supply(pytestconfig).engine()


@pytest.fixture(scope="session")
def swarm_images(pytestconfig: pytest.Config) -> Engine:
    """The engine, holding the images the tests run: runtime, sn, sl and ml-pytorch of this version."""
    supply = _supply(pytestconfig)
    engine = supply.images()
    if supply.build_seconds:
        print(f"[docker] base and images were ready {supply.build_seconds:.0f} s after the session started", flush=True)
    return engine
