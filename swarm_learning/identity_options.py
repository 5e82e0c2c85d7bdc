"""The identity options every daemon accepts (``--cert/--key/--capath/--cacert``, env ``SWARM_ID_*``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from swarm_learning.tls import TLSIdentity


def identity_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--cert", envvar="SWARM_ID_CERT", help="This component's certificate (PEM)."),
        click.option("--key", envvar="SWARM_ID_KEY", help="Private key of that certificate (PEM)."),
        click.option("--capath", envvar="SWARM_ID_CAPATH", help="Folder of trusted CA certificates."),
        click.option("--cacert", envvar="SWARM_ID_CACERT", help="Bundle file of trusted CA certificates."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def load_identity(cert: str | None, key: str | None, capath: str | None, cacert: str | None) -> TLSIdentity:
    return TLSIdentity.from_options(cert, key, capath, cacert)
