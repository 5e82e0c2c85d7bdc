"""SwarmCallback for Keras (``tf.keras``: Keras 3, or tf-keras when ``TF_USE_LEGACY_KERAS=1``).

Usage is the product's::

    from swarmlearning.tf import SwarmCallback
    cb = SwarmCallback(syncFrequency=128, minPeers=2, adsValData=(x_val, y_val), totalEpochs=5)
    model.fit(x, y, epochs=5, callbacks=[cb])

Weights synced: every weight of the model (trainable and not, e.g. BatchNorm moving statistics) in
``model.weights`` order. Keys are ``<index>/<short name>`` (``0000/kernel``, ``0001/bias``, ...): unique, and
the same at every site that built the same architecture, whatever layer names Keras generated in that process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from swarm_learning.callback.base import SwarmCallbackBase
from swarm_learning.callback.config import DEFAULT_TRAINING_CONTRACT, CallbackConfig, SLPlatform
from swarm_learning.errors import SwarmError
from swarm_learning.weights import WeightDict

__all__ = ["DEFAULT_TRAINING_CONTRACT", "SwarmCallback", "SwarmError"]


def _short_name(variable: Any) -> str:
    # Keras 3: name is "kernel"; tf-keras: "dense/kernel:0".
    return str(variable.name).rsplit("/", 1)[-1].split(":", 1)[0]


def weight_keys(model: Any) -> list[str]:
    """Unique, process-independent keys for ``model.weights``, in order."""
    return [f"{i:04d}/{_short_name(v)}" for i, v in enumerate(model.weights)]


class SwarmCallback(tf.keras.callbacks.Callback, SwarmCallbackBase):  # type: ignore[misc]
    """Keras callback that makes ``model.fit`` take part in Swarm Learning."""

    PLATFORMS = (SLPlatform.KERAS, SLPlatform.TF)

    def __init__(
        self,
        syncFrequency: Any,
        minPeers: Any,
        trainingContract: Any = DEFAULT_TRAINING_CONTRACT,
        **kwargs: Any,
    ) -> None:
        tf.keras.callbacks.Callback.__init__(self)
        self._keys: list[str] | None = None
        SwarmCallbackBase.__init__(self, syncFrequency, minPeers, trainingContract, kwargs)

    def _validate_platform(self, config: CallbackConfig, kwargs: Mapping[str, Any]) -> None:
        if config.ml_platform is SLPlatform.TF:
            raise SwarmError(
                "ml_platform='TF' (TensorFlow 1 graph mode with tf/sess) is not supported: "
                "use a Keras model and ml_platform='KERAS' (the default)"
            )
        if "hfMode" in kwargs:
            self.logger.info("hfMode is ignored for Keras")

    # -- Keras hooks ------------------------------------------------------------------------------------------

    def on_train_begin(self, logs: Any = None) -> None:
        self._swarm_on_train_begin()

    def on_batch_end(self, batch: Any, logs: Any = None) -> None:
        self._swarm_on_batch_end()

    def on_epoch_end(self, epoch: Any = None, logs: Any = None) -> None:
        self._swarm_on_epoch_end()

    def on_train_end(self, logs: Any = None) -> None:
        self._swarm_on_train_end()

    def _on_training_over(self) -> None:
        self.model.stop_training = True

    # -- weights -----------------------------------------------------------------------------------------------

    def _extract_weights(self) -> WeightDict:
        keys = weight_keys(self.model)
        values = self.model.get_weights()
        if len(keys) != len(values):
            raise SwarmError(
                f"model.weights has {len(keys)} entries but get_weights() returned {len(values)}"
            )
        self._keys = keys
        return {k: np.asarray(v) for k, v in zip(keys, values, strict=True)}

    def _load_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        keys = self._keys if self._keys is not None else weight_keys(self.model)
        missing = [k for k in keys if k not in weights]
        if missing:
            raise SwarmError(f"merged weights lack {len(missing)} of the model's tensors, e.g. {missing[:3]}")
        shapes = [tuple(v.shape) for v in self.model.weights]
        arrays = []
        for key, shape in zip(keys, shapes, strict=True):
            array = np.asarray(weights[key])
            if array.shape != shape:
                if array.size != int(np.prod(shape)):
                    raise SwarmError(
                        f"merged tensor {key!r} has shape {array.shape}, the model's has {shape}"
                    )
                array = array.reshape(shape)  # a file may store a scalar as shape (1,)
            arrays.append(array)
        self.model.set_weights(arrays)

    def _evaluate(self) -> tuple[float, float]:
        data = self.config.ads_val_data
        if data is None:
            return 0.0, 0.0
        if isinstance(data, tuple) and len(data) in (2, 3):
            scores = self.model.evaluate(
                *data[:2],
                sample_weight=data[2] if len(data) == 3 else None,
                batch_size=self.config.ads_val_batch_size,
                verbose=0,
            )
        else:
            scores = self.model.evaluate(data, verbose=0)
        if isinstance(scores, list | tuple):
            loss = float(scores[0])
            metric = float(scores[1]) if len(scores) > 1 else 0.0
            return loss, metric
        return float(scores), 0.0
