"""The demo, as `make demo` runs it: 3 sites, non-IID digits, real processes, for PyTorch and for Keras.

The programs are written for the documented product (they import `swarmlearning.pyt` / `swarmlearning.tf` and read
DATA_DIR, SCRATCH_DIR, MAX_EPOCHS, MIN_PEERS) and run unmodified under `swarm-learning run-local`.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = {
    "pytorch": REPO / "examples" / "digits" / "digits_pyt.py",
    "keras": REPO / "examples" / "digits" / "digits_keras.py",
}


def _imports_and_env(program: Path) -> tuple[set[str], set[str]]:
    tree = ast.parse(program.read_text())
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    env = {
        n.args[0].value
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and getattr(n.func, "attr", getattr(n.func, "id", "")) in {"getenv", "get"}
        and n.args
        and isinstance(n.args[0], ast.Constant)
        and isinstance(n.args[0].value, str)
    }
    return modules, env


@pytest.mark.acceptance_local_swarm
@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_demo_swarm_beats_every_site_alone_and_matches_central_training(framework: str, tmp_path: Path) -> None:
    modules, env = _imports_and_env(PROGRAMS[framework])
    assert {"swarmlearning.pyt" if framework == "pytorch" else "swarmlearning.tf"} <= modules
    assert {"DATA_DIR", "SCRATCH_DIR", "MAX_EPOCHS", "MIN_PEERS"} <= env

    summary_file = tmp_path / "demo-summary.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "swarm_learning.demo",
            "--framework",
            framework,
            "--nodes",
            "3",
            "--workdir",
            str(tmp_path / "work"),
            "--summary",
            str(summary_file),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    summary = json.loads(summary_file.read_text())

    sites = summary["sites"]
    assert len(sites) == 3
    assert all(s["exit_code"] == 0 for s in sites)
    digests = {s["final_weights_sha256"] for s in sites}
    assert len(digests) == 1 and None not in digests, "every site must end with the same final model"
    assert summary["rounds"] >= 10
    central = summary["central_accuracy"]
    for site in sites:
        assert site["swarm_accuracy"] > site["local_accuracy"], site
        assert abs(site["swarm_accuracy"] - central) <= 0.03, (site, central)
    for i in (1, 2, 3):
        log = (tmp_path / "work" / "swarm" / f"site-{i}" / "ml.log").read_text()
        assert "All peers and Swarm training rounds finished. Final Swarm model was loaded." in log
