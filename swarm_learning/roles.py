"""Roles of the swarm's components, read from their certificates, and which role may call which endpoint.

**Roles.** ``sn``, ``sl``, ``swci``, ``swop`` (the four node types of the product) and ``license`` (the license
server). The ML program has no role: it talks to its own SL over a local socket and holds no certificate.

**Where a certificate's role comes from** (the first that names a role wins):

1. its SPIFFE ID, a URI SAN ``spiffe://<trust-domain>/<role>[/<name>...]``: what SPIRE issues (the product's SPIRE
   example registers ``spiffe://<td>/sn``, ``/sl``, ``/swop``, ``/swci``) and what ``swarm-gen-cert`` writes
   (``spiffe://swarm.local/<role>/<name>``; ``--spiffe-domain`` picks another trust domain);
2. a subject OU that is exactly a role name (``OU=sl``, any case), for an organisation's own PKI;
3. the subject CN's prefix before the first ``-`` (``sn-1``, ``SL-2``), for certificates of the product's
   ``gen-cert`` and of older versions of ours.

A certificate with none of these has no role and may call nothing but ``/is_up``; the answer says how to issue one.

**Who may call what** is one table per server (``SN_API_POLICY``, ``SL_FILE_SERVER_POLICY``), checked by
``EndpointPolicy``, a FastAPI dependency: a refused call is answered with HTTP 403 and a message naming the
caller's role, the endpoint and the roles that may call it. The default training contract exists from the
contract's deployment; other contracts are created (and reset) by SWCI, never by an SL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from swarm_learning.errors import NoRole, PeerRefused, RoleNotAllowed

log = logging.getLogger(__name__)

DEFAULT_TRUST_DOMAIN = "swarm.local"


class Role(StrEnum):
    SN = "sn"
    SL = "sl"
    SWCI = "swci"
    SWOP = "swop"
    LICENSE = "license"


SN, SL, SWCI, SWOP, LICENSE = Role.SN, Role.SL, Role.SWCI, Role.SWOP, Role.LICENSE
SWARM_NODE_ROLES = frozenset({SN, SL, SWCI, SWOP})
_ARTICLE = {SN: "an", SL: "an", SWCI: "a", SWOP: "a", LICENSE: "a"}
HOW_TO_ISSUE = (
    "issue a role-bound certificate with `swarm-gen-cert -n <role>-<i>` (or `--role ROLE`), which writes the URI SAN "
    f"spiffe://{DEFAULT_TRUST_DOMAIN}/<role>/<name>; roles: {', '.join(r.value for r in Role)}"
)


def parse_role(text: str) -> Role | None:
    """The role a word names (any case), or None."""
    try:
        return Role(text.strip().lower())
    except ValueError:
        return None


def role_of_spiffe_id(uri: str) -> Role | None:
    """``spiffe://<trust-domain>/<role>/...`` -> role; None when the first path segment names no role."""
    if not uri.startswith("spiffe://"):
        return None
    parts = uri[len("spiffe://") :].split("/")
    return parse_role(parts[1]) if len(parts) > 1 else None


def role_of_name(name: str) -> Role | None:
    """A common name's role: its prefix before the first '-' (``sl-2`` -> sl)."""
    return parse_role(name.split("-", 1)[0]) if name else None


def role_of_identity(identity: str) -> Role | None:
    """The role an identity string names by itself (a SPIFFE ID, or a CN with a role prefix)."""
    return role_of_spiffe_id(identity) if identity.startswith("spiffe://") else role_of_name(identity)


@dataclass(frozen=True)
class RoleReading:
    """A certificate's role and where it was read (``source``), or why none could be read (``why_not``)."""

    role: Role | None
    source: str = ""
    why_not: str = ""


def _texts(values: list[x509.NameAttribute]) -> list[str]:
    return [v.value if isinstance(v.value, str) else v.value.decode() for v in values]


def read_role(cert: x509.Certificate) -> RoleReading:
    """Read a certificate's role: SPIFFE ID, else an OU naming a role, else the CN's prefix (see the module doc)."""
    try:
        uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.UniformResourceIdentifier
        )
    except x509.ExtensionNotFound:
        uris = []
    spiffe_ids = [u for u in uris if u.startswith("spiffe://")]
    for uri in spiffe_ids:
        role = role_of_spiffe_id(uri)
        if role is not None:
            return RoleReading(role, f"SPIFFE ID {uri}")
    units = _texts(cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME))
    for unit in units:
        role = parse_role(unit)
        if role is not None:
            return RoleReading(role, f"OU={unit}")
    cns = _texts(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    for cn in cns[:1]:
        role = role_of_name(cn)
        if role is not None:
            return RoleReading(role, f"CN prefix of {cn}")
    looked = [
        f"its SPIFFE ID {spiffe_ids[0]} names no role" if spiffe_ids else "it has no spiffe://<domain>/<role> URI SAN",
        f"no OU names a role ({', '.join('OU=' + u for u in units)})" if units else "it has no OU",
        f"its CN {cns[0]!r} does not start with '<role>-'" if cns else "it has no CN",
    ]
    return RoleReading(None, why_not="; ".join(looked))


def role_of(cert: x509.Certificate) -> Role | None:
    return read_role(cert).role


class Peer(str):
    """A caller's identity (the string itself) with the role read from its certificate."""

    role: Role | None
    why_no_role: str

    def __new__(cls, identity: str, role: Role | None = None, why_no_role: str = "") -> Peer:
        peer = super().__new__(cls, identity)
        peer.role = role
        peer.why_no_role = why_no_role
        return peer


def certificate_kind(role: Role | None) -> str:
    """``an sl certificate``, ``a swci certificate``, ``a certificate without a role``."""
    return f"{_ARTICLE[role]} {role.value} certificate" if role else "a certificate without a role"


# ---------------------------------------------------------------------------------------------- endpoint policy


@dataclass(frozen=True)
class Rule:
    """What an endpoint does (for messages) and the roles that may call it."""

    action: str
    roles: frozenset[Role]

    def names(self) -> str:
        ordered = [r.value for r in Role if r in self.roles]
        return ordered[0] if len(ordered) == 1 else ", ".join(ordered[:-1]) + " or " + ordered[-1]


def rule(action: str, *roles: Role) -> Rule:
    return Rule(action, frozenset(roles))


READ = rule("read", *SWARM_NODE_ROLES)

#: The SN API (``sn/app.py``). Keys are "METHOD path-template"; "GET *" covers every other read. ``GET /is_up``
#: takes no role (any certificate of the swarm's CA: reverse proxies and start scripts poll it).
SN_API_POLICY: Mapping[str, Rule] = {
    "POST /nodes": rule("register a node", SL, SWOP, SWCI),
    "POST /nodes/heartbeat": rule("send a heartbeat", SL, SWOP, SWCI),
    "POST /trainings": rule("create a training contract", SWCI),
    "POST /trainings/{name}/reset": rule("reset a training contract", SWCI),
    "POST /trainings/{name}/join": rule("join a training", SL),
    "POST /trainings/{name}/rounds/{number}/checkin": rule("check in weights", SL),
    "POST /trainings/{name}/rounds/{number}/close": rule("close a sync round", SL),
    "POST /trainings/{name}/rounds/{number}/merge": rule("publish merged weights", SL),
    "POST /trainings/{name}/rounds/{number}/takeover": rule("take over a round's leadership", SL),
    "POST /trainings/{name}/progress": rule("report training progress", SL),
    "POST /trainings/{name}/finish": rule("finish a training", SL),
    "POST /network/join": rule("join the swarm network", SN),
    "POST /network/ready": rule("become a member of the swarm network", SN),
    "POST /network/submit": rule("append to the swarm network's log", SN),
    "POST /tasks": rule("register a task", SWCI),
    "POST /tasks/{name}/body/{index}": rule("write a task's body", SWCI),
    "POST /tasks/{name}/finalize": rule("finalize a task", SWCI),
    "DELETE /tasks/{name}": rule("delete a task", SWCI),
    "POST /taskrunners": rule("create a task runner", SWCI),
    "POST /taskrunners/{name}/assign": rule("assign a task to a task runner", SWCI),
    "POST /taskrunners/{name}/reset": rule("reset a task runner", SWCI),
    "POST /taskrunners/{name}/listen": rule("listen on a task runner", SWOP),
    "POST /taskrunners/{name}/stop-listening": rule("stop listening on a task runner", SWOP),
    "POST /taskrunners/{name}/enroll": rule("enroll in a task runner's run", SWOP),
    "POST /taskrunners/{name}/report": rule("report on a task runner's work", SWOP),
    "GET *": READ,
}

#: The SL's file server (``sl/file_server.py``): weights go to SLs only.
SL_FILE_SERVER_POLICY: Mapping[str, Rule] = {
    "GET /weights/{name}": rule("fetch weights", SL),
}


class EndpointPolicy:
    """A FastAPI dependency that lets a call through only if the caller's role may call that endpoint.

    Use it as ``Depends(policy)``; it returns the caller as a :class:`Peer`. Register :func:`answer_refusals` on the
    app so that refusals become HTTP 403 with ``{"code", "message"}``.
    """

    def __init__(self, server: str, rules: Mapping[str, Rule]) -> None:
        self.server = server
        self.rules = dict(rules)

    def rule_for(self, method: str, template: str) -> Rule | None:
        return self.rules.get(f"{method} {template}") or self.rules.get(f"{method} *")

    def check(self, peer: Peer, method: str, template: str, path: str | None = None) -> None:
        """Raise :class:`PeerRefused` unless ``peer`` may call ``method template`` (``path``: the concrete path)."""
        shown = f"{method} {path or template}"
        found = self.rule_for(method, template)
        if found is None:
            raise RoleNotAllowed(f"no rule of the {self.server} lets any certificate call {shown}")
        if peer.role is None:
            raise NoRole(
                f"the certificate of {str(peer)!r} carries no role, so it may not call {shown} ({found.action}): "
                f"{peer.why_no_role or 'no role could be read'}. To fix it, {HOW_TO_ISSUE}"
            )
        if peer.role not in found.roles:
            raise RoleNotAllowed(
                f"{certificate_kind(peer.role)} ({str(peer)!r}) may not {shown} ({found.action}): "
                f"only {found.names()} may"
            )

    async def __call__(self, request: Request) -> Peer:
        peer = getattr(request.state, "peer", None)
        if not isinstance(peer, Peer):
            raise HTTPException(status_code=401, detail="a client certificate of the swarm's CA is required")
        route = request.scope.get("route")
        template = str(getattr(route, "path", request.url.path))
        self.check(peer, request.method, template, request.url.path)
        return peer


def answer_refusals(app: FastAPI) -> None:
    """Answer :class:`PeerRefused` (wrong role, no role, revoked) with HTTP 403 and ``{"code", "message"}``."""

    @app.exception_handler(PeerRefused)
    def _refused(request: Request, exc: PeerRefused) -> JSONResponse:
        log.warning("refused %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(status_code=403, content={"code": exc.code, "message": str(exc)})
