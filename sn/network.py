"""An SN's role in its Swarm Network: its etcd member, the entry follower and the sink that feed its chain.

How an SN starts (``SNNetwork.start``), decided by what its data directory holds:

- ``network.json`` and etcd data from an earlier run: **restart** the member from its data and resume following
  (no join; the ports and network id come from ``network.json``).
- nothing, ``--sentinel``: **new network**. A fresh network id, a loopback client port (both kept in
  ``network.json``), the member on the p2p port; the contract is then deployed through the log like any write.
- nothing, ``--sentinel-ip HOST --sentinel-api-port P``: **join** through the SN at that address (any running,
  voting SN). ``POST /network/join`` there adds this SN's member as an etcd learner and answers the join plan,
  network id, contract address and the network's identity secret (so every SN signs for a node identity with the
  same account, and an SL can use any SN). This SN starts its member with that plan, follows the log until it has
  applied at least the height the answering SN had, opens the ledger, and then calls ``POST /network/ready``: the
  answering SN lets this SN's operator account register nodes and decides its role.

**Who votes.** The first three SNs become voters. After that SNs join in pairs, because etcd allows only one learner
at a time: the 4th SN stays a learner; when the 5th joins, the 4th is promoted first and the 5th is promoted once it
has caught up, so the voting set is 5; the 6th waits as a learner, and so on. Whenever no join is in progress the
voting set is odd (1, 3, 5, 7, ...) and at most one SN is a learner. A learner added but never started is dropped
when the next SN joins. A voter that is down counts against the quorum until it comes back (a majority of voters
must be up for writes); removing a voter for good is not automatic (``sn.consensus.remove_member``).

Writes: a voter appends its entries to the log itself. A learner cannot write to etcd, so ``NetworkSink`` forwards
the entry to a voting SN's API (``POST /network/submit``) and waits until its own follower has applied it.

Reads are served from the SN's own chain: they see every entry this SN has applied (its ``applied`` height in
``GET /network``), which trails the network's latest commit by the follower's lag (milliseconds when healthy).

Only SN certificates may change the network: certificates whose role (``swarm_learning.roles``) is ``sn``
(``is_sn_identity``). The etcd peer port additionally accepts only certificates of the swarm's CA.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import secrets
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from sn.chain.engine import EmbeddedChain, LedgerEntry
from sn.consensus import (
    ConsensusError,
    EntryFollower,
    EtcdMember,
    EtcdSink,
    JoinPlan,
    MemberConfig,
    add_learner,
    list_members,
    member_status,
    promote,
    remove_member,
)
from sn.consensus.client import ETCD_ERRORS, connect
from sn.consensus.entry_log import decode_entry, encode_entry
from sn.consensus.etcd_sink import wait_until_applied
from sn.consensus.resync import open_chain_checked
from sn.ledger_service import LedgerService
from swarm_learning import sn_api as api
from swarm_learning.errors import ChainError, ConfigurationError, IdentityError, SNUnavailable, SwarmLearningError
from swarm_learning.roles import Peer, Role, certificate_kind, role_of_identity
from swarm_learning.sn_client import SNClient
from swarm_learning.tls import TLSIdentity

logger = logging.getLogger(__name__)

NETWORK_FILE = "network.json"
ETCD_PID_FILE = "etcd.pid"
FIRST_VOTERS = 3
CATCH_UP_TIMEOUT = 120.0
_VIEW_ERRORS: tuple[type[BaseException], ...] = (SwarmLearningError, *ETCD_ERRORS)
_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
T = TypeVar("T")


class NotAnSN(IdentityError):
    """A certificate that is not an SN's asked to change the network."""

    code = "SL-1202"


def is_sn_identity(identity: str) -> bool:
    """True for an SN's certificate: the role read from it (a ``roles.Peer``), else the role its name implies."""
    role = identity.role if isinstance(identity, Peer) else role_of_identity(identity)
    return role is Role.SN


def require_sn(identity: str) -> None:
    """Defence in depth behind ``roles.SN_API_POLICY`` (which already lets only SNs call the network routes)."""
    if not is_sn_identity(identity):
        role = identity.role if isinstance(identity, Peer) else role_of_identity(identity)
        raise NotAnSN(
            f"{certificate_kind(role)} ({str(identity)!r}) may not join or write to the swarm network: only sn may"
        )


def member_name(identity: str) -> str:
    """The etcd member name of an SN identity (etcd's --initial-cluster cannot hold ',', '=' or ':')."""
    return _NAME_CHARS.sub("_", identity).strip("_") or "sn"


def free_port(host: str = "127.0.0.1") -> int:
    """A port below 32768 (outside the kernel's ephemeral range) that nothing listens on right now."""
    for _ in range(200):
        port = random.randint(20_000, 32_767)
        if port_is_free(host, port):
            return port
    raise ConfigurationError("no free port below 32768 on this host")


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class NetworkOptions:
    """What the SN's network role needs from its configuration."""

    data_dir: Path
    identity: TLSIdentity
    sentinel: bool
    sentinel_ip: str | None
    sentinel_api_port: int
    host_ip: str
    p2p_port: int
    p2p_port_given: bool  # False: the default port, so another free one may be used when it is taken
    bind: str
    join_timeout: float


@dataclass(frozen=True)
class NetworkState:
    """What ``network.json`` keeps so that a restart finds the same member again."""

    network_id: str
    member_name: str
    peer_host: str
    peer_port: int
    client_port: int
    contract_address: str | None = None

    @classmethod
    def load(cls, path: Path) -> NetworkState | None:
        if not path.exists():
            return None
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise ChainError(f"{path} is damaged ({exc}); restore it or start this SN with an empty data dir") from exc

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)


class SNNetwork:
    """The SN's network role. ``start`` gives the chain the ledger runs on; ``stop`` ends member and follower."""

    def __init__(self, options: NetworkOptions) -> None:
        self.options = options
        self.identity_name = options.identity.name
        self.state: NetworkState | None = None
        self.member: EtcdMember | None = None
        self.follower: EntryFollower | None = None
        self.chain: EmbeddedChain | None = None
        self._etcd_sink: EtcdSink | None = None
        self._joined_through: SNClient | None = None
        self._voter_cache: tuple[float, bool] = (0.0, True)
        self._membership_lock = threading.Lock()
        self._catch_up_to = 0

    @property
    def state_file(self) -> Path:
        return self.options.data_dir / NETWORK_FILE

    @property
    def contract_address(self) -> str | None:
        return self.state.contract_address if self.state else None

    # ------------------------------------------------------------------------------------------ starting

    def start(self) -> EmbeddedChain:
        """Start, restart or join (see the module docstring); return the chain, caught up with the network."""
        options = self.options
        options.data_dir.mkdir(parents=True, exist_ok=True)
        state = NetworkState.load(self.state_file)
        if state is not None and (options.data_dir / "etcd" / "data" / "member").is_dir():
            self._check_same_address(state)
            logger.info("restarting member %s of network %s from %s", state.member_name, state.network_id,
                        options.data_dir)  # fmt: skip
            self._start_member(state, None)
        elif options.sentinel and state is None:
            self._start_new()
        elif not options.sentinel:
            self._join(state)
        else:
            raise ChainError(
                f"{self.state_file} exists but the etcd data under {options.data_dir / 'etcd'} is missing: this SN "
                "cannot restart its network; restore the folder, or start with an empty data dir"
            )
        return self._open_chain()

    def _check_same_address(self, state: NetworkState) -> None:
        """A restarted member keeps the peer address the network knows it by; a different one given now is an error
        (the other members would keep calling the old address)."""
        options = self.options
        port_changed = options.p2p_port_given and options.p2p_port not in (0, state.peer_port)
        if port_changed or options.host_ip != state.peer_host:
            raise ConfigurationError(
                f"this SN's data in {options.data_dir} belongs to the network member at {state.peer_host}:"
                f"{state.peer_port}, but it was started with --host-ip {options.host_ip} --sn-p2p-port "
                f"{options.p2p_port}: the other SNs know it by the old address. Start it with --host-ip "
                f"{state.peer_host} --sn-p2p-port {state.peer_port}, or join again with an empty data dir"
            )

    def _start_new(self) -> None:
        options = self.options
        if (options.data_dir / LedgerService.DEPLOYMENT_FILE).exists():
            raise ChainError(
                f"{options.data_dir} holds the chain of a single SN from an older release (no {NETWORK_FILE}); "
                "start the sentinel with an empty data dir"
            )
        name = member_name(self.identity_name)
        for attempt in range(3):
            state = NetworkState(
                network_id=f"swarm-{secrets.token_hex(6)}",
                member_name=name,
                peer_host=options.host_ip,
                peer_port=self._p2p_port(),
                client_port=free_port(),
            )
            try:
                self._start_member(state, None)
                break
            except ConsensusError as exc:
                if "already in use" not in str(exc) or attempt == 2:
                    raise
                logger.warning("a port of the new member was taken meanwhile; trying other ports")
        logger.info("started the new swarm network %s", self.state.network_id if self.state else "?")

    def _p2p_port(self) -> int:
        options = self.options
        if options.p2p_port and port_is_free(options.bind, options.p2p_port):
            return options.p2p_port
        if options.p2p_port_given and options.p2p_port:
            raise ConfigurationError(f"the p2p port {options.p2p_port} (--sn-p2p-port) is already in use")
        port = free_port(options.bind)
        if options.p2p_port:
            logger.warning("the default p2p port %s is taken; this SN's member uses %s", options.p2p_port, port)
        return port

    def _join(self, previous: NetworkState | None) -> None:
        options = self.options
        if not options.sentinel_ip:
            raise ConfigurationError("give --sentinel-ip (and --sentinel-api-port) of a running SN to join")
        address = f"{options.sentinel_ip}:{options.sentinel_api_port}"
        peer_port = previous.peer_port if previous else self._p2p_port()
        client_port = previous.client_port if previous else free_port()
        peer_url = MemberConfig("x", options.data_dir, options.host_ip, peer_port, 0, Path(), Path(), Path()).peer_url
        logger.info("joining the swarm network through the SN at %s (p2p %s)", address, peer_url)
        client = SNClient(options.sentinel_ip, options.sentinel_api_port, options.identity,
                          retry_seconds=options.join_timeout)  # fmt: skip
        try:
            plan = client.network_join(api.NetworkJoin(peer_url=peer_url))
        except SNUnavailable as exc:
            client.close()
            raise SNUnavailable(
                f"could not join the swarm network through the SN at {address} within {options.join_timeout:.0f} s: "
                f"{exc}"
            ) from exc
        except SwarmLearningError:
            client.close()
            raise
        self._joined_through = client
        state = NetworkState(plan.network_id, plan.member_name, options.host_ip, peer_port, client_port,
                             plan.contract_address)  # fmt: skip
        self._adopt_identity_secret(bytes.fromhex(plan.identity_secret))
        self._start_member(state, JoinPlan(int(plan.member_id, 16), plan.initial_cluster))
        self._catch_up_to = plan.height

    def _adopt_identity_secret(self, secret: bytes) -> None:
        path = self.options.data_dir / LedgerService.IDENTITY_SECRET_FILE
        if path.exists():
            if bytes.fromhex(path.read_text().strip()) != secret:
                raise ChainError(
                    f"{path} belongs to another swarm network; start this SN with an empty data dir to join"
                )
            return
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secret.hex() + "\n")

    def _start_member(self, state: NetworkState, join: JoinPlan | None) -> None:
        options = self.options
        identity = options.identity
        config = MemberConfig(
            name=state.member_name,
            data_dir=options.data_dir,
            peer_host=state.peer_host,
            peer_port=state.peer_port,
            client_port=state.client_port,
            cert=identity.cert_file,
            key=identity.key_file,
            capath=identity.ca_path or identity.ca_file or Path(),
            network_id=state.network_id,
            listen_host=options.bind,
        )
        member = EtcdMember(config)
        _end_leftover_member(self.options.data_dir)
        member.start(join, timeout=30.0)
        self.member, self.state = member, state
        state.save(self.state_file)
        (self.options.data_dir / ETCD_PID_FILE).write_text(f"{member.pid}\n")

    def _open_chain(self) -> EmbeddedChain:
        assert self.member is not None and self.state is not None
        # a damaged or foreign chain folder is set aside and rebuilt from the network's log (sn/consensus/resync.py)
        chain = open_chain_checked(self.options.data_dir / LedgerService.CHAIN_DIR, self.member.client_url,
                                   self.state.network_id)  # fmt: skip
        follower = EntryFollower(chain, self.member.client_url, self.state.network_id, poll_interval=0.2)
        self._etcd_sink = EtcdSink(follower, self.member.client_url, commit_timeout=30.0, apply_timeout=30.0)
        chain.set_sink(NetworkSink(self, follower, self._etcd_sink))
        follower.start()
        self.chain, self.follower = chain, follower
        target = self._catch_up_to
        if target:
            logger.info("catching up with the network: %s entries", target)
            follower.wait_applied(target, CATCH_UP_TIMEOUT)
        # and whatever the local member already holds (a restart, or a chain rebuilt from the log), so that the
        # ledger and the first reads see the whole chain this SN can know of without a quorum
        self._etcd_sink.catch_up(CATCH_UP_TIMEOUT, linearizable=False)
        if target or chain.height:
            logger.info("caught up at height %s", chain.height)
        return chain

    def announce(self, operator_address: str, api_host: str, api_port: int) -> None:
        """After the API is up: a joiner asks to be made ready; a voter records where its API is."""
        assert self.state is not None
        client = self._joined_through
        if client is not None:
            role = client.network_ready(api.NetworkReady(
                peer_url=self._member().peer_url, operator_address=operator_address, api_host=api_host,
                api_port=api_port,
            ))  # fmt: skip
            self._voter_cache = (0.0, role.voter)
            logger.info("joined the swarm network %s as %s", self.state.network_id, "a voter" if role.voter else
                        "a learner")  # fmt: skip
            client.close()
            self._joined_through = None
            if self.state.contract_address is None:
                self.state.save(self.state_file)
            return
        if self.is_voter():
            self._record_api(self.state.member_name, f"{api_host}:{api_port}", True)

    def stop(self) -> None:
        if self.follower is not None:
            self.follower.stop()
        if self._etcd_sink is not None:
            self._etcd_sink.close()
        if self.chain is not None:
            self.chain.close()
        if self.member is not None:
            self.member.stop()
        if self._joined_through is not None:
            self._joined_through.close()

    # ------------------------------------------------------------------------------ serving other SNs

    def _member(self) -> EtcdMember:
        if self.member is None:
            raise ChainError("this SN's network member is not running")
        return self.member

    def handle_join(self, caller: str, request: api.NetworkJoin, ledger: LedgerService) -> api.NetworkJoinPlan:
        require_sn(caller)
        member, state = self._member(), self.state
        assert state is not None and self.follower is not None
        if not self.is_voter(refresh=True):
            raise ConsensusError(f"this SN ({self.identity_name}) is a learner: join through a voting SN")
        name = member_name(caller)
        with self._membership_lock:
            self._settle_waiting_learner(member.client_url, request.peer_url)
            plan = add_learner(member.client_url, name, request.peer_url, timeout=60.0)
        logger.info("SN %s joins the network as member %s (%s)", caller, name, request.peer_url)
        secret = (self.options.data_dir / LedgerService.IDENTITY_SECRET_FILE).read_text().strip()
        return api.NetworkJoinPlan(
            network_id=state.network_id,
            member_name=name,
            member_id=f"{plan.member_id:x}",
            initial_cluster=plan.initial_cluster,
            contract_address=ledger.contract_address,
            identity_secret=secret,
            height=self.follower.last_applied,
        )

    def _settle_waiting_learner(self, client_url: str, joiner_peer_url: str) -> None:
        """Make room for a new learner (etcd allows one at a time): promote the learner that waits (the voting set
        goes from odd to even, and the joiner's promotion makes it odd again), or drop one that never started."""
        for waiting in list_members(client_url, timeout=5.0):
            if not waiting.is_learner or joiner_peer_url.rstrip("/") in (u.rstrip("/") for u in waiting.peer_urls):
                continue
            url = waiting.peer_urls[0]
            if not waiting.name:
                logger.warning("removing learner %s: it was added but never started", url)
                remove_member(client_url, url, timeout=30.0)
            else:
                logger.info("promoting the waiting learner %s so that another SN can join", waiting.name)
                promote(client_url, url, timeout=60.0)

    def handle_ready(self, caller: str, request: api.NetworkReady, ledger: LedgerService) -> api.NetworkRole:
        require_sn(caller)
        member = self._member()
        with self._membership_lock:
            members = list_members(member.client_url)
            voters = sum(1 for m in members if not m.is_learner)
            mine = next((m for m in members if request.peer_url.rstrip("/") in m.peer_urls), None)
            if mine is None:
                raise ConsensusError(f"no member with peer URL {request.peer_url}; join first")
            voter = not mine.is_learner
            if not voter and (voters < FIRST_VOTERS or voters % 2 == 0):
                promote(member.client_url, request.peer_url, timeout=60.0)
                voter = True
        ledger.add_operator(request.operator_address)
        self._record_api(mine.name or member_name(caller), f"{request.api_host}:{request.api_port}", voter)
        logger.info("SN %s is ready (%s)", caller, "voter" if voter else "learner")
        return api.NetworkRole(member_name=mine.name or member_name(caller), voter=voter)

    def handle_submit(self, caller: str, request: api.NetworkSubmit) -> api.NetworkSubmitted:
        require_sn(caller)
        if self._etcd_sink is None or not self.is_voter():
            raise ConsensusError(f"this SN ({self.identity_name}) is not a voter and cannot append entries")
        try:
            entry = decode_entry(bytes.fromhex(request.entry))
        except ValueError as exc:
            raise ConsensusError(f"the forwarded entry is not hex: {exc}") from exc
        seq = self._etcd_sink.append(entry)
        if self.follower is not None:
            self.follower.notify()
        return api.NetworkSubmitted(seq=seq)

    def view(self, height: int, head_hash: str) -> api.NetworkView:
        state = self.state
        assert state is not None
        member = self._member()
        applied = self.follower.last_applied if self.follower else 0
        members: list[api.NetworkMemberView] = []
        leader: str | None = None
        error: str | None = None
        voter = True
        try:
            status = member_status(member.client_url, timeout=2.0)
            apis = self._api_records()
            voter = self.is_voter()
            if not voter:  # etcd answers the member list on voters only: ask a voting SN
                return self._view_through_voter(height, head_hash, applied)
            for m in list_members(member.client_url, timeout=2.0):
                is_leader = m.id == status.leader_id
                members.append(api.NetworkMemberView(
                    id=f"{m.id:x}", name=m.name, peer_urls=list(m.peer_urls), voter=not m.is_learner,
                    leader=is_leader, api=apis[m.name][0] if m.name in apis else None,
                ))  # fmt: skip
                if is_leader:
                    leader = m.name
                if m.name == state.member_name:
                    voter = not m.is_learner
        except _VIEW_ERRORS as exc:
            error = f"cannot read the membership from this SN's etcd member: {exc}"
        return api.NetworkView(
            network_id=state.network_id,
            member_name=state.member_name,
            voter=voter,
            leader=leader,
            members=members,
            applied=applied,
            height=height,
            head_hash=head_hash,
            error=error,
        )

    def _view_through_voter(self, height: int, head_hash: str, applied: int) -> api.NetworkView:
        assert self.state is not None
        try:
            theirs = self._through_a_voter(
                "this SN is a learner and no voting SN answered for the member list", SNClient.network, 2.0
            )
        except ConsensusError as exc:
            return api.NetworkView(
                network_id=self.state.network_id, member_name=self.state.member_name, voter=False, leader=None,
                members=[], applied=applied, height=height, head_hash=head_hash, error=str(exc),
            )  # fmt: skip
        return theirs.model_copy(update={
            "member_name": self.state.member_name, "voter": False, "applied": applied, "height": height,
            "head_hash": head_hash,
        })  # fmt: skip

    # ------------------------------------------------------------------------------------ membership

    def is_voter(self, refresh: bool = False) -> bool:
        """Whether this SN's member votes (cached for 2 s; True when etcd cannot say, so writes report why)."""
        checked_at, voter = self._voter_cache
        if not refresh and time.monotonic() - checked_at < 2.0:
            return voter
        if self.member is None:
            return True
        try:  # etcd's status answers on a learner too (the member list does not)
            with urllib.request.urlopen(urllib.request.Request(
                f"{self.member.client_url}/v3/maintenance/status", data=b"{}", method="POST",
                headers={"Content-Type": "application/json"},
            ), timeout=2.0) as response:  # fmt: skip
                voter = not json.loads(response.read() or b"{}").get("isLearner", False)
        except (OSError, ValueError) as exc:
            logger.debug("cannot ask this SN's member whether it votes: %s", exc)
            return voter
        self._voter_cache = (time.monotonic(), voter)
        return voter

    def _api_key(self, name: str = "") -> bytes:
        assert self.state is not None
        return f"/swarm/{self.state.network_id}/sn-api/{name}".encode()

    def _record_api(self, name: str, address: str, voter: bool) -> None:
        client = connect(self._member().client_url, timeout=5.0)
        try:
            client.put(self._api_key(name), json.dumps({"api": address, "voter": voter}).encode())
        except ETCD_ERRORS as exc:
            logger.warning("could not record the API address of %s: %s", name, exc)
        finally:
            client.close()

    def _api_records(self) -> dict[str, tuple[str, bool]]:
        """Member name -> (``host:port`` of its SN API, whether it was a voter when recorded)."""
        client = connect(self._member().client_url, timeout=2.0)
        try:
            prefix = self._api_key()
            found = client.get_prefix(prefix, serializable=True)
            records: dict[str, tuple[str, bool]] = {}
            for value, meta in found:
                try:
                    record = json.loads(bytes(value))
                    records[bytes(meta.key)[len(prefix) :].decode()] = (str(record["api"]), bool(record["voter"]))
                except (ValueError, KeyError, TypeError):
                    continue
            return records
        finally:
            client.close()

    def voter_apis(self) -> list[str]:
        """``host:port`` of the voting SNs' APIs (the ones a learner forwards its entries to)."""
        return [address for address, voter in self._api_records().values() if voter]

    def forward(self, entry: LedgerEntry) -> int:
        """Hand ``entry`` to a voting SN's API; return its sequence number in the log."""
        body = api.NetworkSubmit(entry=encode_entry(entry).hex())
        return self._through_a_voter(
            "this SN is a learner and no voting SN took its entry", lambda sn: sn.network_submit(body).seq, 5.0
        )

    def _through_a_voter(self, what: str, call: Callable[[SNClient], T], retry_seconds: float) -> T:
        """``call`` on the first voting SN's API that answers; ``ConsensusError`` naming every failure otherwise."""
        tried: list[str] = []
        for address in self.voter_apis():
            host, _, port = address.rpartition(":")
            client = SNClient(host, int(port), self.options.identity, retry_seconds=retry_seconds)
            try:
                return call(client)
            except SwarmLearningError as exc:
                tried.append(f"{address}: {exc}")
            finally:
                client.close()
        raise ConsensusError(f"{what}: " + ("; ".join(tried) or "no voter API known"))


def _end_leftover_member(data_dir: Path) -> None:
    """An SN killed with SIGKILL leaves its etcd member running: end it before starting a new one on its data."""
    pid_file = data_dir / ETCD_PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return
    member_data = str(data_dir / "etcd" / "data").encode()
    if not cmdline or not cmdline[0].endswith(b"etcd") or member_data not in cmdline:
        return  # the pid was reused by another process
    logger.warning("ending the etcd member (pid %s) left running by an earlier run of this SN", pid)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10.0
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for another process to exit: nothing to block on
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)


class NetworkSink:
    """The chain's sink: append through etcd as a voter, forward to a voter's API as a learner."""

    synchronous = False

    def __init__(self, network: SNNetwork, follower: EntryFollower, etcd_sink: EtcdSink,
                 apply_timeout: float = 30.0) -> None:  # fmt: skip
        self._network = network
        self._follower = follower
        self._etcd_sink = etcd_sink
        self._apply_timeout = apply_timeout

    def propose(self, entry: LedgerEntry) -> None:
        if self._network.is_voter():
            self._etcd_sink.propose(entry)
            return
        wait_until_applied(self._follower, self._network.forward(entry), entry, self._apply_timeout)

    def catch_up(self, timeout: float) -> None:
        # etcd serves linearizable reads on voters only; a learner reads its own copy (it trails by milliseconds)
        self._etcd_sink.catch_up(timeout, linearizable=self._network.is_voter())
