"""Signed transactions for tests of the embedded chain: fee-free (base fee 0), type 2, this chain's id."""

from __future__ import annotations

from sn.chain.genesis import CHAIN_ID


def signed(account: object, nonce: int, to: bytes = b"\x11" * 20) -> bytes:
    """``account`` signs a plain zero-value transfer to ``to`` with nonce ``nonce``."""
    tx = {
        "type": 2,
        "chainId": CHAIN_ID,
        "nonce": nonce,
        "to": to,
        "value": 0,
        "gas": 21_000,
        "maxFeePerGas": 0,
        "maxPriorityFeePerGas": 0,
        "data": b"",
    }
    return bytes(account.sign_transaction(tx).raw_transaction)  # type: ignore[attr-defined]
