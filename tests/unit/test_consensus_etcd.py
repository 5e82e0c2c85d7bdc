"""Three SNs on loopback, each with its own etcd member and embedded chain, agree on every block.

The network is built once for the module: the first member starts a new cluster, the other two join as learners
and are promoted. Real etcd processes; ports are picked below 32768. Without an etcd binary these tests fail and say
what to install.
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak

from sn.chain.engine import EmbeddedChain, LedgerEntry
from sn.consensus import (
    ConsensusError,
    EntryFollower,
    EtcdMember,
    EtcdSink,
    MemberConfig,
    add_learner,
    find_etcd,
    list_members,
    member_status,
    promote,
    remove_member,
)
from swarm_learning.errors import ChainError, ConfigurationError
from tests.conftest import CertFactory
from tests.unit.chain_txs import signed

NETWORK = "test-net"
WAIT = 30.0  # seconds: the bound of every wait in this file


def free_port() -> int:
    """A port below 32768 (outside the kernel's ephemeral range) that nothing listens on right now."""
    for _ in range(200):
        port = random.randint(20_000, 32_767)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below 32768")


@dataclass
class Site:
    """One SN's consensus half: its etcd member, its chain, the follower feeding it and the sink writing to it."""

    name: str
    data_dir: Path
    member: EtcdMember
    chain: EmbeddedChain | None = None
    follower: EntryFollower | None = None
    sink: EtcdSink | None = None
    account: object = field(default=None)
    nonce: int = 0

    def open_chain(self) -> EmbeddedChain:
        chain = EmbeddedChain(self.data_dir / "chain")
        self.follower = EntryFollower(chain, self.member.client_url, NETWORK, poll_interval=0.5)
        self.sink = EtcdSink(self.follower, self.member.client_url, commit_timeout=WAIT, apply_timeout=WAIT)
        chain.set_sink(self.sink)
        self.follower.start()
        self.chain = chain
        return chain

    def close_chain(self) -> None:
        if self.follower is not None:
            self.follower.stop()
        if self.sink is not None:
            self.sink.close()
        if self.chain is not None:
            self.chain.close()
        self.chain = self.follower = self.sink = None

    def send(self) -> bytes:
        assert self.chain is not None
        tx_hash = self.chain.submit(signed(self.account, self.nonce))
        self.nonce += 1
        return tx_hash

    def logs(self) -> str:
        return f"--- {self.name} etcd log ---\n{self.member.log_tail(40)}"


def _config(name: str, data_dir: Path, certs: CertFactory, capath: Path) -> MemberConfig:
    paths = certs.paths(name)
    return MemberConfig(
        name=name,
        data_dir=data_dir,
        peer_host="127.0.0.1",
        peer_port=free_port(),
        client_port=free_port(),
        cert=paths.cert,
        key=paths.key,
        capath=capath,
        network_id=NETWORK,
        listen_host="127.0.0.1",
    )


def start_first(name: str, data_dir: Path, certs: CertFactory) -> EtcdMember:
    for attempt in range(3):
        member = EtcdMember(_config(name, data_dir, certs, certs.capath))
        try:
            member.start(timeout=WAIT)
            return member
        except ConsensusError as exc:
            if "address already in use" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def join(name: str, data_dir: Path, certs: CertFactory, capath: Path, existing: EtcdMember) -> EtcdMember:
    """The learner path: add through an existing member, start, promote once in sync."""
    for attempt in range(3):
        member = EtcdMember(_config(name, data_dir, certs, capath))
        plan = add_learner(existing.client_url, name, member.peer_url, timeout=WAIT)
        try:
            member.start(plan, timeout=WAIT)
        except ConsensusError as exc:
            remove_member(existing.client_url, member.peer_url, timeout=WAIT)
            if "address already in use" not in str(exc) or attempt == 2:
                raise
            continue
        promote(existing.client_url, member.peer_url, timeout=WAIT)
        return member
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def sites(swarm_ca: CertFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Site]]:
    try:
        find_etcd()
    except ConfigurationError as exc:
        pytest.fail(f"these tests need a real etcd: {exc}", pytrace=False)
    root = tmp_path_factory.mktemp("sn-network")
    built: list[Site] = []
    try:
        first = start_first("sn-1", root / "sn-1", swarm_ca)
        built.append(Site("sn-1", root / "sn-1", first))
        for name in ("sn-2", "sn-3"):
            member = join(name, root / name, swarm_ca, swarm_ca.capath, first)
            built.append(Site(name, root / name, member))
        for site in built:
            site.account = Account.from_key(keccak(f"account of {site.name}".encode()))
            site.open_chain()
        yield built
    finally:
        for site in built:
            site.close_chain()
            site.member.stop()


def converge(sites: list[Site]) -> tuple[int, bytes]:
    """Wait until every chain has every committed block; return the common (height, head hash)."""
    target = max(site.chain.height for site in sites if site.chain is not None)
    for site in sites:
        assert site.chain is not None
        reached = site.chain.wait_for_height(target - 1, WAIT)
        assert reached >= target, f"{site.name} stuck at {reached} of {target}\n{site.logs()}"
    heads = {site.name: (site.chain.height, site.chain.head().hash) for site in sites if site.chain is not None}
    assert len(set(heads.values())) == 1, f"the SNs disagree: {heads}\n" + "\n".join(s.logs() for s in sites)
    return next(iter(heads.values()))


def test_the_joined_sns_vote(sites: list[Site]) -> None:
    members = list_members(sites[0].member.client_url)
    assert sorted(m.name for m in members) == ["sn-1", "sn-2", "sn-3"]
    assert not any(m.is_learner for m in members)
    assert all(m.peer_urls[0].startswith("https://127.0.0.1:") for m in members)


def test_transactions_sent_through_different_sns_make_identical_blocks_everywhere(sites: list[Site]) -> None:
    start = sites[0].chain.height if sites[0].chain else 0
    failures: list[Exception] = []

    def send_many(site: Site) -> None:
        try:
            for _ in range(6):
                tx_hash = site.send()
                assert site.chain is not None
                assert site.chain.transaction_location(tx_hash) is not None  # applied locally when submit returned
        except (ChainError, AssertionError) as exc:  # reported by the main thread below
            failures.append(exc)

    threads = [threading.Thread(target=send_many, args=(site,)) for site in sites]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 2)
    assert not failures, failures
    height, _ = converge(sites)
    assert height == start + 18  # one block per entry: nothing lost, nothing duplicated
    chain = sites[2].chain
    assert chain is not None
    for site in sites:
        assert chain.nonce(bytes.fromhex(site.account.address[2:])) == site.nonce  # type: ignore[attr-defined]


def test_two_sns_signing_the_same_nonce_land_one_transaction_and_refuse_the_other(sites: list[Site]) -> None:
    carol = Account.from_key(keccak(b"carol signs on two SNs"))
    first, second = sites[0], sites[1]
    assert first.sink is not None and second.chain is not None and first.chain is not None
    first.sink.append(LedgerEntry(0, (signed(carol, 0),)))  # committed, maybe not applied on the second SN yet
    with pytest.raises(ChainError):  # refused up front, or left out of its block: either way the caller is told
        second.chain.submit(signed(carol, 0, to=b"\x22" * 20))
    converge(sites)
    assert second.chain.nonce(bytes.fromhex(carol.address[2:])) == 1
    second.chain.submit(signed(carol, 1))  # the account keeps working through the SN that refused it
    converge(sites)
    assert first.chain.nonce(bytes.fromhex(carol.address[2:])) == 2


def test_an_sn_killed_with_sigkill_restarts_and_catches_up_to_the_same_head(sites: list[Site]) -> None:
    victim = next(site for site in sites if member_status(site.member.client_url).is_leader)
    victim.member.kill()
    victim.close_chain()  # the whole SN is gone, chain included
    survivors = [site for site in sites if site is not victim]
    for _ in range(4):
        for site in survivors:
            site.send()  # the first writes wait for a new leader
    alive_height, alive_hash = converge(survivors)

    victim.member.start(timeout=WAIT)  # restarts from its own etcd data
    chain = victim.open_chain()  # replays its journal, then follows the log from there
    assert chain.wait_for_height(alive_height - 1, WAIT) >= alive_height, victim.logs()
    assert chain.header_at(alive_height).hash == alive_hash
    victim.send()  # and it writes again
    converge(sites)


def test_a_peer_certificate_from_another_ca_cannot_join(
    sites: list[Site], foreign_ca: CertFactory, swarm_ca: CertFactory, tmp_path: Path
) -> None:
    existing = sites[0].member
    intruder = EtcdMember(_config("sn-9", tmp_path / "sn-9", foreign_ca, swarm_ca.capath))
    plan = add_learner(existing.client_url, "sn-9", intruder.peer_url, timeout=WAIT)
    try:
        with pytest.raises(ConsensusError) as refused:
            intruder.start(plan, timeout=WAIT)
        assert "peer certificate was refused" in str(refused.value), str(refused.value)
        assert "unknown authority" in existing.log_path.read_text()  # the swarm's side said why
        names = {m.name for m in list_members(existing.client_url)}
        assert "sn-9" not in names  # it never came up as a member
    finally:
        intruder.stop()
        remove_member(existing.client_url, intruder.peer_url, timeout=WAIT)
    sites[0].send()  # the network goes on
    converge(sites)


def test_the_swarm_contract_deployed_through_one_sn_serves_every_sn(sites: list[Site], tmp_path: Path) -> None:
    from sn.ledger_service import LedgerService

    sentinel = LedgerService.open(tmp_path / "ledger-1", chain=sites[0].chain)  # receipts wait as with one SN
    sentinel.register_node("sl-1", "SL", "10.0.0.5", 16000)
    converge(sites)
    others = [
        LedgerService.open(tmp_path / f"ledger-{i}", chain=site.chain, contract_address=sentinel.contract_address)
        for i, site in enumerate(sites[1:], start=2)
    ]
    for ledger in others:
        assert [(n.identity, n.host, n.port) for n in ledger.nodes()] == [("sl-1", "10.0.0.5", 16000)]
        assert ledger.head() == sentinel.head()
