"""A peer's weights arrive even when a connection to its file server drops once; a peer that keeps dropping them is
named in a clear error after a bounded number of attempts, and nothing half-written is left behind."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sl.file_server import WeightsFetcher, create_file_app
from swarm_learning.errors import NetworkError, WeightsError
from swarm_learning.https import BackgroundServer, uvicorn_config
from tests.conftest import CertFactory


class DroppingProxy:
    """A TCP relay in front of a server that closes the first ``drops`` connections as soon as the client speaks.

    The client sees its connection end without an answer, as it does when a peer restarts its file server or closes
    a pooled keep-alive connection just as a request goes out on it.
    """

    def __init__(self, upstream_port: int, drops: int) -> None:
        self.upstream_port = upstream_port
        self.drops_left = drops
        self.dropped = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.drops_left > 0:
                self.drops_left -= 1
                self.dropped += 1
                client.recv(65536)  # the client hello arrives, then the connection ends
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._listener.close()


@dataclass(frozen=True)
class PeerWeights:
    """A peer's file server on loopback, serving one 1 MiB weights file."""

    port: int
    name: str
    digest: str


@pytest.fixture
def peer(tmp_path: Path, swarm_ca: CertFactory) -> Iterator[PeerWeights]:
    folder = tmp_path / "peer-fs"
    folder.mkdir()
    payload = bytes(range(256)) * 4096
    (folder / "merged-t-r2.safetensors").write_bytes(payload)
    server = BackgroundServer(uvicorn_config(create_file_app(folder), swarm_ca.identity("sl-2"), "127.0.0.1", 0))
    server.start()
    try:
        yield PeerWeights(server.port, "merged-t-r2.safetensors", hashlib.sha256(payload).hexdigest())
    finally:
        server.stop()


@pytest.fixture
def fetcher_of(swarm_ca: CertFactory) -> Iterator[Callable[..., WeightsFetcher]]:
    """Makes ``sl-1``'s fetchers (quick back-off); closes them at the end."""
    made: list[WeightsFetcher] = []

    def make(**kwargs: Any) -> WeightsFetcher:
        made.append(WeightsFetcher(swarm_ca.identity("sl-1"), backoff_s=0.01, **kwargs))
        return made[-1]

    yield make
    for fetcher in made:
        fetcher.close()


@pytest.fixture
def proxy_to(peer: PeerWeights) -> Iterator[Callable[[int], DroppingProxy]]:
    made: list[DroppingProxy] = []

    def make(drops: int) -> DroppingProxy:
        made.append(DroppingProxy(peer.port, drops))
        return made[-1]

    yield make
    for proxy in made:
        proxy.close()


def test_a_download_survives_a_connection_the_peer_drops_without_answering(
    peer: PeerWeights, proxy_to: Callable[[int], DroppingProxy], fetcher_of: Callable[..., WeightsFetcher],
    tmp_path: Path,
) -> None:  # fmt: skip
    proxy = proxy_to(2)
    dest = tmp_path / "in" / peer.name
    got = fetcher_of().fetch(f"https://127.0.0.1:{proxy.port}/weights/{peer.name}", dest, peer.digest)
    assert got == peer.digest
    assert proxy.dropped == 2
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == peer.digest


def test_a_peer_that_keeps_dropping_connections_is_named_after_a_bounded_number_of_attempts(
    peer: PeerWeights, proxy_to: Callable[[int], DroppingProxy], fetcher_of: Callable[..., WeightsFetcher],
    tmp_path: Path,
) -> None:  # fmt: skip
    proxy = proxy_to(100)
    uri = f"https://127.0.0.1:{proxy.port}/weights/{peer.name}"
    with pytest.raises(NetworkError) as failure:
        fetcher_of(attempts=3).fetch(uri, tmp_path / "in" / peer.name, peer.digest)
    assert proxy.dropped == 3
    assert uri in str(failure.value) and "3 attempts" in str(failure.value)
    assert "peer SL is running" in str(failure.value)
    assert list((tmp_path / "in").iterdir()) == []


def test_a_file_that_does_not_match_the_digest_on_chain_is_refused_at_once(
    peer: PeerWeights, fetcher_of: Callable[..., WeightsFetcher], tmp_path: Path
) -> None:
    with pytest.raises(WeightsError, match="the chain records"):
        fetcher_of().fetch(f"https://127.0.0.1:{peer.port}/weights/{peer.name}", tmp_path / "in" / peer.name, "0" * 64)
    assert list((tmp_path / "in").iterdir()) == []
