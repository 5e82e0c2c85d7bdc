"""Weighted geometric median of whole models by Weiszfeld's algorithm (pure numpy).

The median minimises ``f(y) = sum_i w_i * ||X_i - y||`` where each ``X_i`` is one participant's model seen
as ONE vector: all its floating-point tensors flattened and concatenated. We take the whole model rather
than one median per tensor because that is the robust-aggregation estimator the literature analyses (a
faulty node is judged on its whole update and cannot win layer by layer), and the merged model stays one
consistent combination of the participants' models.

Weiszfeld, started at the weighted mean ``y_0 = sum_i w_i X_i / sum_i w_i``::

    d_i = ||X_i - y_k||,   c_i = w_i / d_i,   y_{k+1} = T(y_k) = sum_i c_i X_i / sum_i c_i

Every iterate is therefore a convex combination ``y = sum_i a_i X_i`` of the models, and every distance it
needs is a quadratic form in ``a``: with the Gram matrix ``G_ij = <X_i - X_r, X_j - X_r>`` (any reference
model ``r``), ``||sum_i v_i X_i||^2 = v^T G v`` whenever ``sum_i v_i = 0``, so ``d_i^2 = (e_i - a)^T G (e_i - a)``.
We read the models once to build ``G`` (n x n, float64), run the whole iteration on ``a`` (O(n^2) per step,
independent of the model size), and read the models once more to form the result. No model-sized
temporary exists besides the output. ``G`` is taken relative to model 0; if model 0 lies more than 1000x
further from the medoid than the medoid's median distance to the others (a far outlier), ``G`` is rebuilt
relative to the medoid, so that distances inside the majority keep full float64 precision.

Medians on a participant: when one model is the median (e.g. a node whose weightage outweighs all others
together), Weiszfeld only approaches it linearly and the plain update divides by zero on it. Before
iterating we test every participant with the Vardi-Zhang (2000) optimality condition: ``X_j`` is the median
iff ``eta_j >= ||sum_{i not in J} w_i (X_i - X_j) / ||X_i - X_j|| ||``, with ``J`` the models at ``X_j``'s
place (``j`` and exact duplicates) and ``eta_j`` their total weight; such a model is returned exactly. If an
iterate lands on a non-optimal model by accident (the mean equals a model, say), the Vardi-Zhang step
``y_{k+1} = (1 - eta/r) T(y_k) + (eta/r) y_k`` (``r`` the norm above, taken at ``y_k``) moves it off.
A distance counts as zero when ``d^2 <= 1e-12`` x the magnitude of the terms it was computed from (the
float64 noise floor of the quadratic form).

Stopping rules (first one met):

1. converged: ``||y_{k+1} - y_k|| < 1e-10 * min_i d_i(y_{k+1})``: relative to the nearest model's
   distance, so it is invariant to translating or scaling the models and is not loosened by a far outlier
   (a tolerance relative to ``||y||`` would stop at the mean when models differ by much less than their
   norm, as fine-tuned models do). Iterations cost microseconds, so the tolerance can be tight;
2. stalled: the last three step lengths are equal to within 1e-9 relative;
3. oscillating: ``y_{k+1}`` is back at ``y_{k-1}`` (within the tolerance of rule 1), i.e. the estimate
   alternates between two centres. (Comparing objective values instead would stop too early: near the
   median ``f`` changes by the square of the remaining error, which drowns in rounding long before the
   estimate is accurate);
4. at most :data:`MAX_ITERATIONS` updates.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from swarm_learning.merge.aggregate import CHUNK, flat_source, in_parallel

logger = logging.getLogger(__name__)

MAX_ITERATIONS = 500
RELATIVE_TOLERANCE = 1e-10
NOISE_FLOOR = 1e-12
RECENTRE_RATIO = 1e3
_STALL_WINDOW = 3
_STALL_TOLERANCE = 1e-9


@dataclass(frozen=True)
class GeometricMedian:
    """Outcome of :func:`geometric_median`: the median is ``sum_i coefficients[i] * X_i``."""

    coefficients: np.ndarray
    """Convex weights of the participants' models (>= 0, sum 1); one-hot when a model is the median."""
    iterations: int
    stop_reason: str


def geometric_median(
    tensors: Sequence[Sequence[np.ndarray]], weights: np.ndarray, max_iterations: int = MAX_ITERATIONS
) -> GeometricMedian:
    """Weighted geometric median of models given as ``tensors[k][i]`` (tensor k of participant i).

    ``weights`` are all > 0. See the module docstring for the algorithm, tolerances and stopping rules.
    """
    w = np.asarray(weights, dtype=np.float64)
    gram = gram_matrix(tensors, reference=0)
    centre = _medoid(gram, w)
    if _needs_recentring(gram, centre):
        gram = gram_matrix(tensors, reference=centre)
    optimal = _optimal_participant(gram, w)
    if optimal is not None:
        return GeometricMedian(np.eye(len(w))[optimal], 0, "optimal_at_participant")
    return _iterate(gram, w, max_iterations)


def gram_matrix(tensors: Sequence[Sequence[np.ndarray]], reference: int) -> np.ndarray:
    """``G_ij = <X_i - X_r, X_j - X_r>`` in float64, in one chunked pass over the models.

    Differences are formed exactly in float64 (float32 inputs are widened first) and multiplied by BLAS;
    large tensors are split between threads, and the partial sums are added in a fixed order so the
    result does not depend on thread timing.
    """
    n = len(tensors[0]) if tensors else 0
    parts: dict[tuple[int, int], np.ndarray] = {}
    for k, per_model in enumerate(tensors):

        def span(low: int, high: int, k: int = k, per_model: Sequence[np.ndarray] = per_model) -> None:
            parts[(k, low)] = _gram_of_span(per_model, reference, low, high)

        in_parallel(span, per_model[0].size)
    gram = np.zeros((n, n))
    for key in sorted(parts):
        gram += parts[key]
    return gram


def _gram_of_span(per_model: Sequence[np.ndarray], reference: int, low: int, high: int) -> np.ndarray:
    n = len(per_model)
    sources = [flat_source(t) for t in per_model]
    gram = np.zeros((n, n))
    buffer = np.empty((n, min(CHUNK, high - low)))
    base = np.empty(buffer.shape[1])
    for start in range(low, high, CHUNK):
        stop = min(start + CHUNK, high)
        rows, ref = buffer[:, : stop - start], base[: stop - start]
        ref[...] = sources[reference][start:stop]
        for row, src in zip(rows, sources):
            row[...] = src[start:stop]
            row -= ref
        gram += rows @ rows.T
    return gram


def _iterate(gram: np.ndarray, w: np.ndarray, max_iterations: int) -> GeometricMedian:
    a = w / w.sum()
    distances, coincident = _distances(gram, a)
    steps: list[float] = []
    previous = a
    reason = "max_iterations"
    while len(steps) < max_iterations:
        pull = np.where(coincident, 0.0, w / np.where(coincident, 1.0, distances))
        target = pull / pull.sum()
        new = target
        if coincident.any():
            r = float(pull.sum()) * _length(gram, target - a)
            eta = float(w[coincident].sum())
            if eta >= r:  # the estimate sits on a model that is the median after all
                a, reason = np.eye(len(w))[int(np.argmin(distances))], "optimal_at_participant"
                break
            new = (1.0 - eta / r) * target + (eta / r) * a
        steps.append(_length(gram, new - a))
        back = _length(gram, new - previous) if len(steps) > 1 else np.inf
        previous, a = a, new
        distances, coincident = _distances(gram, a)
        stop = _stop_reason(steps, back, RELATIVE_TOLERANCE * float(distances.min()))
        if stop is not None:
            reason = stop
            break
    logger.debug("geometric median: %s after %s iterations", reason, len(steps))
    return GeometricMedian(a, len(steps), reason)


def _distances(gram: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``||X_i - y||`` for ``y = sum a_i X_i``, and which of them are indistinguishable from 0."""
    ga = gram @ a
    q = float(a @ ga)
    squared = np.diag(gram) - 2.0 * ga + q
    noise = NOISE_FLOOR * (np.abs(np.diag(gram)) + 2.0 * np.abs(ga) + abs(q))
    coincident = squared <= noise
    return np.sqrt(np.where(coincident, 0.0, squared)), coincident


def _length(gram: np.ndarray, v: np.ndarray) -> float:
    """``||sum_i v_i X_i||`` for coefficients summing to 0."""
    return float(np.sqrt(max(float(v @ gram @ v), 0.0)))


def _pairwise(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances ``||X_i - X_j||`` between models, and which pairs are indistinguishable (same place)."""
    diag = np.diag(gram)
    squared = diag[:, None] + diag[None, :] - 2.0 * gram
    same = squared <= NOISE_FLOOR * (diag[:, None] + diag[None, :] + 2.0 * np.abs(gram))
    np.fill_diagonal(same, True)
    return np.sqrt(np.where(same, 0.0, squared)), same


def _medoid(gram: np.ndarray, w: np.ndarray) -> int:
    distances, _ = _pairwise(gram)
    return int(np.argmin(distances @ w))


def _needs_recentring(gram: np.ndarray, centre: int) -> bool:
    if centre == 0:
        return False
    distances, _ = _pairwise(gram)
    others = np.delete(distances[centre], centre)
    return bool(distances[0, centre] > RECENTRE_RATIO * float(np.median(others)))


def _optimal_participant(gram: np.ndarray, w: np.ndarray) -> int | None:
    """A participant whose model is the median (Vardi-Zhang test on every one at once), if any."""
    distances, same = _pairwise(gram)
    eta = same.astype(np.float64) @ w
    pulls = np.where(same, 0.0, w[None, :] / np.where(same, 1.0, distances))
    # R_j = sum_i pulls[j, i] (X_i - X_j) = sum_i v[j, i] X_i with v = pulls - (sum pulls) e_j
    v = pulls - np.diag(pulls.sum(axis=1))
    r = np.sqrt(np.maximum(((v @ gram) * v).sum(axis=1), 0.0))
    optimal = np.flatnonzero(eta >= r)
    if optimal.size == 0:
        return None
    return int(optimal[np.argmax(w[optimal])])


def _stop_reason(steps: list[float], back: float, tolerance: float) -> str | None:
    """Which stopping rule (1-3 of the module docstring) the last update met, if any.

    ``back`` is the distance from the new estimate to the one before the previous.
    """
    if steps[-1] < tolerance:
        return "converged"
    recent = steps[-_STALL_WINDOW:]
    if len(recent) == _STALL_WINDOW and max(recent) - min(recent) <= _STALL_TOLERANCE * max(recent):
        return "stalled"
    if back < tolerance:
        return "oscillating"
    return None
