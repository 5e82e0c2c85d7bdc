"""Start-up of the license server: open the store, install licenses given at start, serve HTTPS.

TLS asks every client for a certificate but lets a browser in without one (``CERT_OPTIONAL``); a presented
certificate must chain to the swarm's CA. Which routes then demand the certificate is decided by ``licensing.auth``.
"""

from __future__ import annotations

import dataclasses
import logging
import ssl
import time
from collections.abc import Callable
from pathlib import Path

from licensing.app import create_app
from licensing.config import LicenseServerConfig
from licensing.errors import LicensingError
from licensing.keys import TrustedIssuers
from licensing.store import LicenseStore
from swarm_learning.https import BackgroundServer, uvicorn_config
from swarm_learning.process import stop_event, write_port_file
from swarm_learning.tls import TLSIdentity

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class _ClientCertificateOptional(TLSIdentity):
    def server_context(self) -> ssl.SSLContext:
        context = super().server_context()
        context.verify_mode = ssl.CERT_OPTIONAL
        return context


def optional_client_certificate(identity: TLSIdentity) -> TLSIdentity:
    """The same identity, whose server context lets clients without a certificate connect."""
    fields = {f.name: getattr(identity, f.name) for f in dataclasses.fields(identity)}
    return _ClientCertificateOptional(**fields)


def _read_license(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LicensingError(f"license file {path} cannot be read: {exc.strerror or exc}") from exc


class LicenseServer:
    """A license server on a background thread (``run_license_server`` runs one until SIGTERM)."""

    def __init__(self, config: LicenseServerConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        trusted = TrustedIssuers.from_files(config.trusted_issuers)
        self.store = LicenseStore(config.data_dir, trusted, lease_ttl=config.lease_ttl, clock=clock)
        try:
            for path in config.licenses:
                installed = self.store.install(_read_license(path))
                log.info("license %s from %s is installed", installed.signed.id, path)
        except BaseException:
            self.store.close()
            raise
        app = create_app(self.store, config.admin, clock)
        self._server = BackgroundServer(
            uvicorn_config(app, optional_client_certificate(config.identity), config.bind, config.port)
        )

    def start(self) -> LicenseServer:
        self._server.start()
        seats = {k: s.total for k, s in self.store.seats().items()}
        log.info(
            "License server %s listening on %s:%s (lease TTL %g s, trusted issuers %s, seats %s)",
            self.config.identity.name,
            self.config.bind,
            self.port,
            self.config.lease_ttl,
            ", ".join(self.store.trusted),
            seats,
        )
        return self

    @property
    def port(self) -> int:
        return self._server.port

    def stop(self) -> None:
        self._server.stop()
        self.store.close()


def run_license_server(config: LicenseServerConfig) -> None:
    stop = stop_event()
    server = LicenseServer(config).start()
    try:
        write_port_file(config.port_file, server.port)
        stop.wait()
        log.info("Stopping the license server")
    finally:
        server.stop()
