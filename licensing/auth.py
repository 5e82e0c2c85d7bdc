"""Who may call what on the license server.

Components authenticate with their X.509 client certificate (mutual TLS); the lease they hold is bound to the
certificate's identity. Browsers have no client certificate, so the server's TLS asks for one but does not demand
it (``CERT_OPTIONAL``; a certificate that *is* presented must still chain to the swarm's CA) and the web console
uses an admin login instead (HTTP basic auth over that TLS connection, like the product's console ``admin`` /
``password``; change the password with ``--admin-password-file`` or ``SWARM_LICENSE_ADMIN_PASSWORD``).

=======================  ===================  ============
route                    client certificate   admin login
=======================  ===================  ============
leases, ``/is_up``       required             not enough
status, license list     accepted             accepted
install a license, ``/`` not enough           required
=======================  ===================  ============

A request without a client certificate and without the admin login is answered 401. A component's certificate
leases only seats of its own role (an SL certificate an ``sl`` seat; roles as read by ``swarm_learning.roles``);
any other lease is refused with 403 naming the role and the seat.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, Request
from fastapi.security import HTTPBasicCredentials

from licensing.errors import LicensingError, RoleNotLicensable
from swarm_learning.roles import HOW_TO_ISSUE, certificate_kind

log = logging.getLogger(__name__)

DEFAULT_ADMIN_USER = "admin"
DEFAULT_ADMIN_PASSWORD = "password"
REALM = "Swarm Learning license server"
PASSWORD_ENV = "SWARM_LICENSE_ADMIN_PASSWORD"


@dataclass(frozen=True)
class AdminLogin:
    user: str = DEFAULT_ADMIN_USER
    password: str = DEFAULT_ADMIN_PASSWORD

    @classmethod
    def from_options(cls, user: str | None, password_file: Path | None, password: str | None) -> AdminLogin:
        """``--admin-password-file`` wins over ``password`` (from the environment), which wins over the default."""
        if password_file is not None:
            try:
                password = password_file.read_text().strip()
            except OSError as exc:
                raise LicensingError(f"admin password file {password_file} cannot be read: {exc.strerror}") from exc
            if not password:
                raise LicensingError(f"admin password file {password_file} is empty")
        login = cls(user or DEFAULT_ADMIN_USER, password or DEFAULT_ADMIN_PASSWORD)
        if login.password == DEFAULT_ADMIN_PASSWORD:
            log.warning(
                "the web console uses the default login %s/%s: set --admin-password-file or %s",
                login.user,
                DEFAULT_ADMIN_PASSWORD,
                PASSWORD_ENV,
            )
        return login

    def matches(self, credentials: HTTPBasicCredentials | None) -> bool:
        if credentials is None:
            return False
        user_ok = hmac.compare_digest(credentials.username.encode(), self.user.encode())
        password_ok = hmac.compare_digest(credentials.password.encode(), self.password.encode())
        return user_ok and password_ok


def certificate_identity(request: Request) -> str | None:
    identity = getattr(request.state, "peer_identity", None)
    return str(identity) if identity else None


def challenge(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})


def check_role(request: Request, identity: str, kind: str) -> None:
    """A component may lease only seats of its own certificate's role (``swarm_learning.roles``)."""
    role = getattr(request.state, "peer_role", None)
    if role is None:
        raise RoleNotLicensable(
            f"the certificate of {identity!r} carries no role, so it may not lease a '{kind}' seat "
            f"(POST /api/leases). To fix it, {HOW_TO_ISSUE}"
        )
    if str(role) != kind:
        raise RoleNotLicensable(
            f"{certificate_kind(role)} ({identity!r}) may not lease a '{kind}' seat (POST /api/leases): "
            f"only {kind} certificates may; start the {kind} component with its own certificate"
        )
