"""``swarm-learning``: the platform's command line (run-local, gen-cert, sn, sl)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from certs.gen_cert import main as gen_cert
from sl.cli import main as sl_main
from sn.cli import main as sn_main
from swarm_learning.chain_cli import chain
from swarm_learning.errors import SwarmLearningError
from swarm_learning.progress import ProgressView
from swarm_learning.runlocal import RunLocalOptions, parse_env, run_local


@click.group()
@click.version_option(package_name="swarm-learning-open")
def main() -> None:
    """Open Swarm Learning: train one model across sites without moving their data."""


@main.command("run-local")
@click.option("--nodes", default=2, show_default=True, type=int, help="Number of sites (SL + ML pairs).")
@click.option(
    "--program",
    required=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The ML program (a Python script with a SwarmCallback), run with this Python.",
)
@click.option(
    "--data-dir",
    "data_dirs",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Data folder of site i (repeat once per site); the program sees it as DATA_DIR.",
)
@click.option("--env", "env", multiple=True, help="KEY=VALUE for every program (repeatable), e.g. MAX_EPOCHS=5.")
@click.option(
    "--workdir",
    default="swarm-local",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Certificates, chain data, logs and each site's SCRATCH_DIR (<workdir>/site-<i>/).",
)
@click.option("--json-summary", default=None, type=click.Path(path_type=Path), help="Write the run's summary here.")
@click.option("--timeout", default=3600.0, show_default=True, type=float, help="Give up after this many seconds.")
def run_local_cmd(
    nodes: int,
    program: Path,
    data_dirs: tuple[Path, ...],
    env: tuple[str, ...],
    workdir: Path,
    json_summary: Path | None,
    timeout: float,
) -> None:
    """Run a whole swarm on this machine: a sentinel SN, and per site an SL node and the program."""
    try:
        options = RunLocalOptions(
            nodes=nodes,
            program=program,
            data_dirs=data_dirs,
            env=parse_env(env),
            workdir=workdir,
            json_summary=json_summary,
            timeout_s=timeout,
        )
        sys.exit(run_local(options, ProgressView()))
    except SwarmLearningError as exc:
        raise click.ClickException(str(exc)) from exc


main.add_command(gen_cert, "gen-cert")
main.add_command(sn_main, "sn")
main.add_command(sl_main, "sl")
main.add_command(chain)

if __name__ == "__main__":
    main()
