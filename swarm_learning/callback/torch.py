"""SwarmCallback for PyTorch: the training loop calls the hooks itself.

Usage is the product's::

    from swarmlearning.pyt import SwarmCallback
    cb = SwarmCallback(syncFrequency=128, minPeers=2, model=model, adsValData=val_loader,
                       lossFunction="CrossEntropyLoss", metricFunction="Accuracy",
                       metricFunctionArgs={"task": "multiclass", "num_classes": 10}, totalEpochs=5)
    cb.on_train_begin()
    for epoch in range(5):
        for batch, (x, y) in enumerate(loader):
            ...  # forward, backward, step
            cb.on_batch_end(batch)
        cb.on_epoch_end(epoch)
    cb.on_train_end()

Weights synced: ``model.state_dict()`` (parameters and buffers); keys are the state-dict names. Loading keeps
each tensor's dtype and device.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from swarm_learning.callback.base import SwarmCallbackBase
from swarm_learning.callback.config import DEFAULT_TRAINING_CONTRACT, CallbackConfig, SLPlatform
from swarm_learning.errors import SwarmError
from swarm_learning.weights import WeightDict

__all__ = ["DEFAULT_TRAINING_CONTRACT", "SwarmCallback", "SwarmError"]


def _class_from(module_name: str, class_name: str, what: str) -> type:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise SwarmError(
            f"{what}={class_name!r} needs the {module_name} package: pip install {module_name}"
        ) from None
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise SwarmError(f"{what} has to name a class of {module_name}, got {class_name!r}")
    return cls


def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16; loading casts back
        tensor = tensor.float()
    return tensor.numpy()


def _fit_shape(key: str, array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A writable copy of ``array`` in ``shape`` (a file may store a scalar as shape (1,))."""
    if array.shape != shape:
        if array.size != int(np.prod(shape)):
            raise SwarmError(f"merged tensor {key!r} has shape {array.shape}, the model's has {shape}")
        array = array.reshape(shape)
    return np.array(array, copy=True)


class SwarmCallback(SwarmCallbackBase):
    """Makes a PyTorch training loop take part in Swarm Learning."""

    PLATFORMS = (SLPlatform.PYTORCH,)

    def __init__(
        self,
        syncFrequency: Any,
        minPeers: Any,
        trainingContract: Any = DEFAULT_TRAINING_CONTRACT,
        **kwargs: Any,
    ) -> None:
        self.model: torch.nn.Module = kwargs.get("model")  # type: ignore[assignment]
        self._keys: list[str] | None = None
        self._loss_fn: torch.nn.Module | None = None
        self._metric: Any = None
        super().__init__(syncFrequency, minPeers, trainingContract, kwargs)

    def _validate_platform(self, config: CallbackConfig, kwargs: Mapping[str, Any]) -> None:
        if self.model is None:
            raise SwarmError("Pytorch model is None: pass model=<your torch.nn.Module>")
        if not isinstance(self.model, torch.nn.Module):
            raise SwarmError(f"model has to be a torch.nn.Module, got {type(self.model).__name__}")
        data = config.ads_val_data
        if data is not None and not isinstance(data, torch.utils.data.DataLoader):
            raise SwarmError(f"adsValData has to be a torch.utils.data.DataLoader, got {type(data).__name__}")
        loss_cls = (
            _class_from("torch.nn", config.loss_function, "lossFunction") if config.loss_function else None
        )
        metric_cls = (
            _class_from("torchmetrics", config.metric_function, "metricFunction")
            if config.metric_function
            else None
        )
        if data is not None and loss_cls is None:
            self.logger.warning(
                "adsValData is given without lossFunction: merged models will fail to evaluate"
            )
        try:
            self._loss_fn = loss_cls(**config.loss_function_args) if loss_cls else None
            self._metric = metric_cls(**config.metric_function_args) if metric_cls else None
        except Exception as exc:
            raise SwarmError(f"cannot create the loss or metric function: {exc}") from exc
        if "hfMode" in kwargs:
            self.logger.info("hfMode is ignored for PyTorch")

    # -- hooks the training loop calls -------------------------------------------------------------------------

    def on_train_begin(self) -> None:
        self._swarm_on_train_begin()

    def on_batch_end(self, batch: Any = None) -> None:
        self._swarm_on_batch_end()

    def on_epoch_end(self, epoch: Any = None) -> None:
        self._swarm_on_epoch_end()

    def on_train_end(self) -> None:
        self._swarm_on_train_end()

    # -- weights -----------------------------------------------------------------------------------------------

    def _extract_weights(self) -> WeightDict:
        state = self.model.state_dict()
        self._keys = list(state)
        return {k: _to_numpy(v) for k, v in state.items()}

    def _load_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        current = self.model.state_dict()
        keys = self._keys if self._keys is not None else list(current)
        missing = [k for k in keys if k not in weights]
        if missing:
            raise SwarmError(f"merged weights lack {len(missing)} of the model's tensors, e.g. {missing[:3]}")
        new_state = {}
        for key in keys:
            target = current[key]
            value = torch.from_numpy(_fit_shape(key, weights[key], tuple(target.shape)))
            new_state[key] = value.to(dtype=target.dtype, device=target.device)
        self.model.load_state_dict(new_state, strict=False)

    def _evaluate(self) -> tuple[float, float]:
        loader = self.config.ads_val_data
        if loader is None:
            return 0.0, 0.0
        if self._loss_fn is None:
            raise SwarmError(
                "adsValData needs lossFunction (a class name of torch.nn, e.g. 'CrossEntropyLoss')"
            )
        device = next((p.device for p in self.model.parameters()), torch.device("cpu"))
        metric = self._metric.to(device) if self._metric is not None else None
        was_training = self.model.training
        self.model.eval()
        total, samples = 0.0, 0
        try:
            with torch.no_grad():
                for batch in loader:
                    data, target = batch[0].to(device), batch[1].to(device)
                    output = self.model(data)
                    total += float(self._loss_fn(output, target))
                    samples += len(target)
                    if metric is not None:
                        metric.update(output, target)
            try:
                size = len(loader.dataset)
            except TypeError:  # an IterableDataset has no length
                size = samples
            loss = total / size if size else 0.0
            value = float(metric.compute()) if metric is not None and samples else 0.0
            return loss, value
        finally:
            if metric is not None:
                metric.reset()
            self.model.train(was_training)
