"""A certificate says which role its holder plays; servers let each role call only its endpoints; the CA's
revocation list takes a node out from its next request; a component's own certificate must be in date."""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute

from certs.gen_cert import ensure_ca, issue, main, revoke
from sn.app import create_app
from swarm_learning.errors import IdentityError, NoRole, RoleNotAllowed
from swarm_learning.https import BackgroundServer, uvicorn_config
from swarm_learning.revocation import RevocationList
from swarm_learning.roles import SN_API_POLICY, EndpointPolicy, Peer, Role, read_role, rule
from swarm_learning.tls import TLSIdentity, identity_of
from tests.conftest import CertFactory


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def spire_svid(out: Path, spiffe_id: str) -> x509.Certificate:
    """A certificate shaped like a SPIRE X.509-SVID: no CN, the SPIFFE ID as its only name."""
    ca_cert, ca_key = ensure_ca(out)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "SPIRE")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(spiffe_id)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


# ------------------------------------------------------------------------------------------ reading the role


def test_gen_cert_binds_each_certificate_to_its_role_with_a_spiffe_id(tmp_path: Path) -> None:
    cert = _load(issue(tmp_path, "sl-2").cert)
    reading = read_role(cert)
    assert reading.role is Role.SL and reading.source == "SPIFFE ID spiffe://swarm.local/sl/sl-2"
    assert identity_of(cert) == "sl-2"  # the name stays the CN; the SPIFFE ID carries the role
    other = _load(issue(tmp_path, "swop-1", spiffe_domain="org1.swarm.learning").cert)
    assert read_role(other).source == "SPIFFE ID spiffe://org1.swarm.learning/swop/swop-1"


def test_a_spire_svid_is_named_by_its_spiffe_id_and_has_that_role(tmp_path: Path) -> None:
    svid = spire_svid(tmp_path, "spiffe://org1.swarm.learning/swci")
    assert identity_of(svid) == "spiffe://org1.swarm.learning/swci"
    assert read_role(svid).role is Role.SWCI


def test_the_role_comes_from_an_ou_naming_it_or_else_from_the_cn_prefix(tmp_path: Path) -> None:
    own_pki = _load(issue(tmp_path, "trainer-a", role="sl", spiffe_domain=None).cert)
    assert read_role(own_pki).role is Role.SL and read_role(own_pki).source == "OU=sl"
    product = _load(issue(tmp_path, "SN-1", spiffe_domain=None).cert)  # the product's gen-cert: CN=SN-1, no URI
    assert read_role(product).role is Role.SN and read_role(product).source == "CN prefix of SN-1"


def test_the_spiffe_id_wins_over_the_cn(tmp_path: Path) -> None:
    cert = _load(issue(tmp_path, "sl-5", role="swci").cert)
    assert read_role(cert).role is Role.SWCI


def test_a_certificate_with_no_readable_role_says_what_was_looked_at(tmp_path: Path) -> None:
    reading = read_role(_load(issue(tmp_path, "alice", spiffe_domain=None).cert))
    assert reading.role is None
    assert "no spiffe://<domain>/<role> URI SAN" in reading.why_not and "CN 'alice'" in reading.why_not


def test_gen_cert_refuses_a_name_without_a_role(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["-o", str(tmp_path), "-n", "alice"])
    assert result.exit_code != 0 and "cannot tell the role of 'alice'" in result.output
    assert not (tmp_path / "alice-cert.pem").exists()
    result = CliRunner().invoke(main, ["-o", str(tmp_path), "-n", "alice", "--role", "swci"])
    assert result.exit_code == 0, result.output
    assert read_role(_load(tmp_path / "alice-cert.pem")).role is Role.SWCI


# ---------------------------------------------------------------------------------------------- the policy


def _sn_app() -> FastAPI:
    return create_app(object(), "sn-1", network=object())  # type: ignore[arg-type]  # routes only, never called


def test_every_sn_api_write_has_a_rule_and_every_rule_a_route() -> None:
    routes = {f"{m} {r.path}" for r in _sn_app().routes if isinstance(r, APIRoute) for m in r.methods}
    writes = {r for r in routes if not r.startswith("GET ")}
    assert writes <= set(SN_API_POLICY), writes - set(SN_API_POLICY)
    assert set(SN_API_POLICY) - {"GET *"} <= routes


@pytest.mark.parametrize(
    ("role", "method", "template", "allowed"),
    [
        (Role.SL, "POST", "/trainings/{name}/rounds/{number}/checkin", True),
        (Role.SWCI, "POST", "/trainings/{name}/rounds/{number}/checkin", False),
        (Role.SWCI, "POST", "/trainings", True),
        (Role.SL, "POST", "/trainings", False),
        (Role.SL, "POST", "/trainings/{name}/reset", False),
        (Role.SN, "POST", "/network/join", True),
        (Role.SL, "POST", "/network/submit", False),
        (Role.SWOP, "POST", "/nodes/heartbeat", True),
        (Role.SWOP, "POST", "/trainings/{name}/join", False),
        (Role.SWOP, "GET", "/trainings/{name}", True),
        (Role.LICENSE, "GET", "/nodes", False),
    ],
)
def test_the_sn_api_policy(role: Role, method: str, template: str, allowed: bool) -> None:
    policy = EndpointPolicy("SN API", SN_API_POLICY)
    if allowed:
        policy.check(Peer("x-1", role), method, template)
    else:
        with pytest.raises(RoleNotAllowed):
            policy.check(Peer("x-1", role), method, template)


def test_a_refusal_names_the_role_the_endpoint_and_who_may() -> None:
    policy = EndpointPolicy("SN API", SN_API_POLICY)
    with pytest.raises(RoleNotAllowed) as refused:
        policy.check(Peer("sl-1", Role.SL), "POST", "/trainings")
    assert str(refused.value) == (
        "an sl certificate ('sl-1') may not POST /trainings (create a training contract): only swci may"
    )
    with pytest.raises(NoRole, match=r"the certificate of 'alice' carries no role.*swarm-gen-cert -n <role>-<i>"):
        policy.check(Peer("alice", None, "its CN 'alice' does not start with '<role>-'"), "GET", "/nodes")
    with pytest.raises(RoleNotAllowed, match="only sl, swci or swop may"):
        EndpointPolicy("x", {"POST /a": rule("do a", Role.SWOP, Role.SL, Role.SWCI)}).check(
            Peer("sn-1", Role.SN), "POST", "/a"
        )


# -------------------------------------------------------------------------------------- revocation, in-process


@pytest.fixture
def own_ca(tmp_path: Path) -> CertFactory:
    """A CA of this test only: its CRL must not reach the session's CA path."""
    return CertFactory(tmp_path / "ca")


@pytest.fixture
def guarded_server(own_ca: CertFactory) -> Iterator[str]:
    app = FastAPI()
    policy = EndpointPolicy("test server", {"GET /whoami": rule("say who", Role.SL, Role.SWCI)})

    @app.get("/whoami")
    async def whoami(caller: Peer = Depends(policy)) -> dict[str, str]:  # noqa: B008
        return {"caller": caller, "role": str(caller.role)}

    server = BackgroundServer(uvicorn_config(app, own_ca.identity("sn-1"), "127.0.0.1", 0)).start()
    yield f"https://127.0.0.1:{server.port}"
    server.stop()


def test_a_revoked_certificate_is_refused_on_its_next_request_even_on_an_open_connection(
    guarded_server: str, own_ca: CertFactory
) -> None:
    with (
        httpx.Client(verify=own_ca.identity("sl-2").client_context()) as revoked_node,
        httpx.Client(verify=own_ca.identity("sl-1").client_context()) as other,
    ):
        assert revoked_node.get(f"{guarded_server}/whoami").json() == {"caller": "sl-2", "role": "sl"}
        done, crl = revoke(own_ca.folder, "sl-2")
        assert crl == own_ca.capath / "ca-1-crl.pem"
        answer = revoked_node.get(f"{guarded_server}/whoami")  # same keep-alive connection
        assert answer.status_code == 403
        assert answer.json()["message"].startswith(
            f"certificate serial {done.serial:X} of 'sl-2' was revoked by the swarm's CA (CN=CA-1,OU=Swarm-Learning) on "
            f"{done.revoked_at:%Y-%m-%d}"
        )
        assert other.get(f"{guarded_server}/whoami").status_code == 200


def test_revoking_twice_changes_nothing_and_a_crl_of_another_ca_is_ignored(own_ca: CertFactory, tmp_path: Path) -> None:
    cert = _load(own_ca.paths("sl-3").cert)
    first, _ = revoke(own_ca.folder, "sl-3")
    again, _ = revoke(own_ca.folder, "sl-3")
    assert first == again
    assert RevocationList([own_ca.capath]).lookup(cert.issuer, cert.serial_number) == first
    stranger = CertFactory(tmp_path / "stranger", host_index=1)  # same CA name, other key: its CRL proves nothing
    stranger.paths("sl-1")
    revoke(stranger.folder, "sl-1")
    (own_ca.capath / "ca-1-crl-copy.pem").write_bytes((stranger.capath / "ca-1-crl.pem").read_bytes())
    assert len(RevocationList([own_ca.capath])) == 1


def test_a_client_refuses_a_revoked_server_when_its_ca_publishes_a_crl(own_ca: CertFactory) -> None:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    own_ca.paths("sn-1")
    own_ca.paths("sl-1")
    revoke(own_ca.folder, "sn-1")
    server = BackgroundServer(uvicorn_config(app, own_ca.identity("sn-1"), "127.0.0.1", 0)).start()
    try:
        with pytest.raises(httpx.ConnectError, match="certificate revoked"):
            httpx.get(f"https://127.0.0.1:{server.port}/ping", verify=own_ca.identity("sl-1").client_context())
    finally:
        server.stop()


# ------------------------------------------------------------------------------------------------- expiry


def test_an_own_certificate_near_expiry_is_warned_about_with_its_date(
    own_ca: CertFactory, caplog: pytest.LogCaptureFixture
) -> None:
    p = own_ca.paths("sl-1", days=10)
    ends = _load(p.cert).not_valid_after_utc
    with caplog.at_level(logging.WARNING, logger="swarm_learning.tls"):
        TLSIdentity.from_options(p.cert, p.key, p.capath)
    assert f"expires on {ends:%Y-%m-%d %H:%M} UTC (in 9 days)" in caplog.text


def test_an_expired_own_certificate_refuses_to_start(own_ca: CertFactory) -> None:
    p = own_ca.paths("sl-1", not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=40), days=30)
    with pytest.raises(IdentityError, match=r"sl-1-cert\.pem of 'sl-1' expired on .* UTC: every peer would refuse it"):
        TLSIdentity.from_options(p.cert, p.key, p.capath)


def test_a_server_refuses_an_expired_peer_and_says_why(
    guarded_server: str, own_ca: CertFactory, caplog: pytest.LogCaptureFixture
) -> None:
    p = own_ca.paths("sl-4", not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=40), days=30)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cafile=str(own_ca.capath / "ca-1-cert.pem"))
    ctx.load_cert_chain(str(p.cert), str(p.key))
    with caplog.at_level(logging.WARNING, logger="swarm_learning.tls"):
        with pytest.raises(httpx.HTTPError):  # TLS 1.3: the client just sees the connection closed
            httpx.get(f"{guarded_server}/whoami", verify=ctx)
    assert "refused a client's certificate in the TLS handshake: certificate has expired" in caplog.text
