"""The geometric median of a round's models: robust to outliers, and the true minimiser."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from swarm_learning.merge import get_merge_method
from swarm_learning.merge.weiszfeld import MAX_ITERATIONS, geometric_median


def geomedian(models: list[dict[str, np.ndarray]], weights: Sequence[float]) -> dict[str, np.ndarray]:
    return get_merge_method("geomedian").merge(models, weights)


def split(point: np.ndarray) -> dict[str, np.ndarray]:
    """A model of two tensors holding the coordinates of one point (the median spans the whole model)."""
    return {"layer.weight": point[:2].astype(np.float64), "layer.bias": point[2:].astype(np.float64)}


def joined(model: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([model["layer.weight"], model["layer.bias"]])


def objective(points: np.ndarray, weights: np.ndarray, y: np.ndarray) -> float:
    return float(weights @ np.linalg.norm(points - y, axis=1))


def test_collinear_models_give_the_weighted_median_point() -> None:
    direction = np.array([1.0, -2.0, 0.5, 3.0])
    origin = np.array([0.3, 0.1, -0.2, 1.0])
    positions = [0.0, 1.0, 2.0, 10.0]
    weights = [1, 2, 1, 1]  # multiset {0, 1, 1, 2, 10}: weighted median at position 1
    merged = geomedian([split(origin + t * direction) for t in positions], weights)
    np.testing.assert_allclose(joined(merged), origin + 1.0 * direction, atol=1e-5)


def test_a_mean_that_lands_on_a_non_median_model_moves_on_to_the_median() -> None:
    # On a line at 0, 1, 1, 1, -3 the mean (0) is itself a model but the median is 1.
    positions = [0.0, 1.0, 1.0, 1.0, -3.0]
    models = [{"w": np.array([t, 2 * t], dtype=np.float64)} for t in positions]
    merged = geomedian(models, [1, 1, 1, 1, 1])
    np.testing.assert_allclose(merged["w"], [1.0, 2.0], atol=1e-6)


def test_one_outlier_cannot_drag_the_merged_model_away_from_the_majority() -> None:
    rng = np.random.default_rng(7)
    honest = np.ones(50)
    models = [{"w": (honest + 0.01 * rng.standard_normal(50)).astype(np.float32)} for _ in range(5)]
    models.append({"w": np.full(50, 1000.0, dtype=np.float32)})
    weights = [1, 1, 1, 1, 1, 1]
    robust = geomedian(models, weights)["w"]
    mean = get_merge_method("mean").merge(models, weights)["w"]
    assert np.linalg.norm(robust - honest) < 0.1
    assert np.linalg.norm(mean - honest) > 1000


def test_identical_models_come_back_unchanged() -> None:
    rng = np.random.default_rng(8)
    same = {"w": rng.standard_normal((7, 3)).astype(np.float32)}
    merged = geomedian([same, dict(same), dict(same)], [3, 1, 9])
    np.testing.assert_array_equal(merged["w"], same["w"])


def test_geomedian_matches_an_independent_brute_force_minimum_in_2d() -> None:
    points = np.array([[0.0, 0.0], [4.0, 0.0], [1.0, 3.0], [5.0, 5.0]])
    weights = np.array([3.0, 1.0, 2.0, 1.0])
    merged = geomedian([{"p": p} for p in points], list(weights))["p"]
    best = np.array([2.5, 2.5])
    for spacing in (0.1, 0.002):  # coarse grid over the points' box, then a fine one around its best
        axis = np.arange(-50, 51) * spacing
        xx, yy = np.meshgrid(best[0] + axis, best[1] + axis)
        candidates = np.stack([xx.ravel(), yy.ravel()], axis=1)
        values = sum(w * np.linalg.norm(candidates - p, axis=1) for p, w in zip(points, weights))
        best = candidates[np.argmin(values)]
    np.testing.assert_allclose(merged, best, atol=0.003)
    assert objective(points, weights, merged) <= objective(points, weights, best) + 1e-9


@pytest.mark.parametrize(("seed", "where"), [(31, "between the models"), (11, "on a participant's model")])
def test_geomedian_matches_scipy_minimize_over_the_whole_model(seed: int, where: str) -> None:
    optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(seed)
    points = rng.standard_normal((7, 4)) * [1.0, 3.0, 0.5, 2.0]
    weights = rng.integers(1, 101, size=7).astype(np.float64)
    merged = joined(geomedian([split(p) for p in points], list(weights)))
    on_a_model = bool(np.any(np.all(merged == points, axis=1)))
    assert on_a_model == (where == "on a participant's model")
    reference = points.mean(axis=0) + 0.5
    for _ in range(2):  # Nelder-Mead, restarted once from its own answer
        found = optimize.minimize(
            lambda y: objective(points, weights, y),
            reference,
            method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-12, "maxfev": 20000},
        )
        assert found.success
        reference = found.x
    np.testing.assert_allclose(merged, reference, atol=1e-6)
    assert objective(points, weights, merged) <= objective(points, weights, reference) * (1 + 1e-12)


def test_the_median_of_the_whole_model_differs_from_per_tensor_medians() -> None:
    # Documented choice: one vector for the whole model. Taken alone, each tensor's median here is the
    # origin (the first model); over the whole model the pull of the others moves the median off it.
    points = np.array(
        [[0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 20.0, 20.0], [0, 0, -20.0, 20.0]]
    )
    merged = joined(geomedian([split(p) for p in points], [1, 1, 1, 1]))
    weight_alone = geomedian([{"w": p[:2]} for p in points], [1, 1, 1, 1])["w"]
    bias_alone = geomedian([{"b": p[2:]} for p in points], [1, 1, 1, 1])["b"]
    np.testing.assert_array_equal(np.concatenate([weight_alone, bias_alone]), np.zeros(4))
    assert np.linalg.norm(merged) > 0.3
    ones = np.ones(4)
    assert objective(points, ones, merged) < objective(points, ones, np.zeros(4)) - 0.1


def test_integer_counters_follow_the_median_weights_and_do_not_sway_it() -> None:
    float_part = [np.array([0.0, 0.0]), np.array([0.1, 0.0]), np.array([50.0, 50.0])]
    counters = [100, 100, 900_000]
    models = [{"w": w, "num_batches_tracked": np.array(c, np.int64)} for w, c in zip(float_part, counters)]
    merged = geomedian(models, [1, 1, 1])
    without_counter = geomedian([{"w": w} for w in float_part], [1, 1, 1])
    np.testing.assert_array_equal(merged["w"], without_counter["w"])
    assert int(merged["num_batches_tracked"]) < 1000


def test_weiszfeld_reaches_a_point_where_the_objective_has_no_slope() -> None:
    rng = np.random.default_rng(12)
    tensors = [[rng.standard_normal(1000) for _ in range(6)], [rng.standard_normal(10) for _ in range(6)]]
    weights = np.array([1.0, 5.0, 2.0, 9.0, 1.0, 3.0])
    result = geometric_median(tensors, weights)
    assert result.stop_reason == "converged"
    assert result.iterations < MAX_ITERATIONS
    assert np.all(result.coefficients >= 0)
    np.testing.assert_allclose(result.coefficients.sum(), 1.0)
    points = np.stack([np.concatenate([tensors[0][i], tensors[1][i]]) for i in range(6)])
    y = result.coefficients @ points
    to_points = points - y
    slope = (weights[:, None] * to_points / np.linalg.norm(to_points, axis=1)[:, None]).sum(axis=0)
    assert np.linalg.norm(slope) < 1e-6 * weights.sum()


def test_a_far_outlier_listed_first_does_not_cost_precision_inside_the_majority() -> None:
    rng = np.random.default_rng(14)
    centre = rng.standard_normal(200)
    honest = [centre + 1e-3 * rng.standard_normal(200) for _ in range(4)]
    outlier = centre + 1e9
    first = geomedian([{"w": p} for p in [outlier, *honest]], [1, 1, 1, 1, 1])["w"]
    last = geomedian([{"w": p} for p in [*honest, outlier]], [1, 1, 1, 1, 1])["w"]
    np.testing.assert_allclose(first, last, rtol=0, atol=1e-9)
    assert np.linalg.norm(first - centre) < 2e-3 * np.sqrt(200)


def test_a_node_that_outweighs_all_the_others_together_is_the_median_exactly() -> None:
    rng = np.random.default_rng(13)
    models = [{"w": rng.standard_normal((20, 5)).astype(np.float32)} for _ in range(4)]
    merged = geomedian(models, [100, 30, 30, 39])
    np.testing.assert_array_equal(merged["w"], models[0]["w"])
