"""Serving a FastAPI app over mutual TLS with uvicorn, and reading who the client is.

uvicorn verifies the client certificate (the SSL context requires one) but does not pass it to the app. The
protocol class below reads the verified peer certificate once per connection, right after the handshake, and puts
what it says into the ASGI scope's ``state``: ``request.state.peer_identity`` (its name), ``peer_role`` (a
``swarm_learning.roles.Role`` or None), ``peer`` (a ``roles.Peer``: the name with its role, what
``roles.EndpointPolicy`` checks) and ``peer_certificate`` (serial and issuer).

Every request is checked against the revocation lists found beside the server's trust anchors
(``swarm_learning.revocation``): a revoked certificate's next request is answered 403, even on a kept-alive
connection, without restarting the server.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from cryptography import x509
from fastapi import HTTPException, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from swarm_learning.errors import CertificateRevoked, IdentityError, NetworkError
from swarm_learning.revocation import RevocationList
from swarm_learning.roles import Peer, Role, read_role
from swarm_learning.tls import TLSIdentity, identity_of

log = logging.getLogger(__name__)
# How long a server keeps an idle keep-alive connection open. Clients of our servers drop idle pooled connections
# sooner (httpx's default is 5 s), so a request never goes out on a connection the server is just closing.
KEEP_ALIVE_S = 30


@dataclass(frozen=True)
class PeerCertificate:
    """What a server keeps of a client's verified certificate for the connection's lifetime."""

    identity: str | None
    role: Role | None
    why_no_role: str
    serial: int
    issuer: x509.Name
    subject: str

    @classmethod
    def from_der(cls, der: bytes) -> PeerCertificate:
        cert = x509.load_der_x509_certificate(der)
        try:
            identity: str | None = identity_of(cert)
        except IdentityError:
            identity = None
        reading = read_role(cert)
        return cls(
            identity, reading.role, reading.why_not, cert.serial_number, cert.issuer, cert.subject.rfc4514_string()
        )

    @property
    def name(self) -> str:
        return self.identity or self.subject or f"serial {self.serial:X}"

    @property
    def peer(self) -> Peer:
        return Peer(self.name, self.role, self.why_no_role)


class MutualTLSH11Protocol(H11Protocol):
    """h11 protocol that exposes the verified client certificate's identity and role to the app."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        cert = PeerCertificate.from_der(der) if der else None
        self.app_state = dict(self.app_state)
        self.app_state["peer_certificate"] = cert
        self.app_state["peer_identity"] = cert.identity if cert else None
        self.app_state["peer_role"] = cert.role if cert else None
        self.app_state["peer"] = cert.peer if cert else None
        super().connection_made(transport)


class RevocationGuard:
    """ASGI middleware: answers 403 to every request whose client certificate is on one of the CRLs."""

    def __init__(self, app: ASGIApp, revocations: RevocationList) -> None:
        self.app = app
        self.revocations = revocations

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cert = scope.get("state", {}).get("peer_certificate") if scope["type"] == "http" else None
        if isinstance(cert, PeerCertificate):
            revoked = self.revocations.lookup(cert.issuer, cert.serial)
            if revoked is not None:
                refusal = CertificateRevoked(revoked.message(cert.name))
                log.warning("refused %s %s: %s", scope.get("method"), scope.get("path"), refusal)
                response = JSONResponse(status_code=403, content={"code": refusal.code, "message": str(refusal)})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def peer_identity(request: Request) -> str:
    """FastAPI dependency: the identity of the caller, from its verified client certificate."""
    identity = getattr(request.state, "peer_identity", None)
    if not identity:
        raise HTTPException(status_code=401, detail="a client certificate of the swarm's CA is required")
    return str(identity)


def uvicorn_config(app: Any, identity: TLSIdentity, host: str, port: int, **kwargs: Any) -> uvicorn.Config:
    """uvicorn settings for ``app`` over mutual TLS with ``identity``, refusing revoked client certificates."""
    context = identity.server_context()
    app = RevocationGuard(app, identity.revocation_list())

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
        timeout_keep_alive=KEEP_ALIVE_S,
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
