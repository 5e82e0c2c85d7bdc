"""Weights as raw tensors: the one file format every component uses (safetensors, never pickle).

A model's weights are an ordered ``dict[str, numpy.ndarray]``. Files keep that order in their metadata so a
model can be rebuilt exactly, and are written atomically (temporary file, then rename) so a reader never
sees half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from swarm_learning.errors import WeightsError

WeightDict = dict[str, np.ndarray]

_ORDER_KEY = "swarm_learning.key_order"
_CHUNK = 4 * 1024 * 1024


def save_weights(path: str | os.PathLike[str], weights: Mapping[str, np.ndarray]) -> Path:
    """Write ``weights`` to ``path`` atomically; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.asarray(v, order="C") for k, v in weights.items()}
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(arrays, tmp, metadata={_ORDER_KEY: json.dumps(list(arrays))})
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_weights(path: str | os.PathLike[str]) -> WeightDict:
    """Read a weights file written by :func:`save_weights` (any safetensors file works, in sorted key order)."""
    try:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
            keys = json.loads(meta[_ORDER_KEY]) if _ORDER_KEY in meta else sorted(f.keys())
            return {k: f.get_tensor(k) for k in keys}
    except FileNotFoundError:
        raise WeightsError(f"weights file {path} does not exist") from None
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise WeightsError(f"weights file {path} is not a readable safetensors file: {exc}") from exc


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes (what goes on chain as a merged model's digest)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def weights_digest(weights: Mapping[str, np.ndarray]) -> str:
    """Hex SHA-256 of a weight dict's content: every key (sorted), dtype, shape and C-order bytes.

    Independent of file layout, so two sites holding the same model get the same digest.
    """
    h = hashlib.sha256()
    for key in sorted(weights):
        arr = np.asarray(weights[key], order="C")
        h.update(key.encode())
        h.update(str(arr.dtype).encode())
        h.update(repr(tuple(arr.shape)).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def check_compatible(reference: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]) -> str | None:
    """Why ``other`` cannot be merged with ``reference`` (keys, shapes, dtypes), or ``None`` if it can."""
    if list(reference) != list(other):
        missing = sorted(set(reference) - set(other))
        extra = sorted(set(other) - set(reference))
        if missing or extra:
            return f"different tensors: missing {missing[:3]}, unexpected {extra[:3]}"
        return "same tensors in a different order"
    for key, ref in reference.items():
        arr = other[key]
        if arr.shape != ref.shape:
            return f"tensor {key!r} has shape {arr.shape}, expected {ref.shape}"
        if arr.dtype != ref.dtype:
            return f"tensor {key!r} has dtype {arr.dtype}, expected {ref.dtype}"
    return None


def weights_layout(path: str | os.PathLike[str]) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    """(key, shape, dtype) of every tensor of a weights file, read from its header only (no tensor data)."""
    try:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
            keys = json.loads(meta[_ORDER_KEY]) if _ORDER_KEY in meta else sorted(f.keys())
            layout = []
            for k in keys:
                piece = f.get_slice(k)
                layout.append(
                    (k, tuple(piece.get_shape()), _SAFETENSORS_DTYPES.get(piece.get_dtype(), piece.get_dtype()))
                )
            return tuple(layout)
    except FileNotFoundError:
        raise WeightsError(f"weights file {path} does not exist") from None
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise WeightsError(f"weights file {path} is not a readable safetensors file: {exc}") from exc


def layout_of(weights: Mapping[str, np.ndarray]) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    return tuple((k, tuple(v.shape), str(v.dtype)) for k, v in weights.items())


_SAFETENSORS_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "U16": "uint16",
    "U32": "uint32",
    "U64": "uint64",
    "BOOL": "bool",
}
