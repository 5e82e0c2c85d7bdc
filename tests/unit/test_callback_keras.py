"""``model.fit`` with SwarmCallback (Keras 3 via tf.keras; tf-keras in a subprocess): loopback and a fake SL."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from swarm_learning.callback import FINAL_LOG_LINE
from swarm_learning.weights import weights_digest
from swarmlearning.tf import DEFAULT_TRAINING_CONTRACT, SwarmCallback, SwarmError
from tests.unit.fake_sl import FakeSL

REPO_ROOT = Path(__file__).resolve().parents[2]
RNG = np.random.default_rng(0)
X = RNG.random((20, 4), dtype=np.float32)
Y = RNG.random((20, 1), dtype=np.float32)
EXPECTED_KEYS = [
    "0000/kernel",
    "0001/bias",
    "0002/gamma",
    "0003/beta",
    "0004/moving_mean",
    "0005/moving_variance",
    "0006/kernel",
    "0007/bias",
]


def tiny_model(metrics: list[str] | None = None) -> tf.keras.Model:
    model = tf.keras.Sequential(
        [
            tf.keras.Input((4,)),
            tf.keras.layers.Dense(3),
            tf.keras.layers.BatchNormalization(),  # non-trainable weights are synced too
            tf.keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse", metrics=metrics or [])
    return model


def holds_ones(model: tf.keras.Model) -> bool:
    return all(np.all(w == 1) for w in model.get_weights())


def model_weights(model: tf.keras.Model) -> dict[str, np.ndarray]:
    return dict(zip(EXPECTED_KEYS, model.get_weights(), strict=True))


@pytest.fixture
def fake_sl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSL]:
    with FakeSL(**getattr(request, "param", {})) as sl:
        monkeypatch.setenv("SWARM_SL_SOCKET", str(sl.socket_path))
        monkeypatch.setenv("SWARM_SL_CONNECT_TIMEOUT", "10")
        monkeypatch.delenv("SWARM_LOOPBACK", raising=False)
        yield sl


def test_module_exposes_the_products_names() -> None:
    assert DEFAULT_TRAINING_CONTRACT == "defaultbb.cqdb.sml.hpe"
    assert issubclass(SwarmCallback, tf.keras.callbacks.Callback)


def test_loopback_fit_trains_locally_and_ends_with_the_final_log_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SWARM_LOOPBACK", "True")
    monkeypatch.setenv("SWARM_SL_SOCKET", str(tmp_path / "nobody-listens.sock"))
    model = tiny_model(["mae"])
    before = model.get_weights()
    cb = SwarmCallback(2, 1, adsValData=(X, Y), adsValBatchSize=5, totalEpochs=2)
    with caplog.at_level(logging.INFO, logger="SwarmCallback"):
        history = model.fit(X, Y, batch_size=4, epochs=2, callbacks=[cb], verbose=0)
    assert len(history.history["loss"]) == 2 and cb.epochsCompleted == 2
    assert not np.allclose(before[0], model.get_weights()[0])
    assert caplog.records[-1].getMessage() == FINAL_LOG_LINE


@pytest.mark.parametrize("fake_sl", [{"over_after_syncs": 3}], indirect=True)
def test_fit_syncs_on_schedule_and_stops_when_the_swarm_is_done(fake_sl: FakeSL) -> None:
    model = tiny_model(["mae"])
    cb = SwarmCallback(3, 1, adsValData=(X, Y), adsValBatchSize=10, totalEpochs=2)
    syncs_seen: list[int] = []
    recorder = tf.keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda b, logs: syncs_seen.append(len(fake_sl.syncs))
    )
    model.fit(X, Y, batch_size=2, epochs=2, callbacks=[cb, recorder], verbose=0)  # up to 20 batches
    # train begin, then batches N+1 = 4 and 2N+1 = 7; the SL then reports the swarm done and fit stops.
    assert syncs_seen == [1, 1, 1, 2, 2, 2, 3]
    assert model.stop_training and cb.isSwarmTrainingOver
    assert list(fake_sl.syncs[0].weights) == EXPECTED_KEYS
    report = fake_sl.syncs[1].loss_reports[0]
    assert report.ok and report.loss > 0 and report.metric > 0 and report.total_epochs == 2
    # training was already over at train end: kill-session, the last merged model stays loaded
    assert fake_sl.closes == [] and len(fake_sl.killed) == 1
    assert holds_ones(model)
    assert fake_sl.finished[0].weights_sha256 == weights_digest(model_weights(model))


def test_fit_end_checks_in_and_loads_the_final_swarm_model(
    fake_sl: FakeSL, caplog: pytest.LogCaptureFixture
) -> None:
    model = tiny_model()  # compiled without metrics: the metric reported is 0
    cb = SwarmCallback(50, 1, adsValData=(X, Y), nodeWeightage=7)
    with caplog.at_level(logging.INFO, logger="SwarmCallback"):
        model.fit(X, Y, batch_size=5, epochs=1, callbacks=[cb], verbose=0)
    assert "No user merge done" in caplog.text
    (close,) = fake_sl.closes
    assert close.node_weightage == 7 and list(close.weights) == EXPECTED_KEYS
    assert not np.allclose(close.weights["0006/kernel"], 1)  # snapshot: the locally trained weights
    assert close.loss_reports[0].metric == 0 and close.loss_reports[0].epochs_done == 1
    assert holds_ones(model)
    assert fake_sl.finished[0].weights_sha256 == weights_digest(model_weights(model))
    assert caplog.records[-1].getMessage() == FINAL_LOG_LINE
    assert fake_sl.leftover_ml_files() == []


def test_tf1_graph_mode_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWARM_LOOPBACK", "True")
    with pytest.raises(SwarmError, match="TensorFlow 1 graph mode .* not supported"):
        SwarmCallback(2, 1, ml_platform="TF")
    with pytest.raises(SwarmError, match="ml_platform has to be 'KERAS' or 'TF'"):
        SwarmCallback(2, 1, ml_platform="PYTORCH")
    assert SwarmCallback(2, 1, mlPlatform="KERAS").config.ml_platform.name == "KERAS"


def test_tf_keras_legacy_mode_syncs_the_same_weights(fake_sl: FakeSL) -> None:
    program = textwrap.dedent(
        """
        import numpy as np, tensorflow as tf
        from swarmlearning.tf import SwarmCallback
        assert tf.keras.__name__.startswith("tf_keras"), tf.keras.__name__
        model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3),
                                     tf.keras.layers.BatchNormalization(), tf.keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
        x = np.random.rand(20, 4).astype("float32"); y = np.random.rand(20, 1).astype("float32")
        model.fit(x, y, batch_size=5, epochs=1, verbose=0, callbacks=[SwarmCallback(2, 1, adsValData=(x, y))])
        assert all(np.all(w == 1) for w in model.get_weights())
        """
    )
    env = {
        **os.environ,
        "TF_USE_LEGACY_KERAS": "1",
        "PYTHONPATH": str(REPO_ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    done = subprocess.run(
        [sys.executable, "-c", program],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert FINAL_LOG_LINE in done.stdout
    assert [len(fake_sl.training_syncs), len(fake_sl.closes)] == [2, 1]  # begin + batch 3 of 4; close
    assert list(fake_sl.syncs[0].weights) == EXPECTED_KEYS
