"""The license server's HTTP API and web console (FastAPI), over a ``LicenseStore``; see ``licensing.auth`` for who
may call which route and ``licensing.api`` for the routes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.concurrency import run_in_threadpool

from licensing import api, views
from licensing.auth import AdminLogin, certificate_identity, challenge, check_role
from licensing.console import PAGE
from licensing.errors import LeaseNotFound, LicenseRejected, LicensingError, NoSeatsLeft, RoleNotLicensable
from licensing.store import LicenseStore
from swarm_learning.https import peer_identity

log = logging.getLogger(__name__)

MAX_LICENSE_BYTES = 64 * 1024
_STATUS = {NoSeatsLeft: 409, LeaseNotFound: 404, RoleNotLicensable: 403, LicenseRejected: 422}

Component = Annotated[str, Depends(peer_identity)]
_basic = HTTPBasic(auto_error=False)
Basic = Annotated[HTTPBasicCredentials | None, Depends(_basic)]


def _admin_only(request: Request, credentials: Basic) -> str:
    admin: AdminLogin = request.app.state.admin
    if not admin.matches(credentials):
        raise challenge("the admin login of the license server is required")
    return admin.user


def _admin_or_component(request: Request, credentials: Basic) -> str:
    identity = certificate_identity(request)
    if identity:
        return identity
    admin: AdminLogin = request.app.state.admin
    if admin.matches(credentials):
        return admin.user
    raise challenge("a client certificate of the swarm's CA or the admin login is required")


Admin = Annotated[str, Depends(_admin_only)]
Reader = Annotated[str, Depends(_admin_or_component)]


def _status_of(exc: LicensingError) -> int:
    for cls, status in _STATUS.items():
        if isinstance(exc, cls):
            return status
    return 400


def create_app(store: LicenseStore, admin: AdminLogin, clock: Callable[[], float] = time.time) -> FastAPI:
    app = FastAPI(title="Swarm Learning license server", version="1", docs_url=None, redoc_url=None)
    app.state.admin = admin

    @app.exception_handler(LicensingError)
    def _refused(request: Request, exc: LicensingError) -> JSONResponse:
        status = _status_of(exc)
        log.warning("refused %s %s (%s): %s", request.method, request.url.path, status, exc)
        return JSONResponse(status_code=status, content=views.error(exc).model_dump())

    @app.get("/is_up", response_class=PlainTextResponse)
    def is_up(_: Component) -> str:
        return "OK"

    @app.post("/api/leases")
    def checkout(request: Request, caller: Component, body: api.CheckoutRequest) -> api.LeaseView:
        check_role(request, caller, body.kind)
        return views.lease(store.checkout(body.kind, caller, body.instance), clock())

    @app.post("/api/leases/{lease_id}/renew")
    def renew(caller: Component, lease_id: str) -> api.LeaseView:
        return views.lease(store.renew(lease_id, caller), clock())

    @app.delete("/api/leases/{lease_id}")
    def release(caller: Component, lease_id: str) -> api.ReleaseResult:
        return api.ReleaseResult(released=store.release(lease_id, caller))

    @app.get("/api/licenses")
    def licenses(_: Reader) -> list[api.LicenseView]:
        return [views.license_(x) for x in store.licenses()]

    @app.post("/api/licenses", status_code=201)
    async def install(who: Admin, request: Request) -> api.LicenseView:
        document = await request.body()
        if len(document) > MAX_LICENSE_BYTES:
            raise LicenseRejected(f"a license file is at most {MAX_LICENSE_BYTES} bytes; this one has {len(document)}")
        installed = await run_in_threadpool(store.install, document)
        log.info("license %s installed by %s", installed.signed.id, who)
        return views.license_(installed)

    @app.get("/api/status")
    def status(_: Reader) -> api.StatusView:
        now = clock()
        return api.StatusView(
            server_time=views.timestamp(now),
            lease_ttl_seconds=store.lease_ttl,
            licenses=[views.license_(x) for x in store.licenses()],
            seats=[views.seat(s) for s in store.seats().values()],
            leases=[views.lease(x, now) for x in store.leases()],
        )

    @app.get("/", response_class=HTMLResponse)
    def console(_: Admin) -> str:
        return PAGE

    return app
