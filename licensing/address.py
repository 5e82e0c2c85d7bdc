"""Where a component finds its license server: the product's APLS options and environment variables.

=================================================  =============================================  ==============
option                                             environment variable                           default
=================================================  =============================================  ==============
``--apls-ip`` / ``--primary-apls-ip``              ``SWARM_LICENSE_AUTOPASSJ_SERVER_PRIMARY_IP``    none
``--apls-port`` / ``--primary-apls-port``          ``SWARM_LICENSE_AUTOPASSJ_SERVER_PRIMARY_PORT``  5814
``--secondary-apls-ip``                            ``SWARM_LICENSE_AUTOPASSJ_SERVER_SECONDARY_IP``  none
``--secondary-apls-port``                          ``SWARM_LICENSE_AUTOPASSJ_SERVER_SECONDARY_PORT`` the primary's
=================================================  =============================================  ==============

Options win over the environment. With no primary address the component runs without a license server (the spec:
an open rebuild must not refuse to start when no APLS is configured).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import click
from pydantic import BaseModel, ConfigDict, Field

from swarm_learning.errors import ConfigurationError

DEFAULT_APLS_PORT = 5814
ENV_PRIMARY_IP = "SWARM_LICENSE_AUTOPASSJ_SERVER_PRIMARY_IP"
ENV_PRIMARY_PORT = "SWARM_LICENSE_AUTOPASSJ_SERVER_PRIMARY_PORT"
ENV_SECONDARY_IP = "SWARM_LICENSE_AUTOPASSJ_SERVER_SECONDARY_IP"
ENV_SECONDARY_PORT = "SWARM_LICENSE_AUTOPASSJ_SERVER_SECONDARY_PORT"


def server_url(host: str, port: int) -> str:
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


class AplsAddress(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    primary_ip: str = Field(min_length=1)
    primary_port: int = Field(default=DEFAULT_APLS_PORT, ge=1, le=65535)
    secondary_ip: str | None = None
    secondary_port: int | None = Field(default=None, ge=1, le=65535)

    @property
    def urls(self) -> list[str]:
        """Base URLs to try, primary first."""
        urls = [server_url(self.primary_ip, self.primary_port)]
        if self.secondary_ip:
            urls.append(server_url(self.secondary_ip, self.secondary_port or self.primary_port))
        return urls

    @classmethod
    def from_options(
        cls,
        apls_ip: str | None = None,
        primary_apls_ip: str | None = None,
        apls_port: int | str | None = None,
        primary_apls_port: int | str | None = None,
        secondary_apls_ip: str | None = None,
        secondary_apls_port: int | str | None = None,
        environ: Mapping[str, str] | None = None,
        **_other_options: Any,
    ) -> AplsAddress | None:
        """The configured license server, or None when none is configured.

        Accepts a CLI's whole option dict (``AplsAddress.from_options(**options)``); unrelated keys are ignored.
        """
        env = os.environ if environ is None else environ
        ip = _one("--apls-ip", apls_ip, "--primary-apls-ip", primary_apls_ip) or _blank(env.get(ENV_PRIMARY_IP))
        port = _one("--apls-port", apls_port, "--primary-apls-port", primary_apls_port) or _blank(
            env.get(ENV_PRIMARY_PORT)
        )
        secondary_ip = _blank(secondary_apls_ip) or _blank(env.get(ENV_SECONDARY_IP))
        secondary_port = _blank(secondary_apls_port) or _blank(env.get(ENV_SECONDARY_PORT))
        if not ip:
            if secondary_ip:
                raise ConfigurationError(
                    f"a secondary license server is configured but no primary: give --apls-ip (or {ENV_PRIMARY_IP}) too"
                )
            return None
        return cls(
            primary_ip=str(ip),
            primary_port=_port(port, "--apls-port") or DEFAULT_APLS_PORT,
            secondary_ip=secondary_ip,
            secondary_port=_port(secondary_port, "--secondary-apls-port"),
        )


def _blank(value: Any) -> Any:
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _one(name_a: str, a: Any, name_b: str, b: Any) -> Any:
    a, b = _blank(a), _blank(b)
    if a is not None and b is not None and str(a) != str(b):
        raise ConfigurationError(f"{name_a} {a} and {name_b} {b} disagree: they are synonyms, give one of them")
    return a if a is not None else b


def _port(value: Any, option: str) -> int | None:
    if value is None:
        return None
    try:
        port = int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{option} {value!r} is not a port number") from exc
    if not 1 <= port <= 65535:
        raise ConfigurationError(f"{option} {port} is not a port number (1-65535)")
    return port


def apls_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The product's license-server options for a component CLI; read them with ``AplsAddress.from_options``.

    They add the keyword arguments ``apls_ip``, ``primary_apls_ip``, ``apls_port``, ``primary_apls_port``,
    ``secondary_apls_ip`` and ``secondary_apls_port`` (all None unless given; the environment is read later).
    """
    options = [
        click.option(
            "--apls-ip", default=None, help=f"License server host (synonym of --primary-apls-ip; env {ENV_PRIMARY_IP})."
        ),
        click.option(
            "--primary-apls-ip", default=None, help="License server host; none: run without a license server."
        ),
        click.option(
            "--apls-port",
            default=None,
            type=int,
            help=f"License server port (default {DEFAULT_APLS_PORT}; env {ENV_PRIMARY_PORT}).",
        ),
        click.option("--primary-apls-port", default=None, type=int, help="Synonym of --apls-port."),
        click.option(
            "--secondary-apls-ip", default=None, help=f"Fallback license server host (env {ENV_SECONDARY_IP})."
        ),
        click.option(
            "--secondary-apls-port",
            default=None,
            type=int,
            help=f"Fallback license server port (default: the primary's; env {ENV_SECONDARY_PORT}).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func
