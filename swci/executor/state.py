"""What an SWCI session remembers between commands: contexts, the current one, the directory, SN clients."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from swarm_learning.sn_client import SNClient
from swarm_learning.tls import TLSIdentity
from swci.errors import NoContext

log = logging.getLogger(__name__)

DEFAULT_SERVICE_PORT = 443
DEFAULT_CONTEXT = "default"
WAIT_ATTEMPT_SECONDS = 5.0  # WAIT FOR IP/SERVICE: one connection attempt every 5 s at most (the product's timeout)

Progress = Callable[[str], None]


@dataclass
class Context:
    """A named connection profile: the SN API server and context-specific environment variables."""

    name: str
    host: str
    port: int
    service: str | None = None  # as written in CREATE CONTEXT ... WITH SERVICE
    env: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def split_service(service: str) -> tuple[str, int]:
    """``api.sn-1.swarm[:port]`` -> (host, port); port 443 when absent (a reverse proxy's HTTPS port)."""
    host, sep, port = service.rpartition(":")
    if sep and host and port.isdigit():
        return host, int(port)
    return service, DEFAULT_SERVICE_PORT


class SessionState:
    """Contexts, the current context, EXIT ON FAILURE, the working directory and one SN client per context."""

    def __init__(self, identity: TLSIdentity, cwd: Path, sn_retry_seconds: float, progress: Progress | None) -> None:
        self.identity = identity
        self.cwd = cwd
        self.sn_retry_seconds = sn_retry_seconds
        self.progress = progress
        self.contexts: dict[str, Context] = {}
        self.current: str | None = None
        self.exit_on_failure = False
        self.wait_attempt_seconds = WAIT_ATTEMPT_SECONDS
        self.stopping = threading.Event()  # set by close(): ends SLEEP and waits early
        self._clients: dict[str, SNClient] = {}
        self._registered: set[str] = set()

    # ------------------------------------------------------------------------------------------- contexts

    def add_context(self, context: Context) -> None:
        """Create or replace a context (a replaced context's SN client is closed)."""
        old = self._clients.pop(context.name, None)
        if old is not None:
            old.close()
        self.contexts[context.name] = context

    def context(self, name: str | None = None) -> Context:
        """The named context, or the current one when ``name`` is None."""
        if name is None:
            if self.current is None:
                raise NoContext(
                    "no current context: CREATE CONTEXT <name> WITH IP <ip> and SWITCH CONTEXT <name> first"
                )
            name = self.current
        found = self.contexts.get(name)
        if found is None:
            known = ", ".join(sorted(self.contexts)) or "none yet"
            raise NoContext(f"no context named {name!r} (contexts: {known})")
        return found

    def env(self, name: str) -> str | None:
        """A setting: the current context's environment variable, else the process environment."""
        context = self.contexts.get(self.current) if self.current is not None else None
        if context is not None and name in context.env:
            return context.env[name]
        return os.environ.get(name)

    # ------------------------------------------------------------------------------------------ SN access

    def new_client(self, host: str, port: int) -> SNClient:
        return SNClient(host, port, self.identity, retry_seconds=self.sn_retry_seconds, failover_after=3600.0)

    def sn(self) -> SNClient:
        """The SN client of the current context (created on first use)."""
        context = self.context()
        client = self._clients.get(context.name)
        if client is None:
            client = self.new_client(context.host, context.port)
            self._clients[context.name] = client
        return client

    def sn_for_writing(self) -> SNClient:
        """The current context's SN client, after registering this SWCI there as a ``swci`` node (once per SN).

        The training contract only lets registered nodes create contracts; the registration also names the SWCI
        in the chain's history. LIST NODES leaves SWCI rows out.
        """
        client = self.sn()
        context = self.context()
        if context.address not in self._registered:
            log.info("registering this SWCI at the SN API server %s", context.address)
            client.register("swci", socket.gethostname() or "swci", 0)
            self._registered.add(context.address)
        return client

    def close(self) -> None:
        self.stopping.set()
        for client in self._clients.values():
            client.close()
        self._clients.clear()
