"""Serving a FastAPI app over mutual TLS with uvicorn, and reading who the client is.

uvicorn verifies the client certificate (the SSL context requires one) but does not pass it to the app. The
protocol class below reads the verified peer certificate once per connection, right after the handshake, and puts
its identity into the ASGI scope's ``state`` (``request.state.peer_identity``).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import HTTPException, Request
from uvicorn.protocols.http.h11_impl import H11Protocol

from swarm_learning.errors import NetworkError
from swarm_learning.tls import TLSIdentity, identity_from_der

log = logging.getLogger(__name__)


class MutualTLSH11Protocol(H11Protocol):
    """h11 protocol that exposes the verified client certificate's identity to the app."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        self.app_state = dict(self.app_state)
        self.app_state["peer_identity"] = identity_from_der(der) if der else None
        super().connection_made(transport)


def peer_identity(request: Request) -> str:
    """FastAPI dependency: the identity of the caller, from its verified client certificate."""
    identity = getattr(request.state, "peer_identity", None)
    if not identity:
        raise HTTPException(status_code=401, detail="a client certificate of the swarm's CA is required")
    return str(identity)


def uvicorn_config(app: Any, identity: TLSIdentity, host: str, port: int, **kwargs: Any) -> uvicorn.Config:
    context = identity.server_context()

    def factory(_config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return context

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=MutualTLSH11Protocol,
        ssl_context_factory=factory,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=2,
        **kwargs,
    )


class BackgroundServer:
    """A uvicorn server on its own thread; ``port`` is the bound port (bind 0 to let the OS choose)."""

    def __init__(self, config: uvicorn.Config) -> None:
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"https-{config.port}", daemon=True)

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        self._thread.start()
        started = threading.Event()

        def watch() -> None:
            while self._thread.is_alive() and not self._server.started:
                self._thread.join(0.02)
            started.set()

        threading.Thread(target=watch, daemon=True).start()
        if not started.wait(timeout) or not self._server.started:
            raise NetworkError(f"HTTPS server on {self._server.config.host}:{self._server.config.port} did not start")
        return self

    @property
    def port(self) -> int:
        for server in self._server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise NetworkError("server has no listening socket")

    def stop(self, timeout: float = 10.0) -> None:
        # peers' idle keep-alive connections outlive the short graceful period; uvicorn reports that as an ERROR
        # although nothing is lost, so it is muted while stopping
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        self._server.should_exit = True
        self._thread.join(timeout)
