"""Create a CA and a key + certificate per component, laid out like the product's ``gen-cert``.

Layout under the output folder (``<name>`` = ``sn-1``, ``sl-2``, ...)::

    ca/ca-<i>-key.pem            the CA's private key (keep it on the host that issues certificates)
    ca/capath/ca-<i>-cert.pem    the CA certificate: give this folder to every component as --capath
    ca/capath/ca-<i>-crl.pem     the CA's revocation list, written by ``--revoke`` (copy it with the CA certificate)
    <name>-cert.pem              the component's certificate (subject CN=<name>, OU=Swarm-Learning)
    <name>-key.pem               its private key (mode 0600)

An existing CA in the folder is reused, so the command can be run again to add components. Every certificate is
bound to its role (``swarm_learning.roles``): it carries the URI SAN ``spiffe://<domain>/<role>/<name>`` (domain
``swarm.local`` unless ``--spiffe-domain`` says otherwise). The role is the name's prefix (``sl-2`` is an SL), or
``--role`` for other names (which then also adds ``OU=<role>`` to the subject).

``--revoke NAME`` puts the serial of ``<NAME>-cert.pem`` on the CA's CRL: servers refuse it from its next request
(``swarm_learning.revocation``). With ``-n NAME`` too, a new certificate is issued for the same name.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

import click
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from swarm_learning.errors import ConfigurationError, SwarmLearningError
from swarm_learning.revocation import Revoked, crl_file_name, revoke_serial
from swarm_learning.roles import DEFAULT_TRUST_DOMAIN, Role, parse_role

DEFAULT_COMPONENTS = tuple(r.value for r in Role)


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


def _name(cn: str, role: Role | None = None) -> x509.Name:
    units = [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Swarm-Learning")]
    if role is not None:
        units.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role.value))
    return x509.Name([*units, x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _role_for(name: str, role: str | None) -> Role:
    found = parse_role(role or name.split("-", 1)[0])
    if found is None:
        raise ConfigurationError(
            f"cannot tell the role of {name!r}"
            + (f" from --role {role!r}" if role else "")
            + f": name it <role>-<i> (e.g. sl-2) or give --role; roles: {', '.join(r.value for r in Role)}"
        )
    return found


def _ca_files(out: Path, host_index: int) -> tuple[Path, Path]:
    return out / "ca" / f"ca-{host_index}-key.pem", out / "ca" / "capath" / f"ca-{host_index}-cert.pem"


def load_ca(out: Path, host_index: int = 1) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The existing CA of ``out`` (raises ConfigurationError when there is none)."""
    key_file, cert_file = _ca_files(out, host_index)
    if not (key_file.exists() and cert_file.exists()):
        raise ConfigurationError(
            f"no CA {host_index} in {out / 'ca'}: give the folder (-o) and host index (-i) of the CA"
        )
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError(f"{key_file} is not an EC private key")
    return x509.load_pem_x509_certificate(cert_file.read_bytes()), key


def ensure_ca(out: Path, host_index: int = 1, days: int = 3650) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Load the CA of ``out`` or create it."""
    key_file, cert_file = _ca_files(out, host_index)
    if key_file.exists() and cert_file.exists():
        return load_ca(out, host_index)
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
    spiffe_domain: str | None = DEFAULT_TRUST_DOMAIN,
    hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
    not_before: dt.datetime | None = None,
    role: str | None = None,
) -> CertPaths:
    """Issue ``<name>-cert.pem`` / ``<name>-key.pem`` signed by the CA of ``out`` (created if missing).

    The certificate is bound to ``role`` (default: the name's prefix) by its SPIFFE ID; ``spiffe_domain=None``
    leaves the SPIFFE ID out (the role is then read from the CN's prefix, or the OU an explicit ``role`` adds).
    """
    bound = _role_for(name, role) if spiffe_domain or role else None
    ca_cert, ca_key = ensure_ca(out, host_index)
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    sans: list[x509.GeneralName] = [x509.DNSName(name)]
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    if spiffe_domain and bound is not None:
        sans.append(x509.UniformResourceIdentifier(f"spiffe://{spiffe_domain}/{bound.value}/{name}"))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name, bound if role else None))
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
    out: Path,
    names: list[str],
    host_index: int = 1,
    spiffe_domain: str | None = DEFAULT_TRUST_DOMAIN,
    role: str | None = None,
    hosts: tuple[str, ...] = (),
) -> dict[str, CertPaths]:
    """Issue each of ``names``; ``hosts`` (addresses or DNS names the components are reached at) are added to the
    default ``localhost``/``127.0.0.1`` SANs: an SN's etcd member checks that a peer's certificate names the
    address that peer advertises (its ``--host-ip``)."""
    for n in names:  # every name's role first: nothing is written when one is wrong
        _role_for(n, role)
    all_hosts = ("localhost", "127.0.0.1", *(h for h in hosts if h not in ("localhost", "127.0.0.1")))
    return {
        n: issue(out, n, host_index=host_index, spiffe_domain=spiffe_domain, role=role, hosts=all_hosts)
        for n in names
    }


def revoke(out: Path, name: str, host_index: int = 1) -> tuple[Revoked, Path]:
    """Put the certificate ``<out>/<name>-cert.pem`` (or the file ``name``) on the CRL of CA ``host_index``.

    Returns the revocation and the CRL file (``<out>/ca/capath/ca-<i>-crl.pem``).
    """
    given = Path(name)
    cert_file = given if given.suffix == ".pem" and given.is_file() else out / f"{name}-cert.pem"
    if not cert_file.is_file():
        raise ConfigurationError(f"no certificate {cert_file}: give the name it was issued with (-n) or its file")
    ca_cert, ca_key = load_ca(out, host_index)
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise ConfigurationError(
            f"{cert_file} was not issued by CA-{host_index} of {out / 'ca'}: revoke it with the CA that issued it "
            f"({cert.issuer.rfc4514_string()}; -o/-i)"
        ) from exc
    crl_path = out / "ca" / "capath" / crl_file_name(host_index)
    return revoke_serial(crl_path, ca_cert, ca_key, cert.serial_number), crl_path


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
@click.option(
    "--role",
    default=None,
    type=click.Choice([r.value for r in Role]),
    help="Role of the -n certificates when their names do not start with '<role>-'.",
)
@click.option(
    "--spiffe-domain",
    default=DEFAULT_TRUST_DOMAIN,
    show_default=True,
    help="Trust domain of the URI SAN spiffe://DOMAIN/<role>/<name> that binds each certificate to its role.",
)
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="ADDRESS",
    help="Address or DNS name the component is reached at (repeatable): an SN needs its --host-ip here.",
)
@click.option(
    "--revoke",
    "revoked",
    multiple=True,
    metavar="NAME",
    help="Revoke the certificate NAME-cert.pem (or a certificate file) of this CA: adds its serial to the CA's CRL.",
)
def main(
    example: str | None,
    host_index: int,
    out: Path | None,
    names: tuple[str, ...],
    role: str | None,
    spiffe_domain: str,
    hosts: tuple[str, ...],
    revoked: tuple[str, ...],
) -> None:
    """Create a CA (or reuse it) and a key + certificate for each component; or revoke certificates."""
    folder = out or (Path("workspace") / example / "cert" if example else Path("cert"))
    try:
        for name in revoked:
            done, crl_path = revoke(folder, name, host_index)
            click.echo(
                f"revoked {name}: serial {done.serial:X}, on {done.revoked_at:%Y-%m-%d %H:%M:%S} UTC, in {crl_path}"
            )
        if revoked:
            click.echo(
                "Copy the CRL to every host's CA path (next to the CA certificate): servers refuse a revoked "
                "certificate from its next request on, without a restart."
            )
            if not names:
                return
        wanted = list(names) or [f"{c}-{host_index}" for c in DEFAULT_COMPONENTS]
        issued = generate(folder, wanted, host_index, spiffe_domain or None, role, hosts)
    except SwarmLearningError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"CA path (give to every component as --capath): {folder / 'ca' / 'capath'}")
    for name, paths in issued.items():
        click.echo(f"{name}: --cert {paths.cert} --key {paths.key}")


if __name__ == "__main__":
    main()
