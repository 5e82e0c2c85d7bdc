"""Merge methods: how the leader combines the participants' models of a sync round.

>>> from swarm_learning.merge import get_merge_method
>>> merged = get_merge_method("mean").merge([model_a, model_b], weights=[1, 3])  # doctest: +SKIP

``mean`` (default), ``coordmedian`` and ``geomedian`` follow the spec's merge math: each tensor is merged
element-wise (``geomedian`` takes the whole model as one vector), participants with weight 0 are left out,
and every key keeps its order, shape and dtype. The arithmetic lives in :mod:`.aggregate` and
:mod:`.weiszfeld`; each method is a small class in :mod:`.methods`.
"""

from swarm_learning.merge.base import MergeMethod
from swarm_learning.merge.methods import (
    MERGE_METHODS,
    CoordMedianMerge,
    GeoMedianMerge,
    MeanMerge,
    get_merge_method,
)

__all__ = [
    "MERGE_METHODS",
    "CoordMedianMerge",
    "GeoMedianMerge",
    "MeanMerge",
    "MergeMethod",
    "get_merge_method",
]
