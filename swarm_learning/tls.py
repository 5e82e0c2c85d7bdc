"""X.509 identities and mutual TLS for every listening port and every client.

A component is started with a certificate, its key and the trust anchors of the swarm (a CA path folder, like the
product's ``--capath``, or a CA bundle file, ``--cacert``). Servers *require* a client certificate and verify it
against those anchors; clients verify the server the same way. The identity of a peer is read from its certificate:
the subject common name, else (SPIRE's SVIDs carry no CN) its ``spiffe://`` URI SAN. Its role is read by
``swarm_learning.roles``; revocation lists found beside the trust anchors are applied by ``swarm_learning.https``
(servers, on every request) and, when every trusted CA has one, by client contexts too.

A component's own certificate is checked when it starts: an expired (or not yet valid) one stops the start with a
message, and one that expires within ``EXPIRY_WARNING`` is warned about with its date.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from swarm_learning.errors import IdentityError
from swarm_learning.revocation import CERT_MARKER, RevocationList

log = logging.getLogger(__name__)

EXPIRY_WARNING = dt.timedelta(days=30)


def _readable_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise IdentityError(
            f"{what} {path} does not exist: create it (e.g. `swarm-learning gen-cert`) or fix the option"
        )
    if not path.is_file():
        raise IdentityError(f"{what} {path} is not a file")
    try:
        path.read_bytes()
    except OSError as exc:
        raise IdentityError(f"{what} {path} cannot be read: {exc.strerror}") from exc
    return path


def identity_of(cert: x509.Certificate) -> str:
    """The identity a certificate names: its subject CN, else its first spiffe:// URI SAN (a SPIRE SVID)."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if cns:
        value = cns[0].value
        return value if isinstance(value, str) else value.decode()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
            if uri.startswith("spiffe://"):
                return uri
    except x509.ExtensionNotFound:
        pass
    raise IdentityError("certificate names no identity: it has neither a subject CN nor a spiffe:// URI SAN")


def check_validity(cert: x509.Certificate, cert_file: Path, now: dt.datetime | None = None) -> None:
    """Refuse an expired or not yet valid own certificate; warn when it expires within ``EXPIRY_WARNING``."""
    now = now or dt.datetime.now(dt.UTC)
    name = identity_of(cert)
    ends, starts = cert.not_valid_after_utc, cert.not_valid_before_utc
    if ends <= now:
        raise IdentityError(
            f"certificate {cert_file} of {name!r} expired on {ends:%Y-%m-%d %H:%M} UTC: every peer would refuse it, "
            f"so this component does not start. Issue a new one with the swarm's CA (e.g. `swarm-gen-cert -n {name}`)"
        )
    if starts > now + dt.timedelta(minutes=5):
        raise IdentityError(
            f"certificate {cert_file} of {name!r} is not valid before {starts:%Y-%m-%d %H:%M} UTC: check this "
            "host's clock (NTP) or issue a new certificate"
        )
    if ends - now <= EXPIRY_WARNING:
        log.warning(
            "certificate %s of %r expires on %s UTC (in %d days): issue a new one before then "
            "(e.g. `swarm-gen-cert -n %s`), or this component will be refused by its peers",
            cert_file,
            name,
            f"{ends:%Y-%m-%d %H:%M}",
            (ends - now).days,
            name,
        )


class _HandshakeLoggingSSLObject(ssl.SSLObject):
    """Server side: says why a client's certificate was refused in the handshake (asyncio only logs it at DEBUG)."""

    def do_handshake(self) -> None:
        try:
            super().do_handshake()
        except ssl.SSLCertVerificationError as exc:
            log.warning("refused a client's certificate in the TLS handshake: %s", exc.verify_message)
            raise


def identity_from_der(der: bytes) -> str:
    return identity_of(x509.load_der_x509_certificate(der))


@dataclass(frozen=True)
class TLSIdentity:
    """A component's own certificate, key and trust anchors, checked at construction."""

    cert_file: Path
    key_file: Path
    ca_path: Path | None = None
    ca_file: Path | None = None
    crl_file: Path | None = None  # a CRL besides those found in the CA path / CA bundle

    @classmethod
    def from_options(
        cls,
        cert: str | Path | None,
        key: str | Path | None,
        capath: str | Path | None = None,
        cacert: str | Path | None = None,
        crl: str | Path | None = None,
    ) -> TLSIdentity:
        """Validate the files named by ``--cert``/``--key``/``--capath``/``--cacert`` (or ``SWARM_ID_*``).

        Also checks the certificate's validity period (see the module doc) and an optional extra CRL file.
        """
        if not cert or not key:
            raise IdentityError(
                "no identity: give --cert and --key (or SWARM_ID_CERT / SWARM_ID_KEY); "
                "every component needs an X.509 certificate to start"
            )
        if not capath and not cacert:
            raise IdentityError(
                "no trust anchors: give --capath DIR or --cacert FILE (or SWARM_ID_CAPATH / SWARM_ID_CACERT)"
            )
        cert_file = _readable_file(Path(cert), "certificate file")
        key_file = _readable_file(Path(key), "private key file")
        ca_path = Path(capath) if capath else None
        if ca_path is not None:
            if not ca_path.is_dir():
                raise IdentityError(f"CA path {ca_path} is not a folder of CA certificates")
            if not any(p.is_file() for p in ca_path.iterdir()):
                raise IdentityError(f"CA path {ca_path} holds no CA certificate")
        ca_file = _readable_file(Path(cacert), "CA bundle file") if cacert else None
        crl_file = _readable_file(Path(crl), "CRL file") if crl else None
        ident = cls(cert_file, key_file, ca_path, ca_file, crl_file)
        _ = ident.name  # parse now: a broken certificate must stop the start, not the first connection
        ident._load_into(ssl.create_default_context(ssl.Purpose.CLIENT_AUTH))
        check_validity(ident.certificate, cert_file)
        return ident

    @property
    def certificate(self) -> x509.Certificate:
        try:
            return x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        except ValueError as exc:
            raise IdentityError(f"certificate file {self.cert_file} is not a PEM certificate: {exc}") from exc

    @property
    def name(self) -> str:
        """This component's own identity (from its certificate)."""
        return identity_of(self.certificate)

    def _load_into(self, ctx: ssl.SSLContext) -> ssl.SSLContext:
        try:
            ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        except ssl.SSLError as exc:
            raise IdentityError(
                f"certificate {self.cert_file} and key {self.key_file} cannot be used together: {exc.reason}"
            ) from exc
        for pem in self._ca_pems():
            try:
                ctx.load_verify_locations(cadata=pem.read_text())
            except (ssl.SSLError, ValueError) as exc:
                raise IdentityError(f"CA certificate {pem} cannot be loaded: {exc}") from exc
        return ctx

    def _ca_pems(self) -> list[Path]:
        pems: list[Path] = []
        if self.ca_path is not None:
            candidates = sorted(
                p for p in self.ca_path.iterdir() if p.is_file() and p.suffix in {".pem", ".crt", ".cer"}
            )
            pems += [p for p in candidates if CERT_MARKER in p.read_bytes()]  # CRLs live there too
        if self.ca_file is not None:
            pems.append(self.ca_file)
        if not pems:
            raise IdentityError(f"CA path {self.ca_path} holds no *.pem / *.crt certificate file")
        return pems

    def revocation_sources(self) -> list[Path]:
        """Where this component looks for CRLs: its CA path folder, its CA bundle and its extra CRL file."""
        return [p for p in (self.ca_path, self.ca_file, self.crl_file) if p is not None]

    def revocation_list(self) -> RevocationList:
        return RevocationList(self.revocation_sources())

    def server_context(self) -> ssl.SSLContext:
        """TLS server context that requires and verifies a client certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.sslobject_class = _HandshakeLoggingSSLObject
        return self._load_into(ctx)

    def client_context(self) -> ssl.SSLContext:
        """TLS client context presenting this identity and verifying the server against the swarm's CA.

        Host names are not checked: peers are trusted by CA chain (sites reach each other by IP, NAT or proxy
        names that certificates rarely list), and the server's identity is read from its certificate instead.
        A revoked server is refused when every trusted CA has a CRL (as read when the context is made).
        """
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        self._load_into(ctx)
        crl_files = self.revocation_list().crl_files_for_every_anchor()
        for crl_file in crl_files or []:
            ctx.load_verify_locations(cafile=str(crl_file))
        if crl_files:
            ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
        return ctx
