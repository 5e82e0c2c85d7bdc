"""An SL node's life: register with its SN, serve weights and the local channel, take part in rounds, stop."""

from __future__ import annotations

import logging
import threading
from concurrent import futures

import grpc

from licensing.client import acquire_license
from sl.config import SLConfig
from sl.file_server import WeightsFetcher, create_file_app
from sl.ml_service import MLChannelService, SessionState
from sl.rounds import RoundCoordinator
from swarm_learning.errors import SwarmLearningError
from swarm_learning.https import BackgroundServer, uvicorn_config
from swarm_learning.process import write_port_file
from swarm_learning.proto import ml_channel_pb2_grpc as pb_grpc
from swarm_learning.sn_client import SNClient

log = logging.getLogger("swarm.SL")


def _heartbeats(sn: SNClient, every: float, stop: threading.Event, state: SessionState) -> None:
    """Liveness on chain while the session lasts; ends the session if the ML program is gone."""
    while not stop.wait(every) and not state.done.is_set():
        if not state.ml_alive():
            log.error(
                "the ML program (pid %s) exited without ending its session; this node leaves the training", state.ml_pid
            )
            state.finish(None, "ML program exited")
            return
        try:
            sn.heartbeat()
        except SwarmLearningError as exc:
            log.warning("heartbeat to SN failed: %s", exc)
        sn.learn_network()  # SNs that joined since: more places to fail over to


def run_sl(config: SLConfig, stop: threading.Event) -> int:
    """Run until the ML program's session ends (then linger to serve late peers) or ``stop`` is set."""
    me = config.identity.name
    exchange = config.data_dir / "fs"
    channel_dir = config.socket.parent
    channel_dir.mkdir(parents=True, exist_ok=True)
    exchange.mkdir(parents=True, exist_ok=True)
    config.socket.unlink(missing_ok=True)

    lease = acquire_license(config.apls, config.identity, "sl", instance=f"{config.host_ip}:{config.socket}",
                            on_lost=lambda exc: log.error("%s", exc))  # fmt: skip
    files = BackgroundServer(uvicorn_config(create_file_app(exchange), config.identity, config.bind, config.fs_port))
    files.start()
    sn = SNClient(config.sn_ip, config.sn_api_port, config.identity)
    fetcher = WeightsFetcher(config.identity)
    grpc_server: grpc.Server | None = None
    coordinator: RoundCoordinator | None = None
    try:
        sn.is_up()
        node = sn.register("sl", config.host_ip, files.port)
        sn.learn_network()
        log.info(
            "registered with SN %s:%s as %s (account %s); file server on port %s",
            config.sn_ip,
            config.sn_api_port,
            me,
            node.account,
            files.port,
        )
        coordinator = RoundCoordinator(
            sn, fetcher, me, exchange, channel_dir, f"https://{config.host_ip}:{files.port}", config.settings,
            license_check=lease.require_valid if lease is not None else None,
        )  # fmt: skip
        state = SessionState(config.data_dir / "status.json")
        threading.Thread(target=_heartbeats, args=(sn, config.settings.heartbeat_s, stop, state), daemon=True).start()
        grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="ml-channel"))
        pb_grpc.add_MLChannelServicer_to_server(MLChannelService(coordinator, channel_dir, state), grpc_server)
        grpc_server.add_insecure_port(f"unix://{config.socket}")
        grpc_server.start()
        write_port_file(config.port_file, files.port)
        log.info("Waiting for the ML program on unix://%s", config.socket)

        while not stop.is_set() and not state.done.wait(1.0):
            pass
        if state.done.is_set() and not stop.is_set():
            log.info("session over; serving weights to late peers for up to %.0fs", config.linger_s)
            stop.wait(config.linger_s)
        return 0
    finally:
        stop.set()
        if grpc_server is not None:
            grpc_server.stop(grace=2).wait(5)
        if coordinator is not None:
            coordinator.close()
        config.socket.unlink(missing_ok=True)
        files.stop()
        fetcher.close()
        sn.close()
        if lease is not None:
            lease.release()
