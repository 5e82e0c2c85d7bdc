"""An in-process stand-in for an SL node's local channel, for unit tests of SwarmCallback.

It serves ``MLChannel`` on a Unix socket in a temporary folder, records what the ML side sent, and answers
every sync with one LossRequest pointing at "merged" weights (by default ``ones_like`` each tensor), then a
SyncResponse with a configurable interval and a "training over" flag after a given number of syncs.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

import grpc
import numpy as np

from swarm_learning.proto import ml_channel_pb2 as pb
from swarm_learning.proto import ml_channel_pb2_grpc as pb_grpc
from swarm_learning.weights import WeightDict, load_weights, save_weights


def ones_like(weights: WeightDict) -> WeightDict:
    return {k: np.ones_like(v) for k, v in weights.items()}


@dataclass
class SyncRecord:
    seq: int
    close: bool
    node_weightage: int
    weights: WeightDict
    loss_reports: list[pb.LossResponse] = field(default_factory=list)


class FakeSL(pb_grpc.MLChannelServicer):
    """Configure, then use as a context manager; ``socket_path`` is where the callback must connect."""

    def __init__(
        self,
        *,
        interval: int | None = None,
        over_after_syncs: int | None = None,
        merge: Callable[[WeightDict], WeightDict] = ones_like,
        open_error: str | None = None,
    ) -> None:
        self.interval = interval
        self.over_after_syncs = over_after_syncs
        self.merge = merge
        self.open_error = open_error
        self.folder = Path(tempfile.mkdtemp(prefix="fake-sl-"))  # short: Unix socket paths are limited
        self.socket_path = self.folder / "sl.sock"
        self.sessions: list[pb.OpenSessionRequest] = []
        self.syncs: list[SyncRecord] = []
        self.killed: list[pb.KillSessionRequest] = []
        self.finished: list[pb.FinishRequest] = []
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pb_grpc.add_MLChannelServicer_to_server(self, server)
        server.add_insecure_port(f"unix:{self.socket_path}")
        server.start()
        self._server = server
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- what the tests look at -----------------------------------------------------------------------------

    @property
    def training_syncs(self) -> list[SyncRecord]:
        return [s for s in self.syncs if not s.close]

    @property
    def closes(self) -> list[SyncRecord]:
        return [s for s in self.syncs if s.close]

    def leftover_ml_files(self) -> list[str]:
        return sorted(p.name for p in self.folder.glob("ml-*"))

    # -- MLChannel ------------------------------------------------------------------------------------------

    def OpenSession(
        self, request: pb.OpenSessionRequest, context: grpc.ServicerContext
    ) -> pb.OpenSessionResponse:
        if self.open_error:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, self.open_error)
        self.sessions.append(request)
        return pb.OpenSessionResponse(session_id="session-1")

    def Sync(
        self, request_iterator: Iterator[pb.MLMessage], context: grpc.ServicerContext
    ) -> Iterator[pb.SLMessage]:
        request = next(request_iterator).sync
        record = SyncRecord(
            request.seq,
            request.close,
            request.node_weightage,
            load_weights(self.folder / request.weights_file),
        )
        with self._lock:
            self.syncs.append(record)
            merged_name = f"merged-{len(self.syncs)}.safetensors"
            over = self.over_after_syncs is not None and len(self.training_syncs) >= self.over_after_syncs
        save_weights(self.folder / merged_name, self.merge(record.weights))
        yield pb.SLMessage(loss=pb.LossRequest(loss_seq=1, weights_file=merged_name))
        report = next(request_iterator).loss
        record.loss_reports.append(report)
        if not report.ok:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"the ML side failed: {report.error}")
        interval = self.interval or self.sessions[-1].sync_interval
        yield pb.SLMessage(
            done=pb.SyncResponse(
                seq=request.seq, next_sync_interval=interval, training_over=over or request.close
            )
        )

    def KillSession(
        self, request: pb.KillSessionRequest, context: grpc.ServicerContext
    ) -> pb.KillSessionResponse:
        self.killed.append(request)
        return pb.KillSessionResponse()

    def Finish(self, request: pb.FinishRequest, context: grpc.ServicerContext) -> pb.FinishResponse:
        self.finished.append(request)
        return pb.FinishResponse()
