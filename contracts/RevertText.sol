// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// Helpers for the revert reasons of the Swarm contracts. Free functions: the compiler copies what each contract
// uses into it, so sharing them costs no call between contracts.

/// @notice `value` in decimal digits.
function decimal(uint256 value) pure returns (string memory) {
    if (value == 0) {
        return "0";
    }
    uint256 digits;
    for (uint256 v = value; v != 0; v /= 10) {
        digits++;
    }
    bytes memory out = new bytes(digits);
    for (; value != 0; value /= 10) {
        digits--;
        out[digits] = bytes1(uint8(48 + (value % 10)));
    }
    return string(out);
}

/// @notice Reverts with the five parts as one reason.
function revertWith(string memory a, string memory b, string memory c, string memory d, string memory e) pure {
    revert(string.concat(a, b, c, d, e));
}

/// @notice Reverts naming `what` when `value` is longer than `limit` bytes.
function checkLength(string memory what, string calldata value, uint256 limit) pure {
    if (bytes(value).length > limit) {
        revertWith(what, " is too long: ", decimal(bytes(value).length), " bytes, at most ", decimal(limit));
    }
}
