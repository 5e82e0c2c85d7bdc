"""Floating seats: leases are granted while seats last, expire when not renewed, and survive reopening the store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensing.document import Kind, issue_license
from licensing.errors import LeaseNotFound, LicenseConflict, LicenseExpired, NoSeatsLeft, UnknownIssuer
from licensing.keys import TrustedIssuers
from licensing.store import LicenseStore

START = dt.datetime(2030, 6, 1, 12, 0, tzinfo=dt.UTC)
TTL = 10.0


class FakeClock:
    def __init__(self) -> None:
        self.now = START.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def issuer() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _store(path: Path, issuer: Ed25519PrivateKey, clock: FakeClock) -> LicenseStore:
    return LicenseStore(path, TrustedIssuers([issuer.public_key()]), lease_ttl=TTL, clock=clock)


def _license_text(issuer: Ed25519PrivateKey, seats: dict[Kind, int], days: float = 30, **kwargs: object) -> str:
    signed = issue_license(issuer, licensee="ACME", seats=seats, days=days, not_before=START, **kwargs)  # type: ignore[arg-type]
    return signed.to_text()


@pytest.fixture
def store(tmp_path: Path, issuer: Ed25519PrivateKey, clock: FakeClock) -> LicenseStore:
    s = _store(tmp_path, issuer, clock)
    s.install(_license_text(issuer, {"sl": 2, "sn": 1}))
    return s


@pytest.mark.acceptance_licensing
def test_when_every_seat_is_leased_the_next_component_is_told_who_holds_them(store: LicenseStore) -> None:
    store.checkout("sl", "sl-1")
    store.checkout("sl", "sl-2")

    with pytest.raises(NoSeatsLeft) as caught:
        store.checkout("sl", "sl-3")

    assert (caught.value.kind, caught.value.total, caught.value.holders) == ("sl", 2, ["sl-1", "sl-2"])
    assert "no seats left for 'sl': all 2 are leased (held by sl-1, sl-2)" in str(caught.value)
    assert store.seats()["sl"].in_use == 2


def test_a_kind_no_license_grants_has_no_seats_and_says_to_install_one(store: LicenseStore) -> None:
    with pytest.raises(NoSeatsLeft, match="no valid installed license grants"):
        store.checkout("swci", "swci-1")


@pytest.mark.acceptance_licensing
def test_a_lease_that_is_not_renewed_expires_and_frees_its_seat(store: LicenseStore, clock: FakeClock) -> None:
    first = store.checkout("sn", "sn-1")
    with pytest.raises(NoSeatsLeft):
        store.checkout("sn", "sn-2")

    clock.advance(TTL + 0.001)

    second = store.checkout("sn", "sn-2")
    assert second.holder == "sn-2"
    assert [lease.holder for lease in store.leases()] == ["sn-2"]
    with pytest.raises(LeaseNotFound, match="expired"):
        store.renew(first.id, "sn-1")


def test_a_renewed_lease_outlives_its_first_ttl(store: LicenseStore, clock: FakeClock) -> None:
    lease = store.checkout("sn", "sn-1")
    for _ in range(5):
        clock.advance(TTL * 0.8)
        renewed = store.renew(lease.id, "sn-1")
        assert renewed.expires_at == clock.now + TTL

    with pytest.raises(NoSeatsLeft):
        store.checkout("sn", "sn-2")


def test_checking_out_again_with_the_same_identity_returns_the_existing_lease(
    store: LicenseStore, clock: FakeClock
) -> None:
    first = store.checkout("sl", "sl-1")
    clock.advance(TTL / 2)

    again = store.checkout("sl", "sl-1")

    assert again.id == first.id
    assert again.expires_at == clock.now + TTL
    assert store.seats()["sl"].in_use == 1


def test_components_sharing_a_certificate_hold_one_seat_each_by_instance(store: LicenseStore) -> None:
    a = store.checkout("sl", "sl-1", instance="host-a:30305")
    b = store.checkout("sl", "sl-1", instance="host-b:30305")

    assert a.id != b.id
    assert store.seats()["sl"].holders == ["sl-1#host-a:30305", "sl-1#host-b:30305"]


def test_a_released_lease_frees_its_seat_and_releasing_twice_is_harmless(store: LicenseStore) -> None:
    lease = store.checkout("sn", "sn-1")

    assert store.release(lease.id, "sn-1") is True
    assert store.release(lease.id, "sn-1") is False
    assert store.checkout("sn", "sn-2").holder == "sn-2"


def test_only_the_holder_may_renew_or_release_a_lease(store: LicenseStore) -> None:
    lease = store.checkout("sn", "sn-1")

    with pytest.raises(LeaseNotFound, match="not held by sn-2"):
        store.renew(lease.id, "sn-2")
    with pytest.raises(LeaseNotFound, match="not held by sn-2"):
        store.release(lease.id, "sn-2")
    assert store.seats()["sn"].holders == ["sn-1"]


@pytest.mark.acceptance_licensing
def test_leases_and_licenses_survive_reopening_the_store(
    tmp_path: Path, store: LicenseStore, issuer: Ed25519PrivateKey, clock: FakeClock
) -> None:
    lease = store.checkout("sl", "sl-1")
    store.close()

    reopened = _store(tmp_path, issuer, clock)

    assert [x.signed.body.licensee for x in reopened.licenses()] == ["ACME"]
    assert [(x.id, x.holder) for x in reopened.leases()] == [(lease.id, "sl-1")]
    assert reopened.renew(lease.id, "sl-1").id == lease.id


def test_seats_add_up_over_licenses_and_an_expired_license_stops_counting(
    store: LicenseStore, issuer: Ed25519PrivateKey, clock: FakeClock
) -> None:
    store.install(_license_text(issuer, {"sl": 3}, days=1))
    assert store.seats()["sl"].total == 5

    clock.advance(dt.timedelta(days=2).total_seconds())

    assert store.seats()["sl"].total == 2
    statuses = sorted(x.status for x in store.licenses())
    assert statuses == ["expired", "valid"]


def test_renewing_when_no_valid_license_grants_the_kind_any_more_ends_the_lease(
    tmp_path: Path, issuer: Ed25519PrivateKey, clock: FakeClock
) -> None:
    s = _store(tmp_path, issuer, clock)
    s.install(_license_text(issuer, {"sl": 1}, days=(TTL / 2) / 86400))
    lease = s.checkout("sl", "sl-1")
    clock.advance(TTL * 0.6)  # the license ended, the lease has not

    with pytest.raises(NoSeatsLeft, match="no valid installed license"):
        s.renew(lease.id, "sl-1")
    assert s.leases() == []


def test_installing_checks_the_license_and_the_same_file_twice_changes_nothing(
    store: LicenseStore, issuer: Ed25519PrivateKey, clock: FakeClock
) -> None:
    text = _license_text(issuer, {"swci": 1}, license_id="lic-swci")
    store.install(text)
    store.install(text)
    assert store.seats()["swci"].total == 1

    with pytest.raises(LicenseConflict, match="lic-swci"):
        store.install(_license_text(issuer, {"swci": 5}, license_id="lic-swci"))
    with pytest.raises(UnknownIssuer):
        store.install(_license_text(Ed25519PrivateKey.generate(), {"sl": 9}))
    with pytest.raises(LicenseExpired):
        store.install(_expired(issuer))


def _expired(issuer: Ed25519PrivateKey) -> str:
    signed = issue_license(issuer, licensee="old", seats={"sl": 9}, days=1, not_before=START - dt.timedelta(days=10))
    return signed.to_text()


def test_a_license_whose_issuer_is_no_longer_trusted_is_listed_but_grants_nothing(
    tmp_path: Path, store: LicenseStore, clock: FakeClock
) -> None:
    store.close()

    other = LicenseStore(tmp_path, TrustedIssuers([Ed25519PrivateKey.generate().public_key()]), clock=clock)

    [listed] = other.licenses()
    assert listed.status == "untrusted issuer"
    assert other.seats()["sl"].total == 0
    assert json.loads(listed.signed.to_text())["license"]["licensee"] == "ACME"
