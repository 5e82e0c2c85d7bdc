"""An SN restarted on its data keeps the address the other SNs know it by; another one is a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from sn.network import NetworkOptions, NetworkState, SNNetwork
from swarm_learning.errors import ConfigurationError
from tests.conftest import CertFactory


def network(data_dir: Path, swarm_ca: CertFactory, host_ip: str, p2p_port: int, given: bool) -> SNNetwork:
    return SNNetwork(NetworkOptions(
        data_dir=data_dir, identity=swarm_ca.identity("sn-1"), sentinel=False, sentinel_ip="10.0.0.1",
        sentinel_api_port=30304, host_ip=host_ip, p2p_port=p2p_port, p2p_port_given=given, bind="0.0.0.0",
        join_timeout=5.0,
    ))  # fmt: skip


@pytest.fixture
def restarted_data(tmp_path: Path) -> Path:
    """The data dir of an SN that was a member at 10.0.0.2:30303 (its etcd data is present)."""
    NetworkState("swarm-abc", "sn-1", "10.0.0.2", 30303, 20001).save(tmp_path / "network.json")
    (tmp_path / "etcd" / "data" / "member").mkdir(parents=True)
    return tmp_path


@pytest.mark.parametrize(
    ("host_ip", "p2p_port", "given"),
    [("10.0.0.9", 30303, False), ("10.0.0.2", 31000, True)],
    ids=["another host ip", "another p2p port"],
)
def test_a_restart_with_another_address_is_refused_naming_the_old_one(
    restarted_data: Path, swarm_ca: CertFactory, host_ip: str, p2p_port: int, given: bool
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        network(restarted_data, swarm_ca, host_ip, p2p_port, given).start()
    message = str(refused.value)
    assert "--host-ip 10.0.0.2 --sn-p2p-port 30303" in message and "empty data dir" in message
    assert NetworkState.load(restarted_data / "network.json") == NetworkState("swarm-abc", "sn-1", "10.0.0.2", 30303,
                                                                              20001)  # fmt: skip
