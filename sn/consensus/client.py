"""A connection to the SN's own etcd member (plain gRPC on loopback).

Client library: ``cslab-etcd3`` (the maintained fork of ``etcd3``), chosen per ``shared/etcd-here.md``: it is
synchronous, which fits the chain's threads (``EntrySink.propose`` is a blocking call) without an event loop of its
own, it passed the ordering, resume and create-if-absent checks measured there, and it also speaks mTLS should the
client port ever leave loopback. ``aetcd`` passed the same checks but is asyncio-only. Neither speaks the learner
part of the API, so membership changes go through etcd's JSON gateway (``membership``).

The library marks an endpoint that failed once as unusable for 300 s; the endpoint here is built with no such
penalty, so the same client works again as soon as a restarted member answers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import etcd3
from etcd3 import exceptions as etcd_exceptions
from grpc import RpcError

from sn.consensus.errors import ConsensusError

ETCD_ERRORS: tuple[type[BaseException], ...] = (etcd_exceptions.Etcd3Exception, RpcError)
"""What a call to etcd raises when the member is down, busy, a learner, or has no quorum."""


def connect(client_url: str, *, timeout: float = 5.0) -> Any:
    """A client of the member at ``client_url`` (``http://127.0.0.1:PORT``); calls time out after ``timeout`` s."""
    parts = urlsplit(client_url)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise ConsensusError(f"etcd client URL {client_url!r} must look like http://127.0.0.1:PORT")
    endpoint = etcd3.Endpoint(parts.hostname, parts.port, secure=False, time_retry=0.0)
    return etcd3.MultiEndpointEtcd3Client(endpoints=[endpoint], timeout=timeout)
