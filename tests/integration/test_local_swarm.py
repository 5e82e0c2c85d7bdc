"""A swarm of real SN, SL and ML processes on loopback, driven through `swarm-learning run-local`."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from swarm_learning import sn_api as api
from swarm_learning.progress import ProgressView
from swarm_learning.runlocal import LocalSwarm, RunLocalOptions
from tests.conftest import CertFactory
from tests.integration.harness import PROGRAMS, logs_of, run_local, start_sn

FAST_QUORUM = {
    "SL_WAIT_FOR_FULL_QUORUM_SECONDS": "3",
    "SL_HEARTBEAT_SECONDS": "1",
    "SL_PEER_STALE_SECONDS": "4",
    "SL_LEADER_FAILURE_BASE_TIMEOUT": "5",  # a killed peer may be the leader of a closed round
}


def test_two_sites_train_together_and_end_with_the_same_model(tmp_path: Path, swarm_ca: CertFactory) -> None:
    proc, summary = run_local(tmp_path, 2, ["MAX_EPOCHS=2", "BATCHES_PER_EPOCH=8", "SYNC_FREQUENCY=4"])
    assert proc.returncode == 0, proc.stdout + proc.stderr + logs_of(tmp_path)
    digests = {s["final_weights_sha256"] for s in summary["sites"]}
    assert len(digests) == 1 and None not in digests
    # initial sync + syncs after batches 5, 9, 13 of 16 + the final merge at train end
    assert summary["rounds"] == 5
    for site in summary["sites"]:
        assert (
            "All peers and Swarm training rounds finished. Final Swarm model was loaded."
            in Path(site["log"]).read_text()
        )

    # the chain's history survives: a new SN process on the same data folder shows every round
    sn = start_sn(
        tmp_path / "sn-1" / "restart",
        [
            "--cert",
            str(tmp_path / "cert" / "sn-1-cert.pem"),
            "--key",
            str(tmp_path / "cert" / "sn-1-key.pem"),
            "--capath",
            str(tmp_path / "cert" / "ca" / "capath"),
            "--data-dir",
            str(tmp_path / "sn-1" / "data"),
        ],
    )
    try:
        from swarm_learning.sn_client import SNClient
        from swarm_learning.tls import TLSIdentity

        ident = TLSIdentity.from_options(
            tmp_path / "cert" / "swci-1-cert.pem",
            tmp_path / "cert" / "swci-1-key.pem",
            tmp_path / "cert" / "ca" / "capath",
        )
        client = SNClient("127.0.0.1", sn.port, ident, retry_seconds=10)
        training = client.training("defaultbb.cqdb.sml.hpe")
        assert training.over and training.current_round == 6
        ops = client.history("defaultbb.cqdb.sml.hpe")
        merges = [op for op in ops if op.what == "publishMerge"]
        assert [op.args["round"] for op in merges] == [1, 2, 3, 4, 5]
        assert {op.who for op in ops if op.what == "checkIn"} == {"sl-1", "sl-2"}
        client.close()
    finally:
        sn.stop()


def test_a_peer_with_weights_of_another_shape_is_excluded_and_the_others_finish(tmp_path: Path) -> None:
    # site-1 starts first and the leader waits for every member that has joined, so the bad peer takes part in the
    # first round; with 4 sites the good layout is the majority whoever leads (a tie would go to the leader's own
    # layout), and after site-1 leaves the 3 others still meet MIN_PEERS=3. (A peer arriving after a round closed
    # is refused on its own side instead: the merged model does not fit it.)
    proc, summary = run_local(
        tmp_path,
        4,
        ["MAX_EPOCHS=1", "BATCHES_PER_EPOCH=8", "SYNC_FREQUENCY=4", "MIN_PEERS=3", "BAD_SITE=site-1"],
        process_env={**FAST_QUORUM, "SL_WAIT_FOR_FULL_QUORUM_SECONDS": "60"},
    )
    logs = proc.stdout + proc.stderr + logs_of(tmp_path)
    assert proc.returncode != 0, logs  # one site failed, and run-local says so
    sites = {s["name"]: s for s in summary["sites"]}
    assert [sites[f"site-{i}"]["exit_code"] for i in (2, 3, 4)] == [0, 0, 0], logs
    assert sites["site-1"]["exit_code"] != 0
    assert len({sites[f"site-{i}"]["final_weights_sha256"] for i in (2, 3, 4)}) == 1
    assert sites["site-2"]["final_weights_sha256"] is not None
    sl_logs = "".join((tmp_path / f"site-{i}" / "sl.log").read_text() for i in (1, 2, 3, 4))
    ml_log = (tmp_path / "site-1" / "ml.log").read_text()
    # the leader excluded it from a round it took part in, or (a machine so busy that site-1 checked in after the
    # first round closed) its own SL refused the merged model: either way it stops with the same advice
    assert "excluding sl-1" in sl_logs or "does not fit this node's model" in ml_log, logs
    assert "every site must train the same model architecture" in ml_log


def _swarm(tmp_path: Path, nodes: int, env: dict[str, str]) -> LocalSwarm:
    return LocalSwarm(
        RunLocalOptions(
            nodes=nodes,
            program=PROGRAMS / "tiny_torch.py",
            data_dirs=(),
            env=env,
            workdir=tmp_path,
            json_summary=None,
            timeout_s=300,
        )
    )


def _wait_for_round(swarm: LocalSwarm, at_least: int, timeout: float = 120) -> None:
    client = swarm.monitor_client()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            training = client.training("defaultbb.cqdb.sml.hpe")
            if training.current_round > at_least:
                return
            client.wait_for_change(training.height, 5)
        raise AssertionError(f"round {at_least} not merged within {timeout}s:\n{logs_of(swarm.workdir)}")
    finally:
        client.close()


def test_training_survives_a_restart_of_the_sn(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    swarm = _swarm(tmp_path, 2, {"MAX_EPOCHS": "2", "BATCHES_PER_EPOCH": "12", "SYNC_FREQUENCY": "2"})
    try:
        swarm.start()
        _wait_for_round(swarm, 3)
        assert swarm.sn is not None
        os.killpg(swarm.sn.popen.pid, signal.SIGKILL)  # a crash, not a clean stop
        swarm.sn.popen.wait(10)
        swarm.restart_sn()
        ok, rounds = swarm.wait(ProgressView())
        assert ok, logs_of(tmp_path)
        digests = {swarm.site_digest(s) for s in swarm.sites}
        assert len(digests) == 1 and None not in digests
        assert rounds >= 10
        client = swarm.monitor_client()
        merges = [op.args["round"] for op in client.history("defaultbb.cqdb.sml.hpe") if op.what == "publishMerge"]
        client.close()
        assert merges == list(range(1, rounds + 1))  # rounds from before the crash are still on chain
    finally:
        swarm.stop()


def test_a_peer_that_dies_mid_training_is_dropped_and_the_others_finish(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for k, v in FAST_QUORUM.items():
        monkeypatch.setenv(k, v)
    swarm = _swarm(tmp_path, 3, {"MAX_EPOCHS": "2", "BATCHES_PER_EPOCH": "12", "SYNC_FREQUENCY": "2", "MIN_PEERS": "2"})
    try:
        swarm.start()
        _wait_for_round(swarm, 2)
        victim = swarm.sites[2]
        assert victim.ml is not None and victim.sl is not None
        os.killpg(victim.ml.popen.pid, signal.SIGKILL)
        os.killpg(victim.sl.popen.pid, signal.SIGKILL)
        ok, _ = swarm.wait(ProgressView())
        assert not ok  # site-3 failed, and the run says so
        assert [s.exit_code for s in swarm.sites[:2]] == [0, 0], logs_of(tmp_path)
        assert swarm.site_digest(swarm.sites[0]) == swarm.site_digest(swarm.sites[1]) is not None
    finally:
        swarm.stop()


def test_restarted_nodes_replace_the_check_ins_their_killed_runs_left_in_an_open_round(tmp_path: Path) -> None:
    """Both sites' earlier runs checked in to round 1 and died before it merged (what a SWOP killed mid-run leaves):
    their weights files went with them. The restarted runs (same identities) supersede those check-ins, and the
    round merges their new weights instead of failing on files that are gone."""
    swarm = _swarm(tmp_path, 2, {"MAX_EPOCHS": "2", "BATCHES_PER_EPOCH": "8", "SYNC_FREQUENCY": "4"})
    training = "defaultbb.cqdb.sml.hpe"
    try:
        swarm.start_network()
        for site in swarm.sites:  # the earlier runs, through the SN API with the sites' own certificates
            client = swarm.client_as(site.identity)
            try:
                client.register("sl", "127.0.0.1", 9)
                client.join(training, 2, True, 600)
                gone = api.CheckIn(uri=f"https://127.0.0.1:9/weights/{site.name}-gone", weightage=1)
                client.check_in(training, 1, gone)
            finally:
                client.close()
        monitor = swarm.monitor_client()
        try:
            before = monitor.round(training, 1)
        finally:
            monitor.close()
        assert [(c.uri.endswith("-gone"), c.stale) for c in before.participants] == [(True, False)] * 2, before

        swarm.start_nodes()  # the restarted runs register again: what their earlier runs left is now stale
        monitor = swarm.monitor_client()
        try:
            assert [c.stale for c in monitor.round(training, 1).participants] == [True, True]
        finally:
            monitor.close()
        swarm.start_programs()
        ok, _ = swarm.wait(ProgressView())
        assert ok, logs_of(tmp_path)
        digests = {swarm.site_digest(s) for s in swarm.sites}
        assert len(digests) == 1 and None not in digests
        monitor = swarm.monitor_client()
        try:
            first = monitor.round(training, 1)
        finally:
            monitor.close()
        assert first.merged and first.excluded == [], first  # the new runs' weights, nobody left out
        assert not any(c.uri.endswith("-gone") or c.stale for c in first.participants), first
        sl_logs = "".join((s.dir / "sl.log").read_text() for s in swarm.sites)
        assert sl_logs.count("holds a check-in of an earlier run of this node") == 2, sl_logs
    finally:
        swarm.stop()
