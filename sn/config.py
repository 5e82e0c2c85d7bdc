"""Validated configuration of an SN node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from licensing.address import AplsAddress
from swarm_learning.errors import ConfigurationError
from swarm_learning.identity_options import load_identity
from swarm_learning.tls import TLSIdentity


class SNConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    identity: TLSIdentity
    apls: AplsAddress | None = None  # the license server; None: run without one
    sentinel: bool
    sentinel_ip: str | None
    sentinel_api_port: int
    host_ip: str
    api_port: int
    p2p_port: int
    p2p_port_given: bool = False  # False: the default p2p port; a new network may then use another free one
    join_timeout: float = 120.0
    bind: str
    data_dir: Path
    port_file: Path | None
    eth_rpc_url: str | None = None
    eth_operator_key_file: Path | None = None
    eth_chain_id: int | None = None
    eth_contract_address: str | None = None
    eth_max_fee_gwei: float | None = None

    @property
    def external_chain(self) -> bool:
        return self.eth_rpc_url is not None

    @classmethod
    def from_cli(cls, o: dict[str, Any]) -> SNConfig:
        if o.get("eth_rpc_url") and not o.get("eth_operator_key_file"):
            raise ConfigurationError("--eth-rpc-url needs --eth-operator-key-file (a funded account's hex private key)")
        if not o["sentinel"] and not o["sentinel_ip"] and not o.get("eth_rpc_url"):
            raise ConfigurationError("give --sentinel to start a new swarm network, or --sentinel-ip to join one")
        if o.get("join_timeout", 1.0) <= 0:
            raise ConfigurationError("--join-timeout must be a positive number of seconds")
        return cls(
            identity=load_identity(o["cert"], o["key"], o["capath"], o["cacert"]),
            apls=AplsAddress.from_options(**o),
            sentinel=bool(o["sentinel"]),
            sentinel_ip=o["sentinel_ip"],
            sentinel_api_port=o["sentinel_api_port"],
            host_ip=o["host_ip"],
            api_port=o["sn_api_port"],
            p2p_port=o["sn_p2p_port"],
            p2p_port_given=bool(o.get("p2p_port_given", False)),
            join_timeout=float(o.get("join_timeout", 120.0)),
            bind=o["bind"],
            data_dir=Path(o["data_dir"]),
            port_file=o["port_file"],
            eth_rpc_url=o.get("eth_rpc_url"),
            eth_operator_key_file=o.get("eth_operator_key_file"),
            eth_chain_id=o.get("eth_chain_id"),
            eth_contract_address=o.get("eth_contract_address"),
            eth_max_fee_gwei=o.get("eth_max_fee_gwei"),
        )
