"""The license document: what it grants, how it is signed and how it is checked.

A license file is JSON::

    {"license": {"version": 1, "id": "...", "licensee": "...", "product": "swarm-learning",
                 "features": ["sl", "sn"], "seats": {"sl": 4, "sn": 2},
                 "not_before": "...Z", "not_after": "...Z", "issued_at": "...Z", "issuer": "<key id>"},
     "signature": "<base64 Ed25519 signature>"}

The signature covers the *canonical JSON* of the ``license`` object exactly as it appears in the file (keys sorted,
no whitespace, UTF-8), so any change to any field, even one this version does not read, breaks it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from licensing.errors import (
    LicenseExpired,
    LicenseMalformed,
    LicenseNotYetValid,
    LicenseSignatureInvalid,
    UnknownIssuer,
)
from licensing.keys import TrustedIssuers, key_id

PRODUCT = "swarm-learning"
Kind = Literal["sn", "sl", "swop", "swci"]
KINDS: tuple[Kind, ...] = ("sn", "sl", "swop", "swci")


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LicenseBody(BaseModel):
    """The signed content of a license."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    id: str = Field(min_length=1, max_length=128)
    licensee: str = Field(min_length=1, max_length=256)
    product: str
    features: list[Kind] = Field(min_length=1)
    seats: dict[Kind, int]
    not_before: AwareDatetime
    not_after: AwareDatetime
    issued_at: AwareDatetime
    issuer: str = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> LicenseBody:
        if set(self.seats) != set(self.features):
            raise ValueError("seats must name exactly the kinds listed in features")
        if any(n < 1 for n in self.seats.values()):
            raise ValueError("every licensed kind needs at least one seat")
        if self.not_after <= self.not_before:
            raise ValueError("not_after must be later than not_before")
        return self


@dataclass(frozen=True)
class SignedLicense:
    """A parsed license file: its content, the exact signed object and the signature."""

    body: LicenseBody
    raw: dict[str, Any]
    signature: str

    @classmethod
    def from_text(cls, text: str | bytes) -> SignedLicense:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise LicenseMalformed(f"not a license file: it is not JSON ({exc})") from exc
        if not isinstance(data, dict) or not isinstance(data.get("license"), dict):
            raise LicenseMalformed("not a license file: expected a JSON object with 'license' and 'signature'")
        signature = data.get("signature")
        if not isinstance(signature, str) or set(data) != {"license", "signature"}:
            raise LicenseMalformed("not a license file: expected exactly the keys 'license' and 'signature'")
        try:
            body = LicenseBody.model_validate(data["license"])
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'license'}: {e['msg']}" for e in exc.errors())
            raise LicenseMalformed(f"not a valid license: {problems}") from exc
        return cls(body=body, raw=data["license"], signature=signature)

    def to_text(self) -> str:
        return json.dumps({"license": self.raw, "signature": self.signature}, indent=2, sort_keys=True) + "\n"

    @property
    def id(self) -> str:
        return self.body.id


def issue_license(
    private_key: Ed25519PrivateKey,
    *,
    licensee: str,
    seats: dict[Kind, int],
    days: float = 365.0,
    not_before: dt.datetime | None = None,
    license_id: str | None = None,
) -> SignedLicense:
    """Sign a new license for ``licensee`` granting ``seats`` per component kind, valid ``days`` from ``not_before``."""
    start = not_before or utcnow()
    body = LicenseBody(
        id=license_id or f"lic-{uuid.uuid4().hex[:12]}",
        licensee=licensee,
        product=PRODUCT,
        features=[k for k in KINDS if k in seats],
        seats=dict(seats),
        not_before=start,
        not_after=start + dt.timedelta(days=days),
        issued_at=utcnow(),
        issuer=key_id(private_key.public_key()),
    )
    raw = body.model_dump(mode="json")
    signature = base64.b64encode(private_key.sign(canonical_json(raw))).decode("ascii")
    return SignedLicense(body=body, raw=raw, signature=signature)


def verify_license(signed: SignedLicense, trusted: TrustedIssuers, now: dt.datetime | None = None) -> LicenseBody:
    """The license's content if it is genuine, from a trusted issuer and valid at ``now``; else a LicenseRejected."""
    body, lid = signed.body, signed.id
    if body.product != PRODUCT:
        raise LicenseMalformed(f"license {lid} is for product '{body.product}', not '{PRODUCT}'")
    public_key = trusted.get(body.issuer)
    if public_key is None:
        known = ", ".join(trusted) or "none"
        raise UnknownIssuer(
            f"license {lid} is signed by issuer key {body.issuer}, which this server does not trust "
            f"(trusted: {known}); start the server with --trusted-issuer <that issuer's public key file>"
        )
    try:
        public_key.verify(base64.b64decode(signed.signature, validate=True), canonical_json(signed.raw))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise LicenseSignatureInvalid(
            f"license {lid}: the signature does not match the content (the file was changed after it was signed); "
            "ask the issuer for an unmodified copy"
        ) from exc
    moment = now or utcnow()
    if moment < body.not_before:
        raise LicenseNotYetValid(f"license {lid} is not valid before {body.not_before.isoformat()}")
    if moment >= body.not_after:
        raise LicenseExpired(f"license {lid} expired at {body.not_after.isoformat()}; ask the issuer for a renewal")
    return body
