"""A license is a signed document: genuine ones verify, tampered, foreign, expired or early ones are refused with why."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensing.community import COMMUNITY_SEATS, community_license
from licensing.document import SignedLicense, canonical_json, issue_license, verify_license
from licensing.errors import (
    LicenseExpired,
    LicenseMalformed,
    LicenseNotYetValid,
    LicenseSignatureInvalid,
    UnknownIssuer,
)
from licensing.keys import TrustedIssuers, generate_issuer_key, key_id, load_private_key, load_public_key

NOW = dt.datetime(2030, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def issuer() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _license(key: Ed25519PrivateKey, **kwargs: object) -> SignedLicense:
    options: dict[str, object] = {"licensee": "ACME Hospital", "seats": {"sl": 4, "sn": 2}, "days": 30}
    options.update(kwargs)
    return issue_license(key, not_before=NOW - dt.timedelta(days=1), **options)  # type: ignore[arg-type]


def _edited(signed: SignedLicense, **changes: object) -> SignedLicense:
    data = json.loads(signed.to_text())
    data["license"].update(changes)
    return SignedLicense.from_text(json.dumps(data))


@pytest.mark.acceptance_licensing
def test_a_genuine_license_from_a_trusted_issuer_verifies_after_a_round_trip_through_its_file(
    issuer: Ed25519PrivateKey,
) -> None:
    signed = _license(issuer)
    text = signed.to_text()

    body = verify_license(SignedLicense.from_text(text), TrustedIssuers([issuer.public_key()]), NOW)

    assert body.licensee == "ACME Hospital"
    assert body.product == "swarm-learning"
    assert body.seats == {"sl": 4, "sn": 2}
    assert sorted(body.features) == ["sl", "sn"]
    assert body.issuer == key_id(issuer.public_key())


@pytest.mark.acceptance_licensing
@pytest.mark.parametrize(
    "change",
    [{"seats": {"sl": 40, "sn": 2}}, {"licensee": "Someone Else"}, {"not_after": "2099-01-01T00:00:00Z"}],
    ids=["more-seats", "other-licensee", "longer-validity"],
)
def test_a_tampered_license_is_rejected_because_its_signature_no_longer_matches(
    issuer: Ed25519PrivateKey, change: dict[str, object]
) -> None:
    tampered = _edited(_license(issuer), **change)

    with pytest.raises(LicenseSignatureInvalid, match="signature does not match"):
        verify_license(tampered, TrustedIssuers([issuer.public_key()]), NOW)


@pytest.mark.acceptance_licensing
def test_a_license_from_a_foreign_issuer_is_rejected_naming_the_unknown_key(issuer: Ed25519PrivateKey) -> None:
    stranger = Ed25519PrivateKey.generate()
    foreign = _license(stranger)

    with pytest.raises(UnknownIssuer, match=key_id(stranger.public_key())) as caught:
        verify_license(foreign, TrustedIssuers([issuer.public_key()]), NOW)
    assert "--trusted-issuer" in caught.value.reason


def test_a_license_claiming_a_trusted_issuer_but_signed_by_another_key_is_rejected(issuer: Ed25519PrivateKey) -> None:
    forged = _edited(_license(Ed25519PrivateKey.generate()), issuer=key_id(issuer.public_key()))

    with pytest.raises(LicenseSignatureInvalid):
        verify_license(forged, TrustedIssuers([issuer.public_key()]), NOW)


@pytest.mark.acceptance_licensing
def test_an_expired_license_is_rejected_with_its_end_date(issuer: Ed25519PrivateKey) -> None:
    signed = _license(issuer, days=30)

    with pytest.raises(LicenseExpired, match="expired at 2030-06-30"):
        verify_license(signed, TrustedIssuers([issuer.public_key()]), NOW + dt.timedelta(days=29))


@pytest.mark.acceptance_licensing
def test_a_license_is_not_valid_before_its_start(issuer: Ed25519PrivateKey) -> None:
    signed = _license(issuer)

    with pytest.raises(LicenseNotYetValid, match="not valid before 2030-05-31"):
        verify_license(signed, TrustedIssuers([issuer.public_key()]), NOW - dt.timedelta(days=2))


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("not json", "not JSON"),
        ('{"license": {}, "signature": "x"}', "not a valid license"),
        ('{"license": {"id": "x"}}', "exactly the keys"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_something_that_is_not_a_license_file_is_refused_with_what_is_wrong(text: str, complaint: str) -> None:
    with pytest.raises(LicenseMalformed, match=complaint):
        SignedLicense.from_text(text)


def test_seats_must_name_exactly_the_licensed_features(issuer: Ed25519PrivateKey) -> None:
    data = json.loads(_license(issuer).to_text())
    data["license"]["features"] = ["sl"]

    with pytest.raises(LicenseMalformed, match="seats must name exactly the kinds"):
        SignedLicense.from_text(json.dumps(data))


def test_canonical_json_does_not_depend_on_key_order_or_whitespace() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": "é"}]}) == canonical_json(
        json.loads('{ "a" : [1, {"c": "é", "d": 2}], "b": 1 }')
    )


def test_issuer_keys_written_by_keygen_load_back_and_are_never_overwritten(tmp_path: Path) -> None:
    files = generate_issuer_key(tmp_path, "acme")

    private, public = load_private_key(files.private_key), load_public_key(files.public_key)
    assert key_id(public) == key_id(private.public_key()) == files.key_id
    assert files.private_key.stat().st_mode & 0o077 == 0
    with pytest.raises(Exception, match="already exists"):
        generate_issuer_key(tmp_path, "acme")


def test_the_community_license_is_made_once_and_verifies_against_its_local_issuer(tmp_path: Path) -> None:
    public_file, license_file = community_license(tmp_path)
    again = community_license(tmp_path)

    assert again == (public_file, license_file)
    body = verify_license(SignedLicense.from_text(license_file.read_text()), TrustedIssuers.from_files([public_file]))
    assert body.seats == COMMUNITY_SEATS
    assert body.not_after - body.not_before >= dt.timedelta(days=30)
