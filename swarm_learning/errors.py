"""One error hierarchy for the whole platform.

::

    SwarmLearningError                 root: every error raised on purpose by this project
    ├── SwarmError                     the callback's error (name kept from the product; users catch it)
    ├── ConfigurationError             a bad option, environment variable or parameter
    ├── IdentityError                  a missing, unreadable or untrusted certificate / key / CA path
    │   └── PeerRefused                a caller's certificate may not do what it asked (answered with HTTP 403)
    │       ├── RoleNotAllowed         its role may not call that endpoint
    │       ├── NoRole                 no role can be read from it
    │       └── CertificateRevoked     the swarm's CA revoked it (its serial is on a CRL)
    ├── ChainError                     the embedded chain or the Swarm contract refused or failed
    │   └── ContractRevert             a transaction or call reverted; ``reason`` says why
    ├── NetworkError                   a peer or service could not be reached or answered badly
    │   └── SNUnavailable              the Swarm Network API is down or unreachable
    └── WeightsError                   weights of the wrong keys, shape or dtype, or a bad digest

Every message says what was wrong and what to do about it.
"""

from __future__ import annotations


class SwarmLearningError(Exception):
    """Root of every error this project raises on purpose."""

    code: str = "SL-0000"


class SwarmError(SwarmLearningError):
    """Raised by ``SwarmCallback`` (validation failures, failed sync calls)."""

    code = "SL-1000"


class ConfigurationError(SwarmLearningError):
    code = "SL-1100"


class IdentityError(SwarmLearningError):
    code = "SL-1200"


class PeerRefused(IdentityError):
    """The caller's certificate is of the swarm's CA but may not do what it asked; servers answer HTTP 403."""

    code = "SL-1210"


class RoleNotAllowed(PeerRefused):
    code = "SL-1211"


class NoRole(PeerRefused):
    code = "SL-1212"


class CertificateRevoked(PeerRefused):
    code = "SL-1213"


class ChainError(SwarmLearningError):
    code = "SL-1300"


class ContractRevert(ChainError):
    code = "SL-1301"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NetworkError(SwarmLearningError):
    code = "SL-1400"


class SNUnavailable(NetworkError):
    code = "SL-1401"


class WeightsError(SwarmLearningError):
    code = "SL-1500"
