"""Create a CA and a key + certificate per component, laid out like the product's ``gen-cert``.

Layout under the output folder (``<name>`` = ``sn-1``, ``sl-2``, ...)::

    ca/ca-<i>-key.pem            the CA's private key (keep it on the host that issues certificates)
    ca/capath/ca-<i>-cert.pem    the CA certificate: give this folder to every component as --capath
    <name>-cert.pem              the component's certificate (subject CN=<name>, OU=Swarm-Learning)
    <name>-key.pem               its private key (mode 0600)

An existing CA in the folder is reused, so the command can be run again to add components. With
``--spiffe-domain D`` each certificate also carries the URI SAN ``spiffe://D/<role>/<name>``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_COMPONENTS = ("sn", "sl", "swci", "swop", "license")


@dataclass(frozen=True)
class CertPaths:
    cert: Path
    key: Path
    capath: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    os.chmod(path, 0o600)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Swarm-Learning"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def ensure_ca(out: Path, host_index: int = 1, days: int = 3650) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Load the CA of ``out`` or create it."""
    key_file = out / "ca" / f"ca-{host_index}-key.pem"
    cert_file = out / "ca" / "capath" / f"ca-{host_index}-cert.pem"
    if key_file.exists() and cert_file.exists():
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(cert_file.read_bytes()), key
    cert_file.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = _name(f"CA-{host_index}")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_file, key)
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def issue(
    out: Path,
    name: str,
    *,
    host_index: int = 1,
    days: int = 825,
    spiffe_domain: str | None = None,
    hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
    not_before: dt.datetime | None = None,
) -> CertPaths:
    """Issue ``<name>-cert.pem`` / ``<name>-key.pem`` signed by the CA of ``out`` (created if missing)."""
    ca_cert, ca_key = ensure_ca(out, host_index)
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    sans: list[x509.GeneralName] = [x509.DNSName(name)]
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    if spiffe_domain:
        role = name.split("-")[0]
        sans.append(x509.UniformResourceIdentifier(f"spiffe://{spiffe_domain}/{role}/{name}"))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = CertPaths(out / f"{name}-cert.pem", out / f"{name}-key.pem", out / "ca" / "capath")
    _write_key(paths.key, key)
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return paths


def generate(
    out: Path, names: list[str], host_index: int = 1, spiffe_domain: str | None = None
) -> dict[str, CertPaths]:
    return {n: issue(out, n, host_index=host_index, spiffe_domain=spiffe_domain) for n in names}


@click.command("gen-cert")
@click.option("-e", "--example", default=None, help="Example name: output goes to workspace/<EXAMPLE>/cert/.")
@click.option("-i", "--host-index", default=1, show_default=True, type=int, help="Host index i in ca-<i>, sn-<i>, ...")
@click.option("-o", "--out", "out", default=None, type=click.Path(path_type=Path), help="Output folder.")
@click.option(
    "-n",
    "--name",
    "names",
    multiple=True,
    help="Component certificate to issue (repeatable), e.g. sl-2. Default: sn, sl, swci, swop, license with -<i>.",
)
@click.option("--spiffe-domain", default=None, help="Also add the URI SAN spiffe://DOMAIN/<role>/<name>.")
def main(
    example: str | None, host_index: int, out: Path | None, names: tuple[str, ...], spiffe_domain: str | None
) -> None:
    """Create a CA (or reuse it) and a key + certificate for each component."""
    folder = out or (Path("workspace") / example / "cert" if example else Path("cert"))
    wanted = list(names) or [f"{c}-{host_index}" for c in DEFAULT_COMPONENTS]
    issued = generate(folder, wanted, host_index, spiffe_domain)
    click.echo(f"CA path (give to every component as --capath): {folder / 'ca' / 'capath'}")
    for name, paths in issued.items():
        click.echo(f"{name}: --cert {paths.cert} --key {paths.key}")


if __name__ == "__main__":
    main()
