"""Start-up of an SN node: take its place in the swarm network, open the ledger, serve the API over mutual TLS."""

from __future__ import annotations

import logging

from licensing.client import acquire_license
from sn.app import create_app
from sn.chain.external import MarketFees
from sn.config import SNConfig
from sn.ledger_service import LedgerService
from sn.network import NetworkOptions, SNNetwork
from sn.task_ledger import TaskLedger
from sn.task_liveness import LostPeerWatch
from swarm_learning.https import BackgroundServer, uvicorn_config
from swarm_learning.process import stop_event, write_port_file

log = logging.getLogger("swarm.blCnt")


def network_options(config: SNConfig) -> NetworkOptions:
    return NetworkOptions(
        data_dir=config.data_dir,
        identity=config.identity,
        sentinel=config.sentinel,
        sentinel_ip=config.sentinel_ip,
        sentinel_api_port=config.sentinel_api_port,
        host_ip=config.host_ip,
        p2p_port=config.p2p_port,
        p2p_port_given=config.p2p_port_given,
        bind=config.bind,
        join_timeout=config.join_timeout,
    )


def run_sn(config: SNConfig) -> None:
    stop = stop_event()
    own = config.identity.name
    log.info("Setting up blockchain layer for %s in %s", own, config.data_dir)
    network = None if config.external_chain else SNNetwork(network_options(config))
    ledger: LedgerService | None = None
    server: BackgroundServer | None = None
    watch: LostPeerWatch | None = None
    lease = acquire_license(config.apls, config.identity, "sn", instance=f"{config.host_ip}:{config.api_port}",
                            on_lost=lambda exc: log.error("%s", exc))  # fmt: skip
    try:
        ledger = _open_ledger(config, network)
        head = ledger.head()
        log.info(
            "Blockchain layer ready: height %s, head %s, contract %s", head.height, head.hash, ledger.contract_address
        )
        tasks = TaskLedger.open(ledger, config.data_dir)
        for contract, bytecode in tasks.watched():
            ledger.watch_contract(contract, bytecode)
        app = create_app(ledger, own, network, tasks)
        server = BackgroundServer(uvicorn_config(app, config.identity, config.bind, config.api_port)).start()
        if network is not None:
            network.announce(ledger.operator_address, config.host_ip, server.port)
        write_port_file(config.port_file, server.port)
        log.info("Starting SWARM-API-SERVER on port: %s", server.port)
        watch = LostPeerWatch(tasks).start()
        stop.wait()
        log.info("Stopping SN %s", own)
    finally:
        if watch is not None:
            watch.stop()
        if server is not None:
            server.stop()
        if ledger is not None:
            ledger.close()
        if network is not None:
            network.stop()
        if lease is not None:
            lease.release()


def _open_ledger(config: SNConfig, network: SNNetwork | None) -> LedgerService:
    """The embedded chain of this SN's network, or (``--eth-rpc-url``) an existing Ethereum network."""
    if network is None:
        assert config.eth_rpc_url is not None and config.eth_operator_key_file is not None
        log.info("Using the external Ethereum network at %s", config.eth_rpc_url)
        return LedgerService.open_external(
            config.data_dir,
            config.eth_rpc_url,
            config.eth_operator_key_file,
            chain_id=config.eth_chain_id,
            contract_address=config.eth_contract_address,
            fees=MarketFees(max_fee_gwei=config.eth_max_fee_gwei),
        )
    chain = network.start()
    return LedgerService.open(config.data_dir, chain=chain, contract_address=network.contract_address)
