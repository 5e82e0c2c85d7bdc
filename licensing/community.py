"""The community license: a local issuer and a generous license, made on the spot for demos (``run-local``).

It proves nothing to anybody else (the issuer key is created next to the license), but it keeps the license
server in the loop with no set-up. Files, under ``<data_dir>/community/``: ``issuer-key.pem``,
``issuer-pub.pem`` (give to ``serve --trusted-issuer``) and ``community-license.json`` (``serve --license``).
Calling it again reuses the key, and the license while it is valid for at least another day.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from licensing.document import Kind, SignedLicense, issue_license, utcnow
from licensing.errors import LicenseRejected
from licensing.keys import generate_issuer_key, key_id, load_private_key, load_public_key

COMMUNITY_DAYS = 30
COMMUNITY_SEATS: dict[Kind, int] = {"sn": 16, "sl": 64, "swop": 16, "swci": 8}
LICENSEE = "Community edition (local use)"


def community_license(data_dir: Path, *, days: int = COMMUNITY_DAYS) -> tuple[Path, Path]:
    """``(issuer_public_key_file, license_file)`` of a community license in ``data_dir`` (created if needed)."""
    folder = data_dir / "community"
    private_file, public_file = folder / "issuer-key.pem", folder / "issuer-pub.pem"
    if not (private_file.exists() and public_file.exists()):
        for leftover in (private_file, public_file):
            leftover.unlink(missing_ok=True)
        generate_issuer_key(folder, "issuer")
    license_file = folder / "community-license.json"
    if _still_good(license_file, key_id(load_public_key(public_file))):
        return public_file, license_file
    signed = issue_license(
        load_private_key(private_file),
        licensee=LICENSEE,
        seats=COMMUNITY_SEATS,
        days=days,
        not_before=utcnow() - dt.timedelta(minutes=5),
        license_id=f"community-{utcnow():%Y%m%d%H%M%S}",
    )
    tmp = license_file.with_suffix(".tmp")
    tmp.write_text(signed.to_text())
    os.replace(tmp, license_file)
    return public_file, license_file


def _still_good(license_file: Path, issuer: str) -> bool:
    if not license_file.exists():
        return False
    try:
        body = SignedLicense.from_text(license_file.read_bytes()).body
    except LicenseRejected:
        return False
    return body.issuer == issuer and body.not_after - utcnow() > dt.timedelta(days=1)
