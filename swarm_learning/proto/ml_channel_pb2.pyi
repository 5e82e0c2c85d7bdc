from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OpenSessionRequest(_message.Message):
    __slots__ = ("sync_interval", "min_peers", "max_peers", "use_adaptive_sync", "checkin_model_on_train_end", "node_weightage", "training_contract", "merge_method", "ml_platform", "total_epochs", "program", "pid")
    SYNC_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    MIN_PEERS_FIELD_NUMBER: _ClassVar[int]
    MAX_PEERS_FIELD_NUMBER: _ClassVar[int]
    USE_ADAPTIVE_SYNC_FIELD_NUMBER: _ClassVar[int]
    CHECKIN_MODEL_ON_TRAIN_END_FIELD_NUMBER: _ClassVar[int]
    NODE_WEIGHTAGE_FIELD_NUMBER: _ClassVar[int]
    TRAINING_CONTRACT_FIELD_NUMBER: _ClassVar[int]
    MERGE_METHOD_FIELD_NUMBER: _ClassVar[int]
    ML_PLATFORM_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    sync_interval: int
    min_peers: int
    max_peers: int
    use_adaptive_sync: bool
    checkin_model_on_train_end: str
    node_weightage: int
    training_contract: str
    merge_method: str
    ml_platform: str
    total_epochs: int
    program: str
    pid: int
    def __init__(self, sync_interval: _Optional[int] = ..., min_peers: _Optional[int] = ..., max_peers: _Optional[int] = ..., use_adaptive_sync: _Optional[bool] = ..., checkin_model_on_train_end: _Optional[str] = ..., node_weightage: _Optional[int] = ..., training_contract: _Optional[str] = ..., merge_method: _Optional[str] = ..., ml_platform: _Optional[str] = ..., total_epochs: _Optional[int] = ..., program: _Optional[str] = ..., pid: _Optional[int] = ...) -> None: ...

class OpenSessionResponse(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class SyncRequest(_message.Message):
    __slots__ = ("session_id", "seq", "close", "node_weightage", "weights_file")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    NODE_WEIGHTAGE_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FILE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    seq: int
    close: bool
    node_weightage: int
    weights_file: str
    def __init__(self, session_id: _Optional[str] = ..., seq: _Optional[int] = ..., close: _Optional[bool] = ..., node_weightage: _Optional[int] = ..., weights_file: _Optional[str] = ...) -> None: ...

class LossRequest(_message.Message):
    __slots__ = ("loss_seq", "weights_file")
    LOSS_SEQ_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FILE_FIELD_NUMBER: _ClassVar[int]
    loss_seq: int
    weights_file: str
    def __init__(self, loss_seq: _Optional[int] = ..., weights_file: _Optional[str] = ...) -> None: ...

class LossResponse(_message.Message):
    __slots__ = ("loss_seq", "ok", "error", "loss", "metric", "epochs_done", "total_epochs")
    LOSS_SEQ_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    loss_seq: int
    ok: bool
    error: str
    loss: float
    metric: float
    epochs_done: int
    total_epochs: int
    def __init__(self, loss_seq: _Optional[int] = ..., ok: _Optional[bool] = ..., error: _Optional[str] = ..., loss: _Optional[float] = ..., metric: _Optional[float] = ..., epochs_done: _Optional[int] = ..., total_epochs: _Optional[int] = ...) -> None: ...

class SyncResponse(_message.Message):
    __slots__ = ("seq", "next_sync_interval", "training_over")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    NEXT_SYNC_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    TRAINING_OVER_FIELD_NUMBER: _ClassVar[int]
    seq: int
    next_sync_interval: int
    training_over: bool
    def __init__(self, seq: _Optional[int] = ..., next_sync_interval: _Optional[int] = ..., training_over: _Optional[bool] = ...) -> None: ...

class MLMessage(_message.Message):
    __slots__ = ("sync", "loss")
    SYNC_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    sync: SyncRequest
    loss: LossResponse
    def __init__(self, sync: _Optional[_Union[SyncRequest, _Mapping]] = ..., loss: _Optional[_Union[LossResponse, _Mapping]] = ...) -> None: ...

class SLMessage(_message.Message):
    __slots__ = ("loss", "done")
    LOSS_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    loss: LossRequest
    done: SyncResponse
    def __init__(self, loss: _Optional[_Union[LossRequest, _Mapping]] = ..., done: _Optional[_Union[SyncResponse, _Mapping]] = ...) -> None: ...

class KillSessionRequest(_message.Message):
    __slots__ = ("session_id", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class KillSessionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FinishRequest(_message.Message):
    __slots__ = ("session_id", "weights_sha256")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_SHA256_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    weights_sha256: str
    def __init__(self, session_id: _Optional[str] = ..., weights_sha256: _Optional[str] = ...) -> None: ...

class FinishResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
