"""Installed licenses and floating-seat leases, persisted in the server's data dir (one SQLite file).

Every operation is one SQLite transaction, so a crash leaves either the old or the new state and both licenses
and leases survive a restart. Seats of a kind are the sum over the installed licenses that are valid *now*
(genuine, from a trusted issuer, inside their validity window); licenses are re-checked on every read, so one
that expires stops counting without any action, and the CLI may install into the data dir of a running server.

A lease lives ``lease_ttl`` seconds after its last checkout or renewal; a lease not renewed in time is deleted
(its seat is free again) by the next operation that looks at leases. Checking out again with the same kind,
identity and instance returns the holder's existing lease, renewed, instead of taking a second seat.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from licensing.document import KINDS, SignedLicense, verify_license
from licensing.errors import LeaseNotFound, LicenseConflict, LicenseRejected, LicensingError, NoSeatsLeft
from licensing.keys import TrustedIssuers

log = logging.getLogger(__name__)

DB_NAME = "licensing.sqlite3"
DEFAULT_LEASE_TTL = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS licenses (
    id TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    installed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    identity TEXT NOT NULL,
    instance TEXT NOT NULL,
    acquired_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    UNIQUE (kind, identity, instance)
);
"""


@dataclass(frozen=True)
class Lease:
    id: str
    kind: str
    identity: str
    instance: str
    acquired_at: float
    expires_at: float
    ttl_seconds: float

    @property
    def holder(self) -> str:
        return f"{self.identity}#{self.instance}" if self.instance else self.identity


@dataclass(frozen=True)
class InstalledLicense:
    signed: SignedLicense
    installed_at: float
    problem: LicenseRejected | None = None

    @property
    def valid(self) -> bool:
        return self.problem is None

    @property
    def status(self) -> str:
        """``valid``, or the rejection's kind: ``expired``, ``not yet valid``, ``untrusted issuer``, ..."""
        if self.problem is None:
            return "valid"
        return {
            "LicenseExpired": "expired",
            "LicenseNotYetValid": "not yet valid",
            "UnknownIssuer": "untrusted issuer",
            "LicenseSignatureInvalid": "invalid signature",
        }.get(type(self.problem).__name__, "invalid")


@dataclass(frozen=True)
class SeatUsage:
    kind: str
    total: int
    holders: list[str] = field(default_factory=list)

    @property
    def in_use(self) -> int:
        return len(self.holders)


class LicenseStore:
    """Licenses and leases of one license server; thread-safe; ``clock`` returns epoch seconds (injectable)."""

    def __init__(
        self,
        data_dir: Path,
        trusted: TrustedIssuers,
        *,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if lease_ttl <= 0:
            raise LicensingError("the lease TTL must be a positive number of seconds")
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_NAME
        self.trusted = trusted
        self.lease_ttl = float(lease_ttl)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- licenses -------------------------------------------------------------------------------------------

    def install(self, text: str | bytes) -> InstalledLicense:
        """Verify and keep a license file's content; installing the same file twice changes nothing."""
        signed = SignedLicense.from_text(text)
        verify_license(signed, self.trusted, self._now())
        document = signed.to_text()
        with self._transaction() as db:
            row = db.execute("SELECT document, installed_at FROM licenses WHERE id = ?", (signed.id,)).fetchone()
            if row is not None:
                if SignedLicense.from_text(row[0]).raw != signed.raw:
                    raise LicenseConflict(
                        f"another license with id {signed.id} is already installed; the issuer must use a new id"
                    )
                return InstalledLicense(signed, row[1])
            installed_at = self._clock()
            db.execute("INSERT INTO licenses VALUES (?, ?, ?)", (signed.id, document, installed_at))
        body = signed.body
        log.info("installed license %s for %s: seats %s until %s", body.id, body.licensee, body.seats, body.not_after)
        return InstalledLicense(signed, installed_at)

    def licenses(self) -> list[InstalledLicense]:
        with self._lock:
            rows = self._db.execute("SELECT document, installed_at FROM licenses ORDER BY installed_at").fetchall()
        return [self._checked(doc, at) for doc, at in rows]

    def _checked(self, document: str, installed_at: float) -> InstalledLicense:
        signed = SignedLicense.from_text(document)
        try:
            verify_license(signed, self.trusted, self._now())
        except LicenseRejected as exc:
            return InstalledLicense(signed, installed_at, exc)
        return InstalledLicense(signed, installed_at)

    def _totals(self) -> dict[str, int]:
        totals: dict[str, int] = dict.fromkeys(KINDS, 0)
        for lic in self.licenses():
            if lic.valid:
                for kind, count in lic.signed.body.seats.items():
                    totals[kind] += count
        return totals

    # -- leases ---------------------------------------------------------------------------------------------

    def seats(self) -> dict[str, SeatUsage]:
        totals = self._totals()
        leases = self.leases()
        return {k: SeatUsage(k, totals[k], [x.holder for x in leases if x.kind == k]) for k in KINDS}

    def leases(self) -> list[Lease]:
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM leases ORDER BY acquired_at").fetchall()
        return [self._lease(row) for row in rows]

    def checkout(self, kind: str, identity: str, instance: str = "") -> Lease:
        if kind not in KINDS:
            raise LicensingError(f"unknown component kind '{kind}': one of {', '.join(KINDS)}")
        totals = self._totals()
        now = self._clock()
        with self._transaction() as db:
            row = db.execute(
                "SELECT * FROM leases WHERE kind = ? AND identity = ? AND instance = ?", (kind, identity, instance)
            ).fetchone()
            if row is not None:
                db.execute("UPDATE leases SET expires_at = ? WHERE id = ?", (now + self.lease_ttl, row[0]))
                lease = self._lease(row[:5] + (now + self.lease_ttl,))
                log.info("lease %s of %s seat: %s checked out again (kept its lease)", lease.id, kind, lease.holder)
                return lease
            holders = [
                self._lease(r).holder
                for r in db.execute("SELECT * FROM leases WHERE kind = ? ORDER BY acquired_at", (kind,)).fetchall()
            ]
            if len(holders) >= totals[kind]:
                raise NoSeatsLeft(kind, totals[kind], holders)
            lease = Lease(secrets.token_hex(12), kind, identity, instance, now, now + self.lease_ttl, self.lease_ttl)
            db.execute(
                "INSERT INTO leases VALUES (?, ?, ?, ?, ?, ?)",
                (lease.id, kind, identity, instance, lease.acquired_at, lease.expires_at),
            )
        log.info("lease %s: %s seat %s/%s to %s", lease.id, kind, len(holders) + 1, totals[kind], lease.holder)
        return lease

    def renew(self, lease_id: str, identity: str | None = None) -> Lease:
        """Extend a lease by the TTL; ``identity`` (if given) must be its holder's."""
        totals = self._totals()
        now = self._clock()
        with self._transaction() as db:
            lease = self._owned(db, lease_id, identity)
            if totals[lease.kind] == 0:
                db.execute("DELETE FROM leases WHERE id = ?", (lease_id,))
                log.warning(
                    "lease %s of %s ended: no valid license grants %s seats", lease_id, lease.holder, lease.kind
                )
                raise NoSeatsLeft(lease.kind, 0, [])
            db.execute("UPDATE leases SET expires_at = ? WHERE id = ?", (now + self.lease_ttl, lease_id))
        return Lease(
            lease.id,
            lease.kind,
            lease.identity,
            lease.instance,
            lease.acquired_at,
            now + self.lease_ttl,
            self.lease_ttl,
        )

    def release(self, lease_id: str, identity: str | None = None) -> bool:
        """Free a lease's seat; False if it had already expired or been released."""
        with self._transaction() as db:
            try:
                lease = self._owned(db, lease_id, identity)
            except LeaseNotFound:
                if db.execute("SELECT 1 FROM leases WHERE id = ?", (lease_id,)).fetchone() is not None:
                    raise
                return False
            db.execute("DELETE FROM leases WHERE id = ?", (lease_id,))
        log.info("lease %s released by %s: a %s seat is free", lease_id, lease.holder, lease.kind)
        return True

    def _owned(self, db: sqlite3.Connection, lease_id: str, identity: str | None) -> Lease:
        row = db.execute("SELECT * FROM leases WHERE id = ?", (lease_id,)).fetchone()
        if row is None:
            raise LeaseNotFound(
                f"lease {lease_id} is unknown: it expired (not renewed within {self.lease_ttl:g} s) or was released; "
                "check out a new one"
            )
        lease = self._lease(row)
        if identity is not None and lease.identity != identity:
            raise LeaseNotFound(f"lease {lease_id} is not held by {identity}")
        return lease

    # -- plumbing -------------------------------------------------------------------------------------------

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock(), dt.UTC)

    def _lease(self, row: tuple[str, str, str, str, float, float]) -> Lease:
        return Lease(row[0], row[1], row[2], row[3], row[4], row[5], self.lease_ttl)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction (serialised with other processes), after dropping expired leases.

        A deliberate refusal (a LicensingError) keeps what was written before it (expired leases dropped, a lease
        ended); any other failure rolls everything back.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._expire(self._db)
                yield self._db
            except LicensingError:
                self._db.execute("COMMIT")
                raise
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _expire(self, db: sqlite3.Connection) -> None:
        now = self._clock()
        for row in db.execute("SELECT * FROM leases WHERE expires_at <= ?", (now,)).fetchall():
            lease = self._lease(row)
            log.warning(
                "lease %s of %s expired (not renewed within %g s): its %s seat is free",
                lease.id,
                lease.holder,
                self.lease_ttl,
                lease.kind,
            )
        db.execute("DELETE FROM leases WHERE expires_at <= ?", (now,))
