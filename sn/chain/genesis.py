"""The fixed genesis of the embedded Swarm chain and the py-evm chain class that runs it.

Every SN builds the same genesis from these constants, so identical ledger entries give identical block hashes
on any machine. Fees are switched off: the genesis base fee is 0 and stays 0 as long as no block uses more than
half of the (huge) block gas limit, so transactions with gas price 0 are valid and no account needs a balance.
The engine refuses transactions above ``MAX_TX_GAS`` and stops filling a block at ``BLOCK_GAS_TARGET``, which keeps
the base fee at 0 forever.
"""

from __future__ import annotations

from typing import Any

from eth import constants
from eth.chains.base import MiningChain
from eth.vm.forks import CancunVM

CHAIN_ID = 0x5357  # "SW"
BLOCK_GAS_LIMIT = 2**40
BLOCK_GAS_TARGET = BLOCK_GAS_LIMIT // 2
MAX_TX_GAS = 50_000_000
GENESIS_TIMESTAMP = 0
COINBASE = constants.ZERO_ADDRESS

SwarmChain = MiningChain.configure(
    __name__="SwarmChain",
    vm_configuration=((constants.GENESIS_BLOCK_NUMBER, CancunVM),),
    chain_id=CHAIN_ID,
)


def genesis_params() -> dict[str, Any]:
    return {
        "difficulty": 0,
        "gas_limit": BLOCK_GAS_LIMIT,
        "timestamp": GENESIS_TIMESTAMP,
        "extra_data": b"swarm",
        "nonce": b"\x00" * 8,
        "mix_hash": constants.ZERO_HASH32,
        "coinbase": COINBASE,
        "base_fee_per_gas": 0,
    }
