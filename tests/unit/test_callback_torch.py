"""A PyTorch training loop with SwarmCallback: loopback, and against a fake SL node on a Unix socket."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from swarm_learning.callback import FINAL_LOG_LINE
from swarm_learning.weights import weights_digest
from swarmlearning.pyt import SwarmCallback, SwarmError
from tests.unit.fake_sl import FakeSL


def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    # BatchNorm brings buffers, among them the int64 `num_batches_tracked`.
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 2))


def loader(targets: torch.Tensor | None = None) -> torch.utils.data.DataLoader:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(16, 4, generator=g)
    y = torch.randint(0, 2, (16,), generator=g) if targets is None else targets
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)


def evaluated(**kwargs: Any) -> dict[str, Any]:
    return {
        "adsValData": loader(),
        "lossFunction": "CrossEntropyLoss",
        "metricFunction": "Accuracy",
        "metricFunctionArgs": {"task": "multiclass", "num_classes": 2},
        **kwargs,
    }


def train(model: torch.nn.Module, cb: SwarmCallback, sl: FakeSL | None = None, epochs: int = 1) -> list[int]:
    """The user's loop; returns the (1-based) batches at whose end a sync round happened."""
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = loader()
    synced_at: list[int] = []
    cb.on_train_begin()
    step = 0
    for epoch in range(epochs):
        for x, y in data:
            step += 1
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            before = len(sl.syncs) if sl else 0
            cb.on_batch_end(step)
            if sl and len(sl.syncs) > before:
                synced_at.append(step)
        cb.on_epoch_end(epoch)
    cb.on_train_end()
    return synced_at


def state_numpy(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def holds_ones(model: torch.nn.Module) -> bool:
    return all(bool((v == 1).all()) for v in model.state_dict().values())


@pytest.fixture
def fake_sl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSL]:
    options = getattr(request, "param", {})
    with FakeSL(**options) as sl:
        monkeypatch.setenv("SWARM_SL_SOCKET", str(sl.socket_path))
        monkeypatch.setenv("SWARM_SL_CONNECT_TIMEOUT", "10")
        monkeypatch.delenv("SWARM_LOOPBACK", raising=False)
        yield sl


def test_loopback_trains_locally_and_ends_with_the_final_log_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SWARM_LOOPBACK", "True")
    monkeypatch.setenv("SWARM_SL_SOCKET", str(tmp_path / "nobody-listens.sock"))
    model = tiny_model()
    before = state_numpy(model)
    cb = SwarmCallback(2, 1, model=model, totalEpochs=2, **evaluated())
    with caplog.at_level(logging.INFO, logger="SwarmCallback"):
        train(model, cb, epochs=2)
    assert cb.epochsCompleted == 2
    assert not np.allclose(before["0.weight"], state_numpy(model)["0.weight"])  # it did train
    assert caplog.records[-1].getMessage() == FINAL_LOG_LINE


def test_syncs_at_train_begin_and_after_every_interval_the_sl_returns(fake_sl: FakeSL) -> None:
    fake_sl.interval = 2  # the SL overrides the requested syncFrequency (adaptive sync does this)
    model = tiny_model()
    synced_at = train(model, SwarmCallback(5, 1, model=model, totalEpochs=2), fake_sl, epochs=2)  # 8 batches
    assert fake_sl.sessions[0].sync_interval == 5
    assert synced_at == [3, 5, 7]  # N+1, 2N+1, ... with N = 2, across epochs
    assert [s.seq for s in fake_sl.training_syncs] == [1, 2, 3, 4]  # train begin + 3
    assert [s.seq for s in fake_sl.closes] == [1]


def test_session_request_carries_the_parameters(fake_sl: FakeSL) -> None:
    SwarmCallback(
        7,
        2,
        "mnist-contract",
        model=tiny_model(),
        nodeWeightage=30,
        mergeMethod="geomedian",
        checkinModelOnTrainEnd="active",
        totalEpochs=3,
        **evaluated(useAdaptiveSync=True),
    )
    (s,) = fake_sl.sessions
    assert (s.sync_interval, s.min_peers, s.max_peers, s.training_contract) == (7, 2, 0, "mnist-contract")
    assert (s.node_weightage, s.merge_method, s.checkin_model_on_train_end) == (30, "geomedian", "active")
    assert (s.use_adaptive_sync, s.ml_platform, s.total_epochs) == (True, "PYTORCH", 3)


def test_merged_weights_reach_the_model_with_their_dtypes_and_are_evaluated(fake_sl: FakeSL) -> None:
    model = tiny_model()
    cb = SwarmCallback(100, 1, model=model, totalEpochs=4, **evaluated())
    cb.on_train_begin()
    assert holds_ones(model)
    assert model.state_dict()["1.num_batches_tracked"].dtype == torch.int64
    assert model.training  # evaluation restores the mode
    sent = fake_sl.syncs[0].weights
    assert list(sent) == list(model.state_dict())
    assert sent["1.running_var"].dtype == np.float32
    (report,) = fake_sl.syncs[0].loss_reports
    assert report.ok and report.loss > 0 and 0 <= report.metric <= 1
    assert (report.epochs_done, report.total_epochs) == (0, 4)
    cb.on_epoch_end(0)
    cb.on_train_end()
    assert fake_sl.closes[0].loss_reports[0].epochs_done == 1


def test_without_validation_data_merged_models_report_zero_loss(fake_sl: FakeSL) -> None:
    cb = SwarmCallback(100, 1, model=tiny_model())
    cb.on_train_begin()
    (report,) = fake_sl.syncs[0].loss_reports
    assert (report.ok, report.loss, report.metric) == (True, 0.0, 0.0)


def test_train_end_checks_in_the_last_local_weights_and_loads_the_final_model(
    fake_sl: FakeSL, caplog: pytest.LogCaptureFixture
) -> None:
    model = tiny_model()
    cb = SwarmCallback(3, 1, model=model, nodeWeightage=40)
    with caplog.at_level(logging.INFO, logger="SwarmCallback"):
        train(model, cb, fake_sl, epochs=2)  # the last batch trains after the last merge
    (close,) = fake_sl.closes
    assert close.node_weightage == 40
    assert not np.allclose(close.weights["2.weight"], 1)  # snapshot: the locally trained weights
    assert holds_ones(model)  # the final swarm model was loaded
    (finish,) = fake_sl.finished
    assert finish.weights_sha256 == weights_digest(state_numpy(model))
    assert caplog.records[-1].getMessage() == FINAL_LOG_LINE
    assert fake_sl.leftover_ml_files() == []  # the ML side removes its weight files


@pytest.mark.parametrize(
    ("mode", "weightage", "sends_merged"), [("active", 40, True), ("inactive", 0, False)]
)
def test_checkin_mode_decides_what_train_end_contributes(
    fake_sl: FakeSL, mode: str, weightage: int, sends_merged: bool
) -> None:
    model = tiny_model()
    cb = SwarmCallback(3, 1, model=model, nodeWeightage=40, checkinModelOnTrainEnd=mode)
    train(model, cb, fake_sl, epochs=2)  # the last batch trains after the last merge
    (close,) = fake_sl.closes
    assert close.node_weightage == weightage
    assert np.allclose(close.weights["2.weight"], 1) is sends_merged


@pytest.mark.parametrize("fake_sl", [{"over_after_syncs": 2}], indirect=True)
def test_swarm_over_during_training_stops_syncing_and_ends_with_kill_session(
    fake_sl: FakeSL, caplog: pytest.LogCaptureFixture
) -> None:
    model = tiny_model()
    cb = SwarmCallback(2, 1, model=model)
    with caplog.at_level(logging.INFO, logger="SwarmCallback"):
        synced_at = train(model, cb, fake_sl, epochs=2)
    assert synced_at == [3]  # then no more syncs although PyTorch keeps looping
    assert cb.isSwarmTrainingOver
    assert fake_sl.closes == []
    assert [k.session_id for k in fake_sl.killed] == ["session-1"]
    assert holds_ones(model)  # the last merged model
    assert fake_sl.finished[0].weights_sha256 == weights_digest(state_numpy(model))
    assert caplog.records[-1].getMessage() == FINAL_LOG_LINE


def test_no_merge_during_training_is_warned_about_at_train_end(
    fake_sl: FakeSL, caplog: pytest.LogCaptureFixture
) -> None:
    model = tiny_model()
    with caplog.at_level(logging.INFO, logger="SwarmCallback"):
        train(model, SwarmCallback(50, 1, model=model), fake_sl)
    assert "No user merge done" in caplog.text and "syncFrequency" in caplog.text


@pytest.mark.parametrize("fake_sl", [{"open_error": "unknown training contract 'nope'"}], indirect=True)
def test_sl_refusing_the_session_is_an_init_error_with_its_reason(fake_sl: FakeSL) -> None:
    with pytest.raises(SwarmError, match="Init Swarm call to SL failed - unknown training contract 'nope'"):
        SwarmCallback(3, 1, "nope", model=tiny_model())


def test_failed_loss_computation_is_reported_to_the_sl_and_raised(fake_sl: FakeSL) -> None:
    wrong_targets = torch.zeros(16, 5)  # class probabilities for 5 classes; the model has 2
    cb = SwarmCallback(
        3, 1, model=tiny_model(), adsValData=loader(wrong_targets), lossFunction="CrossEntropyLoss"
    )
    with pytest.raises(SwarmError, match="Sync Swarm call to SL failed - .*merged model failed"):
        cb.on_train_begin()
    (report,) = fake_sl.syncs[0].loss_reports
    assert not report.ok and report.error.startswith("Loss computation failed.") and report.loss == -1


def test_sl_going_away_during_training_is_a_sync_error(fake_sl: FakeSL) -> None:
    model = tiny_model()
    cb = SwarmCallback(1, 1, model=model)
    cb.on_train_begin()
    fake_sl.__exit__(None, None, None)
    cb.on_batch_end(1)  # countdown
    with pytest.raises(SwarmError, match="Sync Swarm call to SL failed - "):
        cb.on_batch_end(2)


def test_missing_sl_node_fails_fast_with_advice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    socket = tmp_path / "sl.sock"
    monkeypatch.setenv("SWARM_SL_SOCKET", str(socket))
    monkeypatch.setenv("SWARM_SL_CONNECT_TIMEOUT", "0.5")
    monkeypatch.delenv("SWARM_LOOPBACK", raising=False)
    started = time.monotonic()
    with pytest.raises(SwarmError) as err:
        SwarmCallback(3, 1, model=tiny_model())
    assert time.monotonic() - started < 5
    message = str(err.value)
    assert message.startswith("Init Swarm call to SL failed - ")
    assert str(socket) in message
    assert "swarm-learning run-local" in message and "SWARM_LOOPBACK=True" in message


def test_bad_connect_timeout_is_an_init_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWARM_SL_CONNECT_TIMEOUT", "soon")
    monkeypatch.delenv("SWARM_LOOPBACK", raising=False)
    with pytest.raises(SwarmError, match="SWARM_SL_CONNECT_TIMEOUT has to be a number"):
        SwarmCallback(3, 1, model=tiny_model())
