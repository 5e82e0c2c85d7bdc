"""Validated configuration of an SL node (options as the product's ``run-sl``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from licensing.address import AplsAddress
from sl.settings import SLSettings
from swarm_learning.errors import ConfigurationError
from swarm_learning.identity_options import load_identity
from swarm_learning.tls import TLSIdentity

MAX_UNIX_SOCKET_PATH = 107


class SLConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    identity: TLSIdentity
    apls: AplsAddress | None = None  # the license server; None: run without one
    host_ip: str
    sn_ip: str
    sn_api_port: int
    fs_port: int
    bind: str
    socket: Path
    data_dir: Path
    port_file: Path | None
    linger_s: float
    settings: SLSettings

    @classmethod
    def from_cli(cls, o: dict[str, Any]) -> SLConfig:
        socket = Path(o["socket"]).absolute()
        if len(str(socket)) > MAX_UNIX_SOCKET_PATH:
            raise ConfigurationError(
                f"socket path {socket} is {len(str(socket))} characters; Unix sockets allow at most "
                f"{MAX_UNIX_SOCKET_PATH}: choose a shorter --socket (or SWARM_SL_SOCKET)"
            )
        return cls(
            identity=load_identity(o["cert"], o["key"], o["capath"], o["cacert"]),
            apls=AplsAddress.from_options(**o),
            host_ip=o["host_ip"],
            sn_ip=o["sn_ip"],
            sn_api_port=o["sn_api_port"],
            fs_port=o["sl_fs_port"],
            bind=o["bind"],
            socket=socket,
            data_dir=Path(o["data_dir"]).absolute(),
            port_file=o["port_file"],
            linger_s=o["linger"],
            settings=SLSettings.from_env(),
        )
