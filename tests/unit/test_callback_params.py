"""A data scientist constructs SwarmCallback: every parameter rule of the product, checked without a swarm."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from swarm_learning.callback import CheckinModel, SLMergeMethod, SLPlatform, parse_config
from swarm_learning.callback.config import loopback_from_env
from swarmlearning.pyt import DEFAULT_TRAINING_CONTRACT, SwarmCallback, SwarmError

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWARM_LOOPBACK", "True")


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return torch.nn.Linear(3, 2)


def make(model: torch.nn.Module, sync: Any = 4, peers: Any = 1, **kwargs: Any) -> SwarmCallback:
    return SwarmCallback(sync, peers, model=model, **kwargs)


@pytest.mark.parametrize("value", [0, -3, "abc", None, "1.5"])
def test_sync_frequency_must_be_a_positive_integer(model: torch.nn.Module, value: Any) -> None:
    with pytest.raises(SwarmError, match="syncFrequency has to be a positive integer"):
        make(model, sync=value)


def test_sync_frequency_accepts_anything_int_accepts(model: torch.nn.Module) -> None:
    assert make(model, sync="128").config.sync_frequency == 128
    assert make(model, sync=7.9).config.sync_frequency == 7


@pytest.mark.parametrize("value", [0, -1, "two"])
def test_min_peers_must_be_a_positive_integer(model: torch.nn.Module, value: Any) -> None:
    with pytest.raises(SwarmError, match="minPeers has to be a positive integer"):
        make(model, peers=value)


def test_training_contract_defaults_to_the_product_default_and_must_not_be_none(
    model: torch.nn.Module,
) -> None:
    assert DEFAULT_TRAINING_CONTRACT == "defaultbb.cqdb.sml.hpe"
    assert make(model).config.training_contract == DEFAULT_TRAINING_CONTRACT
    assert make(model, trainingContract="mnist").config.training_contract == "mnist"
    with pytest.raises(SwarmError, match="trainingContract"):
        SwarmCallback(4, 1, None, model=model)


def test_adaptive_sync_needs_validation_data(model: torch.nn.Module) -> None:
    with pytest.raises(SwarmError, match="useAdaptiveSync needs validation data"):
        make(model, useAdaptiveSync=True)


def test_pytorch_validation_data_must_be_a_dataloader(model: torch.nn.Module) -> None:
    with pytest.raises(SwarmError, match="DataLoader"):
        make(model, adsValData=[(torch.zeros(1, 3), torch.zeros(1))])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(4, 3), torch.zeros(4)))
    cb = make(model, adsValData=loader, useAdaptiveSync=True, lossFunction="MSELoss")
    assert cb.config.use_adaptive_sync and cb.config.ads_val_data is loader


@pytest.mark.parametrize("value", ["Snapshot", "ACTIVE", "off", 1])
def test_checkin_model_must_be_one_of_the_three_modes_exactly(model: torch.nn.Module, value: Any) -> None:
    with pytest.raises(SwarmError, match="checkinModelOnTrainEnd has to be one of"):
        make(model, checkinModelOnTrainEnd=value)


def test_checkin_model_defaults_to_snapshot(model: torch.nn.Module) -> None:
    assert make(model).config.checkin_model_on_train_end is CheckinModel.snapshot
    for mode in ("inactive", "active", "snapshot"):
        assert (
            make(model, checkinModelOnTrainEnd=mode).config.checkin_model_on_train_end is CheckinModel[mode]
        )


@pytest.mark.parametrize("value", [0, 101, -5, "heavy", None])
def test_node_weightage_must_be_between_1_and_100(model: torch.nn.Module, value: Any) -> None:
    with pytest.raises(SwarmError, match="nodeWeightage has to be an integer between 1 and 100"):
        make(model, nodeWeightage=value)


def test_node_weightage_truncates_floats_and_defaults_to_1(model: torch.nn.Module) -> None:
    assert make(model).config.node_weightage == 1
    assert make(model, nodeWeightage=100).config.node_weightage == 100
    assert make(model, nodeWeightage=50.7).config.node_weightage == 50


def test_merge_method_is_case_insensitive_and_checked(model: torch.nn.Module) -> None:
    assert make(model).config.merge_method is SLMergeMethod.mean
    assert make(model, mergeMethod="COORDMEDIAN").config.merge_method is SLMergeMethod.coordmedian
    assert make(model, mergeMethod="geomedian").config.merge_method is SLMergeMethod.geomedian
    for bad in ("median", 3):
        with pytest.raises(SwarmError, match="mergeMethod has to be one of"):
            make(model, mergeMethod=bad)


def test_total_epochs_must_be_positive_when_given_and_warns_when_missing(
    model: torch.nn.Module, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(SwarmError, match="totalEpochs has to be a positive integer"):
        make(model, totalEpochs=0)
    assert make(model, totalEpochs="5").config.total_epochs == 5
    caplog.clear()
    assert make(model).config.total_epochs == 0
    assert "totalEpochs is not set" in caplog.text


def test_pytorch_platform_accepts_only_pytorch_and_honours_the_mlplatform_alias(
    model: torch.nn.Module,
) -> None:
    assert make(model).config.ml_platform is SLPlatform.PYTORCH
    assert make(model, ml_platform="PYTORCH").config.ml_platform is SLPlatform.PYTORCH
    with pytest.raises(SwarmError, match="ml_platform has to be 'PYTORCH'"):
        make(model, ml_platform="KERAS")
    with pytest.raises(SwarmError, match="ml_platform"):
        make(model, mlPlatform="HF_TRANSFORMER")


def test_pytorch_needs_a_torch_model() -> None:
    with pytest.raises(SwarmError, match="Pytorch model is None"):
        SwarmCallback(4, 1)
    with pytest.raises(SwarmError, match="torch.nn.Module"):
        SwarmCallback(4, 1, model="my model")


def test_loss_and_metric_names_must_name_real_classes(model: torch.nn.Module) -> None:
    with pytest.raises(SwarmError, match="lossFunction has to name a class of torch.nn"):
        make(model, lossFunction="NoSuchLoss")
    with pytest.raises(SwarmError, match="metricFunction has to name a class of torchmetrics"):
        make(model, metricFunction="NoSuchMetric")
    with pytest.raises(SwarmError, match="metricFunctionArgs has to be a dict"):
        make(model, metricFunction="Accuracy", metricFunctionArgs=["multiclass"])
    cb = make(
        model,
        lossFunction="CrossEntropyLoss",
        lossFunctionArgs=None,
        metricFunction="Accuracy",
        metricFunctionArgs={"task": "multiclass", "num_classes": 2},
    )
    assert cb.config.loss_function_args == {}


def test_unknown_keywords_are_ignored(model: torch.nn.Module) -> None:
    cb = make(model, someFutureOption=3, hfMode="peft")
    assert cb.config.sync_frequency == 4


def test_validation_failures_are_logged_as_errors(
    model: torch.nn.Module, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(SwarmError):
        make(model, nodeWeightage=0)
    assert any(r.levelno == logging.ERROR and "nodeWeightage" in r.getMessage() for r in caplog.records)


def test_default_logger_is_the_products(model: torch.nn.Module) -> None:
    logger = make(model).logger
    assert logger.name == "SwarmCallback" and logger.level == logging.INFO
    stdout_handlers = [h for h in logger.handlers if type(h) is logging.StreamHandler]
    assert stdout_handlers
    assert stdout_handlers[0].formatter is not None
    assert stdout_handlers[0].formatter._fmt == "%(asctime)s : %(name)s : %(levelname)s : %(message)s"


def test_a_given_logger_is_used(model: torch.nn.Module, caplog: pytest.LogCaptureFixture) -> None:
    mine = logging.getLogger("my.training")
    with caplog.at_level(logging.INFO, logger="my.training"):
        cb = make(model, logger=mine)
    assert cb.logger is mine
    assert any(r.name == "my.training" for r in caplog.records)


@pytest.mark.parametrize(
    ("value", "expected"), [("True", True), ("true", True), ("False", False), ("1", False)]
)
def test_swarm_loopback_is_read_from_the_environment(value: str, expected: bool) -> None:
    assert loopback_from_env({"SWARM_LOOPBACK": value}) is expected
    assert loopback_from_env({}) is False


def test_config_is_validated_in_one_frozen_value() -> None:
    cfg = parse_config("8", 2, "c", {"nodeWeightage": 3}, platforms=(SLPlatform.KERAS,), environ={})
    assert (cfg.sync_frequency, cfg.min_peers, cfg.node_weightage, cfg.max_peers, cfg.loopback) == (
        8,
        2,
        3,
        0,
        False,
    )
    with pytest.raises(AttributeError):
        cfg.sync_frequency = 1  # type: ignore[misc]


def test_importing_the_callback_package_imports_no_framework() -> None:
    code = (
        "import sys, swarm_learning.callback, swarmlearning\n"
        "assert 'tensorflow' not in sys.modules and 'torch' not in sys.modules, 'framework imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)
