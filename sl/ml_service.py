"""The SL's side of the local channel: the gRPC service its ML program (SwarmCallback) calls over a Unix socket.

The session protocol is defined in ``swarm_learning/proto/ml_channel.proto``. One session per ML process; a sync
call is run on a worker thread by the :class:`RoundCoordinator`, whose loss requests are relayed to the ML program
on the same bidirectional stream.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc

from sl.rounds import Evaluation, RoundCoordinator, SessionParams
from swarm_learning.errors import SwarmLearningError
from swarm_learning.merge import MERGE_METHODS
from swarm_learning.proto import ml_channel_pb2 as pb
from swarm_learning.proto import ml_channel_pb2_grpc as pb_grpc

log = logging.getLogger("swarm.SL")
_END = object()


class SessionState:
    """What the node's launcher wants to know: is the session over, and with which final model."""

    def __init__(self, status_file: Path) -> None:
        self.status_file = status_file
        self.done = threading.Event()
        self.session_id: str | None = None
        self.rounds = 0
        self.training_over = False
        self.ml_pid: int | None = None

    def ml_alive(self) -> bool:
        """Is the ML program still running? (Only knowable when it shares this node's process namespace.)"""
        if self.ml_pid is None:
            return True
        try:
            os.kill(self.ml_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def finish(self, digest: str | None, reason: str) -> None:
        if self.done.is_set():
            return
        payload = {
            "session_id": self.session_id,
            "final_weights_sha256": digest,
            "rounds": self.rounds,
            "training_over": self.training_over,
            "reason": reason,
            "time": time.time(),
        }
        self.status_file.parent.mkdir(parents=True, exist_ok=True)
        self.status_file.write_text(json.dumps(payload, indent=2))
        self.done.set()


class MLChannelService(pb_grpc.MLChannelServicer):
    def __init__(self, coordinator: RoundCoordinator, channel_dir: Path, state: SessionState) -> None:
        self.coordinator = coordinator
        self.channel_dir = channel_dir.resolve()
        self.state = state
        self._lock = threading.Lock()

    def _check_session(self, session_id: str, context: grpc.ServicerContext) -> None:
        if session_id != self.state.session_id:
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"unknown session {session_id!r}: this SL serves session {self.state.session_id!r}",
            )

    def OpenSession(self, request: pb.OpenSessionRequest, context: grpc.ServicerContext) -> pb.OpenSessionResponse:
        with self._lock:
            if self.state.session_id is not None:
                context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    "this SL node already serves an ML program: start one SL node per ML program",
                )
            method = request.merge_method.lower()
            if method not in MERGE_METHODS:
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"mergeMethod {request.merge_method!r} is not one of {', '.join(MERGE_METHODS)}",
                )
            params = SessionParams(
                training=request.training_contract,
                min_peers=request.min_peers,
                sync_interval=request.sync_interval,
                use_adaptive_sync=request.use_adaptive_sync,
                checkin_mode=request.checkin_model_on_train_end or "snapshot",
                node_weightage=request.node_weightage,
                merge_method=method,
                total_epochs=request.total_epochs,
            )
            try:
                self.coordinator.open(params)
            except SwarmLearningError as exc:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
            self.state.session_id = uuid.uuid4().hex
            if request.pid > 0:
                self.state.ml_pid = request.pid
                if not self.state.ml_alive():
                    self.state.ml_pid = None  # another process namespace (e.g. a container): cannot watch it
            log.info(
                "ML program %s (pid %s, %s) opened session %s",
                request.program or "?",
                request.pid,
                request.ml_platform or "?",
                self.state.session_id,
            )
            return pb.OpenSessionResponse(session_id=self.state.session_id)

    def _weights_path(self, name: str, context: grpc.ServicerContext) -> Path:
        path = (self.channel_dir / name).resolve()
        if path.parent != self.channel_dir or not path.is_file():
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"weights file {name!r} is not a file in the channel folder {self.channel_dir}",
            )
        return path

    def Sync(self, request_iterator: Iterator[pb.MLMessage], context: grpc.ServicerContext) -> Iterator[pb.SLMessage]:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("body") != "sync":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a sync stream must start with a SyncRequest")
            return
        request = first.sync
        self._check_session(request.session_id, context)
        weights = self._weights_path(request.weights_file, context)
        out: queue.Queue[object] = queue.Queue()
        loss_seq = 0

        def evaluate(merged: Path) -> Evaluation:
            nonlocal loss_seq
            loss_seq += 1
            out.put(pb.SLMessage(loss=pb.LossRequest(loss_seq=loss_seq, weights_file=merged.name)))
            reply = next(request_iterator, None)
            if reply is None or reply.WhichOneof("body") != "loss":
                return Evaluation(False, "the ML program closed the stream instead of answering", 0, 0, 0, 0)
            r = reply.loss
            return Evaluation(r.ok, r.error, r.loss, r.metric, r.epochs_done, r.total_epochs)

        def work() -> None:
            try:
                outcome = self.coordinator.sync(weights, request.node_weightage, request.close, evaluate)
                self.state.rounds = outcome.rounds
                self.state.training_over = outcome.training_over
                out.put(
                    pb.SLMessage(
                        done=pb.SyncResponse(
                            seq=request.seq,
                            next_sync_interval=outcome.next_interval,
                            training_over=outcome.training_over,
                        )
                    )
                )
            except SwarmLearningError as exc:
                log.error("sync %s failed: %s; this node leaves the training", request.seq, exc)
                out.put(exc)
                self.state.finish(None, f"failed: {exc}")
            except Exception as exc:  # a bug must reach the ML program as an error, not hang it
                log.exception("sync %s failed unexpectedly", request.seq)
                out.put(exc)
            finally:
                out.put(_END)

        threading.Thread(target=work, name=f"sync-{request.seq}", daemon=True).start()
        while True:
            item = out.get()
            if item is _END:
                return
            if isinstance(item, Exception):
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(item))
            assert isinstance(item, pb.SLMessage)
            yield item

    def KillSession(self, request: pb.KillSessionRequest, context: grpc.ServicerContext) -> pb.KillSessionResponse:
        self._check_session(request.session_id, context)
        log.info("ML program ended its session: %s", request.reason)
        self.state.finish(None, request.reason or "killed")
        return pb.KillSessionResponse()

    def Finish(self, request: pb.FinishRequest, context: grpc.ServicerContext) -> pb.FinishResponse:
        self._check_session(request.session_id, context)
        log.info("ML program finished with final model sha256 %s", request.weights_sha256)
        self.state.finish(request.weights_sha256, "finished")
        return pb.FinishResponse()
