"""Store values to wire types (the only place that converts them)."""

from __future__ import annotations

import datetime as dt

from licensing import api
from licensing.errors import LicensingError, NoSeatsLeft
from licensing.store import InstalledLicense, Lease, SeatUsage


def timestamp(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def lease(value: Lease, now: float) -> api.LeaseView:
    return api.LeaseView(
        id=value.id,
        kind=value.kind,
        identity=value.identity,
        instance=value.instance,
        holder=value.holder,
        acquired_at=timestamp(value.acquired_at),
        expires_at=timestamp(value.expires_at),
        ttl_seconds=value.ttl_seconds,
        expires_in=max(0.0, value.expires_at - now),
    )


def license_(value: InstalledLicense) -> api.LicenseView:
    body = value.signed.body
    return api.LicenseView(
        id=body.id,
        licensee=body.licensee,
        product=body.product,
        features=list(body.features),
        seats={str(k): n for k, n in body.seats.items()},
        not_before=body.not_before,
        not_after=body.not_after,
        issued_at=body.issued_at,
        issuer=body.issuer,
        installed_at=timestamp(value.installed_at),
        status=value.status,
        reason=value.problem.reason if value.problem else None,
    )


def seat(value: SeatUsage) -> api.SeatView:
    return api.SeatView(kind=value.kind, total=value.total, in_use=value.in_use, holders=value.holders)


def error(exc: LicensingError) -> api.ErrorBody:
    if isinstance(exc, NoSeatsLeft):
        return api.ErrorBody(code=exc.code, message=str(exc), kind=exc.kind, total=exc.total, holders=exc.holders)
    return api.ErrorBody(code=exc.code, message=str(exc))
