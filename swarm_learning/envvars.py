"""Reading typed settings from environment variables, with errors that name the variable and the value."""

from __future__ import annotations

import os
from collections.abc import Mapping

from swarm_learning.errors import ConfigurationError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_seconds(name: str, default: float, environ: Mapping[str, str] | None = None) -> float:
    """A non-negative number of seconds (or any non-negative number) from ``name``; unset or empty -> default."""
    raw = (os.environ if environ is None else environ).get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} has to be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ConfigurationError(f"{name} has to be >= 0, got {raw!r}")
    return value


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    """``True``/``False`` (also 1/0, yes/no, on/off, any case) from ``name``; unset or empty -> default."""
    raw = (os.environ if environ is None else environ).get(name)
    if not raw:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ConfigurationError(f"{name}={raw!r} is not a boolean: use True or False")
