"""The license server over real mutual TLS: components lease seats, the admin uses the console routes, leases survive
a restart, and components ride out short outages but fail fast (error 6002) when no server answers at start."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from licensing.address import AplsAddress
from licensing.auth import AdminLogin
from licensing.cli import main as license_cli
from licensing.client import LeaseKeeper
from licensing.config import LicenseServerConfig
from licensing.document import Kind, issue_license
from licensing.errors import LeaseLost, LicenseServerUnreachable, NoSeatsLeft, RoleNotLicensable
from licensing.keys import IssuerKeyFiles, generate_issuer_key, load_private_key
from licensing.launcher import LicenseServerProcess, start_license_server_process
from licensing.server import LicenseServer
from swarm_learning.tls import TLSIdentity
from tests.conftest import CertFactory

ADMIN = AdminLogin("admin", "s3cret")


@pytest.fixture
def issuer(tmp_path: Path) -> IssuerKeyFiles:
    return generate_issuer_key(tmp_path / "issuer")


def _license(issuer: IssuerKeyFiles, path: Path, seats: dict[Kind, int], **kwargs: Any) -> Path:
    signed = issue_license(load_private_key(issuer.private_key), licensee="ACME", seats=seats, **kwargs)
    path.write_text(signed.to_text())
    return path


@pytest.fixture
def server(tmp_path: Path, swarm_ca: CertFactory, issuer: IssuerKeyFiles) -> Iterator[LicenseServer]:
    config = LicenseServerConfig(
        identity=swarm_ca.identity("license-1"),
        data_dir=tmp_path / "apls",
        trusted_issuers=(issuer.public_key,),
        port=0,
        bind="127.0.0.1",
        admin=ADMIN,
        licenses=(_license(issuer, tmp_path / "lic.json", {"sl": 2, "sn": 1}),),
    )
    running = LicenseServer(config).start()
    yield running
    running.stop()


def _keeper(port: int, identity: TLSIdentity, kind: str, **kwargs: Any) -> LeaseKeeper:
    return LeaseKeeper(AplsAddress(primary_ip="127.0.0.1", primary_port=port), identity, kind, **kwargs)


def _trusting(swarm_ca: CertFactory, client_cert: str | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    for pem in swarm_ca.capath.iterdir():
        context.load_verify_locations(cafile=str(pem))
    if client_cert:
        paths = swarm_ca.paths(client_cert)
        context.load_cert_chain(str(paths.cert), str(paths.key))
    return context


def _status(port: int, swarm_ca: CertFactory) -> dict[str, Any]:
    response = httpx.get(
        f"https://127.0.0.1:{port}/api/status", verify=_trusting(swarm_ca), auth=(ADMIN.user, ADMIN.password)
    )
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def _seats(status: dict[str, Any], kind: str) -> tuple[int, int]:
    [seat] = [s for s in status["seats"] if s["kind"] == kind]
    return seat["in_use"], seat["total"]


def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting until {what}")
        time.sleep(0.05)  # bounded polling of an observable condition


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- seats over mutual TLS ---------------------------------------------------------------------------------------


@pytest.mark.acceptance_licensing
def test_components_lease_seats_and_the_one_too_many_hears_who_holds_them(
    server: LicenseServer, swarm_ca: CertFactory
) -> None:
    first = _keeper(server.port, swarm_ca.identity("sl-1"), "sl")
    second = _keeper(server.port, swarm_ca.identity("sl-2"), "sl")
    third = _keeper(server.port, swarm_ca.identity("sl-3"), "sl")
    try:
        first.acquire()
        second.acquire()
        started = time.monotonic()
        with pytest.raises(NoSeatsLeft) as caught:
            third.acquire()
        assert time.monotonic() - started < 5, "a refusal is final: no retries"
        assert (caught.value.total, caught.value.holders) == (2, ["sl-1", "sl-2"])
        assert _seats(_status(server.port, swarm_ca), "sl") == (2, 2)

        first.release()
        assert third.acquire().holder == "sl-3"
        assert first.valid is False and third.valid is True
    finally:
        for keeper in (first, second, third):
            keeper.release()
    assert _seats(_status(server.port, swarm_ca), "sl") == (0, 2)


def test_a_restarted_component_gets_its_existing_lease_back(server: LicenseServer, swarm_ca: CertFactory) -> None:
    before = _keeper(server.port, swarm_ca.identity("sn-1"), "sn", instance="127.0.0.1:30304")
    after = _keeper(server.port, swarm_ca.identity("sn-1"), "sn", instance="127.0.0.1:30304")
    try:
        lease = before.acquire()
        assert after.acquire().id == lease.id
        assert _seats(_status(server.port, swarm_ca), "sn") == (1, 1)
    finally:
        after.release()
        before.release()


def test_a_certificate_leases_only_seats_of_its_own_role(server: LicenseServer, swarm_ca: CertFactory) -> None:
    sl_as_sn = _keeper(server.port, swarm_ca.identity("sl-1"), "sn")
    with pytest.raises(RoleNotLicensable, match=r"an sl certificate \('sl-1'\) may not lease a 'sn' seat"):
        sl_as_sn.acquire()

    paths = swarm_ca.paths("nobody-1", spiffe_domain=None)
    roleless = _keeper(server.port, TLSIdentity.from_options(paths.cert, paths.key, paths.capath), "sl")
    with pytest.raises(RoleNotLicensable, match="carries no role"):
        roleless.acquire()
    assert _seats(_status(server.port, swarm_ca), "sn") == (0, 1)


def test_a_certificate_from_another_ca_cannot_connect_and_the_error_says_so(
    server: LicenseServer, swarm_ca: CertFactory, foreign_ca: CertFactory
) -> None:
    stranger = foreign_ca.paths("sl-1")
    identity = TLSIdentity(stranger.cert, stranger.key, swarm_ca.capath)
    keeper = _keeper(server.port, identity, "sl", acquire_deadline=1.0)

    with pytest.raises(LicenseServerUnreachable) as caught:
        keeper.acquire()
    assert caught.value.code == "6002"
    assert f"https://127.0.0.1:{server.port}" in str(caught.value)
    assert "CA" in str(caught.value)


# -- who may call what -------------------------------------------------------------------------------------------


def test_without_a_client_certificate_only_the_admin_login_opens_the_console_routes(
    server: LicenseServer, swarm_ca: CertFactory
) -> None:
    url = f"https://127.0.0.1:{server.port}"
    browser = httpx.Client(base_url=url, verify=_trusting(swarm_ca))
    component = httpx.Client(base_url=url, verify=_trusting(swarm_ca, "sl-1"))
    admin = (ADMIN.user, ADMIN.password)
    with browser, component:
        assert browser.post("/api/leases", json={"kind": "sl"}).status_code == 401
        assert browser.post("/api/leases", json={"kind": "sl"}, auth=admin).status_code == 401
        assert browser.get("/is_up", auth=admin).status_code == 401
        refused = browser.get("/api/status")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Basic")
        assert browser.get("/api/status", auth=(ADMIN.user, "wrong")).status_code == 401
        assert browser.get("/", auth=(ADMIN.user, "wrong")).status_code == 401

        page = browser.get("/", auth=admin)
        assert page.status_code == 200 and "Swarm Learning license server" in page.text
        assert browser.get("/api/status", auth=admin).json()["licenses"][0]["licensee"] == "ACME"

        assert component.get("/is_up").text == "OK"
        assert component.get("/api/licenses").status_code == 200
        assert component.get("/").status_code == 401, "a component certificate does not open the admin console"
        assert component.post("/api/licenses", content=b"{}").status_code == 401


def test_the_admin_installs_a_license_through_the_server_and_the_seats_grow(
    server: LicenseServer, swarm_ca: CertFactory, issuer: IssuerKeyFiles, tmp_path: Path
) -> None:
    extra = _license(issuer, tmp_path / "more.json", {"sl": 3, "swci": 1})
    runner = CliRunner()
    argv = ["install", str(extra), "--server", f"https://127.0.0.1:{server.port}", "--capath", str(swarm_ca.capath)]

    done = runner.invoke(license_cli, argv, env={"SWARM_LICENSE_ADMIN_PASSWORD": ADMIN.password})

    assert done.exit_code == 0, done.output
    assert "seats sl=3 swci=1" in done.output
    status = _status(server.port, swarm_ca)
    assert _seats(status, "sl") == (0, 5) and _seats(status, "swci") == (0, 1)

    wrong = runner.invoke(license_cli, argv, env={"SWARM_LICENSE_ADMIN_PASSWORD": "guess"})
    assert wrong.exit_code == 2 and "refused the admin login" in wrong.output


def test_a_tampered_license_upload_is_refused_with_the_reason(
    server: LicenseServer, swarm_ca: CertFactory, issuer: IssuerKeyFiles, tmp_path: Path
) -> None:
    data = json.loads(_license(issuer, tmp_path / "x.json", {"sl": 1}).read_text())
    data["license"]["seats"]["sl"] = 100

    response = httpx.post(
        f"https://127.0.0.1:{server.port}/api/licenses",
        content=json.dumps(data),
        auth=(ADMIN.user, ADMIN.password),
        verify=_trusting(swarm_ca),
    )

    assert response.status_code == 422
    assert "signature does not match" in response.json()["message"]
    assert _seats(_status(server.port, swarm_ca), "sl") == (0, 2)


# -- real server processes: restart, outage, unreachable ---------------------------------------------------------


def _spawn(
    tmp_path: Path, swarm_ca: CertFactory, issuer: IssuerKeyFiles, *, lease_ttl: float, port: int = 0
) -> LicenseServerProcess:
    lic = tmp_path / "proc-lic.json"
    if not lic.exists():
        _license(issuer, lic, {"sl": 2, "sn": 1})
    password = tmp_path / "admin-password"
    password.write_text(ADMIN.password)
    return start_license_server_process(
        tmp_path / "apls-proc",
        swarm_ca.identity("license-1"),
        [issuer.public_key],
        licenses=[lic],
        port=port,
        lease_ttl=lease_ttl,
        admin_password_file=password,
    )


@pytest.mark.acceptance_licensing
def test_leases_survive_a_license_server_restart(tmp_path: Path, swarm_ca: CertFactory, issuer: IssuerKeyFiles) -> None:
    process = _spawn(tmp_path, swarm_ca, issuer, lease_ttl=60)
    keeper = _keeper(process.port, swarm_ca.identity("sl-1"), "sl")
    try:
        lease = keeper.acquire()
        assert process.stop() == 0

        process = _spawn(tmp_path, swarm_ca, issuer, lease_ttl=60, port=process.port)

        status = _status(process.port, swarm_ca)
        assert [(x["id"], x["holder"]) for x in status["leases"]] == [(lease.id, "sl-1")]
        assert _seats(status, "sl") == (1, 2)
        assert keeper.valid
        again = httpx.post(f"{process.url}/api/leases", json={"kind": "sl"}, verify=_trusting(swarm_ca, "sl-1")).json()
        assert again["id"] == lease.id, "the same component checking out again keeps its lease"
    finally:
        keeper.release()
        process.stop()


@pytest.mark.acceptance_licensing
def test_a_component_rides_out_a_short_license_server_outage(
    tmp_path: Path, swarm_ca: CertFactory, issuer: IssuerKeyFiles
) -> None:
    process = _spawn(tmp_path, swarm_ca, issuer, lease_ttl=1.0)
    lost: list[LeaseLost] = []
    keeper = _keeper(process.port, swarm_ca.identity("sn-1"), "sn", grace_seconds=60, on_lost=lost.append)
    try:
        keeper.acquire()
        process.stop()
        _wait_until(lambda: keeper.unreachable_since is not None, 10, "the keeper notices the outage")
        assert keeper.valid, "inside the grace period the lease stays valid"
        keeper.require_valid()

        process = _spawn(tmp_path, swarm_ca, issuer, lease_ttl=1.0, port=process.port)

        _wait_until(lambda: keeper.unreachable_since is None, 10, "the keeper reaches the server again")
        assert keeper.valid and lost == []
        lease = keeper.lease
        assert lease is not None
        assert [x["id"] for x in _status(process.port, swarm_ca)["leases"]] == [lease.id]
    finally:
        keeper.release()
        process.stop()


@pytest.mark.acceptance_licensing
def test_after_the_grace_period_the_lease_is_lost_until_the_server_is_back(
    tmp_path: Path, swarm_ca: CertFactory, issuer: IssuerKeyFiles
) -> None:
    process = _spawn(tmp_path, swarm_ca, issuer, lease_ttl=1.0)
    lost: list[LeaseLost] = []
    keeper = _keeper(process.port, swarm_ca.identity("sn-1"), "sn", grace_seconds=1.0, on_lost=lost.append)
    try:
        keeper.acquire()
        process.stop()

        _wait_until(lambda: not keeper.valid, 10, "the grace period is over")
        with pytest.raises(LeaseLost, match=f"https://127.0.0.1:{process.port}.*1 s grace period"):
            keeper.require_valid()
        _wait_until(lambda: len(lost) == 1, 5, "on_lost is called")

        process = _spawn(tmp_path, swarm_ca, issuer, lease_ttl=1.0, port=process.port)

        _wait_until(lambda: keeper.valid, 10, "the lease is valid again")
        keeper.require_valid()
        assert len(lost) == 1
    finally:
        keeper.release()
        process.stop()


@pytest.mark.acceptance_licensing
def test_a_component_with_no_reachable_license_server_fails_within_10_s_with_6002_and_the_addresses(
    swarm_ca: CertFactory,
) -> None:
    primary, secondary = _free_port(), _free_port()
    address = AplsAddress(
        primary_ip="127.0.0.1", primary_port=primary, secondary_ip="127.0.0.1", secondary_port=secondary
    )
    keeper = LeaseKeeper(address, swarm_ca.identity("sn-1"), "sn")

    started = time.monotonic()
    with pytest.raises(LicenseServerUnreachable) as caught:
        keeper.acquire()
    elapsed = time.monotonic() - started

    assert elapsed < 12, f"gave up after {elapsed:.1f} s"
    assert caught.value.code == "6002"
    message = str(caught.value)
    assert "Unable to connect to server. Server might be wrongly configured or down." in message
    assert f"https://127.0.0.1:{primary}" in message and f"https://127.0.0.1:{secondary}" in message
    assert "--apls-ip" in message


def test_the_secondary_license_server_serves_when_the_primary_is_down(
    server: LicenseServer, swarm_ca: CertFactory
) -> None:
    address = AplsAddress(
        primary_ip="127.0.0.1", primary_port=_free_port(), secondary_ip="127.0.0.1", secondary_port=server.port
    )
    keeper = LeaseKeeper(address, swarm_ca.identity("sl-1"), "sl")
    try:
        started = time.monotonic()
        assert keeper.acquire().holder == "sl-1"
        assert time.monotonic() - started < 5
    finally:
        keeper.release()
