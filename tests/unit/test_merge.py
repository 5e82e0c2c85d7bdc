"""A leader merges the models of a sync round with the method the swarm was configured with."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from swarm_learning.errors import ConfigurationError, WeightsError
from swarm_learning.merge import MERGE_METHODS, MergeMethod, get_merge_method

ALL = pytest.mark.parametrize("method", MERGE_METHODS)


def merge(
    method: str, models: list[dict[str, np.ndarray]], weights: Sequence[float]
) -> dict[str, np.ndarray]:
    return get_merge_method(method).merge(models, weights)


def model(value: float | list[float], dtype: str = "float32") -> dict[str, np.ndarray]:
    return {"w": np.array(value, dtype=dtype)}


# --- choosing a method -------------------------------------------------------------------------------


def test_the_three_documented_methods_are_available_by_name_in_any_case() -> None:
    assert MERGE_METHODS == ("mean", "coordmedian", "geomedian")
    for spelled in ("mean", "MEAN", "CoordMedian", " geomedian "):
        method = get_merge_method(spelled)
        assert isinstance(method, MergeMethod)
        assert method.name == spelled.strip().lower()


def test_an_unknown_method_is_a_configuration_error_listing_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        get_merge_method("median")
    assert "'median'" in str(excinfo.value)
    for name in MERGE_METHODS:
        assert name in str(excinfo.value)


# --- mean ----------------------------------------------------------------------------------------------


def test_mean_weights_each_model_by_its_weightage() -> None:
    merged = merge("mean", [model([1.0, 2.0]), model([5.0, 6.0])], [1, 3])
    # (1*1 + 3*5) / 4 = 4 and (1*2 + 3*6) / 4 = 5
    np.testing.assert_array_equal(merged["w"], np.array([4.0, 5.0], dtype=np.float32))


def test_mean_with_equal_weights_is_the_plain_average() -> None:
    merged = merge("mean", [model([0.0, 3.0]), model([1.0, 6.0]), model([2.0, 9.0])], [7, 7, 7])
    np.testing.assert_allclose(merged["w"], [1.0, 6.0], rtol=1e-6)


def test_mean_of_float32_models_matches_a_float64_reference() -> None:
    rng = np.random.default_rng(1)
    models = [{"w": rng.standard_normal((300, 500)).astype(np.float32)} for _ in range(8)]
    weights = [int(x) for x in rng.integers(1, 101, size=8)]
    merged = merge("mean", models, weights)
    stacked = np.stack([m["w"].astype(np.float64) for m in models])
    reference = np.tensordot(np.array(weights, dtype=np.float64), stacked, axes=1) / sum(weights)
    assert merged["w"].dtype == np.float32
    np.testing.assert_allclose(merged["w"], reference, rtol=1e-5, atol=1e-6)


# --- coordinate median -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "weights", "expected"),
    [
        ([1.0, 5.0, 3.0], [1, 1, 1], 3.0),  # odd count: the middle value
        ([1.0, 5.0, 3.0, 10.0], [1, 1, 1, 1], 4.0),  # even count: mean of the two middle values
        ([1.0, 5.0, 3.0], [1, 1, 3], 3.0),  # {1, 5, 3, 3, 3}
        ([1.0, 5.0, 3.0], [1, 3, 1], 5.0),  # {1, 5, 5, 5, 3}
        ([1.0, 2.0, 10.0], [1, 1, 2], 6.0),  # {1, 2, 10, 10}: even total weight
        ([2.0, 2.0, 7.0, 9.0], [1, 1, 1, 1], 4.5),  # tie in the middle
        ([4.0, 4.0, 1.0], [1, 1, 2], 2.5),  # {1, 1, 4, 4}: tie across the boundary
        ([4.0, 4.0, 1.0], [1, 1, 1], 4.0),
        ([0.5, 9.0], [0.25, 0.75], 9.0),  # float weights are accepted
    ],
)
def test_coordmedian_is_the_median_of_each_value_repeated_weight_times(
    values: list[float], weights: list[float], expected: float
) -> None:
    merged = merge("coordmedian", [model([v]) for v in values], weights)
    np.testing.assert_array_equal(merged["w"], np.array([expected], dtype=np.float32))


def test_coordmedian_takes_each_coordinate_independently() -> None:
    models = [model([1.0, 30.0, -1.0]), model([2.0, 10.0, -3.0]), model([3.0, 20.0, -2.0])]
    merged = merge("coordmedian", models, [1, 1, 1])
    np.testing.assert_array_equal(merged["w"], np.array([2.0, 20.0, -2.0], dtype=np.float32))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [2, 3, 4, 7, 12])
def test_coordmedian_matches_the_repeated_values_definition_on_random_data(n: int, dtype: str) -> None:
    rng = np.random.default_rng(n)
    models = [{"w": (rng.integers(-5, 6, size=(40, 25)) * 0.75).astype(dtype)} for _ in range(n)]
    weights = [int(x) for x in rng.integers(1, 6, size=n)]
    merged = merge("coordmedian", models, weights)
    stacked = np.stack([m["w"] for m in models])
    expected = np.median(np.repeat(stacked, weights, axis=0), axis=0)
    np.testing.assert_array_equal(merged["w"], expected)


def test_coordmedian_orders_negative_zero_huge_and_infinite_values_correctly() -> None:
    values = [-3.5, -0.0, 2.0, -1e30, np.inf, 0.0, -np.inf, 7e-45]
    weights = [3, 1, 4, 1, 5, 9, 2, 6]
    models = [{"w": np.array([v, -v], dtype=np.float32)} for v in values]
    merged = merge("coordmedian", models, weights)
    repeated = np.repeat(np.array(values, dtype=np.float64), weights)
    expected = [np.median(repeated), np.median(-repeated)]
    np.testing.assert_array_equal(merged["w"], np.array(expected, dtype=np.float32))


# --- what every method shares ----------------------------------------------------------------------------


@ALL
def test_a_single_participant_gets_its_own_weights_back_exactly(method: str) -> None:
    rng = np.random.default_rng(3)
    only: dict[str, np.ndarray] = {
        "conv.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        "bn.num_batches_tracked": np.array(1234, dtype=np.int64),
    }
    merged = merge(method, [only], [42])
    assert list(merged) == list(only)
    for key, value in only.items():
        np.testing.assert_array_equal(merged[key], value)
        assert merged[key].dtype == value.dtype
        assert merged[key] is not value


@ALL
def test_a_participant_with_weight_zero_is_left_out(method: str) -> None:
    a, inactive, c = model([1.0, 2.0]), model([1000.0, -1000.0]), model([3.0, 8.0])
    with_inactive = merge(method, [a, inactive, c], [2, 0, 5])
    without = merge(method, [a, c], [2, 5])
    np.testing.assert_array_equal(with_inactive["w"], without["w"])
    alone = merge(method, [inactive, c], [0, 5])
    np.testing.assert_array_equal(alone["w"], c["w"])


@ALL
def test_every_tensor_keeps_its_key_order_shape_and_dtype(method: str) -> None:
    rng = np.random.default_rng(4)

    def one_model() -> dict[str, np.ndarray]:
        return {
            "z.half": rng.standard_normal((2, 3)).astype(np.float16),
            "a.single": rng.standard_normal((5,)).astype(np.float32),
            "m.double": rng.standard_normal((1, 2, 2)).astype(np.float64),
            "counter": np.array(rng.integers(0, 100), dtype=np.int64),
            "small.int": rng.integers(0, 9, size=(3,)).astype(np.int32),
            "byte": rng.integers(0, 255, size=(2,)).astype(np.uint8),
            "mask": rng.integers(0, 2, size=(4,)).astype(bool),
            "empty": np.zeros((0, 3), dtype=np.float32),
        }

    models = [one_model() for _ in range(3)]
    merged = merge(method, models, [1, 2, 3])
    assert list(merged) == list(models[0])
    for key, value in models[0].items():
        assert isinstance(merged[key], np.ndarray), key
        assert merged[key].shape == value.shape, key
        assert merged[key].dtype == value.dtype, key


@ALL
def test_integer_tensors_are_merged_as_numbers_and_rounded_back(method: str) -> None:
    models = [{"num_batches_tracked": np.array(v, dtype=np.int64)} for v in (10, 11, 11)]
    merged = merge(method, models, [1, 1, 1])
    # mean 10.67 -> 11; median 11; geometric median of three points on a line is the middle one: 11
    assert merged["num_batches_tracked"].dtype == np.int64
    assert int(merged["num_batches_tracked"]) == 11


def test_integer_halves_round_to_even_not_truncate() -> None:
    models = [{"steps": np.array([1, 2], dtype=np.int32)}, {"steps": np.array([2, 5], dtype=np.int32)}]
    assert merge("mean", models, [1, 1])["steps"].tolist() == [2, 4]  # 1.5 -> 2, 3.5 -> 4
    assert merge("coordmedian", models, [1, 1])["steps"].tolist() == [2, 4]


@ALL
def test_the_order_in_which_participants_are_listed_does_not_matter(method: str) -> None:
    rng = np.random.default_rng(6)
    models = [{"w": rng.standard_normal((30,)).astype(np.float64)} for _ in range(5)]
    weights = [3, 1, 4, 1, 5]
    forward = merge(method, models, weights)["w"]
    backward = merge(method, models[::-1], weights[::-1])["w"]
    np.testing.assert_allclose(forward, backward, rtol=1e-7, atol=1e-9)


@ALL
def test_non_contiguous_tensors_merge_like_contiguous_ones(method: str) -> None:
    rng = np.random.default_rng(5)
    base = [rng.standard_normal((6, 4)).astype(np.float32) for _ in range(3)]
    transposed = merge(method, [{"w": b.T} for b in base], [1, 2, 4])
    copied = merge(method, [{"w": np.ascontiguousarray(b.T)} for b in base], [1, 2, 4])
    np.testing.assert_array_equal(transposed["w"], copied["w"])


# --- refusing what cannot be merged ----------------------------------------------------------------------


@ALL
def test_all_weights_zero_is_refused_with_a_clear_message(method: str) -> None:
    with pytest.raises(WeightsError, match="all 2 weights are 0"):
        merge(method, [model([1.0]), model([2.0])], [0, 0])


@ALL
def test_no_models_is_refused(method: str) -> None:
    with pytest.raises(WeightsError, match="no models to merge"):
        merge(method, [], [])


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1, -1], "must be >= 0"),
        ([1, float("nan")], "finite"),
        ([1, float("inf")], "finite"),
        ([1], "one weight"),
    ],
)
def test_bad_weights_are_refused(weights: list[float], message: str) -> None:
    with pytest.raises(WeightsError, match=message):
        merge("mean", [model([1.0]), model([2.0])], weights)


@ALL
def test_a_model_with_a_different_shape_is_refused_naming_the_tensor(method: str) -> None:
    good = {"fc.weight": np.zeros((2, 3), np.float32), "fc.bias": np.zeros(2, np.float32)}
    bad = {"fc.weight": np.zeros((3, 2), np.float32), "fc.bias": np.zeros(2, np.float32)}
    with pytest.raises(WeightsError, match=r"model 1 .*'fc\.weight'.*shape"):
        merge(method, [good, bad], [1, 1])


@ALL
def test_models_with_different_tensors_or_dtypes_are_refused(method: str) -> None:
    good = {"fc.weight": np.zeros(2, np.float32)}
    with pytest.raises(WeightsError, match="missing"):
        merge(method, [good, {"other": np.zeros(2, np.float32)}], [1, 1])
    with pytest.raises(WeightsError, match=r"'fc\.weight'.*dtype"):
        merge(method, [good, {"fc.weight": np.zeros(2, np.float64)}], [1, 1])


def test_a_model_of_complex_numbers_is_refused_naming_the_tensor() -> None:
    models = [{"phase": np.ones(2, np.complex64)}, {"phase": np.ones(2, np.complex64)}]
    with pytest.raises(WeightsError, match="'phase'.*complex64"):
        merge("mean", models, [1, 1])


@pytest.mark.parametrize("method", ["mean", "coordmedian"])
def test_large_tensors_split_between_threads_merge_like_a_reference(method: str) -> None:
    rng = np.random.default_rng(9)
    size = 700_001  # several chunks, uneven split between threads
    models = [{"w": rng.standard_normal(size).astype(np.float32)[::-1]} for _ in range(4)]  # non-contiguous
    weights = [2, 3, 2, 4]
    merged = merge(method, models, weights)["w"]
    stacked = np.stack([m["w"].astype(np.float64) for m in models])
    if method == "mean":
        expected = np.array(weights, dtype=np.float64) @ stacked / sum(weights)
        np.testing.assert_allclose(merged, expected, rtol=1e-5, atol=1e-6)
    else:
        expected = np.median(np.repeat(stacked, weights, axis=0), axis=0)
        np.testing.assert_array_equal(merged, expected.astype(np.float32))
