"""Identities come from certificates; every server requires a client certificate of the swarm's CA."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest
from fastapi import Depends, FastAPI

from certs.gen_cert import issue
from swarm_learning.errors import IdentityError
from swarm_learning.https import BackgroundServer, peer_identity, uvicorn_config
from swarm_learning.tls import TLSIdentity, identity_of
from tests.conftest import CertFactory


def test_identity_is_the_common_name_even_with_a_spiffe_id(swarm_ca: CertFactory, tmp_path: Path) -> None:
    assert swarm_ca.identity("sl-7").name == "sl-7"
    spiffe = issue(tmp_path, "sl-3", spiffe_domain="org1.swarm.learning")
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(spiffe.cert.read_bytes())
    assert identity_of(cert) == "sl-3"  # a certificate without a CN (a SPIRE SVID) is named by its SPIFFE ID
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://org1.swarm.learning/sl/sl-3"]


def test_gen_cert_lays_files_out_like_the_product(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from certs.gen_cert import main

    result = CliRunner().invoke(main, ["-i", "2", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for comp in ("sn", "sl", "swci", "swop", "license"):
        assert (tmp_path / f"{comp}-2-cert.pem").is_file()
        assert (tmp_path / f"{comp}-2-key.pem").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "ca" / "capath" / "ca-2-cert.pem").is_file()
    assert (tmp_path / "ca" / "ca-2-key.pem").is_file()


def test_missing_certificate_names_the_file(swarm_ca: CertFactory, tmp_path: Path) -> None:
    p = swarm_ca.paths("sn-1")
    with pytest.raises(IdentityError, match=r"certificate file .*nope-cert\.pem does not exist"):
        TLSIdentity.from_options(tmp_path / "nope-cert.pem", p.key, p.capath)
    with pytest.raises(IdentityError, match="no identity"):
        TLSIdentity.from_options(None, None, p.capath)


def test_unreadable_key_names_the_file(swarm_ca: CertFactory, tmp_path: Path) -> None:
    p = swarm_ca.paths("sn-1")
    bad = tmp_path / "bad-key.pem"
    bad.write_text("not a key")
    with pytest.raises(IdentityError, match="bad-key.pem"):
        TLSIdentity.from_options(p.cert, bad, p.capath)


@pytest.fixture
def echo_server(swarm_ca: CertFactory):  # type: ignore[no-untyped-def]
    app = FastAPI()

    @app.get("/whoami")
    def whoami(caller: str = Depends(peer_identity)) -> dict[str, str]:
        return {"caller": caller}

    server = BackgroundServer(uvicorn_config(app, swarm_ca.identity("sn-1"), "127.0.0.1", 0)).start()
    yield f"https://127.0.0.1:{server.port}"
    server.stop()


def test_server_sees_the_callers_identity(echo_server: str, swarm_ca: CertFactory) -> None:
    ctx = swarm_ca.identity("sl-1").client_context()
    assert httpx.get(f"{echo_server}/whoami", verify=ctx).json() == {"caller": "sl-1"}


def test_certificate_from_another_ca_is_refused(
    echo_server: str, swarm_ca: CertFactory, foreign_ca: CertFactory
) -> None:
    foreign = foreign_ca.paths("sl-1")
    ctx = ssl.create_default_context(cafile=str(swarm_ca.capath / "ca-1-cert.pem"))
    ctx.check_hostname = False
    ctx.load_cert_chain(str(foreign.cert), str(foreign.key))
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{echo_server}/whoami", verify=ctx)


def test_client_without_certificate_is_refused(echo_server: str, swarm_ca: CertFactory) -> None:
    ctx = ssl.create_default_context(cafile=str(swarm_ca.capath / "ca-1-cert.pem"))
    ctx.check_hostname = False
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{echo_server}/whoami", verify=ctx)
