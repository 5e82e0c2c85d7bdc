"""A component's license: check out a seat at start, keep it renewed, give it back at stop.

``LeaseKeeper.acquire()`` asks the primary license server, then the secondary, and retries for at most
``acquire_deadline`` seconds (10 by default, each connection attempt bounded by ``connect_timeout``) before it
raises error 6002 (``LicenseServerUnreachable``) naming every address it tried. A server that answers with a
refusal (no seats left, a certificate of another role) is final: no retry, no failover.

Afterwards a daemon thread renews the lease every third of its TTL. **Grace period**: when no license server
answers a renewal, the lease stays valid until its own expiry (as last granted) plus ``grace_seconds``
(``DEFAULT_GRACE_SECONDS`` = 300 s unless given). Warnings are logged while the outage lasts; when a server
answers again the lease is renewed (or, if the server let it expire meanwhile, checked out again) and that is
logged. If the server refuses (the seat went to somebody else, no valid license any more) or the grace runs out,
``valid`` turns False and ``require_valid()`` raises ``LeaseLost``; the keeper keeps trying and becomes valid
again if a seat is granted later. Lease times are kept on this host's monotonic clock, from the server's
``expires_in``, so clock skew between hosts does not matter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, cast

import httpx
from pydantic import ValidationError

from licensing import api
from licensing.address import AplsAddress
from licensing.document import KINDS, Kind
from licensing.errors import (
    LeaseLost,
    LeaseNotFound,
    LicenseConflict,
    LicenseExpired,
    LicenseMalformed,
    LicenseNotYetValid,
    LicenseRejected,
    LicenseServerUnreachable,
    LicenseSignatureInvalid,
    LicensingError,
    NoSeatsLeft,
    RoleNotLicensable,
    UnknownIssuer,
)
from swarm_learning.errors import ConfigurationError
from swarm_learning.tls import TLSIdentity

__all__ = ["DEFAULT_GRACE_SECONDS", "AplsAddress", "LeaseKeeper", "acquire_license", "refusal_from_response"]

log = logging.getLogger(__name__)

DEFAULT_GRACE_SECONDS = 300.0
_REFUSALS: dict[str, type[LicensingError]] = {
    cls.code: cls
    for cls in (
        LeaseNotFound,
        RoleNotLicensable,
        LicenseRejected,
        LicenseMalformed,
        LicenseSignatureInvalid,
        UnknownIssuer,
        LicenseExpired,
        LicenseNotYetValid,
        LicenseConflict,
    )
}


def refusal_from_response(response: httpx.Response) -> LicensingError:
    """The error a license server's non-2xx answer stands for."""
    try:
        data = response.json()
    except ValueError:
        data = {"detail": response.text[:300]}
    try:
        body = api.ErrorBody.model_validate(data)
    except ValidationError:
        detail = data.get("detail", data) if isinstance(data, dict) else data
        return LicensingError(f"license server answered {response.status_code} to {response.request.url}: {detail}")
    if body.code == NoSeatsLeft.code:
        return NoSeatsLeft(body.kind or "?", body.total or 0, body.holders or [])
    return _REFUSALS.get(body.code, LicensingError)(body.message)


def _why(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no answer to connect (timed out): {text}"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {text}"
    return f"{type(exc).__name__}: {text}"


class LeaseKeeper:
    """Holds one floating seat of ``kind`` for this component (identity = its certificate's)."""

    def __init__(
        self,
        address: AplsAddress,
        identity: TLSIdentity,
        kind: str,
        *,
        instance: str = "",
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        connect_timeout: float = 2.0,
        acquire_deadline: float = 10.0,
        on_lost: Callable[[LeaseLost], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if kind not in KINDS:
            raise ConfigurationError(f"unknown component kind {kind!r} for a license seat: one of {', '.join(KINDS)}")
        self.address = address
        self.kind: Kind = cast(Kind, kind)
        self.instance = instance
        self.grace_seconds = grace_seconds
        self._connect_timeout = connect_timeout
        self._acquire_deadline = acquire_deadline
        self._on_lost = on_lost
        self._clock = clock
        self._ssl = identity.client_context()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lease: api.LeaseView | None = None
        self._deadline = 0.0  # local monotonic time the lease expires at, as last granted
        self._refused: LicensingError | None = None
        self._outage_since: float | None = None
        self._reported_lost = False

    # -- public ---------------------------------------------------------------------------------------------

    def acquire(self) -> api.LeaseView:
        """Check out the seat (retrying within ``acquire_deadline``) and start renewing it in the background."""
        give_up = self._clock() + self._acquire_deadline
        pause = 0.5
        while True:
            try:
                lease = self._checkout(give_up)
                break
            except LicenseServerUnreachable as exc:
                left = give_up - self._clock()
                if left <= 0 or self._stop.is_set():
                    log.error("%s", exc)
                    raise
                log.warning("no license server answered yet (%s); retrying", "; ".join(w for _, w in exc.failures))
                self._stop.wait(min(pause, left))  # back-off between bounded attempts, not synchronisation
                pause *= 2
        log.info(
            "License acquired: %s seat for %s (lease %s, renewed every %.0f s)",
            lease.kind,
            lease.holder,
            lease.id,
            self._interval(),
        )
        if self._thread is None:
            self._thread = threading.Thread(target=self._keep, name=f"license-{self.kind}", daemon=True)
            self._thread.start()
        return lease

    @property
    def lease(self) -> api.LeaseView | None:
        return self._lease

    @property
    def unreachable_since(self) -> float | None:
        """When (on ``clock``) renewals started failing to reach any license server; None while one answers."""
        return self._outage_since

    @property
    def valid(self) -> bool:
        with self._lock:
            return self._valid_locked()

    def require_valid(self) -> None:
        with self._lock:
            if self._valid_locked():
                return
            raise LeaseLost(self._lost_reason())

    def release(self) -> None:
        """Stop renewing and give the seat back (an unreachable server lets the lease expire by itself)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self._connect_timeout * 4 + 10)
        lease, self._lease = self._lease, None
        if lease is None:
            return
        try:
            self._call("DELETE", f"/api/leases/{lease.id}", give_up=self._clock() + self._connect_timeout * 2)
            log.info("License released: lease %s (%s seat)", lease.id, lease.kind)
        except LicensingError as exc:
            log.warning(
                "lease %s was not released (%s); it expires by itself within %.0f s", lease.id, exc, lease.ttl_seconds
            )

    def __enter__(self) -> LeaseKeeper:
        self.acquire()
        return self

    def __exit__(self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None) -> None:
        self.release()

    # -- the renewing thread --------------------------------------------------------------------------------

    def _keep(self) -> None:
        while not self._stop.wait(self._interval()):
            self._renew_once()

    def _interval(self) -> float:
        lease = self._lease
        return max(0.05, (lease.ttl_seconds if lease else 60.0) / 3)

    def _renew_once(self) -> None:
        lease = self._lease
        give_up = self._clock() + self._connect_timeout
        try:
            if lease is None or self._refused is not None:
                self._checkout(give_up)
            else:
                try:
                    self._granted(
                        api.LeaseView.model_validate(
                            self._call("POST", f"/api/leases/{lease.id}/renew", give_up=give_up).json()
                        ),
                        self._clock(),
                    )
                except LeaseNotFound:
                    log.warning("the license server no longer knows lease %s; checking out the seat again", lease.id)
                    self._checkout(give_up)
        except LicenseServerUnreachable as exc:
            self._unreachable(exc)
        except LicensingError as exc:
            self._refuse(exc)
        self._report_if_lost()

    # -- state changes --------------------------------------------------------------------------------------

    def _checkout(self, give_up: float) -> api.LeaseView:
        body = api.CheckoutRequest(kind=self.kind, instance=self.instance)
        sent = self._clock()
        response = self._call("POST", "/api/leases", give_up=give_up, json=body.model_dump())
        lease = api.LeaseView.model_validate(response.json())
        self._granted(lease, sent)
        return lease

    def _granted(self, lease: api.LeaseView, sent: float) -> None:
        with self._lock:
            was_out, was_lost = self._outage_since is not None, self._reported_lost or self._refused is not None
            self._lease, self._deadline = lease, sent + lease.expires_in
            self._outage_since, self._refused, self._reported_lost = None, None, False
        if was_lost:
            log.info("License valid again: lease %s (%s seat for %s)", lease.id, lease.kind, lease.holder)
        elif was_out:
            log.info("License server answers again; lease %s renewed", lease.id)

    def _unreachable(self, exc: LicenseServerUnreachable) -> None:
        with self._lock:
            first = self._outage_since is None
            if first:
                self._outage_since = self._clock()
            left = self._deadline + self.grace_seconds - self._clock()
        if first and left > 0:
            log.warning(
                "cannot renew the license lease (%s); riding out the outage: the lease stays valid for "
                "%.0f s more (its expiry + %.0f s grace)",
                "; ".join(w for _, w in exc.failures),
                left,
                self.grace_seconds,
            )
        else:
            log.debug("license server still unreachable: %s", exc)

    def _refuse(self, exc: LicensingError) -> None:
        with self._lock:
            self._refused = exc
            self._outage_since = None

    def _report_if_lost(self) -> None:
        with self._lock:
            if self._valid_locked() or self._reported_lost:
                return
            self._reported_lost = True
            error = LeaseLost(self._lost_reason())
        log.error("%s", error)
        if self._on_lost is not None:
            self._on_lost(error)

    def _valid_locked(self) -> bool:
        if self._lease is None or self._refused is not None:
            return False
        return self._clock() < self._deadline + self.grace_seconds

    def _lost_reason(self) -> str:
        what = f"this {self.kind} holds no valid license lease"
        if self._lease is None and self._refused is None:
            return f"{what}: none was acquired (or it was released)"
        if self._refused is not None:
            return f"{what}: the license server refused it: {self._refused}"
        return (
            f"{what}: no license server ({', '.join(self.address.urls)}) answered for longer than the lease's "
            f"lifetime plus the {self.grace_seconds:.0f} s grace period; start or fix the license server"
        )

    # -- HTTP -----------------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, give_up: float, json: Any = None) -> httpx.Response:
        """One request to the first server that answers; every address once; refusals raised as errors."""
        failures: list[tuple[str, str]] = []
        for url in self.address.urls:
            timeout = max(0.2, min(self._connect_timeout, give_up - self._clock()))
            try:
                with httpx.Client(
                    base_url=url, verify=self._ssl, timeout=httpx.Timeout(5.0, connect=timeout)
                ) as client:
                    response = client.request(method, path, json=json)
            except httpx.TransportError as exc:
                failures.append((url, _why(exc)))
                continue
            if response.is_success:
                return response
            if response.status_code >= 500:
                failures.append((url, f"server error {response.status_code}: {response.text[:200]}"))
                continue
            raise refusal_from_response(response)
        raise LicenseServerUnreachable(failures)


def acquire_license(
    address: AplsAddress | None, identity: TLSIdentity, kind: str, *, instance: str = "", **options: Any
) -> LeaseKeeper | None:
    """A component's start-up step: None when no license server is configured, else a keeper holding a seat.

    Raises ``LicenseServerUnreachable`` (6002) or a refusal (``NoSeatsLeft``, ``RoleNotLicensable``) when the seat
    cannot be had; ``options`` go to ``LeaseKeeper`` (``grace_seconds``, ``on_lost``, ...). Call ``release()`` at stop.
    """
    if address is None:
        log.info("No license server configured (--apls-ip): running without a license lease")
        return None
    keeper = LeaseKeeper(address, identity, kind, instance=instance, **options)
    keeper.acquire()
    return keeper
