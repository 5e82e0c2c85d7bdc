"""The SN's embedded chain: a deterministic py-evm chain fed by ledger entries, and a web3 provider over it.

- ``engine``: ``EmbeddedChain`` (submit / apply / read), ``LedgerEntry``, ``EntrySink``, ``LocalSink``
- ``journal``: the append-only entry file replayed at start; ``statecache``: EVM database changes per block, so
  a restart need not re-execute every block
- ``genesis``: the fixed genesis (chain id, gas limit, fee-free)
- ``rpc`` / ``provider``: Ethereum JSON-RPC over the engine; ``EmbeddedProvider`` for ``Web3``
- ``history``: operations decoded from transactions; ``types``: the values the ledger service returns
"""

from sn.chain.engine import AppliedBlock, EmbeddedChain, EntrySink, ExecutionFailed, LedgerEntry, LocalSink
from sn.chain.provider import EmbeddedProvider

__all__ = [
    "AppliedBlock",
    "EmbeddedChain",
    "EmbeddedProvider",
    "EntrySink",
    "ExecutionFailed",
    "LedgerEntry",
    "LocalSink",
]
