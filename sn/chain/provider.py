"""A web3.py provider over the embedded chain, so web3 works unchanged (and the same code can use HTTPProvider)."""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any

from web3.providers.base import BaseProvider
from web3.types import RPCEndpoint, RPCResponse

from sn.chain.engine import EmbeddedChain
from sn.chain.rpc import RpcHandler

logger = logging.getLogger(__name__)


class EmbeddedProvider(BaseProvider):
    """``Web3(EmbeddedProvider(chain))``: every request is answered in-process by ``RpcHandler``."""

    def __init__(self, chain: EmbeddedChain) -> None:
        super().__init__()
        self.chain = chain
        self._rpc = RpcHandler(chain)
        self._ids = itertools.count()
        self._ids_lock = threading.Lock()

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with self._ids_lock:
            request_id = next(self._ids)
        answer = self._rpc.handle(str(method), list(params or []))
        logger.debug("rpc %s -> %s", method, "error" if "error" in answer else "ok")
        response: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, **answer}
        return response  # type: ignore[return-value]

    def is_connected(self, show_traceback: bool = False) -> bool:
        return True
