"""Validated configuration of an SN node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from swarm_learning.errors import ConfigurationError
from swarm_learning.identity_options import load_identity
from swarm_learning.tls import TLSIdentity


class SNConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    identity: TLSIdentity
    sentinel: bool
    sentinel_ip: str | None
    sentinel_api_port: int
    host_ip: str
    api_port: int
    p2p_port: int
    bind: str
    data_dir: Path
    port_file: Path | None

    @classmethod
    def from_cli(cls, o: dict[str, Any]) -> SNConfig:
        if not o["sentinel"] and not o["sentinel_ip"]:
            raise ConfigurationError("give --sentinel to start a new swarm network, or --sentinel-ip to join one")
        if not o["sentinel"]:
            raise ConfigurationError(
                "joining an existing swarm network (--sentinel-ip) is not available in this release yet; "
                "start this SN with --sentinel"
            )
        return cls(
            identity=load_identity(o["cert"], o["key"], o["capath"], o["cacert"]),
            sentinel=bool(o["sentinel"]),
            sentinel_ip=o["sentinel_ip"],
            sentinel_api_port=o["sentinel_api_port"],
            host_ip=o["host_ip"],
            api_port=o["sn_api_port"],
            p2p_port=o["sn_p2p_port"],
            bind=o["bind"],
            data_dir=Path(o["data_dir"]),
            port_file=o["port_file"],
        )
