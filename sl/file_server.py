"""The SL's file server (port 30305): serves this node's weight files to its peers over mutual TLS.

Only files of the node's exchange folder whose names look like weight files are served; everything else is 404.
Weights go to SL certificates only (``swarm_learning.roles.SL_FILE_SERVER_POLICY``); other callers get 403.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from pathlib import Path
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, PlainTextResponse

from swarm_learning.errors import NetworkError, WeightsError
from swarm_learning.https import KEEP_ALIVE_S
from swarm_learning.roles import SL_FILE_SERVER_POLICY, EndpointPolicy, Peer, answer_refusals
from swarm_learning.tls import TLSIdentity

log = logging.getLogger(__name__)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.safetensors$")
_CHUNK = 1024 * 1024
CLIENT_KEEPALIVE_S = KEEP_ALIVE_S / 3
file_server_policy = EndpointPolicy("SL file server", SL_FILE_SERVER_POLICY)
Caller = Annotated[Peer, Depends(file_server_policy)]


class WeightsFileResponse(FileResponse):
    chunk_size = 4 * 1024 * 1024  # large writes: model files are hundreds of MB


def create_file_app(folder: Path) -> FastAPI:
    app = FastAPI(title="Swarm Learning file server")
    answer_refusals(app)

    @app.get("/is_up", response_class=PlainTextResponse)
    def is_up() -> str:
        return "OK"

    @app.get("/weights/{name}")
    def weights(caller: Caller, name: str) -> WeightsFileResponse:
        path = folder / name
        if not _SAFE_NAME.match(name) or not path.is_file():
            raise HTTPException(status_code=404, detail=f"no weights file {name!r} on this node")
        log.debug("serving %s to %s", name, caller)
        return WeightsFileResponse(path, media_type="application/octet-stream", filename=name)

    return app


class WeightsFetcher:
    """Downloads weight files from peers' file servers, checking the SHA-256 digest when one is expected.

    A transport failure (a refused or dropped connection, a pooled keep-alive connection the peer closed just as a
    request went out on it) is retried ``attempts`` times with a short back-off before the download counts as failed:
    a GET of a file is idempotent and the digest on chain still guards what is kept.
    """

    def __init__(
        self,
        identity: TLSIdentity,
        timeout: float = 300.0,
        attempts: int = 4,
        backoff_s: float = 0.5,
    ) -> None:
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self._http = httpx.Client(
            verify=identity.client_context(),
            timeout=httpx.Timeout(timeout, connect=10.0),
            # idle connections are dropped well before the peer's server would close them (KEEP_ALIVE_S)
            limits=httpx.Limits(keepalive_expiry=CLIENT_KEEPALIVE_S),
        )

    def close(self) -> None:
        self._http.close()

    def fetch(self, uri: str, dest: Path, expected_sha256: str | None = None) -> str:
        """Download ``uri`` to ``dest`` atomically; returns the hex SHA-256 of what was received."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.part")
        for attempt in range(1, self.attempts + 1):
            try:
                got = self._download(uri, tmp)
                break
            except httpx.TransportError as exc:
                tmp.unlink(missing_ok=True)
                reason = f"{type(exc).__name__}: {exc}"
                if attempt == self.attempts:
                    raise NetworkError(
                        f"cannot download {uri} ({self.attempts} attempts): {reason}; check that the peer SL is "
                        "running and reachable and that its certificate is from the swarm's CA"
                    ) from exc
                log.warning("download of %s failed (attempt %s of %s): %s; retrying", uri, attempt, self.attempts,
                            reason)  # fmt: skip
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            except httpx.HTTPError as exc:
                tmp.unlink(missing_ok=True)
                raise NetworkError(f"cannot download {uri}: {type(exc).__name__}: {exc}") from exc
        if expected_sha256 is not None and got != expected_sha256:
            tmp.unlink(missing_ok=True)
            raise WeightsError(f"{uri} has SHA-256 {got}, but the chain records {expected_sha256}: refusing it")
        os.replace(tmp, dest)
        return got

    def _download(self, uri: str, tmp: Path) -> str:
        digest = hashlib.sha256()
        with self._http.stream("GET", uri) as resp:
            if resp.status_code != 200:
                raise NetworkError(f"peer file server answered {resp.status_code} for {uri}")
            with open(tmp, "wb") as out:
                for chunk in resp.iter_bytes(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        return digest.hexdigest()
