"""An SN process in external-chain mode (`--eth-rpc-url`) serves the same API over an anvil node."""

from __future__ import annotations

import sys
from pathlib import Path

from sn.chain.anvil import AnvilNode, dev_key
from swarm_learning.sn_client import SNClient
from tests.conftest import CertFactory
from tests.integration.harness import Daemon, spawn, wait_for_port_file


def test_sn_over_anvil_registers_nodes_and_runs_a_training_contract(tmp_path: Path, swarm_ca: CertFactory) -> None:
    key_file = tmp_path / "operator.key"
    key_file.write_text(dev_key(0))
    sn_cert = swarm_ca.paths("sn-1")
    with AnvilNode.start() as anvil:
        log = tmp_path / "sn.log"
        popen = spawn(
            [
                sys.executable,
                "-m",
                "sn.cli",
                "--eth-rpc-url",
                anvil.url,
                "--eth-operator-key-file",
                str(key_file),
                "--sn-api-port",
                "0",
                "--bind",
                "127.0.0.1",
                "--port-file",
                str(tmp_path / "port"),
                "--data-dir",
                str(tmp_path / "data"),
                "--cert",
                str(sn_cert.cert),
                "--key",
                str(sn_cert.key),
                "--capath",
                str(sn_cert.capath),
            ],
            log,
        )
        sn = Daemon(popen, log, wait_for_port_file(tmp_path / "port", popen, log))
        try:
            client = SNClient("127.0.0.1", sn.port, swarm_ca.identity("sl-1"), retry_seconds=10)
            assert client.is_up()
            assert client.register("sl", "127.0.0.1", 16000).identity == "sl-1"
            client.join("defaultbb.cqdb.sml.hpe", 1, True, 600)
            status = client.training_status("defaultbb.cqdb.sml.hpe")
            assert status.member_count == 1 and status.current_round == 1 and not status.over
            ops = client.history("defaultbb.cqdb.sml.hpe")
            assert [op.what for op in ops if op.who == "sl-1"] == ["joinTraining"]
            client.close()
        finally:
            sn.stop()
    assert "Using the external Ethereum network at http" in sn.output()
