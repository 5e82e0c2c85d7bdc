"""Certificate revocation lists (CRLs): writing them for the swarm's CA and checking peers against them.

``swarm-gen-cert --revoke NAME`` adds the serial of ``<NAME>-cert.pem`` to the CRL of the CA that issued it, written
beside the CA certificate as ``ca/capath/ca-<i>-crl.pem`` and signed by the CA's key. Like the CA certificate, the
CRL file is copied to every host's CA path. Servers (``swarm_learning.https``) look for CRLs in the files of their
trust anchors (the ``--capath`` folder, the ``--cacert`` bundle and an optional extra CRL file): every file holding
a ``BEGIN X509 CRL`` block (or a DER ``*.crl``) whose signature verifies with a trusted CA counts. The files are
checked for changes on every request and re-read when they change, so a revoked node's next request is refused
without restarting anything.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

log = logging.getLogger(__name__)

CRL_MARKER = b"-----BEGIN X509 CRL-----"
CERT_MARKER = b"-----BEGIN CERTIFICATE-----"
_DER_SUFFIXES = {".crl", ".der"}
_ISSUER_KEYS = (
    dsa.DSAPublicKey,
    ec.EllipticCurvePublicKey,
    rsa.RSAPublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
)


def crl_file_name(host_index: int) -> str:
    return f"ca-{host_index}-crl.pem"


def _blocks(data: bytes, marker: bytes) -> list[bytes]:
    end = marker.replace(b"BEGIN", b"END")
    blocks, start = [], data.find(marker)
    while start >= 0:
        stop = data.find(end, start)
        if stop < 0:
            break
        blocks.append(data[start : stop + len(end)] + b"\n")
        start = data.find(marker, stop)
    return blocks


def read_crls(path: Path, data: bytes) -> list[x509.CertificateRevocationList]:
    """The CRLs a file holds: PEM blocks, or one DER CRL for ``*.crl``/``*.der`` files. Raises ValueError."""
    if CRL_MARKER in data:
        return [x509.load_pem_x509_crl(block) for block in _blocks(data, CRL_MARKER)]
    if path.suffix.lower() in _DER_SUFFIXES and not data.lstrip().startswith(b"-----"):
        return [x509.load_der_x509_crl(data)]
    return []


def read_certificates(data: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(data) if CERT_MARKER in data else []


def signed_by(crl: x509.CertificateRevocationList, anchors: Iterable[x509.Certificate]) -> x509.Certificate | None:
    """The trusted CA that issued and signed ``crl``, or None."""
    for ca in anchors:
        if ca.subject == crl.issuer:
            key = ca.public_key()
            if isinstance(key, _ISSUER_KEYS) and crl.is_signature_valid(key):
                return ca
    return None


@dataclass(frozen=True)
class Revoked:
    """One revoked certificate: its serial, when it was revoked, and the CA that revoked it."""

    serial: int
    revoked_at: dt.datetime
    issuer: str

    def message(self, identity: str) -> str:
        return (
            f"certificate serial {self.serial:X} of {identity!r} was revoked by the swarm's CA ({self.issuer}) on "
            f"{self.revoked_at:%Y-%m-%d %H:%M:%S} UTC: this node may no longer take part in the swarm; "
            "give it a new certificate if it should"
        )


@dataclass
class _Parsed:
    stamp: tuple[int, int]
    certificates: list[x509.Certificate]
    crls: list[tuple[Path, x509.CertificateRevocationList]]
    pem: bool


def _files(sources: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for source in sources:
        if source.is_dir():
            found += sorted(p for p in source.iterdir() if p.is_file())
        elif source.is_file():
            found.append(source)
    return found


class RevocationList:
    """The revoked serials of the CRLs among ``sources`` (folders and files), re-read when a file changes."""

    def __init__(self, sources: Sequence[Path]) -> None:
        self.sources = [Path(s) for s in sources]
        self._lock = threading.Lock()
        self._parsed: dict[Path, _Parsed] = {}
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._revoked: dict[tuple[bytes, int], Revoked] = {}
        self._crl_files: list[Path] = []
        self._unsigned: set[bytes] = set()
        self._refresh()

    def lookup(self, issuer: x509.Name, serial: int) -> Revoked | None:
        """The revocation of the certificate ``serial`` issued by ``issuer``, if its CA revoked it."""
        self._refresh()
        return self._revoked.get((issuer.public_bytes(), serial))

    def __len__(self) -> int:
        self._refresh()
        return len(self._revoked)

    def crl_files_for_every_anchor(self) -> list[Path] | None:
        """The PEM CRL files, if every trusted CA has a current CRL among them; else None (a TLS context told to
        require CRLs would refuse every certificate of a CA without one)."""
        self._refresh()
        now = dt.datetime.now(dt.UTC)
        certificates = [c for p in self._parsed.values() for c in p.certificates]
        anchors = {c.subject.public_bytes() for c in certificates if _is_ca(c)}
        covered: set[bytes] = set()
        files: set[Path] = set()
        for parsed in self._parsed.values():
            for path, crl in parsed.crls:
                current = crl.last_update_utc <= now and (crl.next_update_utc is None or crl.next_update_utc > now)
                if parsed.pem and current and signed_by(crl, certificates) is not None:
                    covered.add(crl.issuer.public_bytes())
                    files.add(path)
        return sorted(files) if anchors and anchors <= covered else None

    # -- reading ---------------------------------------------------------------------------------------------
    def _refresh(self) -> None:
        stamps: list[tuple[str, int, int]] = []
        for path in _files(self.sources):
            try:
                st = path.stat()
            except OSError:
                continue
            stamps.append((str(path), st.st_mtime_ns, st.st_size))
        signature = tuple(stamps)
        if signature == self._signature:
            return
        with self._lock:
            if signature == self._signature:
                return
            self._reload(signature)

    def _reload(self, signature: tuple[tuple[str, int, int], ...]) -> None:
        parsed: dict[Path, _Parsed] = {}
        for name, mtime, size in signature:
            path = Path(name)
            before = self._parsed.get(path)
            if before is not None and before.stamp == (mtime, size):
                parsed[path] = before
                continue
            try:
                data = path.read_bytes()
                crls = [(path, c) for c in read_crls(path, data)]
                parsed[path] = _Parsed((mtime, size), read_certificates(data), crls, CRL_MARKER in data)
            except (OSError, ValueError) as exc:
                log.warning("cannot read %s as certificates or a CRL (%s); keeping what it held before", path, exc)
                if before is not None:
                    parsed[path] = before
        anchors = [c for p in parsed.values() for c in p.certificates]
        revoked: dict[tuple[bytes, int], Revoked] = {}
        for p in parsed.values():
            for path, crl in p.crls:
                ca = signed_by(crl, anchors)
                if ca is None:
                    key = crl.fingerprint(hashes.SHA256())
                    if key not in self._unsigned:
                        self._unsigned.add(key)
                        log.warning(
                            "ignoring the CRL in %s: no trusted CA (%s) signed it", path, crl.issuer.rfc4514_string()
                        )
                    continue
                issuer = crl.issuer.public_bytes()
                for entry in crl:
                    revoked[(issuer, entry.serial_number)] = Revoked(
                        entry.serial_number, entry.revocation_date_utc, crl.issuer.rfc4514_string()
                    )
        if len(revoked) != len(self._revoked):
            log.info("revocation lists: %d revoked certificate(s)", len(revoked))
        self._parsed, self._revoked, self._signature = parsed, revoked, signature


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.subject == cert.issuer


# ------------------------------------------------------------------------------------------------ writing a CRL


def revoke_serial(
    crl_path: Path,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    serial: int,
    when: dt.datetime | None = None,
) -> Revoked:
    """Add ``serial`` to the CA's CRL at ``crl_path`` (created if missing), signed by the CA; idempotent."""
    entries: list[x509.RevokedCertificate] = []
    number = 1
    if crl_path.exists():
        old = x509.load_pem_x509_crl(crl_path.read_bytes())
        if old.issuer != ca_cert.subject or not old.is_signature_valid(ca_key.public_key()):
            raise ValueError(f"{crl_path} is not a CRL of {ca_cert.subject.rfc4514_string()}")
        entries = list(old)
        for entry in entries:
            if entry.serial_number == serial:
                return Revoked(serial, entry.revocation_date_utc, ca_cert.subject.rfc4514_string())
        try:
            number = old.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
        except x509.ExtensionNotFound:
            number = len(entries) + 1
    now = dt.datetime.now(dt.UTC)
    revoked_at = (when or now).replace(microsecond=0)
    entries.append(x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(revoked_at).build())
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - dt.timedelta(minutes=1))
        .next_update(max(ca_cert.not_valid_after_utc, now + dt.timedelta(days=1)))
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    for entry in entries:
        builder = builder.add_revoked_certificate(entry)
    crl = builder.sign(ca_key, hashes.SHA256())
    crl_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = crl_path.with_name(f".{crl_path.name}.tmp")
    tmp.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    os.chmod(tmp, 0o644)
    os.replace(tmp, crl_path)
    return Revoked(serial, revoked_at, ca_cert.subject.rfc4514_string())
