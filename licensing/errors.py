"""Errors of the license server and its client, under the project's root error.

::

    SwarmLearningError (swarm_learning.errors)
    └── LicensingError                  SL-1600  anything about licenses and leases
        ├── IssuerKeyError              SL-1601  an issuer key file is missing, unreadable or not an Ed25519 key
        ├── LicenseRejected             SL-1610  a license document is not acceptable; ``reason`` says why
        │   ├── LicenseMalformed        SL-1611  not a license document (bad JSON, missing fields, other product)
        │   ├── LicenseSignatureInvalid SL-1612  the signature does not match the content (tampered)
        │   ├── UnknownIssuer           SL-1613  signed by an issuer key the server does not trust (foreign)
        │   ├── LicenseExpired          SL-1614  past its not_after
        │   ├── LicenseNotYetValid      SL-1615  before its not_before
        │   └── LicenseConflict         SL-1616  another document with the same license id is installed
        ├── NoSeatsLeft                 SL-1620  every seat of that component kind is leased
        ├── LeaseNotFound               SL-1621  renew/release of a lease that expired, was released or is not yours
        ├── RoleNotLicensable           SL-1622  a certificate's role does not match the kind it asks a seat for
        ├── LeaseLost                   SL-1630  (client) this component no longer holds a valid lease
        └── LicenseServerUnreachable    6002     (client) no license server answered; also a NetworkError

Every message says what was wrong and what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence

from swarm_learning.errors import NetworkError, SwarmLearningError


class LicensingError(SwarmLearningError):
    code = "SL-1600"


class IssuerKeyError(LicensingError):
    code = "SL-1601"


class LicenseRejected(LicensingError):
    code = "SL-1610"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LicenseMalformed(LicenseRejected):
    code = "SL-1611"


class LicenseSignatureInvalid(LicenseRejected):
    code = "SL-1612"


class UnknownIssuer(LicenseRejected):
    code = "SL-1613"


class LicenseExpired(LicenseRejected):
    code = "SL-1614"


class LicenseNotYetValid(LicenseRejected):
    code = "SL-1615"


class LicenseConflict(LicenseRejected):
    code = "SL-1616"


class NoSeatsLeft(LicensingError):
    code = "SL-1620"

    def __init__(self, kind: str, total: int, holders: Sequence[str]) -> None:
        self.kind = kind
        self.total = total
        self.holders = list(holders)
        if total == 0:
            message = (
                f"no seats for '{kind}': no valid installed license grants this component kind; "
                "install one (`swarm-license install` or the web console on port 5814)"
            )
        else:
            message = (
                f"no seats left for '{kind}': all {total} are leased (held by {', '.join(self.holders)}); "
                "stop one of these components, wait for an unused lease to expire, or install a license with more seats"
            )
        super().__init__(message)


class LeaseNotFound(LicensingError):
    code = "SL-1621"


class RoleNotLicensable(LicensingError):
    code = "SL-1622"


class LeaseLost(LicensingError):
    code = "SL-1630"


class LicenseServerUnreachable(LicensingError, NetworkError):
    """Error 6002 of the product, with every address tried and what went wrong at each."""

    code = "6002"

    def __init__(self, failures: Sequence[tuple[str, str]]) -> None:
        self.urls = [url for url, _ in failures]
        self.failures = list(failures)
        tried = "; ".join(f"{url} ({why})" for url, why in failures) or "no address configured"
        super().__init__(
            "Error code 6002: Unable to connect to server. Server might be wrongly configured or down. "
            f"Error in communicating with server {' and '.join(self.urls) or '(none)'}. Tried: {tried}. "
            "Check that the license server is running (`swarm-license serve`), that --apls-ip/--apls-port "
            "(or SWARM_LICENSE_AUTOPASSJ_SERVER_PRIMARY_IP/_PORT) name it, that no firewall or proxy blocks the port "
            "(no_proxy), that its certificate and this component's are issued by CAs both sides trust, and that "
            "licenses are installed (web console https://<host>:<port>/)."
        )
