"""Start-up of an SN node: open the chain, serve the API over mutual TLS, stop on a signal."""

from __future__ import annotations

import logging

from sn.app import create_app
from sn.config import SNConfig
from sn.ledger_service import LedgerService
from swarm_learning.https import BackgroundServer, uvicorn_config
from swarm_learning.process import stop_event, write_port_file

log = logging.getLogger("swarm.blCnt")


def run_sn(config: SNConfig) -> None:
    stop = stop_event()
    own = config.identity.name
    log.info("Setting up blockchain layer for %s in %s", own, config.data_dir)
    ledger = LedgerService.open(config.data_dir)
    head = ledger.head()
    log.info("Blockchain layer ready: height %s, head %s, contract %s", head.height, head.hash, ledger.contract_address)
    app = create_app(ledger, own)
    server = BackgroundServer(uvicorn_config(app, config.identity, config.bind, config.api_port)).start()
    write_port_file(config.port_file, server.port)
    log.info("Starting SWARM-API-SERVER on port: %s", server.port)
    stop.wait()
    log.info("Stopping SN %s", own)
    server.stop()
    close = getattr(ledger, "close", None)
    if callable(close):
        close()
