"""The three merge methods of the product (the callback's ``mergeMethod``) and their registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from swarm_learning.errors import ConfigurationError
from swarm_learning.merge.aggregate import cast_back, weighted_mean, weighted_median
from swarm_learning.merge.base import MergeMethod
from swarm_learning.merge.weiszfeld import geometric_median
from swarm_learning.weights import WeightDict


class MeanMerge(MergeMethod):
    """Weighted mean ``sum(w_i X_i) / sum(w_i)`` of every tensor (the default)."""

    name = "mean"

    def aggregate(self, models: Sequence[Mapping[str, np.ndarray]], weights: np.ndarray) -> WeightDict:
        coefficients = weights / weights.sum()
        return {
            key: cast_back(weighted_mean([m[key] for m in models], coefficients), tensor.dtype)
            for key, tensor in models[0].items()
        }


class CoordMedianMerge(MergeMethod):
    """Weighted median of every coordinate (each value counted ``w_i`` times)."""

    name = "coordmedian"

    def aggregate(self, models: Sequence[Mapping[str, np.ndarray]], weights: np.ndarray) -> WeightDict:
        return {
            key: cast_back(weighted_median([m[key] for m in models], weights), tensor.dtype)
            for key, tensor in models[0].items()
        }


class GeoMedianMerge(MergeMethod):
    """Weighted geometric median of the whole model (Weiszfeld; see :mod:`swarm_learning.merge.weiszfeld`).

    The floating-point tensors, flattened and concatenated, form the vector whose median is taken. The
    median is a convex combination of the models, and every tensor is merged with those same
    coefficients. Integer and boolean tensors (counters such as ``num_batches_tracked``) are left out of
    the distances, since a counter's scale would swamp the parameters', and are rounded after merging.
    A model with no floating-point tensor at all takes the median of its integer tensors instead.
    """

    name = "geomedian"

    def aggregate(self, models: Sequence[Mapping[str, np.ndarray]], weights: np.ndarray) -> WeightDict:
        reference = models[0]
        geometry = [k for k, t in reference.items() if t.dtype.kind == "f"] or list(reference)
        median = geometric_median([[m[k] for m in models] for k in geometry], weights)
        return {
            key: cast_back(weighted_mean([m[key] for m in models], median.coefficients), tensor.dtype)
            for key, tensor in reference.items()
        }


_METHODS: dict[str, type[MergeMethod]] = {
    cls.name: cls for cls in (MeanMerge, CoordMedianMerge, GeoMedianMerge)
}
MERGE_METHODS: tuple[str, ...] = tuple(_METHODS)


def get_merge_method(name: str) -> MergeMethod:
    """The merge method called ``name`` (case-insensitive, surrounding spaces ignored)."""
    try:
        return _METHODS[name.strip().lower()]()
    except (KeyError, AttributeError):
        raise ConfigurationError(
            f"unknown merge method {name!r}: choose one of {', '.join(MERGE_METHODS)}"
        ) from None
