"""``swarm-sn``: start a Swarm Network node (options as the product's ``run-sn``)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from licensing.address import apls_options
from sn.config import SNConfig
from sn.server import run_sn
from swarm_learning.errors import SwarmLearningError
from swarm_learning.identity_options import identity_options
from swarm_learning.logs import configure

log = logging.getLogger("swarm.SN")


@click.command("sn", context_settings={"show_default": True})
@click.option(
    "--sentinel", is_flag=True, envvar="SN_I_AM_SENTINEL", help="Start a new swarm network (genesis + contracts)."
)
@click.option("--sentinel-ip", envvar="SENTINEL_NODE_IP", default=None, help="Host of a running SN to join.")
@click.option("--sentinel-api-port", envvar="SENTINEL_API_SERVER_PORT", default=30304, type=int)
@click.option("--host-ip", envvar="THIS_NODE_IP", default="127.0.0.1", help="Address peers use to reach this SN.")
@click.option(
    "--sn-api-port", envvar="SN_API_SERVER_PORT", default=30304, type=int, help="API port (0 = any free port)."
)
@click.option(
    "--sn-p2p-port", envvar="SN_ETH_PORT_EXT", default=30303, type=int, help="P2P port (used by SN networks)."
)
@click.option("--bind", default="0.0.0.0", help="Address the API listens on.")
@click.option(
    "--data-dir",
    envvar="SN_DATA_DIR",
    default="SMLNODE",
    type=click.Path(path_type=Path),
    help="Chain data (ledger entries, keys); history survives restarts when this folder is kept.",
)
@click.option(
    "--join-timeout",
    envvar="SN_JOIN_TIMEOUT",
    default=120.0,
    type=float,
    help="Give up joining through --sentinel-ip after this many seconds (retries with back-off until then).",
)
@click.option("--port-file", default=None, type=click.Path(path_type=Path), help="Write the bound API port here.")
@click.option(
    "--eth-rpc-url",
    envvar="SN_ETH_RPC_URL",
    default=None,
    help="Use this existing Ethereum network (http[s] JSON-RPC: geth, Besu, anvil) instead of the embedded chain.",
)
@click.option(
    "--eth-operator-key-file",
    envvar="SN_ETH_OPERATOR_KEY_FILE",
    default=None,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="With --eth-rpc-url: hex private key of the funded account that deploys, registers nodes and pays fees.",
)
@click.option(
    "--eth-chain-id",
    envvar="SN_ETH_CHAIN_ID",
    default=None,
    type=int,
    help="With --eth-rpc-url: refuse to start if the node serves another chain.",
)
@click.option(
    "--eth-contract-address",
    envvar="SN_ETH_CONTRACT_ADDRESS",
    default=None,
    help="With --eth-rpc-url: the Swarm contract deployed by the first SN (kept in the data dir afterwards).",
)
@click.option(
    "--eth-max-fee-gwei",
    envvar="SN_ETH_MAX_FEE_GWEI",
    default=None,
    type=float,
    help="With --eth-rpc-url: refuse to pay more than this per gas.",
)
@identity_options
@apls_options
def main(**options: Any) -> None:
    """Run a Swarm Network node until SIGTERM/SIGINT."""
    configure()
    source = click.get_current_context().get_parameter_source("sn_p2p_port")
    options["p2p_port_given"] = source not in (None, click.core.ParameterSource.DEFAULT)
    try:
        config = SNConfig.from_cli(options)
        run_sn(config)
    except SwarmLearningError as exc:
        log.error("%s", exc)
        sys.exit(2)


if __name__ == "__main__":
    main()
