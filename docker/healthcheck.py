"""Docker ``HEALTHCHECK`` of the Swarm Learning images: ``GET /is_up`` over mutual TLS with the container's own identity.

Which server is asked depends on ``SWARM_COMPONENT``:

=========  ====================================================================================
sn         this SN's API, ``https://127.0.0.1:$SN_API_SERVER_PORT/is_up``
sl         this SL's file server, ``https://127.0.0.1:$SL_FS_PORT/is_up``
license    this license server, ``https://127.0.0.1:$SWARM_LICENSE_PORT/is_up``
swop       the SN it works with, ``https://$SN_NODE_IP:$SN_API_SERVER_PORT/is_up`` (SWOP serves nothing itself)
swci       in ``SWCI_MODE=WEB`` its web API on ``$SWCI_WEB_PORT``; in CLI mode a running container is healthy
=========  ====================================================================================

``SWARM_HEALTH_URL`` overrides the URL. Exit 0 when the answer is HTTP 200, else 1 with the reason on stdout (Docker
keeps it in ``docker inspect``). Bounded: one attempt, ``SWARM_HEALTH_TIMEOUT`` seconds (default 4).
"""

from __future__ import annotations

import http.client
import os
import sys
from collections.abc import Mapping
from urllib.parse import urlsplit


def health_url(environ: Mapping[str, str]) -> str | None:
    """The URL to probe, or ``None`` when the component has nothing to probe."""
    if environ.get("SWARM_HEALTH_URL"):
        return environ["SWARM_HEALTH_URL"]
    component = environ.get("SWARM_COMPONENT", "")
    if component == "sn":
        return f"https://127.0.0.1:{environ.get('SN_API_SERVER_PORT') or 30304}/is_up"
    if component == "sl":
        return f"https://127.0.0.1:{environ.get('SL_FS_PORT') or 30305}/is_up"
    if component == "license":
        return f"https://127.0.0.1:{environ.get('SWARM_LICENSE_PORT') or 5814}/is_up"
    if component == "swop":
        host = environ.get("SN_NODE_IP") or "127.0.0.1"
        return f"https://{host}:{environ.get('SN_API_SERVER_PORT') or 30304}/is_up"
    if component == "swci" and environ.get("SWCI_MODE", "CLI").upper() == "WEB":
        return f"https://127.0.0.1:{environ.get('SWCI_WEB_PORT') or 30306}/is_up"
    return None


def probe(url: str, environ: Mapping[str, str]) -> tuple[bool, str]:
    """One ``GET`` with the identity of ``SWARM_ID_*``; ``(healthy, reason)``."""
    from swarm_learning.tls import TLSIdentity  # the image's own package: same TLS rules as the components

    identity = TLSIdentity.from_options(
        environ.get("SWARM_ID_CERT"),
        environ.get("SWARM_ID_KEY"),
        environ.get("SWARM_ID_CAPATH") or None,
        environ.get("SWARM_ID_CACERT") or None,
    )
    parts = urlsplit(url)
    timeout = float(environ.get("SWARM_HEALTH_TIMEOUT") or 4)
    conn = http.client.HTTPSConnection(
        parts.hostname or "127.0.0.1", parts.port or 443, context=identity.client_context(), timeout=timeout
    )
    try:
        conn.request("GET", parts.path or "/")
        response = conn.getresponse()
        body = response.read(200).decode(errors="replace").strip()
    finally:
        conn.close()
    return response.status == 200, f"{url} -> HTTP {response.status} {body}"


def main(environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    url = health_url(env)
    if url is None:
        print("nothing to probe: healthy while running")
        return 0
    try:
        healthy, reason = probe(url, env)
    except Exception as exc:  # noqa: BLE001 - any failure means "unhealthy"; the reason goes to docker inspect
        healthy, reason = False, f"{url} -> {type(exc).__name__}: {exc}"
    print(reason)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
