"""The digits example's automated run, as `python -m examples.digits.swop_demo` does it (issue 6, item 5).

One sentinel SN, two SWOPs with the example's profiles (PROCESS executor, two SL nodes each) and the real `swci` CLI
running `examples/digits/swci/swci-init-swop`: the user environment is built on both SWOPs, then `digits_pyt.py`
trains as a swarm of four SL/ML pairs, and each SL node's trained model lands in its own scratch folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from examples.digits.swop_demo import DemoConfig, fill, placeholders
from swci.language import parse_script
from swci.language.commands import AssignTask, PerfData, WaitForTaskRunner, WithPeers
from tests.integration.swop_files import processes_using

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "digits" / "swci" / "swci-init-swop"
ACCURACY_FLOOR = 0.5  # an untrained 10-class model scores about 0.1; 3 epochs of this swarm 0.80


def test_the_init_script_builds_on_two_swops_then_trains_four_pairs_once_the_sn_address_is_filled_in(
    tmp_path: Path,
) -> None:
    text = fill(SCRIPT.read_text(), placeholders(DemoConfig(tmp_path), 30304), SCRIPT.name)
    commands = parse_script(text)
    assigns = [(c.task, c.peers) for c in commands if isinstance(c, AssignTask)]
    assert assigns == [("user_env_pyt_build_task", WithPeers(2)), ("swarm_digits_task", WithPeers(4))]
    assert sum(isinstance(c, WaitForTaskRunner) for c in commands) == 2
    assert any(isinstance(c, PerfData) for c in commands)
    assert "wait for ip 127.0.0.1 30304 60" in text and "create context digits with ip 127.0.0.1 30304" in text


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_swops_and_one_swci_script_train_the_digits_to_the_same_model_in_every_scratch_folder(
    tmp_path: Path,
) -> None:
    workdir = tmp_path / "work"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "examples.digits.swop_demo", "--workdir", str(workdir), "--epochs", "3"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    elapsed = time.monotonic() - started
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]

    # the operator watched the run: the init script's echo, PERFDATA of all four SL nodes, the summary table
    assert "SWCI:" in out and "PERFDATA : defaultbb.cqdb.sml.hpe" in out, out[-6000:]
    for sl in ("sl-1", "sl-2", "sl-3", "sl-4"):
        assert any(line.startswith(f"{sl}  COMPLETED") for line in out.splitlines()), out[-6000:]

    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["ok"] and summary["swci_exit_code"] == 0
    assert summary["waits"] == [
        {"task": "user_env_pyt_build_task", "state": "COMPLETE"},
        {"task": "swarm_digits_task", "state": "COMPLETE"},
    ]
    runner = summary["task_runner"]
    assert (runner["state"], runner["task"], runner["enrolled_peers"], runner["completed"], runner["failed"]) == (
        "COMPLETE",
        "swarm_digits_task",
        2,
        4,
        0,
    )

    nodes = summary["nodes"]
    assert [(n["swop"], n["sl_cert"], n["status"]) for n in nodes] == [
        ("swop-1", "sl-1", "COMPLETE"),
        ("swop-1", "sl-2", "COMPLETE"),
        ("swop-2", "sl-3", "COMPLETE"),
        ("swop-2", "sl-4", "COMPLETE"),
    ]
    # each model is in its own SL node's private folder (the profile's privatedata), and all four are the same
    for i, node in enumerate(nodes, start=1):
        model = workdir / "data" / f"site-{i}" / "scratch" / "digits_pyt.pt"
        assert node["model"] == str(model) and model.is_file()
        assert node["accuracy"] > ACCURACY_FLOOR, node
    assert len({n["sha256"] for n in nodes}) == 1 and summary["same_model"]

    assert processes_using(workdir)() == []  # SN, SWOPs, SWCI, SLs and MLs are all gone
    print(f"swop demo, 3 epochs: {elapsed:.1f}s, accuracy {nodes[0]['accuracy']:.3f}")
