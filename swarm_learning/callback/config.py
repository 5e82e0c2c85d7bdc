"""The SwarmCallback's parameters: validated once, into one frozen value.

Parameter names, defaults and rules follow the product's ``SwarmCallback`` (``syncFrequency``, ``minPeers``,
``trainingContract`` and keyword options such as ``nodeWeightage``); unknown keywords are ignored.
Every rule that fails raises :class:`~swarm_learning.errors.SwarmError` with a message that says what to pass.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from swarm_learning.errors import SwarmError

DEFAULT_TRAINING_CONTRACT = "defaultbb.cqdb.sml.hpe"
MAX_PEERS = 0  # no upper bound; sent with every session request
NUMBER_OF_NODES = 1


class CheckinModel(enum.Enum):
    """What a node contributes to merges after its own local training ended."""

    inactive = 1
    active = 2
    snapshot = 3


class SLMergeMethod(enum.Enum):
    mean = 1
    coordmedian = 2
    geomedian = 3


class SLPlatform(enum.Enum):
    TF = 1
    KERAS = 2
    PYTORCH = 3
    HF_TRANSFORMER = 4


@dataclass(frozen=True)
class CallbackConfig:
    """Every SwarmCallback parameter, validated. Framework objects (model, data) are kept as given."""

    sync_frequency: int
    min_peers: int
    training_contract: str
    ml_platform: SLPlatform
    use_adaptive_sync: bool = False
    ads_val_data: Any = field(default=None, repr=False, compare=False)
    ads_val_batch_size: int | None = None
    checkin_model_on_train_end: CheckinModel = CheckinModel.snapshot
    node_weightage: int = 1
    merge_method: SLMergeMethod = SLMergeMethod.mean
    total_epochs: int = 0
    loss_function: str | None = None
    loss_function_args: Mapping[str, Any] = field(default_factory=dict)
    metric_function: str | None = None
    metric_function_args: Mapping[str, Any] = field(default_factory=dict)
    loopback: bool = False
    max_peers: int = MAX_PEERS


def _positive_int(name: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SwarmError(f"{name} has to be a positive integer, got {value!r}") from None
    if number <= 0:
        raise SwarmError(f"{name} has to be a positive integer, got {value!r}")
    return number


def _optional_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SwarmError(f"{name} has to be an integer, got {value!r}") from None


def _node_weightage(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SwarmError(f"nodeWeightage has to be an integer between 1 and 100, got {value!r}") from None
    if not 1 <= number <= 100:
        raise SwarmError(f"nodeWeightage has to be an integer between 1 and 100, got {value!r}")
    return number


def _checkin_model(value: Any) -> CheckinModel:
    names = [m.name for m in CheckinModel]
    if not isinstance(value, str) or value not in names:
        raise SwarmError(f"checkinModelOnTrainEnd has to be one of {names}, got {value!r}")
    return CheckinModel[value]


def _merge_method(value: Any) -> SLMergeMethod:
    names = [m.name for m in SLMergeMethod]
    if not isinstance(value, str) or value.lower() not in names:
        raise SwarmError(f"mergeMethod has to be one of {names}, got {value!r}")
    return SLMergeMethod[value.lower()]


def _ml_platform(value: Any, allowed: tuple[SLPlatform, ...]) -> SLPlatform:
    names = [p.name for p in allowed]
    if not isinstance(value, str) or value.upper() not in names:
        raise SwarmError(f"ml_platform has to be {' or '.join(repr(n) for n in names)} here, got {value!r}")
    return SLPlatform[value.upper()]


def _function_args(name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SwarmError(f"{name} has to be a dict of keyword arguments, got {type(value).__name__}")
    return dict(value)


def _function_name(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise SwarmError(f"{name} has to be a class name (a string), got {value!r}")
    return value


def loopback_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """``SWARM_LOOPBACK=True`` (any case) trains locally without a swarm."""
    env = os.environ if environ is None else environ
    return env.get("SWARM_LOOPBACK", "False").strip().lower() == "true"


def parse_config(
    sync_frequency: Any,
    min_peers: Any,
    training_contract: Any,
    kwargs: Mapping[str, Any],
    *,
    platforms: tuple[SLPlatform, ...],
    environ: Mapping[str, str] | None = None,
) -> CallbackConfig:
    """Validate the constructor's arguments; ``platforms`` lists the ``ml_platform`` values allowed (first = default)."""
    sync = _positive_int("syncFrequency", sync_frequency)
    peers = _positive_int("minPeers", min_peers)
    if training_contract is None:
        raise SwarmError("trainingContract must not be None (default: 'defaultbb.cqdb.sml.hpe')")
    platform_value = kwargs.get("ml_platform", kwargs.get("mlPlatform", platforms[0].name))
    platform = _ml_platform(platform_value, platforms)
    use_ads = bool(kwargs.get("useAdaptiveSync", False))
    val_data = kwargs.get("adsValData")
    if use_ads and val_data is None:
        raise SwarmError("useAdaptiveSync needs validation data: pass adsValData as well")
    total_epochs = kwargs.get("totalEpochs")
    return CallbackConfig(
        sync_frequency=sync,
        min_peers=peers,
        training_contract=str(training_contract),
        ml_platform=platform,
        use_adaptive_sync=use_ads,
        ads_val_data=val_data,
        ads_val_batch_size=_optional_int("adsValBatchSize", kwargs.get("adsValBatchSize")),
        checkin_model_on_train_end=_checkin_model(kwargs.get("checkinModelOnTrainEnd", "snapshot")),
        node_weightage=_node_weightage(kwargs.get("nodeWeightage", 1)),
        merge_method=_merge_method(kwargs.get("mergeMethod", "mean")),
        total_epochs=0 if total_epochs is None else _positive_int("totalEpochs", total_epochs),
        loss_function=_function_name("lossFunction", kwargs.get("lossFunction")),
        loss_function_args=_function_args("lossFunctionArgs", kwargs.get("lossFunctionArgs")),
        metric_function=_function_name("metricFunction", kwargs.get("metricFunction")),
        metric_function_args=_function_args("metricFunctionArgs", kwargs.get("metricFunctionArgs")),
        loopback=loopback_from_env(environ),
    )
