"""Pure, element-wise merge arithmetic on numpy arrays (no knowledge of nodes, rounds or files).

Every function here takes the tensors of one key from the active participants (weight > 0, already
validated) and returns the merged tensor in the *working dtype* (see :func:`working_dtype`);
:func:`cast_back` turns it into the tensor's own dtype.

Precision: float32 tensors are merged in float32 (float16 in float32, float64 in float64). A weighted mean
of ``n`` float32 values computed as ``sum(c_i * x_i)`` with ``c_i = w_i / sum(w)`` has a relative error of at
most about ``n * 2**-24`` (~5e-7 for 8 nodes) of the largest term, far below the noise of SGD, and halves
the memory traffic of float64. Integer and boolean tensors (e.g. PyTorch ``num_batches_tracked``) are merged
in float64 and rounded back (half to even) so a counter never silently truncates.

Memory: tensors are processed in chunks of :data:`CHUNK` elements, so besides the inputs and the output a
merge only needs chunk-sized scratch buffers, whatever the number of participants.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from swarm_learning.errors import WeightsError

CHUNK = 1 << 16
"""Elements per chunk: a 256 KiB float32 slice stays in the core's L2 cache while ``n`` models stream in."""

_MEDIAN_CELLS = 1 << 17
"""Coordinate median: ``n * columns`` processed per step (bounds its (n, columns) sort buffers)."""


def working_dtype(dtype: np.dtype[Any], key: str = "?") -> np.dtype[Any]:
    """The floating dtype in which tensors of ``dtype`` are merged."""
    if dtype.kind == "f":
        return np.promote_types(dtype, np.float32)
    if dtype.kind in "iub":
        return np.dtype(np.float64)
    raise WeightsError(f"tensor {key!r} has dtype {dtype}, which cannot be merged: only real numbers can")


def cast_back(merged: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    """Return ``merged`` (working dtype) as ``dtype``: integers rounded half to even and clipped to range."""
    if dtype.kind == "f":
        return merged.astype(dtype, copy=False)
    rounded = np.asarray(np.rint(merged))
    if dtype.kind == "b":
        return np.asarray(rounded != 0)
    info = np.iinfo(dtype)
    return np.asarray(np.clip(rounded, info.min, info.max)).astype(dtype)


def flat_source(array: np.ndarray) -> Any:
    """Something sliceable ``[start:stop]`` into 1-D C-order chunks, without copying the whole array."""
    return array.reshape(-1) if array.flags.c_contiguous else array.flat


def weighted_mean(arrays: Sequence[np.ndarray], coefficients: np.ndarray) -> np.ndarray:
    """``sum(c_i * x_i)`` element-wise, with ``coefficients`` >= 0 already summing to 1.

    A running sum over one cache-sized chunk at a time: memory is the output plus one chunk of scratch per
    thread, whatever ``len(arrays)``, and each input is read once. Large tensors are split between
    :data:`THREADS` threads. Zero coefficients are skipped, so a
    one-hot combination returns that input exactly.
    """
    first = arrays[0]
    dtype = working_dtype(first.dtype)
    used = [(a, dtype.type(c)) for a, c in zip(arrays, coefficients) if c != 0]
    out = np.empty(first.size, dtype=dtype)

    def span(low: int, high: int) -> None:
        (head, head_c), *rest = [(flat_source(a), c) for a, c in used]
        scratch = np.empty(min(CHUNK, high - low), dtype=dtype)
        for start in range(low, high, CHUNK):
            stop = min(start + CHUNK, high)
            acc, tmp = out[start:stop], scratch[: stop - start]
            np.multiply(head[start:stop], head_c, out=acc, dtype=dtype)
            for src, c in rest:
                np.multiply(src[start:stop], c, out=tmp, dtype=dtype)
                np.add(acc, tmp, out=acc)

    in_parallel(span, first.size)
    return out.reshape(first.shape)


THREADS = min(2, os.cpu_count() or 1)
"""Threads a large tensor's merge is split between (numpy releases the GIL in its loops and sorts)."""

_PARALLEL_MIN = 8 * CHUNK
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def in_parallel(span: Callable[[int, int], None], size: int) -> None:
    """Run ``span(low, high)`` over ``[0, size)``, in :data:`THREADS` chunk-aligned parts if it is large."""
    global _pool
    parts = THREADS if size >= _PARALLEL_MIN else 1
    if parts == 1:
        span(0, size)
        return
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="merge")
    per_part = -(-size // (parts * CHUNK)) * CHUNK
    bounds = [(low, min(low + per_part, size)) for low in range(0, size, per_part)]
    for future in [_pool.submit(span, low, high) for low, high in bounds]:
        future.result()


def weighted_median(arrays: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Weighted coordinate-wise median (all weights > 0).

    Defined as the ordinary median of the multiset in which each value appears ``w_i`` times: for each
    coordinate, sort the values, accumulate their weights, and average the lowest value whose cumulative
    weight reaches half the total (``>= W/2``) with the lowest one that passes it (``> W/2``). They are the
    same value unless the half lands exactly on a boundary (even total weight), which gives the mean of the
    two central elements. Exact for integer weights; floats are accepted. When one weight exceeds half the
    total, that participant's tensor is the answer everywhere and is returned without sorting.

    float32 values are sorted together with their owner's index packed into one uint64 key (an order-
    preserving image of the float's bits, then the index), which numpy sorts far faster than an argsort;
    other dtypes use argsort + take_along_axis.
    """
    first = arrays[0]
    dtype = working_dtype(first.dtype)
    weights = np.asarray(weights, dtype=np.float64)
    half = weights.sum() / 2.0
    if weights.max() > half:  # a value counted more often than all the others together is every median
        return np.array(arrays[int(np.argmax(weights))], dtype=dtype)
    n, size = len(arrays), first.size
    step = max(1, _MEDIAN_CELLS // n)
    out = np.empty(size, dtype=dtype)

    def span(low: int, high: int) -> None:
        sources = [flat_source(a) for a in arrays]
        stacked_buf = np.empty((n, min(step, high - low)), dtype=dtype)
        for start in range(low, high, step):
            stop = min(start + step, high)
            stacked = stacked_buf[:, : stop - start]
            for row, src in zip(stacked, sources):
                row[...] = src[start:stop]
            out[start:stop] = _median_of_columns(stacked, weights, half)

    in_parallel(span, size)
    return out.reshape(first.shape)


def _median_of_columns(stacked: np.ndarray, weights: np.ndarray, half: float) -> np.ndarray:
    if stacked.dtype == np.float32:
        keys = _sorted_columns(_sortable_keys(stacked))
        lower, upper = _middle_items(keys, (keys & _LOW32).astype(np.intp), weights, half)
        return (_float32_of_keys(lower) + _float32_of_keys(upper)) / 2
    order = np.argsort(stacked, axis=0)
    values = np.take_along_axis(stacked, order, axis=0)
    lower, upper = _middle_items(values, order, weights, half)
    return (lower + upper) / 2


_NETWORK_MAX = 8
"""Up to this many rows, columns are sorted by a vectorised sorting network instead of ``ndarray.sort``
(whose per-column overhead dominates when columns are this short)."""


def _sorted_columns(keys: np.ndarray) -> np.ndarray:
    """``keys`` (n, m) with each column sorted (may sort in place and return ``keys`` itself)."""
    n = len(keys)
    if n > _NETWORK_MAX:
        keys.sort(axis=0)
        return keys
    rows = list(keys)
    spare = np.empty_like(rows[0])
    for round_ in range(n):  # odd-even transposition sort: n rounds of neighbour compare-exchanges
        for i in range(round_ % 2, n - 1, 2):
            np.minimum(rows[i], rows[i + 1], out=spare)
            np.maximum(rows[i], rows[i + 1], out=rows[i + 1])
            rows[i], spare = spare, rows[i]
    return np.stack(rows)


_SIGN32 = np.uint32(0x80000000)
_LOW32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)


def _sortable_keys(values: np.ndarray) -> np.ndarray:
    """uint64 keys ordered like the float32 ``values`` (n, m); the low 32 bits hold the row index."""
    bits = values.view(np.uint32)
    flip = (values.view(np.int32) >> 31).view(np.uint32)  # all ones for negative numbers
    flip |= _SIGN32
    keys = np.bitwise_xor(bits, flip).astype(np.uint64)
    keys <<= _SHIFT32
    keys |= np.arange(len(values), dtype=np.uint64)[:, np.newaxis]
    return keys


def _float32_of_keys(keys: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_sortable_keys` for the value part."""
    bits = (keys >> _SHIFT32).astype(np.uint32)
    flip = (~(bits.view(np.int32) >> 31)).view(np.uint32)  # all ones where the float was negative
    flip |= _SIGN32
    return (bits ^ flip).view(np.float32)


def _middle_items(
    items: np.ndarray, owners: np.ndarray, weights: np.ndarray, half: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per column of the sorted ``items``: the first whose cumulative weight is ``>= half``, and ``> half``."""
    cumulative = weights.take(owners)
    for k in range(1, len(cumulative)):
        np.add(cumulative[k - 1], cumulative[k], out=cumulative[k])
    # cumulative weight grows down each column, so "first row reaching half" = "rows still below half"
    columns = np.arange(items.shape[1])
    flat = items.reshape(-1)
    lower = flat.take(np.count_nonzero(cumulative < half, axis=0) * items.shape[1] + columns)
    upper = flat.take(np.count_nonzero(cumulative <= half, axis=0) * items.shape[1] + columns)
    return lower, upper
