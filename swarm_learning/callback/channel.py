"""The ML side of the local channel: a gRPC client of the twin SL node over a Unix domain socket.

The socket lives in a folder the ML program and its SL node share (``SWARM_SL_SOCKET``, default
``/tmp/hpe-swarm/sl.sock``); weights travel as safetensors files in that same folder, named in the messages
relative to it. This module is the only place on the ML side that converts wire types to Python values.

Contract with the SL side (see ``ml_channel.proto``):

* The ML side writes ``ml-<pid>-sync-<seq>.safetensors`` / ``ml-<pid>-close-<seq>.safetensors`` atomically
  before each ``Sync`` and deletes it once the ``Sync`` call has ended; the SL must have read it by then.
* Files named in ``LossRequest.weights_file`` belong to the SL (the ML side only reads them).
* Failures come back as gRPC status ``FAILED_PRECONDITION`` / ``INVALID_ARGUMENT`` with a human message.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np

from swarm_learning.callback.config import CallbackConfig
from swarm_learning.envvars import env_seconds
from swarm_learning.errors import NetworkError
from swarm_learning.proto import ml_channel_pb2 as pb
from swarm_learning.proto import ml_channel_pb2_grpc as pb_grpc
from swarm_learning.weights import save_weights

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "/tmp/hpe-swarm/sl.sock"
DEFAULT_CONNECT_TIMEOUT = 120.0
_MAX_MESSAGE = 64 * 1024 * 1024
_CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", _MAX_MESSAGE),
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    # Retry a missing socket about every half second while we wait for the SL to come up.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 500),
]
_LOSS_FAILURE_GRACE = 5.0  # seconds the SL gets to take a failed loss report before we hang up


class ChannelError(NetworkError):
    """A call to the SL node failed; the message is the SL's (or the transport's) reason."""


@dataclass(frozen=True)
class LossReport:
    loss: float
    metric: float
    epochs_done: int
    total_epochs: int


@dataclass(frozen=True)
class SyncOutcome:
    next_sync_interval: int
    training_over: bool


LossServer = Callable[[Path], LossReport]


def socket_path_from_env(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("SWARM_SL_SOCKET") or DEFAULT_SOCKET).absolute()


def connect_timeout_from_env(environ: Mapping[str, str] | None = None) -> float:
    return env_seconds("SWARM_SL_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT, environ)


def _reason(exc: grpc.RpcError) -> str:
    code = exc.code() if isinstance(exc, grpc.Call) else None
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"the SL node is not reachable ({details}); is it still running?"
    if code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT):
        return details or code.name
    return f"{code.name if code else 'error'}: {details}"


class SLChannel:
    """One ML program's connection to its SL node. Not thread-safe: the callback calls it from one thread."""

    def __init__(self, socket_path: Path, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> None:
        self.socket_path = Path(socket_path)
        self.folder = self.socket_path.parent
        self.connect_timeout = connect_timeout
        self._channel: grpc.Channel | None = None
        self._stub: pb_grpc.MLChannelStub | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SLChannel:
        return cls(socket_path_from_env(environ), connect_timeout_from_env(environ))

    # -- connection ---------------------------------------------------------------------------------------

    def connect(self) -> None:
        """Wait (bounded by ``connect_timeout``) until the SL node accepts connections on the socket."""
        target = f"unix:{self.socket_path}"
        channel = grpc.insecure_channel(target, options=_CHANNEL_OPTIONS)
        log.info("Waiting up to %s s for the SL node on %s", self.connect_timeout, self.socket_path)
        try:
            grpc.channel_ready_future(channel).result(timeout=self.connect_timeout)
        except grpc.FutureTimeoutError:
            channel.close()
            raise ChannelError(
                f"no SL node answered on {self.socket_path} within {self.connect_timeout:g} s. Start this "
                f"site's SL node first (e.g. `swarm-learning run-local ...` or `swarm-sl ...`) with the same "
                f"SWARM_SL_SOCKET, or set SWARM_LOOPBACK=True to train without a swarm"
            ) from None
        self._channel = channel
        self._stub = pb_grpc.MLChannelStub(channel)

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        self._channel = None
        self._stub = None

    @property
    def stub(self) -> pb_grpc.MLChannelStub:
        if self._stub is None:
            raise ChannelError("not connected to the SL node")
        return self._stub

    # -- calls ----------------------------------------------------------------------------------------------

    def open_session(self, config: CallbackConfig) -> str:
        request = pb.OpenSessionRequest(
            sync_interval=config.sync_frequency,
            min_peers=config.min_peers,
            max_peers=config.max_peers,
            use_adaptive_sync=config.use_adaptive_sync,
            checkin_model_on_train_end=config.checkin_model_on_train_end.name,
            node_weightage=config.node_weightage,
            training_contract=config.training_contract,
            merge_method=config.merge_method.name,
            ml_platform=config.ml_platform.name,
            total_epochs=config.total_epochs,
            program=os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python",
            pid=os.getpid(),
        )
        try:
            reply = self.stub.OpenSession(request)
        except grpc.RpcError as exc:
            raise ChannelError(_reason(exc)) from None
        return str(reply.session_id)

    def sync(
        self,
        session_id: str,
        *,
        seq: int,
        close: bool,
        node_weightage: int,
        weights: Mapping[str, np.ndarray],
        serve_loss: LossServer,
    ) -> SyncOutcome:
        """One sync round (or the close round): send ``weights``, answer loss requests, return the outcome.

        ``serve_loss`` gets the path of merged weights, loads them into the model and evaluates it; if it
        raises, the SL is told the loss computation failed and the exception propagates.
        """
        name = f"ml-{os.getpid()}-{'close' if close else 'sync'}-{seq:06d}.safetensors"
        path = save_weights(self.folder / name, weights)
        outbox: queue.Queue[pb.MLMessage | None] = queue.Queue()
        outbox.put(
            pb.MLMessage(
                sync=pb.SyncRequest(
                    session_id=session_id,
                    seq=seq,
                    close=close,
                    node_weightage=node_weightage,
                    weights_file=name,
                )
            )
        )

        def requests() -> Iterator[pb.MLMessage]:
            while (message := outbox.get()) is not None:
                yield message

        call = self.stub.Sync(requests())
        try:
            for reply in call:
                kind = reply.WhichOneof("body")
                if kind == "loss":
                    outbox.put(self._answer_loss(reply.loss, serve_loss, call, outbox))
                elif kind == "done":
                    if reply.done.seq != seq:
                        raise ChannelError(f"SL answered sync #{reply.done.seq} to sync request #{seq}")
                    return SyncOutcome(int(reply.done.next_sync_interval), bool(reply.done.training_over))
            raise ChannelError("the SL node ended the sync round without a result")
        except grpc.RpcError as exc:
            raise ChannelError(_reason(exc)) from None
        finally:
            outbox.put(None)
            path.unlink(missing_ok=True)

    def _answer_loss(
        self,
        request: pb.LossRequest,
        serve_loss: LossServer,
        call: grpc.Call,
        outbox: queue.Queue[pb.MLMessage | None],
    ) -> pb.MLMessage:
        try:
            report = serve_loss(self._resolve(request.weights_file))
        except Exception as exc:
            failure = pb.LossResponse(
                loss_seq=request.loss_seq, ok=False, error=f"Loss computation failed. {exc}", loss=-1.0
            )
            outbox.put(pb.MLMessage(loss=failure))
            outbox.put(None)
            ended = threading.Event()
            call.add_done_callback(lambda _call: ended.set())  # type: ignore[attr-defined]
            ended.wait(_LOSS_FAILURE_GRACE)
            call.cancel()  # type: ignore[attr-defined]
            raise
        return pb.MLMessage(
            loss=pb.LossResponse(
                loss_seq=request.loss_seq,
                ok=True,
                loss=report.loss,
                metric=report.metric,
                epochs_done=report.epochs_done,
                total_epochs=report.total_epochs,
            )
        )

    def _resolve(self, weights_file: str) -> Path:
        path = (self.folder / weights_file).resolve()
        if not weights_file or not path.is_relative_to(self.folder.resolve()):
            raise ChannelError(f"SL named a weights file outside {self.folder}: {weights_file!r}")
        return path

    def kill_session(self, session_id: str, reason: str) -> None:
        try:
            self.stub.KillSession(pb.KillSessionRequest(session_id=session_id, reason=reason))
        except grpc.RpcError as exc:
            raise ChannelError(_reason(exc)) from None

    def finish(self, session_id: str, weights_sha256: str) -> None:
        try:
            self.stub.Finish(pb.FinishRequest(session_id=session_id, weights_sha256=weights_sha256))
        except grpc.RpcError as exc:
            raise ChannelError(_reason(exc)) from None
