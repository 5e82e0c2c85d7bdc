"""Framework-agnostic SwarmCallback logic: parameters, the sync schedule, train end, loopback.

Adapters (:mod:`swarm_learning.callback.keras`, :mod:`swarm_learning.callback.torch`) only say how to read
weights from a model, load weights into it and evaluate it; everything else lives here.

Sync schedule (product behaviour): one sync when training begins; then, with interval N returned by the
SL, a sync at the end of batch N+1, 2N+1, ... (counting from train begin); epochs are only counted;
at train end a final "close" exchange (or, if the swarm is already done, a kill-session), after which the
final swarm model is in the local model.
"""

from __future__ import annotations

import abc
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from swarm_learning.callback.channel import ChannelError, LossReport, SLChannel
from swarm_learning.callback.config import (
    CallbackConfig,
    CheckinModel,
    SLPlatform,
    parse_config,
)
from swarm_learning.errors import SwarmError, SwarmLearningError
from swarm_learning.weights import WeightDict, load_weights, weights_digest

FINAL_LOG_LINE = "All peers and Swarm training rounds finished. Final Swarm model was loaded."
LOGGER_NAME = "SwarmCallback"
LOG_FORMAT = "%(asctime)s : %(name)s : %(levelname)s : %(message)s"
KILL_REASON = "Swarm training is over before local training. Exit gracefully."


def default_logger() -> logging.Logger:
    """The product's default callback logger: ``SwarmCallback``, INFO, one stdout handler."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(getattr(h, "_swarm_default", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler._swarm_default = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # a program that configures the root logger would otherwise print every line twice
    return logger


class SwarmCallbackBase(abc.ABC):
    """Common part of every platform's ``SwarmCallback``."""

    PLATFORMS: tuple[SLPlatform, ...] = ()

    def __init__(
        self, syncFrequency: Any, minPeers: Any, trainingContract: Any, kwargs: Mapping[str, Any]
    ) -> None:
        self.logger: logging.Logger = kwargs.get("logger") or default_logger()
        try:
            self.config: CallbackConfig = parse_config(
                syncFrequency, minPeers, trainingContract, kwargs, platforms=self.PLATFORMS
            )
            self._validate_platform(self.config, kwargs)
        except SwarmError as exc:
            self.logger.error("%s", exc)
            raise
        cfg = self.config
        self.syncFrequency = cfg.sync_frequency
        self.currentSyncFrequency = cfg.sync_frequency
        self.stepsBeforeNextSync = cfg.sync_frequency
        self.isSwarmTrainingOver = False
        self.userMergeDone = False
        self.epochsCompleted = 0
        self.loopback = cfg.loopback
        self._last_merged: WeightDict | None = None
        self._sync_seq = 0
        self._close_seq = 0
        self._session_id = ""
        self._channel: SLChannel | None = None
        self._finished = False
        self._log_parameters()
        if cfg.total_epochs == 0:
            self.logger.warning(
                "=============================================================\n"
                "totalEpochs is not set: progress and ETA cannot be reported.\n"
                "============================================================="
            )
        if not self.loopback:
            self._open_session()
        else:
            self.logger.info("SWARM_LOOPBACK is True: training locally, without a swarm")
        if cfg.ads_val_data is None:
            self.logger.warning("No validation data (adsValData): merged models will report loss 0")

    # -- what an adapter provides -----------------------------------------------------------------------------

    def _validate_platform(self, config: CallbackConfig, kwargs: Mapping[str, Any]) -> None:
        """Check the platform's own keyword arguments (raise SwarmError)."""

    @abc.abstractmethod
    def _extract_weights(self) -> WeightDict:
        """The model's weights, in a stable order with unique keys."""

    @abc.abstractmethod
    def _load_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Put ``weights`` (keys as returned by :meth:`_extract_weights`) into the model."""

    @abc.abstractmethod
    def _evaluate(self) -> tuple[float, float]:
        """(loss, metric) of the model on ``adsValData``; (0, 0) without validation data."""

    def _on_training_over(self) -> None:
        """Called when the SL reports the swarm training is over (Keras stops ``fit``)."""

    # -- session ---------------------------------------------------------------------------------------------

    def _log_parameters(self) -> None:
        cfg = self.config
        self.logger.info(
            "SwarmCallback: syncFrequency=%s minPeers=%s trainingContract=%s useAdaptiveSync=%s "
            "adsValBatchSize=%s checkinModelOnTrainEnd=%s nodeWeightage=%s mergeMethod=%s totalEpochs=%s "
            "ml_platform=%s",
            cfg.sync_frequency,
            cfg.min_peers,
            cfg.training_contract,
            cfg.use_adaptive_sync,
            cfg.ads_val_batch_size,
            cfg.checkin_model_on_train_end.name,
            cfg.node_weightage,
            cfg.merge_method.name,
            cfg.total_epochs,
            cfg.ml_platform.name,
        )

    def _open_session(self) -> None:
        try:
            channel = SLChannel.from_env()
            channel.connect()
            self._session_id = channel.open_session(self.config)
        except SwarmLearningError as exc:
            raise self._fail("Init", exc) from None
        self._channel = channel
        self.logger.info(
            "Swarm session %s opened with the SL node on %s", self._session_id, channel.socket_path
        )

    def _fail(self, what: str, exc: BaseException) -> SwarmError:
        error = SwarmError(f"{what} Swarm call to SL failed - {exc}")
        self.logger.error("%s", error)
        return error

    @property
    def channel(self) -> SLChannel:
        if self._channel is None:
            raise SwarmError("this SwarmCallback has no open session with an SL node")
        return self._channel

    # -- hooks -------------------------------------------------------------------------------------------------

    def _swarm_on_train_begin(self) -> None:
        if self.loopback:
            return
        if self._finished:
            raise SwarmError(
                "this SwarmCallback's swarm session has ended: create a new SwarmCallback to train again"
            )
        self.logger.info("Starting Swarm training: initial sync with the other peers")
        self._sync_round()

    def _swarm_on_batch_end(self) -> None:
        if self.loopback:
            return
        if self.stepsBeforeNextSync == 0 and not self.isSwarmTrainingOver:
            self._sync_round()
            self.userMergeDone = True
        self.stepsBeforeNextSync -= 1

    def _swarm_on_epoch_end(self) -> None:
        self.epochsCompleted += 1

    def _swarm_on_train_end(self) -> None:
        if self.loopback:
            self.logger.info("Local training finished (SWARM_LOOPBACK: no swarm took part)")
            self.logger.info("%s", FINAL_LOG_LINE)
            return
        self.logger.info("Local training finished after %s epoch(s)", self.epochsCompleted)
        if not self.userMergeDone:
            self.logger.warning(
                "No user merge done during local training: syncFrequency (%s) may be high for this data",
                self.syncFrequency,
            )
        last_local = self._extract_weights()
        last_merged = self._last_merged if self._last_merged is not None else last_local
        if not self.isSwarmTrainingOver:
            self._close_round(last_local, last_merged)
        else:
            self._load_weights(last_merged)
            try:
                self.channel.kill_session(self._session_id, KILL_REASON)
            except SwarmLearningError as exc:
                self.logger.warning("Could not end the swarm session cleanly: %s", exc)
        self.logger.info("%s", FINAL_LOG_LINE)
        self._finish()

    # -- rounds ------------------------------------------------------------------------------------------------

    def _sync_round(self) -> None:
        self._sync_seq += 1
        try:
            outcome = self.channel.sync(
                self._session_id,
                seq=self._sync_seq,
                close=False,
                node_weightage=self.config.node_weightage,
                weights=self._extract_weights(),
                serve_loss=self._serve_loss,
            )
        except (SwarmLearningError, OSError) as exc:
            raise self._fail("Sync", exc) from None
        interval = outcome.next_sync_interval if outcome.next_sync_interval > 0 else self.currentSyncFrequency
        self.logger.info("Merge Done: RVInt [cur: %s Nxt: %s]", self.currentSyncFrequency, interval)
        self.currentSyncFrequency = interval
        self.stepsBeforeNextSync = interval
        if outcome.training_over and not self.isSwarmTrainingOver:
            self.logger.info("The SL node reports that Swarm training is over")
        self.isSwarmTrainingOver = outcome.training_over
        if outcome.training_over:
            self._on_training_over()

    def _close_round(self, last_local: WeightDict, last_merged: WeightDict) -> None:
        mode = self.config.checkin_model_on_train_end
        weightage = self.config.node_weightage
        weights = last_local
        if mode is CheckinModel.active:
            weights = last_merged
        elif mode is CheckinModel.inactive:
            weightage = 0
        self.logger.info(
            "Checking in the model (%s); Swarm training may continue until the training of minPeers peers is done",
            mode.name,
        )
        self._close_seq += 1
        try:
            self.channel.sync(
                self._session_id,
                seq=self._close_seq,
                close=True,
                node_weightage=weightage,
                weights=weights,
                serve_loss=self._serve_loss,
            )
        except (SwarmLearningError, OSError) as exc:
            raise self._fail("End", exc) from None
        self.isSwarmTrainingOver = True

    def _serve_loss(self, merged_file: Path) -> LossReport:
        try:
            merged = load_weights(merged_file)
            self._load_weights(merged)
            self._last_merged = merged
            loss, metric = self._evaluate()
        except SwarmLearningError:
            raise
        except Exception as exc:
            raise SwarmError(f"loading or evaluating the merged model failed: {exc!r}") from exc
        self.logger.debug("Merged model loaded from %s: loss=%s metric=%s", merged_file.name, loss, metric)
        return LossReport(float(loss), float(metric), self.epochsCompleted, self.config.total_epochs)

    def _finish(self) -> None:
        self._finished = True
        digest = weights_digest(self._extract_weights())
        try:
            self.channel.finish(self._session_id, digest)
        except ChannelError as exc:
            self.logger.warning("Could not report the final model's digest to the SL node: %s", exc)
        finally:
            self.channel.close()
            self._channel = None
        self.logger.debug("Final model digest %s", digest)
