"""X.509 identities and mutual TLS for every listening port and every client.

A component is started with a certificate, its key and the trust anchors of the swarm (a CA path folder, like the
product's ``--capath``, or a CA bundle file, ``--cacert``). Servers *require* a client certificate and verify it
against those anchors; clients verify the server the same way. The identity of a peer is read from its certificate:
the first ``spiffe://`` URI SAN if present (so SPIRE's SVIDs work), else the subject common name.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from swarm_learning.errors import IdentityError


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
    """The identity a certificate names: its first spiffe:// URI SAN, else its subject CN."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
            if uri.startswith("spiffe://"):
                return uri
    except x509.ExtensionNotFound:
        pass
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if cns:
        value = cns[0].value
        return value if isinstance(value, str) else value.decode()
    raise IdentityError("certificate names no identity: it has neither a spiffe:// URI SAN nor a subject CN")


def identity_from_der(der: bytes) -> str:
    return identity_of(x509.load_der_x509_certificate(der))


@dataclass(frozen=True)
class TLSIdentity:
    """A component's own certificate, key and trust anchors, checked at construction."""

    cert_file: Path
    key_file: Path
    ca_path: Path | None = None
    ca_file: Path | None = None

    @classmethod
    def from_options(
        cls,
        cert: str | Path | None,
        key: str | Path | None,
        capath: str | Path | None = None,
        cacert: str | Path | None = None,
    ) -> TLSIdentity:
        """Validate the files named by ``--cert``/``--key``/``--capath``/``--cacert`` (or ``SWARM_ID_*``)."""
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
        ident = cls(cert_file, key_file, ca_path, ca_file)
        _ = ident.name  # parse now: a broken certificate must stop the start, not the first connection
        ident._load_into(ssl.create_default_context(ssl.Purpose.CLIENT_AUTH))
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
            pems += sorted(p for p in self.ca_path.iterdir() if p.is_file() and p.suffix in {".pem", ".crt", ".cer"})
        if self.ca_file is not None:
            pems.append(self.ca_file)
        if not pems:
            raise IdentityError(f"CA path {self.ca_path} holds no *.pem / *.crt file")
        return pems

    def server_context(self) -> ssl.SSLContext:
        """TLS server context that requires and verifies a client certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.verify_mode = ssl.CERT_REQUIRED
        return self._load_into(ctx)

    def client_context(self) -> ssl.SSLContext:
        """TLS client context presenting this identity and verifying the server against the swarm's CA.

        Host names are not checked: peers are trusted by CA chain (sites reach each other by IP, NAT or proxy
        names that certificates rarely list), and the server's identity is read from its certificate instead.
        """
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        return self._load_into(ctx)
