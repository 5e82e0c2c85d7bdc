"""The admin installs a license through the web console in a real browser and watches the seat count change.

A real license server process serves the console over its mutual-TLS port; headless Chromium (Debian's
``chromium``) driven by Playwright for Python opens it with the admin login, uploads license files through the
page's file input and reads the seat table the page renders.

How the browser trusts the server: the server's certificate is issued by the throwaway swarm CA (with an IP SAN for
127.0.0.1), which Chromium does not know. Rather than ``ignore_https_errors=True`` (any certificate at all would do),
Chromium is started with ``--ignore-certificate-errors-spki-list`` holding the SHA-256 hash of *this* server's
public key: only a server proving possession of that key is accepted, and no NSS database or extra tool (certutil)
is needed. Playwright starts Chromium with a fresh, throwaway ``--user-data-dir`` of its own (which that flag needs).

Needs the Debian package ``chromium`` (/usr/bin/chromium) and the PyPI package ``playwright`` (its bundled driver
only; its browser download is never used). Without them the test is skipped, except under ``CI=true``, where it
fails so that CI cannot pass by skipping it.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from licensing.document import Kind, issue_license
from licensing.keys import IssuerKeyFiles, generate_issuer_key, load_private_key
from licensing.launcher import LicenseServerProcess, start_license_server_process
from tests.conftest import CertFactory

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
# what Chromium needs on this closed network (no background calls home, no GPU, root without a sandbox)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_USER, ADMIN_PASSWORD = "admin", "console-s3cret"
WAIT_MS = 15_000  # every browser wait is bounded by this


@dataclass(frozen=True)
class Console:
    server: LicenseServerProcess
    issuer: IssuerKeyFiles
    spki_pin: str  # base64 SHA-256 of the server certificate's SubjectPublicKeyInfo


def _require_browser_tools() -> None:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (Debian package chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the Python package playwright (pip install playwright; never `playwright install`)")
    if not missing:
        return
    reason = "browser test needs " + " and ".join(missing)
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " -- under CI=true this test may not be skipped")
    pytest.skip(reason)


def _license_file(issuer: IssuerKeyFiles, path: Path, seats: dict[Kind, int], license_id: str) -> Path:
    signed = issue_license(
        load_private_key(issuer.private_key), licensee="ACME Hospital", seats=seats, license_id=license_id
    )
    path.write_text(signed.to_text())
    return path


def _spki_sha256(cert_file: Path) -> str:
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


@pytest.fixture
def console(tmp_path: Path, swarm_ca: CertFactory) -> Iterator[Console]:
    _require_browser_tools()
    issuer = generate_issuer_key(tmp_path / "issuer")
    first = _license_file(issuer, tmp_path / "first-license.json", {"sl": 4, "sn": 1}, "lic-first")
    password = tmp_path / "admin-password"
    password.write_text(ADMIN_PASSWORD)
    server = start_license_server_process(
        tmp_path / "apls",
        swarm_ca.identity("license-1"),
        [issuer.public_key],
        licenses=[first],
        admin_password_file=password,
    )
    try:
        yield Console(server, issuer, _spki_sha256(swarm_ca.paths("license-1").cert))
    finally:
        server.stop()
        print(f"license server log: {server.log_file}")


@pytest.fixture
def browser(console: Console) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*CHROMIUM_FLAGS, f"--ignore-certificate-errors-spki-list={console.spki_pin}"],
            timeout=WAIT_MS * 2,
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(http_credentials={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    context.set_default_timeout(WAIT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.mark.acceptance_licensing
def test_the_admin_installs_a_license_in_the_console_and_sees_the_seat_count_change(
    console: Console, page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    sl_total = page.locator("#seats tr[data-kind=sl] .total")
    sl_in_use = page.locator("#seats tr[data-kind=sl] .in-use")
    result = page.locator("#install-result")

    page.goto(f"{console.server.url}/")
    expect(page).to_have_title("Swarm Learning license server")
    expect(sl_total).to_have_text("4")
    expect(sl_in_use).to_have_text("0")

    more = _license_file(console.issuer, tmp_path / "more-license.json", {"sl": 3}, "lic-more")
    page.locator("#license-file").set_input_files(more)
    page.locator("#install button").click()

    expect(result).to_have_class("ok")
    expect(result).to_have_text("installed license lic-more for ACME Hospital")
    expect(sl_total).to_have_text("7")
    expect(page.locator("#licenses tr[data-license=lic-more]")).to_contain_text("sl 3")

    tampered_data = json.loads(_license_file(console.issuer, tmp_path / "x.json", {"sl": 1}, "lic-forged").read_text())
    tampered_data["license"]["seats"]["sl"] = 100  # the signed content no longer matches its signature
    tampered = tmp_path / "tampered-license.json"
    tampered.write_text(json.dumps(tampered_data))
    page.locator("#license-file").set_input_files(tampered)
    page.locator("#install button").click()

    expect(result).to_have_class("error")
    expect(result).to_contain_text("refused:")
    expect(result).to_contain_text("signature does not match")
    expect(sl_total).to_have_text("7")
    expect(page.locator("#licenses tr[data-license=lic-forged]")).to_have_count(0)
    expect(page.locator("#load-error")).to_have_text("")

    screenshot = tmp_path / "license-console.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"console screenshot: {screenshot}")
    assert console.server.alive(), console.server.log_tail()
