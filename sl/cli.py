"""``swarm-sl``: start a Swarm Learning node, the twin of one ML program (options as the product's ``run-sl``)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from licensing.address import apls_options
from sl.config import SLConfig
from sl.node import run_sl
from swarm_learning.errors import SwarmLearningError
from swarm_learning.identity_options import identity_options
from swarm_learning.logs import configure
from swarm_learning.process import stop_event

log = logging.getLogger("swarm.SL")


@click.command("sl", context_settings={"show_default": True})
@click.option(
    "--host-ip", envvar="THIS_NODE_IP", default="127.0.0.1", help="Address peers use to reach this SL's file server."
)
@click.option("--sn-ip", envvar="SN_NODE_IP", default="127.0.0.1", help="Host of the SN this SL registers with.")
@click.option("--sn-api-port", envvar="SN_API_SERVER_PORT", default=30304, type=int)
@click.option(
    "--sl-fs-port", envvar="SL_FS_PORT", default=30305, type=int, help="File server port (0 = any free port)."
)
@click.option("--bind", default="0.0.0.0", help="Address the file server listens on.")
@click.option(
    "--socket",
    envvar="SWARM_SL_SOCKET",
    default="/tmp/hpe-swarm/sl.sock",
    help="Unix socket of the local channel to the ML program (its folder is shared with the program).",
)
@click.option("--data-dir", envvar="SL_DATA_DIR", default="sl-data", type=click.Path(path_type=Path))
@click.option(
    "--port-file", default=None, type=click.Path(path_type=Path), help="Write the bound file-server port here."
)
@click.option("--linger", default=60.0, type=float, help="Seconds to keep serving weights after the session ends.")
@identity_options
@apls_options
def main(**options: Any) -> None:
    """Run an SL node until its ML program's session ends."""
    configure()
    stop = stop_event()
    try:
        sys.exit(run_sl(SLConfig.from_cli(options), stop))
    except SwarmLearningError as exc:
        log.error("%s", exc)
        sys.exit(2)


if __name__ == "__main__":
    main()
