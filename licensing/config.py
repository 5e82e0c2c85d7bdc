"""Validated configuration of a license server."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from licensing.auth import AdminLogin
from licensing.store import DEFAULT_LEASE_TTL
from swarm_learning.tls import TLSIdentity

DEFAULT_PORT = 5814


class LicenseServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    identity: TLSIdentity
    data_dir: Path
    trusted_issuers: tuple[Path, ...] = Field(min_length=1)
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    bind: str = "0.0.0.0"
    lease_ttl: float = Field(default=DEFAULT_LEASE_TTL, gt=0)
    admin: AdminLogin = AdminLogin()
    licenses: tuple[Path, ...] = ()  # installed at start (already installed: nothing happens)
    port_file: Path | None = None
