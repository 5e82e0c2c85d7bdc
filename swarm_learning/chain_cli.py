"""``swarm-learning chain verify``: print every SN's view of the chain and check that the reachable SNs agree.

For each ``--sn HOST:PORT``: its height, head hash and role (``GET /network``). Then the operations recorded on the
chain, block by block (``GET /history`` of the first reachable SN). The SNs agree when their blocks at the lowest
height any of them reached have the same hash (a hash commits to every block before it). Exit status: 0 when the
reachable SNs agree, 1 when they disagree, 2 when none could be reached.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import click

from swarm_learning import sn_api as api
from swarm_learning.errors import SwarmLearningError
from swarm_learning.identity_options import identity_options, load_identity
from swarm_learning.sn_client import SNClient
from swarm_learning.tls import TLSIdentity


@dataclass(frozen=True)
class SNView:
    address: str
    network: api.NetworkView | None
    error: str | None = None


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"{address!r} must look like HOST:PORT", param_hint="--sn")
    return host.strip("[]"), int(port)


def _client(address: str, identity: TLSIdentity, retry_seconds: float) -> SNClient:
    host, port = _split(address)
    return SNClient(host, port, identity, retry_seconds=retry_seconds)


def _read(address: str, identity: TLSIdentity, retry_seconds: float) -> SNView:
    client = _client(address, identity, retry_seconds)
    try:
        return SNView(address, client.network())
    except SwarmLearningError as exc:
        return SNView(address, None, str(exc))
    finally:
        client.close()


def _hash_at(address: str, identity: TLSIdentity, height: int, retry_seconds: float) -> str | None:
    client = _client(address, identity, retry_seconds)
    try:
        return client.block(height).hash
    except SwarmLearningError:
        return None
    finally:
        client.close()


def verify(addresses: list[str], identity: TLSIdentity, *, history: bool, retry_seconds: float) -> int:
    views = [_read(address, identity, retry_seconds) for address in addresses]
    for view in views:
        if view.network is None:
            click.echo(f"{view.address}: unreachable ({view.error})")
            continue
        net = view.network
        role = "voter" if net.voter else "learner"
        click.echo(
            f"{view.address}: {net.member_name} ({role}) network {net.network_id} height {net.height} "
            f"head {net.head_hash} leader {net.leader or '-'}"
        )
    reachable = [view for view in views if view.network is not None]
    if not reachable:
        click.echo("no SN could be reached", err=True)
        return 2
    if history:
        _print_history(reachable[0].address, identity, retry_seconds)
    networks = {view.network.network_id for view in reachable if view.network is not None}
    if len(networks) > 1:
        click.echo(f"DISAGREE: the SNs belong to different networks: {sorted(networks)}", err=True)
        return 1
    common = min(view.network.height for view in reachable if view.network is not None)
    hashes = {view.address: _hash_at(view.address, identity, common, retry_seconds) for view in reachable}
    if len(set(hashes.values())) != 1 or None in hashes.values():
        click.echo(f"DISAGREE at height {common}: " + ", ".join(f"{a} {h}" for a, h in hashes.items()), err=True)
        return 1
    click.echo(f"OK: {len(reachable)} of {len(views)} SNs agree on block {common} ({next(iter(hashes.values()))})")
    return 0


def _print_history(address: str, identity: TLSIdentity, retry_seconds: float) -> None:
    client = _client(address, identity, retry_seconds)
    try:
        operations = client.history(limit=None)
    except SwarmLearningError as exc:
        click.echo(f"history from {address} unavailable: {exc}")
        return
    finally:
        client.close()
    click.echo(f"history ({len(operations)} operations, from {address}):")
    block = -1
    for op in operations:
        if op.block != block:
            block = op.block
            click.echo(f"  block {block}")
        args = ", ".join(f"{k}={v}" for k, v in op.args.items())
        click.echo(f"    {op.tx_hash[:12]}.. {op.who}: {op.what}({args}) {op.status}")


@click.group("chain")
def chain() -> None:
    """Inspect the Swarm Network's chain."""


@chain.command("verify")
@click.option("--sn", "sns", multiple=True, required=True, help="An SN API address HOST:PORT (repeat for each SN).")
@click.option("--history/--no-history", default=True, show_default=True, help="Print the blocks' operations.")
@click.option("--timeout", default=10.0, show_default=True, type=float, help="Seconds to keep trying each SN.")
@identity_options
def verify_cmd(
    sns: tuple[str, ...],
    history: bool,
    timeout: float,
    cert: str | None,
    key: str | None,
    capath: str | None,
    cacert: str | None,
) -> None:
    """Print each SN's height and head hash and the chain's history; fail if the reachable SNs disagree."""
    try:
        identity = load_identity(cert, key, capath, cacert)
    except SwarmLearningError as exc:
        raise click.ClickException(str(exc)) from exc
    sys.exit(verify(list(sns), identity, history=history, retry_seconds=timeout))
