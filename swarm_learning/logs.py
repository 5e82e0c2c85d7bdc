"""One place that configures log handlers for a daemon (the product's format: ``ts : logger : LEVEL : msg``)."""

from __future__ import annotations

import logging
import os
import sys

LOG_FORMAT = "%(asctime)s : %(name)s : %(levelname)s : %(message)s"


def configure(level: str | int | None = None) -> None:
    """Send every logger to stderr in the product's format; level from the argument, else ``SL_LOG_LEVEL``."""
    chosen = level or os.environ.get("SL_LOG_LEVEL", "INFO")
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(chosen if isinstance(chosen, int) else str(chosen).upper())
    for noisy in ("httpx", "httpcore", "web3", "eth", "urllib3", "asyncio", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
