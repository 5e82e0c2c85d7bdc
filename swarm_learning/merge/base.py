"""The one interface every merge method implements, and the checks they all share.

``MergeMethod.merge`` validates the round's inputs once (counts, weights, compatible models), drops the
participants whose weight is 0, and hands the rest to the method's :meth:`MergeMethod.aggregate`. A round
with a single active participant returns a copy of that participant's model, bit for bit, whatever the
method.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from swarm_learning.errors import WeightsError
from swarm_learning.merge.aggregate import working_dtype
from swarm_learning.weights import WeightDict, check_compatible


class MergeMethod(ABC):
    """Combines the participants' models of one sync round into one model."""

    name: ClassVar[str]

    def merge(self, models: Sequence[Mapping[str, np.ndarray]], weights: Sequence[float]) -> WeightDict:
        """Merge ``models`` with their ``weights`` (weightage; 0 = present but excluded).

        Returns a new dict with every key of the models, in their order, each tensor with its shape and
        dtype. Raises :class:`WeightsError` when there is nothing to merge, a weight is negative or not a
        number, or the models do not have the same tensors, shapes and dtypes.
        """
        active, active_weights = select_participants(models, weights)
        if len(active) == 1:
            return {key: np.array(value, copy=True) for key, value in active[0].items()}
        return self.aggregate(active, active_weights)

    @abstractmethod
    def aggregate(self, models: Sequence[Mapping[str, np.ndarray]], weights: np.ndarray) -> WeightDict:
        """Merge at least two validated, compatible models whose ``weights`` are all > 0."""


def select_participants(
    models: Sequence[Mapping[str, np.ndarray]], weights: Sequence[float]
) -> tuple[list[Mapping[str, np.ndarray]], np.ndarray]:
    """Validate a round's inputs; return the models with weight > 0 and their weights (float64)."""
    if len(models) != len(weights):
        raise WeightsError(
            f"got {len(models)} models but {len(weights)} weights: pass exactly one weight per model"
        )
    if not models:
        raise WeightsError("no models to merge: a merge needs at least one participant's model")
    for index, weight in enumerate(weights):
        if not isinstance(weight, (int, float, np.integer, np.floating)) or not math.isfinite(weight):
            raise WeightsError(f"weight of model {index} is {weight!r}: weights must be finite numbers")
        if weight < 0:
            raise WeightsError(f"weight of model {index} is {weight}: weights must be >= 0")
    reference = models[0]
    for key, tensor in reference.items():
        working_dtype(tensor.dtype, key)
    for index, model in enumerate(models[1:], start=1):
        reason = check_compatible(reference, model)
        if reason is not None:
            raise WeightsError(f"model {index} cannot be merged with model 0: {reason}")
    active = [index for index, weight in enumerate(weights) if weight > 0]
    if not active:
        raise WeightsError(
            f"all {len(models)} weights are 0: at least one participant needs a positive weight to merge"
        )
    return [models[i] for i in active], np.array([float(weights[i]) for i in active])
