"""``swop``: start a Swarm Operator with a profile (options as the product's ``run-swop``).

The profile is ``<usr-dir>/<profile-file-name>``; its ``apisrv`` values take precedence over ``--sn-ip`` /
``--sn-api-port``. The SWOP acts as its certificate's identity (role ``swop``) and leases a license seat when a
license server is configured (``--apls-ip`` ...). Exit codes: 0 after SIGTERM/SIGINT, 2 on a configuration or
start-up error.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from licensing.address import AplsAddress, apls_options
from licensing.client import acquire_license
from swarm_learning.errors import SwarmLearningError
from swarm_learning.identity_options import identity_options, load_identity
from swarm_learning.logs import configure
from swarm_learning.process import stop_event
from swarm_learning.sn_client import SNClient
from swarm_learning.tls import TLSIdentity
from swop.agent import AgentSettings, SwopAgent
from swop.executors import make_executor
from swop.executors.base import SnAddress
from swop.schema import SchemaError, SwopProfile, load_profile
from swop.state_lock import hold_state_folder

log = logging.getLogger("swarm.SWOP")


@click.command("swop", context_settings={"show_default": True})
@click.option(
    "--usr-dir",
    envvar="SWOP_USR_DIR",
    default=".",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder holding the profile (the product mounts it at /platform/swarm/usr).",
)
@click.option("--profile-file-name", envvar="SWOP_PROFILE", required=True, help="Profile YAML inside --usr-dir.")
@click.option("--sn-ip", envvar="SN_NODE_IP", default="127.0.0.1", help="SN API host (profile apisrv wins).")
@click.option("--sn-api-port", envvar="SN_API_SERVER_PORT", default=30304, type=int, help="SN API port.")
@click.option("--host-ip", envvar="SWOP_IP", default="127.0.0.1", help="This SWOP's address, as registered.")
@click.option(
    "--state-dir",
    envvar="SWOP_STATE_DIR",
    default=None,
    type=click.Path(path_type=Path),
    help="Where environments, content and runs go (default <usr-dir>/.swop-<groupname>).",
)
@click.option(
    "--stale-seconds",
    envvar="SWOP_STALE_SECONDS",
    default=45.0,
    type=click.FloatRange(min=0),
    help="Promised to the task runner: at most this long without a beat; a SWOP silent for longer while its "
    "workers run has them reported failed (0: no promise). It beats every third of it (at most every 15 s).",
)
@identity_options
@apls_options
def main(**options: Any) -> None:
    """Run a SWOP until SIGTERM/SIGINT."""
    configure()
    stop = stop_event()
    try:
        sys.exit(run(options, stop))
    except (SwarmLearningError, SchemaError) as exc:
        log.error("%s", exc)
        sys.exit(2)


def run(options: dict[str, Any], stop: Any) -> int:
    usr_dir: Path = options["usr_dir"].absolute()
    profile = load_profile(usr_dir / options["profile_file_name"])
    locator = profile.apisrv.locator
    sn = SnAddress(locator.host or options["sn_ip"], locator.port or options["sn_api_port"])
    state_dir = Path(options["state_dir"] or usr_dir / f".swop-{profile.groupname}").absolute()
    identity = load_identity(options["cert"], options["key"], options["capath"], options["cacert"])
    with hold_state_folder(state_dir):
        return _run_holding(options, profile, sn, state_dir, identity, stop)


def _run_holding(
    options: dict[str, Any], profile: SwopProfile, sn: SnAddress, state_dir: Path, identity: TLSIdentity, stop: Any
) -> int:
    executor = make_executor(profile, state_dir)
    lease = acquire_license(AplsAddress.from_options(**options), identity, "swop")
    client = SNClient(sn.host, sn.port, identity)
    try:
        settings = AgentSettings(
            sn=sn, host=options["host_ip"], stale_seconds=options["stale_seconds"], licensed=lease is not None
        )
        SwopAgent(profile, client, executor, settings, stop).run()
    finally:
        client.close()
        if lease is not None:
            lease.release()
    log.info("SWOP stopped")
    return 0


if __name__ == "__main__":
    main()
