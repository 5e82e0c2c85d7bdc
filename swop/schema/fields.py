"""Field types shared by the profile and task schemas: bounded strings, paths, environment lists, labels."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from annotated_types import Ge, Le, MaxLen, MinLen
from pydantic import AfterValidator, BaseModel, ConfigDict, PlainValidator
from pydantic_core import PydanticCustomError

from swop.schema.describe import Expect, shown


class StrictModel(BaseModel):
    """Unknown keys are errors, values are not coerced across types, models are immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _absolute(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} is not an absolute path (it must start with /)")
    return value


def _relative(value: str) -> str:
    if value.startswith("/") or ".." in value.split("/"):
        raise ValueError(f"{value!r} must be a path relative to the volume, without a leading / or '..'")
    return value


Text160 = Annotated[str, MinLen(1), MaxLen(160)]
"""A task's free strings: stored on chain in slots that leave room for 160 characters."""

AbsolutePath160 = Annotated[
    str, MinLen(2), MaxLen(160), AfterValidator(_absolute), Expect("an absolute path of 2..160 characters")
]
RelativePath160 = Annotated[
    str, MinLen(1), MaxLen(160), AfterValidator(_relative), Expect("a relative path of 1..160 characters")
]
Port = Annotated[int, Ge(0), Le(65535)]


def _env_name(name: str) -> str:
    if not name or "=" in name or any(ch.isspace() for ch in name):
        raise ValueError(f"{name!r} is not a usable environment variable name (no '=', no spaces)")
    return name


def _env_value(value: Any) -> str:
    """Env values may be written as text, numbers or booleans; they reach the environment as Python prints them
    (``True``, ``2``); ``~`` becomes the empty string."""
    if value is None:
        return ""
    if isinstance(value, str | bool | int | float):
        return str(value)
    raise PydanticCustomError(
        "env_value", "got {value} (expected a text, number or true/false value)", {"value": shown(value)}
    )


EnvName = Annotated[str, AfterValidator(_env_name)]
EnvValue = Annotated[str, PlainValidator(_env_value), Expect("a text, number or true/false value")]
EnvList = Annotated[
    list[dict[EnvName, EnvValue]] | None,
    Expect("~ or a list of NAME: value entries, e.g. [SCRATCH_DIR: user1, MAX_EPOCHS: 2]"),
]


def env_dict(*lists: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
    """Merge environment lists in order: later lists (and later entries) override earlier ones."""
    merged: dict[str, str] = {}
    for entries in lists:
        for entry in entries or ():
            merged.update(entry)
    return merged


def _labels(value: Any) -> dict[str, str] | None:
    """Docker labels as a mapping, or a list of ``key`` / ``key=value`` strings."""
    if value is None:
        return None
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        out = {}
        for key, item in value.items():
            if not isinstance(item, str | bool | int | float) and item is not None:
                raise PydanticCustomError(
                    "labels",
                    "label {key} has {value} (expected a text value)",
                    {"key": repr(key), "value": shown(item)},
                )
            out[key] = "" if item is None else str(item)
        return out
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        pairs = [item.partition("=") for item in value]
        return {key: text for key, _, text in pairs}
    raise PydanticCustomError(
        "labels", "got {value} (expected ~, a mapping of labels or a list of strings)", {"value": shown(value)}
    )


Labels = Annotated[
    dict[str, str] | None, PlainValidator(_labels), Expect("~, a mapping of labels, or a list of key=value strings")
]


def joined(*parts: str | None) -> str:
    return posixpath.join(*[p for p in parts if p])
