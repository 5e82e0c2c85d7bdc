"""Split scikit-learn's bundled digits into non-IID training sets, one per site, plus a common test set.

Each site "owns" a few classes (class ``c`` belongs to site ``c % nodes``) and receives most of their training
images; the other sites get only a small share of them. Every site ends up with the same number of samples, so the
sites run the same number of batches (and therefore the same number of sync rounds). A site trained alone therefore
rarely sees most digits and does clearly worse on the common test set than the swarm, which sees them all.

Layout written under ``--out``::

    site-<i>/train.npz   x: float32 (n, 64) in [0, 1], y: int64   (i = 1..nodes)
    site-<i>/test.npz    the common held-out test set
    all/train.npz        union of the sites' training sets (centralised baseline)
    all/test.npz         the common held-out test set
    manifest.json        the parameters and per-site class counts, used to make preparation idempotent

Usage: ``python -m examples.digits.prepare_data --out DIR --nodes N --seed S``
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NUM_CLASSES = 10
DEFAULT_NODES = 3
DEFAULT_SEED = 42
DEFAULT_TEST_FRACTION = 0.25
# Share of each class's training images that go to the site owning it; the rest is spread evenly over the
# other sites. With 3 sites this gives each site roughly 85 % of its samples from its own 3-4 classes.
DEFAULT_OWN_FRACTION = 0.85


@dataclass(frozen=True)
class Split:
    """The outcome of a split: one (x, y) pair per site and the common test set."""

    sites: list[tuple[np.ndarray, np.ndarray]]
    x_test: np.ndarray
    y_test: np.ndarray

    def union(self) -> tuple[np.ndarray, np.ndarray]:
        """All sites' training data together (the centralised baseline's training set)."""
        return (
            np.concatenate([x for x, _ in self.sites]),
            np.concatenate([y for _, y in self.sites]),
        )


def owner_of(label: int, nodes: int) -> int:
    """Index (0-based) of the site that owns ``label``."""
    return label % nodes


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 bundled 8x8 digit images as float32 (n, 64) scaled to [0, 1], and int64 labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (np.asarray(bunch.data, dtype=np.float32) / 16.0).astype(np.float32)
    y = np.asarray(bunch.target, dtype=np.int64)
    return x, y


def stratified_holdout(
    y: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) keeping each class's proportion in the test set."""
    train_idx: list[np.ndarray] = []
    test_idx: list[np.ndarray] = []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_test = round(len(idx) * test_fraction)
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))


def assign_to_sites(
    y: np.ndarray, nodes: int, own_fraction: float, rng: np.random.Generator
) -> list[np.ndarray]:
    """Per site, the indices into ``y`` it receives; all sites get the same number of samples."""
    per_site: list[list[np.ndarray]] = [[] for _ in range(nodes)]
    own: list[list[np.ndarray]] = [[] for _ in range(nodes)]
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        owner = owner_of(int(label), nodes)
        if nodes == 1:
            own[0].append(idx)
            continue
        n_own = round(len(idx) * own_fraction)
        own[owner].append(idx[:n_own])
        others = [s for s in range(nodes) if s != owner]
        for site, part in zip(others, np.array_split(idx[n_own:], len(others))):
            per_site[site].append(part)
    # Equalise the sizes by dropping some of the larger sites' own-class samples (keeps them dominated by
    # their own classes, and gives every site the same number of batches per epoch).
    own_flat = [np.concatenate(parts) if parts else np.empty(0, np.int64) for parts in own]
    foreign_flat = [np.concatenate(parts) if parts else np.empty(0, np.int64) for parts in per_site]
    size = min(len(o) + len(f) for o, f in zip(own_flat, foreign_flat))
    result = []
    for o, f in zip(own_flat, foreign_flat):
        keep_own = rng.permutation(o)[: size - len(f)]
        result.append(rng.permutation(np.concatenate([keep_own, f])))
    return result


def make_split(
    nodes: int = DEFAULT_NODES,
    seed: int = DEFAULT_SEED,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    own_fraction: float = DEFAULT_OWN_FRACTION,
) -> Split:
    """Deterministic non-IID split of the digits for ``nodes`` sites."""
    if nodes < 1:
        raise ValueError(f"nodes must be at least 1, got {nodes}")
    if nodes > NUM_CLASSES:
        raise ValueError(f"at most {NUM_CLASSES} sites are supported (one class each), got {nodes}")
    x, y = load_digits_arrays()
    rng = np.random.default_rng(seed)
    train_idx, test_idx = stratified_holdout(y, test_fraction, rng)
    x_train, y_train = x[train_idx], y[train_idx]
    sites = [(x_train[i], y_train[i]) for i in assign_to_sites(y_train, nodes, own_fraction, rng)]
    return Split(sites=sites, x_test=x[test_idx], y_test=y[test_idx])


def class_histogram(y: np.ndarray) -> list[int]:
    return np.bincount(y, minlength=NUM_CLASSES).astype(int).tolist()


def _save(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x.astype(np.float32), y=y.astype(np.int64))


def write_split(split: Split, out: Path, nodes: int, seed: int) -> dict:
    """Write the npz files and ``manifest.json`` under ``out``; return the manifest."""
    for i, (x, y) in enumerate(split.sites, start=1):
        _save(out / f"site-{i}" / "train.npz", x, y)
        _save(out / f"site-{i}" / "test.npz", split.x_test, split.y_test)
    x_all, y_all = split.union()
    _save(out / "all" / "train.npz", x_all, y_all)
    _save(out / "all" / "test.npz", split.x_test, split.y_test)
    manifest = {
        "dataset": "sklearn-digits",
        "nodes": nodes,
        "seed": seed,
        "n_test": len(split.y_test),
        "sites": [
            {
                "name": f"site-{i}",
                "n_train": len(y),
                "own_classes": [c for c in range(NUM_CLASSES) if owner_of(c, nodes) == i - 1],
                "class_counts": class_histogram(y),
            }
            for i, (_, y) in enumerate(split.sites, start=1)
        ],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def is_prepared(out: Path, nodes: int, seed: int) -> bool:
    """True when ``out`` already holds a complete split made with these parameters."""
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("nodes") != nodes or manifest.get("seed") != seed:
        return False
    folders = [f"site-{i}" for i in range(1, nodes + 1)] + ["all"]
    return all((out / d / f).is_file() for d in folders for f in ("train.npz", "test.npz"))


def format_histogram(manifest: dict) -> str:
    header = "site     n_train  own%  " + " ".join(f"{c:>4}" for c in range(NUM_CLASSES))
    lines = [header]
    for site in manifest["sites"]:
        counts = site["class_counts"]
        own_pct = 100.0 * sum(counts[c] for c in site["own_classes"]) / max(1, site["n_train"])
        lines.append(
            f"{site['name']:<8} {site['n_train']:>7}  {own_pct:>3.0f}%  "
            + " ".join(f"{n:>4}" for n in counts)
        )
    lines.append(f"common test set: {manifest['n_test']} samples")
    return "\n".join(lines)


def prepare(out: Path, nodes: int = DEFAULT_NODES, seed: int = DEFAULT_SEED) -> dict:
    """Make and write the split; return its manifest."""
    return write_split(make_split(nodes=nodes, seed=seed), out, nodes, seed)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write site-<i>/ and all/ into")
    parser.add_argument("--nodes", type=int, default=DEFAULT_NODES, help="number of sites (default 3)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default 42)")
    args = parser.parse_args(argv)
    try:
        manifest = prepare(args.out, args.nodes, args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    print(format_histogram(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
