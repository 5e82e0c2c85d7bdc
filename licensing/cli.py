"""``swarm-license`` (also ``python -m licensing.cli``): issuer keys, licenses, and the license server.

::

    swarm-license keygen  --out DIR [--name issuer]                      issuer key pair (issuer)
    swarm-license issue   --key KEY --licensee NAME --seats sl=4 sn=2 [--days 365] [--id ID] [--out FILE]
    swarm-license show    FILE [--trusted-issuer PUB ...]                 what a license grants, and whether valid
    swarm-license install FILE --data-dir DIR --trusted-issuer PUB         (operator) into a server's data dir
    swarm-license install FILE --server https://HOST:5814 --capath DIR     (operator) through a running server
    swarm-license serve   --data-dir DIR --trusted-issuer PUB --cert/--key/--capath [--port 5814] ...
    swarm-license community --data-dir DIR                                 a local community license (demos)
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import httpx

from licensing.auth import DEFAULT_ADMIN_USER, PASSWORD_ENV, AdminLogin
from licensing.client import refusal_from_response
from licensing.community import community_license
from licensing.config import DEFAULT_PORT, LicenseServerConfig
from licensing.document import KINDS, Kind, SignedLicense, issue_license, utcnow, verify_license
from licensing.errors import LicenseRejected, LicensingError
from licensing.keys import TrustedIssuers, generate_issuer_key, load_private_key
from licensing.server import run_license_server
from licensing.store import DEFAULT_LEASE_TTL, LicenseStore
from swarm_learning.errors import ConfigurationError, SwarmLearningError
from swarm_learning.identity_options import identity_options, load_identity
from swarm_learning.logs import configure

log = logging.getLogger("swarm.license")
T = TypeVar("T")

_path = click.Path(path_type=Path)
_existing_file = click.Path(path_type=Path, exists=True, dir_okay=False)


def parse_seats(values: tuple[str, ...]) -> dict[Kind, int]:
    """``("sl=4", "sn=2,swci=1")`` -> ``{"sl": 4, "sn": 2, "swci": 1}``."""
    seats: dict[Kind, int] = {}
    for item in (part for value in values for part in value.replace(",", " ").split()):
        kind, sep, count = item.partition("=")
        if not sep or kind not in KINDS or not count.isdigit() or int(count) < 1:
            raise ConfigurationError(f"seats {item!r}: write KIND=N with KIND one of {', '.join(KINDS)} and N >= 1")
        seats[kind] = int(count)  # type: ignore[index]
    if not seats:
        raise ConfigurationError(f"no seats: give --seats KIND=N (KIND one of {', '.join(KINDS)})")
    return seats


@click.group(context_settings={"show_default": True})
def main() -> None:
    """Licenses and the license server of Swarm Learning."""


@main.command()
@click.option("--out", type=_path, default=Path("."), help="Folder for <name>-key.pem and <name>-pub.pem.")
@click.option("--name", default="issuer", help="File name prefix.")
def keygen(out: Path, name: str) -> None:
    """Create an issuer key pair (Ed25519). Keep the -key.pem secret; give the -pub.pem to license servers."""
    files = _run(lambda: generate_issuer_key(out, name))
    click.echo(f"private key (keep secret, signs licenses): {files.private_key}")
    click.echo(f"public key (serve --trusted-issuer):       {files.public_key}")
    click.echo(f"key id: {files.key_id}")


@main.command()
@click.option("--key", "key_file", type=_existing_file, required=True, help="The issuer's private key (keygen).")
@click.option("--licensee", required=True, help="Who the license is for.")
@click.option(
    "--seats", "seats", multiple=True, help="KIND=N (repeatable or comma separated); KIND: sn, sl, swop, swci."
)
@click.option("--days", type=float, default=365.0, help="Validity in days from now.")
@click.option("--id", "license_id", default=None, help="License id (default: a random lic-...).")
@click.option("--out", type=_path, default=None, help="Write the license here (default: print it).")
@click.argument("more_seats", nargs=-1, metavar="[KIND=N]...")
def issue(
    key_file: Path,
    licensee: str,
    seats: tuple[str, ...],
    days: float,
    license_id: str | None,
    out: Path | None,
    more_seats: tuple[str, ...],
) -> None:
    """Sign a license granting floating seats per component kind."""

    def sign() -> SignedLicense:
        if days <= 0:
            raise ConfigurationError("--days must be positive")
        return issue_license(
            load_private_key(key_file),
            licensee=licensee,
            seats=parse_seats(seats + more_seats),
            days=days,
            license_id=license_id,
        )

    signed = _run(sign)
    if out is None:
        click.echo(signed.to_text(), nl=False)
        return
    out.write_text(signed.to_text())
    body = signed.body
    click.echo(
        f"license {body.id} for {body.licensee}: seats {_seats(body.seats)} until {body.not_after:%Y-%m-%d %H:%M} UTC -> {out}"
    )


@main.command()
@click.argument("license_file", type=_existing_file)
@click.option(
    "--trusted-issuer",
    "issuers",
    type=_existing_file,
    multiple=True,
    help="Check the signature with this issuer public key.",
)
def show(license_file: Path, issuers: tuple[Path, ...]) -> None:
    """Print a license's content and whether it is valid now (exit code 1 if not)."""
    signed = _run(lambda: SignedLicense.from_text(license_file.read_bytes()))
    body = signed.body
    click.echo(f"id:        {body.id}")
    click.echo(f"licensee:  {body.licensee}")
    click.echo(f"product:   {body.product}")
    click.echo(f"seats:     {_seats(body.seats)}")
    click.echo(f"valid:     {body.not_before:%Y-%m-%d %H:%M:%S} .. {body.not_after:%Y-%m-%d %H:%M:%S} UTC")
    click.echo(f"issuer:    {body.issuer}")
    if issuers:
        try:
            verify_license(signed, _run(lambda: TrustedIssuers.from_files(issuers)))
        except LicenseRejected as exc:
            click.echo(f"status:    REJECTED: {exc.reason}")
            sys.exit(1)
        click.echo("status:    valid (signature checked)")
        return
    now = utcnow()
    if not body.not_before <= now < body.not_after:
        click.echo("status:    NOT VALID NOW (outside its validity window); signature not checked")
        sys.exit(1)
    click.echo("status:    inside its validity window; signature not checked (give --trusted-issuer)")


@main.command()
@click.argument("license_file", type=_existing_file)
@click.option("--data-dir", type=_path, default=None, help="Install into this license server data dir.")
@click.option(
    "--trusted-issuer",
    "issuers",
    type=_existing_file,
    multiple=True,
    help="With --data-dir: issuer public key(s) to check the license against.",
)
@click.option("--server", default=None, help="Install through this running server, e.g. https://HOST:5814.")
@click.option(
    "--capath",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    envvar="SWARM_ID_CAPATH",
    help="With --server: CA folder to verify the server with.",
)
@click.option(
    "--cacert",
    type=_existing_file,
    default=None,
    envvar="SWARM_ID_CACERT",
    help="With --server: CA bundle to verify the server with.",
)
@click.option("--admin-user", default=DEFAULT_ADMIN_USER, help="With --server: console login.")
@click.option(
    "--admin-password-file",
    type=_existing_file,
    default=None,
    help=f"With --server: file holding the console password (else env {PASSWORD_ENV}, else the default).",
)
def install(
    license_file: Path,
    data_dir: Path | None,
    issuers: tuple[Path, ...],
    server: str | None,
    capath: Path | None,
    cacert: Path | None,
    admin_user: str,
    admin_password_file: Path | None,
) -> None:
    """Install a license: into a data dir (the server may be running) or through a running server."""
    if (data_dir is None) == (server is None):
        _fail(ConfigurationError("give either --data-dir DIR or --server URL"))
    document = license_file.read_bytes()
    if data_dir is not None:
        if not issuers:
            _fail(ConfigurationError("--data-dir needs --trusted-issuer PUB (the key the server trusts)"))

        def into_store() -> str:
            store = LicenseStore(data_dir, TrustedIssuers.from_files(issuers))
            try:
                return _describe(store.install(document).signed)
            finally:
                store.close()

        click.echo(f"installed {_run(into_store)} into {data_dir}")
        return
    assert server is not None
    login = _run(lambda: AdminLogin.from_options(admin_user, admin_password_file, os.environ.get(PASSWORD_ENV)))
    click.echo(f"installed {_run(lambda: _post_license(server, document, login, capath, cacert))} through {server}")


def _post_license(server: str, document: bytes, login: AdminLogin, capath: Path | None, cacert: Path | None) -> str:
    if capath is None and cacert is None:
        raise ConfigurationError("--server needs --capath DIR or --cacert FILE to verify the server's certificate")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # peers are trusted by CA chain, as everywhere in the swarm
    pems = [cacert] if cacert else []
    if capath is not None:
        pems += sorted(p for p in capath.iterdir() if p.is_file() and p.suffix in {".pem", ".crt", ".cer"})
    try:
        for pem in pems:
            context.load_verify_locations(cafile=str(pem))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigurationError(f"cannot load the CA certificates {', '.join(map(str, pems))}: {exc}") from exc
    if not pems:
        raise ConfigurationError(f"{capath} holds no CA certificate (*.pem, *.crt)")
    try:
        response = httpx.post(
            f"{server.rstrip('/')}/api/licenses",
            content=document,
            auth=(login.user, login.password),
            headers={"Content-Type": "application/json"},
            verify=context,
            timeout=httpx.Timeout(10.0, connect=5.0),
        )
    except httpx.TransportError as exc:
        raise LicensingError(f"cannot reach the license server {server}: {exc}") from exc
    if response.status_code == 401:
        raise LicensingError(f"{server} refused the admin login of {login.user}: give --admin-password-file")
    if not response.is_success:
        raise refusal_from_response(response)
    data = response.json()
    return f"license {data['id']} for {data['licensee']} (seats {_seats(data['seats'])})"


@main.command()
@click.option(
    "--data-dir",
    type=_path,
    default=Path("apls-data"),
    envvar="SWARM_LICENSE_DATA_DIR",
    help="Installed licenses and leases (kept across restarts).",
)
@click.option(
    "--port", type=int, default=DEFAULT_PORT, envvar="SWARM_LICENSE_PORT", help="HTTPS port (0: any free port)."
)
@click.option("--bind", default="0.0.0.0", help="Address to listen on.")
@click.option(
    "--trusted-issuer",
    "issuers",
    type=_existing_file,
    multiple=True,
    help="Issuer public key whose licenses are accepted (repeatable; at least one).",
)
@click.option(
    "--license", "licenses", type=_existing_file, multiple=True, help="Install this license file at start (repeatable)."
)
@click.option(
    "--lease-ttl",
    type=float,
    default=DEFAULT_LEASE_TTL,
    envvar="SWARM_LICENSE_LEASE_TTL",
    help="Seconds a lease lives without renewal.",
)
@click.option("--admin-user", default=DEFAULT_ADMIN_USER, help="Web console login name.")
@click.option(
    "--admin-password-file",
    type=_existing_file,
    default=None,
    help=f"Web console password file (else env {PASSWORD_ENV}, else 'password').",
)
@click.option("--port-file", type=_path, default=None, help="Write the bound port here once listening.")
@identity_options
def serve(**o: Any) -> None:
    """Run the license server (HTTPS; lease API for components, web console at / for the admin) until SIGTERM."""
    configure()

    def config() -> LicenseServerConfig:
        if not o["issuers"]:
            raise ConfigurationError(
                "no trusted issuer: give --trusted-issuer PUB (an issuer's public key from `swarm-license keygen`)"
            )
        return LicenseServerConfig(
            identity=load_identity(o["cert"], o["key"], o["capath"], o["cacert"]),
            data_dir=o["data_dir"],
            trusted_issuers=o["issuers"],
            port=o["port"],
            bind=o["bind"],
            lease_ttl=o["lease_ttl"],
            admin=AdminLogin.from_options(o["admin_user"], o["admin_password_file"], os.environ.get(PASSWORD_ENV)),
            licenses=o["licenses"],
            port_file=o["port_file"],
        )

    try:
        run_license_server(config())
    except SwarmLearningError as exc:
        log.error("%s", exc)
        sys.exit(2)


@main.command()
@click.option("--data-dir", type=_path, required=True, help="Folder for the community issuer key and license.")
def community(data_dir: Path) -> None:
    """Make (or reuse) a community license for local demos and print how to serve it."""
    public_key, license_file = _run(lambda: community_license(data_dir))
    click.echo(json.dumps({"trusted_issuer": str(public_key), "license": str(license_file)}))


def _seats(seats: Mapping[Any, int]) -> str:
    return " ".join(f"{k}={n}" for k, n in seats.items())


def _describe(signed: SignedLicense) -> str:
    return f"license {signed.id} for {signed.body.licensee} (seats {_seats(signed.body.seats)})"


def _run(action: Callable[[], T]) -> T:
    try:
        return action()
    except SwarmLearningError as exc:
        _fail(exc)


def _fail(exc: SwarmLearningError) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(2)


if __name__ == "__main__":
    main()
