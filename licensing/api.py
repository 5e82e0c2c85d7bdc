"""Wire types of the license server's HTTP API (shared by the server and its clients).

Routes (all HTTPS on one port, 5814 by default)::

    POST   /api/leases                  CheckoutRequest -> LeaseView       client certificate required
    POST   /api/leases/{id}/renew       -> LeaseView                       client certificate required
    DELETE /api/leases/{id}             -> ReleaseResult                   client certificate required
    GET    /is_up                       "OK"                               client certificate required
    GET    /api/status                  -> StatusView                      client certificate or admin login
    GET    /api/licenses                -> list[LicenseView]               client certificate or admin login
    POST   /api/licenses                license file (JSON) -> LicenseView admin login
    GET    /                            the web console (HTML)             admin login

Errors answer ``ErrorBody`` (401 no credentials, 403 refused, 404 unknown lease, 409 no seats left,
422 a rejected license).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from licensing.document import Kind


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CheckoutRequest(_Wire):
    kind: Kind
    instance: str = Field(default="", max_length=256, description="tells apart components sharing one certificate")


class LeaseView(_Wire):
    id: str
    kind: str
    identity: str
    instance: str
    holder: str
    acquired_at: dt.datetime
    expires_at: dt.datetime
    ttl_seconds: float
    expires_in: float = Field(description="seconds left when the server answered (clock-skew free)")


class ReleaseResult(_Wire):
    released: bool


class LicenseView(_Wire):
    id: str
    licensee: str
    product: str
    features: list[str]
    seats: dict[str, int]
    not_before: dt.datetime
    not_after: dt.datetime
    issued_at: dt.datetime
    issuer: str
    installed_at: dt.datetime
    status: str
    reason: str | None = None


class SeatView(_Wire):
    kind: str
    total: int
    in_use: int
    holders: list[str]


class StatusView(_Wire):
    server_time: dt.datetime
    lease_ttl_seconds: float
    licenses: list[LicenseView]
    seats: list[SeatView]
    leases: list[LeaseView]


class ErrorBody(_Wire):
    code: str
    message: str
    kind: str | None = None
    total: int | None = None
    holders: list[str] | None = None
