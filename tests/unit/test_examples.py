"""The bundled digits example: its data split and its two programs run standalone (SWARM_LOOPBACK=True)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from examples.digits.prepare_data import NUM_CLASSES, make_split, owner_of
from examples.digits.prepare_data import main as prepare_main

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DIR = REPO_ROOT / "examples" / "digits"


def test_the_same_seed_gives_the_same_split_and_another_seed_a_different_one() -> None:
    first, again, other = (
        make_split(nodes=3, seed=7),
        make_split(nodes=3, seed=7),
        make_split(nodes=3, seed=8),
    )
    for (x1, y1), (x2, y2) in zip(first.sites, again.sites):
        assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert np.array_equal(first.y_test, again.y_test)
    assert not np.array_equal(first.sites[0][1], other.sites[0][1])


def test_each_site_sees_mostly_its_own_few_classes_but_a_little_of_every_class() -> None:
    split = make_split(nodes=3, seed=42)
    for site, (_, y) in enumerate(split.sites):
        counts = np.bincount(y, minlength=NUM_CLASSES)
        own = [c for c in range(NUM_CLASSES) if owner_of(c, 3) == site]
        assert 3 <= len(own) <= 4
        own_share = counts[own].sum() / counts.sum()
        assert 0.78 <= own_share <= 0.92, (
            f"site {site + 1}: {own_share:.2f} of its samples from its own classes"
        )
        assert counts.min() > 0, "every class should appear at least a little on every site"
        assert min(counts[own]) > 5 * max(np.delete(counts, own))


def test_sites_are_equally_large_and_share_one_stratified_test_set() -> None:
    split = make_split(nodes=3, seed=42)
    sizes = {len(y) for _, y in split.sites}
    assert len(sizes) == 1
    test_counts = np.bincount(split.y_test, minlength=NUM_CLASSES)
    assert 400 <= len(split.y_test) <= 500 and test_counts.min() >= 40
    x_all, _ = split.union()
    train_rows = {row.tobytes() for row in x_all}
    assert not any(row.tobytes() in train_rows for row in split.x_test)


def test_prepare_data_cli_writes_every_site_and_the_union(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert prepare_main(["--out", str(tmp_path), "--nodes", "3", "--seed", "42"]) == 0
    assert "site-3" in capsys.readouterr().out  # the per-site class histogram
    n_sites = 0
    for i in (1, 2, 3):
        with np.load(tmp_path / f"site-{i}" / "train.npz") as data:
            assert data["x"].dtype == np.float32 and data["x"].shape[1] == 64
            assert data["y"].dtype == np.int64
            assert 0.0 <= data["x"].min() and data["x"].max() <= 1.0
            n_sites += len(data["y"])
        assert (tmp_path / f"site-{i}" / "test.npz").is_file()
    with np.load(tmp_path / "all" / "train.npz") as data:
        assert len(data["y"]) == n_sites
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["nodes"] == 3 and len(manifest["sites"]) == 3


def _require(*modules: str) -> None:
    """Skip unless every module can be found (without importing heavy frameworks into the test process)."""
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:
            found = False
        if not found:
            pytest.skip(f"{name} is not available")


def _run_in_loopback(program: str, data_dir: Path, scratch: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    env.update(
        DATA_DIR=str(data_dir),
        SCRATCH_DIR=str(scratch),
        MODEL_DIR=str(EXAMPLE_DIR),
        MAX_EPOCHS="2",
        MIN_PEERS="2",
        SWARM_LOOPBACK="True",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    done = subprocess.run(
        [sys.executable, str(EXAMPLE_DIR / program)],
        cwd=scratch.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "Epoch 2/2" in done.stdout
    return json.loads((scratch / "result.json").read_text())


@pytest.fixture(scope="module")
def digits_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("digits")
    prepare_main(["--out", str(out), "--nodes", "3", "--seed", "42"])
    return out


def test_pytorch_program_trains_standalone_in_loopback_and_reports_its_accuracy(
    digits_data: Path, tmp_path: Path
) -> None:
    _require("torch", "swarmlearning.pyt")
    result = _run_in_loopback("digits_pyt.py", digits_data / "all", tmp_path / "scratch")
    assert result["framework"] == "pytorch" and result["epochs"] == 2 and result["n_train"] > 1000
    assert 0.6 < result["test_accuracy"] <= 1.0 and result["test_loss"] > 0
    assert (tmp_path / "scratch" / "digits_pyt.pt").is_file()


def test_keras_program_trains_standalone_in_loopback_and_reports_its_accuracy(
    digits_data: Path, tmp_path: Path
) -> None:
    _require("tensorflow", "swarmlearning.tf")
    result = _run_in_loopback("digits_keras.py", digits_data / "site-1", tmp_path / "scratch")
    assert result["framework"] == "keras" and result["epochs"] == 2 and 300 < result["n_train"] < 500
    assert 0.2 < result["test_accuracy"] <= 1.0 and result["test_loss"] > 0
    assert (tmp_path / "scratch" / "digits_keras.keras").is_file()
