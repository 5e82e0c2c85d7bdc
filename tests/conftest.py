"""Shared fixtures: a throwaway swarm CA (session scoped) and a foreign CA whose certificates must be refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from certs.gen_cert import CertPaths, issue
from swarm_learning.tls import TLSIdentity


class CertFactory:
    def __init__(self, folder: Path, host_index: int = 1) -> None:
        self.folder = folder
        self.host_index = host_index
        self._issued: dict[str, CertPaths] = {}

    def paths(self, name: str, **kwargs: object) -> CertPaths:
        if name not in self._issued or kwargs:
            self._issued[name] = issue(self.folder, name, host_index=self.host_index, **kwargs)  # type: ignore[arg-type]
        return self._issued[name]

    def identity(self, name: str) -> TLSIdentity:
        p = self.paths(name)
        return TLSIdentity.from_options(p.cert, p.key, p.capath)

    @property
    def capath(self) -> Path:
        return self.folder / "ca" / "capath"


@pytest.fixture(scope="session")
def swarm_ca(tmp_path_factory: pytest.TempPathFactory) -> CertFactory:
    return CertFactory(tmp_path_factory.mktemp("swarm-ca"), host_index=1)


@pytest.fixture(scope="session")
def foreign_ca(tmp_path_factory: pytest.TempPathFactory) -> CertFactory:
    return CertFactory(tmp_path_factory.mktemp("foreign-ca"), host_index=9)


@pytest.fixture
def identity_args(swarm_ca: CertFactory) -> Callable[[str], list[str]]:
    def args(name: str) -> list[str]:
        p = swarm_ca.paths(name)
        return ["--cert", str(p.cert), "--key", str(p.key), "--capath", str(p.capath)]

    return args
