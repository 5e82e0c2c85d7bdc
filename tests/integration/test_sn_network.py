"""Three real SN processes form one Swarm Network on loopback: a sentinel and two SNs that join through it.

The network is built once for the module; the tests run in file order (writes, a crash, a full restart). Every
wait is bounded, every process (SN and its etcd member) is stopped at the end, and failures print the SN logs.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from swarm_learning import sn_api as api
from swarm_learning.chain_cli import chain
from swarm_learning.errors import NetworkError, SwarmLearningError
from swarm_learning.sn_client import SNClient
from tests.conftest import CertFactory
from tests.integration.harness import REPO, spawn, wait_for_port_file

WAIT = 60.0
TRAINING = "net-training"


@dataclass
class SNProcess:
    """One SN daemon; ``join`` is the API port of the SN it joins through (None: the sentinel)."""

    name: str
    workdir: Path
    identity: list[str]
    join: int | None
    popen: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def data_dir(self) -> Path:
        return self.workdir / self.name / "data"

    @property
    def log(self) -> Path:
        return self.workdir / self.name / "sn.log"

    def argv(self) -> list[str]:
        role = ["--sentinel"] if self.join is None else ["--sentinel-ip", "127.0.0.1", "--sentinel-api-port",
                                                           str(self.join)]  # fmt: skip
        return [
            sys.executable, "-m", "sn.cli", *role,
            "--host-ip", "127.0.0.1", "--bind", "127.0.0.1", "--sn-api-port", "0", "--sn-p2p-port", "0",
            "--data-dir", str(self.data_dir), "--port-file", str(self.port_file), "--join-timeout", "60",
            *self.identity,
        ]  # fmt: skip

    @property
    def port_file(self) -> Path:
        return self.workdir / self.name / "api-port"

    def start(self) -> SNProcess:
        self.port_file.unlink(missing_ok=True)
        self.popen = spawn(self.argv(), self.log)
        return self

    def wait_ready(self) -> int:
        assert self.popen is not None
        self.port = wait_for_port_file(self.port_file, self.popen, self.log, timeout=WAIT)
        return self.port

    def _etcd_pid(self) -> int | None:
        try:
            return int((self.data_dir / "etcd.pid").read_text())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._end_etcd(signal.SIGKILL)

    def crash(self) -> None:
        """SIGKILL the SN and its etcd member, as when its host loses power."""
        assert self.popen is not None
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(5)
        self._end_etcd(signal.SIGKILL)

    def _end_etcd(self, sig: int) -> None:
        pid = self._etcd_pid()
        if pid is not None and Path(f"/proc/{pid}").exists():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if str(self.data_dir).encode() in cmdline:
                os.kill(pid, sig)

    def client(self, who: CertFactory, name: str) -> SNClient:
        return SNClient("127.0.0.1", self.port, who.identity(name), retry_seconds=30.0)


@pytest.fixture(scope="module")
def sns(swarm_ca: CertFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[SNProcess]]:
    workdir = tmp_path_factory.mktemp("sn-network")

    def identity(name: str) -> list[str]:
        p = swarm_ca.paths(name)
        return ["--cert", str(p.cert), "--key", str(p.key), "--capath", str(p.capath)]

    built: list[SNProcess] = []
    try:
        sentinel = SNProcess("sn-1", workdir, identity("sn-1"), None).start()
        built.append(sentinel)
        sentinel.wait_ready()
        for name in ("sn-2", "sn-3"):
            joiner = SNProcess(name, workdir, identity(name), sentinel.port).start()
            built.append(joiner)
            joiner.wait_ready()
        yield built
    except BaseException:
        print(logs(built))
        raise
    finally:
        for sn in built:
            sn.stop()


def logs(sns: list[SNProcess]) -> str:
    return "\n".join(
        f"--- {sn.name} ---\n{sn.log.read_text(errors='replace')[-6000:]}" for sn in sns if sn.log.exists()
    )


def heads(sns: list[SNProcess], swarm_ca: CertFactory) -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    for sn in sns:
        client = sn.client(swarm_ca, "swci-1")
        try:
            info = client.info()
            found[sn.name] = (info.height, info.head_hash)
        finally:
            client.close()
    return found


def converged(sns: list[SNProcess], swarm_ca: CertFactory, at_least: int = 0) -> tuple[int, str]:
    """Wait (bounded) until every SN has the same head; return it."""
    deadline = time.monotonic() + WAIT
    while True:
        seen = heads(sns, swarm_ca)
        values = set(seen.values())
        if len(values) == 1 and next(iter(values))[0] >= at_least:
            return next(iter(values))
        if time.monotonic() > deadline:
            raise AssertionError(f"the SNs did not converge: {seen}\n{logs(sns)}")
        first = sns[0].client(swarm_ca, "swci-1")
        try:  # long poll on the chain, not a sleep: returns as soon as a block lands
            first.wait_for_change(max(h for h, _ in values), 0.5)
        finally:
            first.close()


def verify(sns: list[SNProcess], swarm_ca: CertFactory) -> tuple[int, str]:
    p = swarm_ca.paths("swci-1")
    args = ["verify", "--timeout", "10", "--cert", str(p.cert), "--key", str(p.key), "--capath", str(p.capath)]
    for sn in sns:
        args += ["--sn", f"127.0.0.1:{sn.port}"]
    result = CliRunner().invoke(chain, args)
    return result.exit_code, result.output


def test_the_three_sns_form_one_network_with_three_voters(sns: list[SNProcess], swarm_ca: CertFactory) -> None:
    client = sns[2].client(swarm_ca, "swci-1")
    try:
        view = client.network()
    finally:
        client.close()
    assert sorted(m.name for m in view.members) == ["sn-1", "sn-2", "sn-3"]
    assert all(m.voter for m in view.members) and view.leader in {"sn-1", "sn-2", "sn-3"}
    assert {m.api for m in view.members} == {f"127.0.0.1:{sn.port}" for sn in sns}


def test_sl_calls_through_different_sns_show_up_on_all_three(sns: list[SNProcess], swarm_ca: CertFactory) -> None:
    sl1 = sns[0].client(swarm_ca, "sl-1")
    sl2 = sns[1].client(swarm_ca, "sl-2")
    sl1_elsewhere = sns[2].client(swarm_ca, "sl-1")
    swci = sns[1].client(swarm_ca, "swci-1")
    try:
        sl1.register("sl", "127.0.0.1", 30305)
        sl2.register("sl", "127.0.0.1", 30306)
        swci.register("swci", "127.0.0.1", 0)
        swci.create_training(TRAINING)  # only SWCI creates training contracts
        sl1_elsewhere.join(TRAINING, 2, True, 600)  # registered through sn-1, joins through sn-3
        sl2.join(TRAINING, 2, True, 600)
        sl1_elsewhere.check_in(TRAINING, 1, api.CheckIn(uri="https://sl-1/r1", weightage=1, samples=10))
        sl2.check_in(TRAINING, 1, api.CheckIn(uri="https://sl-2/r1", weightage=1, samples=10))
    finally:
        for client in (sl1, sl2, sl1_elsewhere, swci):
            client.close()
    height, _ = converged(sns, swarm_ca)
    for sn in sns:
        client = sn.client(swarm_ca, "swci-1")
        try:
            round_one = client.round(TRAINING, 1)
            assert sorted(c.identity for c in round_one.participants) == ["sl-1", "sl-2"], sn.name
            assert {n.identity for n in client.nodes()} >= {"sl-1", "sl-2"}
        finally:
            client.close()
    assert height >= 7


def test_an_sn_killed_during_writes_restarts_and_catches_up(sns: list[SNProcess], swarm_ca: CertFactory) -> None:
    victim = sns[2]
    survivors = sns[:2]
    writes = {"done": 0}
    failures: list[Exception] = []
    stop = threading.Event()

    def keep_writing(sn: SNProcess, who: str) -> None:
        client = sn.client(swarm_ca, who)
        try:
            while not stop.is_set():
                client.report_progress(TRAINING, api.Progress(loss=0.5, metric=0.9, epochs_done=1, total_epochs=5))
                writes["done"] += 1
        except SwarmLearningError as exc:
            failures.append(exc)
        finally:
            client.close()

    writers = [threading.Thread(target=keep_writing, args=(sn, who)) for sn, who in zip(survivors, ("sl-1", "sl-2"))]
    for writer in writers:
        writer.start()
    try:
        before = heads(survivors, swarm_ca)["sn-1"][0]
        converged(survivors, swarm_ca, at_least=before + 3)  # writes flow before the crash
        victim.crash()
        during = heads(survivors, swarm_ca)["sn-1"][0]
        converged(survivors, swarm_ca, at_least=during + 10)  # ... and go on with two of three SNs
        victim.start()
        victim.wait_ready()
        converged(survivors, swarm_ca, at_least=heads(survivors, swarm_ca)["sn-1"][0] + 3)  # writes while it rejoins
    finally:
        stop.set()
        for writer in writers:
            writer.join(WAIT)
    assert not failures, f"{failures}\n{logs(sns)}"
    height, _ = converged(sns, swarm_ca)
    assert height > during + 10
    assert "restarting member sn-3" in victim.log.read_text()


def test_one_identity_writing_through_different_sns_back_to_back_never_conflicts(
    sns: list[SNProcess], swarm_ca: CertFactory
) -> None:
    clients = [sn.client(swarm_ca, "sl-2") for sn in sns]
    try:  # every write lands on another SN than the one before: its nonce must account for the previous one
        for i in range(12):
            clients[i % 3].report_progress(TRAINING, api.Progress(loss=1.0 / (i + 1), metric=0.5, epochs_done=i,
                                                                  total_epochs=12))  # fmt: skip
        status = clients[0].training(TRAINING)
    finally:
        for client in clients:
            client.close()
    mine = next(m for m in status.members if m.identity == "sl-2")
    assert mine.epochs_done == 11


def test_a_client_fails_over_to_another_sn_when_its_own_sn_dies(sns: list[SNProcess], swarm_ca: CertFactory) -> None:
    home = sns[2]
    client = SNClient("127.0.0.1", home.port, swarm_ca.identity("sl-1"), retry_seconds=30.0, failover_after=0.5)
    try:
        known = client.learn_network()
        assert set(known) == {f"https://127.0.0.1:{sn.port}" for sn in sns}
        client.heartbeat()
        home.crash()
        started = time.monotonic()
        client.report_progress(TRAINING, api.Progress(loss=0.25, metric=0.75, epochs_done=3, total_epochs=5))
        took = time.monotonic() - started
        assert client.base_url != f"https://127.0.0.1:{home.port}"
        print(f"write went through {client.base_url} {took:.2f} s after the home SN died")
    finally:
        client.close()
        home.start()
        home.wait_ready()
    converged(sns, swarm_ca)


@pytest.mark.acceptance_sn_network
def test_all_sns_stopped_and_restarted_keep_the_same_head_and_verify(
    sns: list[SNProcess], swarm_ca: CertFactory
) -> None:
    before = converged(sns, swarm_ca)
    code, output = verify(sns, swarm_ca)
    assert code == 0, output
    assert output.count(before[1]) >= 3 and "OK: 3 of 3 SNs agree" in output
    assert "checkIn" in output or "check" in output.lower()
    for sn in sns:
        sn.stop()
    started = time.monotonic()
    for sn in sns:  # together: each needs a quorum of the others
        sn.start()
    for sn in sns:
        sn.wait_ready()
    print(f"all three SNs back in {time.monotonic() - started:.1f} s")
    assert heads(sns, swarm_ca) == {sn.name: before for sn in sns}
    code, output = verify(sns, swarm_ca)
    assert code == 0 and f"height {before[0]} head {before[1]}" in output, output
    client = sns[1].client(swarm_ca, "sl-2")
    try:  # and the network still takes writes
        client.heartbeat()
    finally:
        client.close()
    converged(sns, swarm_ca, at_least=before[0] + 1)


def test_an_sn_with_a_damaged_chain_folder_sets_it_aside_and_resyncs_from_its_peers(
    sns: list[SNProcess], swarm_ca: CertFactory
) -> None:
    victim = sns[1]
    before = converged(sns, swarm_ca)
    victim.stop()
    journal = victim.data_dir / "chain" / "entries.log"
    damaged = bytearray(journal.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # a flipped byte in the middle: not a torn last write
    journal.write_bytes(bytes(damaged))
    victim.start()
    victim.wait_ready()
    moved = sorted(victim.data_dir.glob("chain.corrupt-*"))
    assert len(moved) == 1 and (moved[0] / "entries.log").read_bytes() == bytes(damaged)
    assert "rebuilding the chain from the network's entry log" in victim.log.read_text()
    assert converged(sns, swarm_ca) == before


def test_an_sl_certificate_cannot_join_or_forward_entries(sns: list[SNProcess], swarm_ca: CertFactory) -> None:
    client = sns[0].client(swarm_ca, "sl-1")
    try:
        with pytest.raises(NetworkError, match=r"403.*an sl certificate \('sl-1'\) may not POST /network/join .*only sn"):
            client.network_join(api.NetworkJoin(peer_url="https://127.0.0.1:29999"))
        with pytest.raises(NetworkError, match=r"403.*an sl certificate \('sl-1'\) may not POST /network/submit"):
            client.network_submit(api.NetworkSubmit(entry="c0"))
    finally:
        client.close()


@pytest.mark.acceptance_sn_network
def test_a_certificate_of_another_ca_cannot_join_or_write_and_is_told_why(
    sns: list[SNProcess], swarm_ca: CertFactory, foreign_ca: CertFactory
) -> None:
    before = converged(sns, swarm_ca)
    p = foreign_ca.paths("sn-9")
    ctx = ssl.create_default_context(cafile=str(next(swarm_ca.capath.iterdir())))
    ctx.check_hostname = False
    ctx.load_cert_chain(str(p.cert), str(p.key))
    for method, path, body in (("POST", "/network/join", {"peer_url": "https://127.0.0.1:1"}),
                               ("POST", "/network/submit", {"entry": "c0"}), ("POST", "/nodes/heartbeat", None)):
        with pytest.raises(httpx.HTTPError):  # the TLS handshake fails: no route is ever reached
            httpx.request(method, f"https://127.0.0.1:{sns[0].port}{path}", json=body, verify=ctx)
    outsider = SNClient("127.0.0.1", sns[0].port, foreign_ca.identity("sn-9"), retry_seconds=1.0)
    try:  # what an SN of another CA trying to join reads
        with pytest.raises(SwarmLearningError, match=r"does not accept this node's certificate"):
            outsider.network_join(api.NetworkJoin(peer_url="https://127.0.0.1:1"))
    finally:
        outsider.close()
    assert converged(sns, swarm_ca) == before  # nothing was written
    assert "refused a client's certificate in the TLS handshake" in sns[0].log.read_text()  # and the SN logged why


def test_a_joiner_pointing_at_a_dead_sn_exits_non_zero_naming_the_address(
    tmp_path: Path, swarm_ca: CertFactory
) -> None:
    p = swarm_ca.paths("sn-7")
    argv = [
        sys.executable, "-m", "sn.cli", "--sentinel-ip", "127.0.0.1", "--sentinel-api-port", "1",
        "--bind", "127.0.0.1", "--sn-api-port", "0", "--sn-p2p-port", "0", "--join-timeout", "3",
        "--data-dir", str(tmp_path / "data"), "--cert", str(p.cert), "--key", str(p.key), "--capath", str(p.capath),
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(
        argv,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert result.returncode != 0
    assert "127.0.0.1:1" in result.stderr + result.stdout
    assert "could not join" in result.stderr + result.stdout
    assert time.monotonic() - started < 30


def test_the_network_grows_to_five_voters_in_pairs(sns: list[SNProcess], swarm_ca: CertFactory) -> None:
    """Runs last: the fixture then stops five SNs. The 4th SN waits as a learner; the 5th makes both vote."""
    workdir = sns[0].workdir

    def identity(name: str) -> list[str]:
        p = swarm_ca.paths(name)
        return ["--cert", str(p.cert), "--key", str(p.key), "--capath", str(p.capath)]

    fourth = SNProcess("sn-4", workdir, identity("sn-4"), sns[1].port).start()
    sns.append(fourth)
    fourth.wait_ready()
    learner_view = fourth.client(swarm_ca, "swci-1")
    try:
        view = learner_view.network()  # a learner answers with the members too (asking a voter)
    finally:
        learner_view.close()
    assert view.error is None and not view.voter
    assert {m.name: m.voter for m in view.members} == {"sn-1": True, "sn-2": True, "sn-3": True, "sn-4": False}
    client = fourth.client(swarm_ca, "sl-1")
    try:  # a learner takes writes (it forwards them to a voter)
        client.heartbeat()
    finally:
        client.close()

    fifth = SNProcess("sn-5", workdir, identity("sn-5"), sns[0].port).start()
    sns.append(fifth)
    fifth.wait_ready()
    client = fifth.client(swarm_ca, "swci-1")
    try:
        view = client.network()
    finally:
        client.close()
    assert sorted(m.name for m in view.members if m.voter) == ["sn-1", "sn-2", "sn-3", "sn-4", "sn-5"], view
    converged(sns, swarm_ca)
    code, output = verify(sns, swarm_ca)
    assert code == 0 and "OK: 5 of 5 SNs agree" in output, output
