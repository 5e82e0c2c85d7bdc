"""Entry point of every Swarm Learning image: check the site's settings, then run the component.

A container that cannot work (no host address, an unreadable certificate folder, ...) stops here at once with exit
code 78 and one line per problem that names the setting to fix, instead of failing minutes later with a timeout.
Each message names the environment variable, the ``.env`` setting of ``docker-compose.yml`` and the ``run-*``
option that feed it.

The component comes from ``SWARM_COMPONENT`` (set by each image: ``sn``, ``sl``, ``swop``, ``swci``, ``license``,
``ml``; unset in the plain runtime image, which checks nothing). The command is the container's arguments; when they are empty or start with an option (``docker run IMAGE
--sentinel``), the image's ``SWARM_COMMAND`` is put in front of them. ``SWARM_SKIP_PREFLIGHT=1`` skips the checks.

Standard library only: it runs before anything else and is tested outside the images.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

EX_CONFIG = 78  # sysexits.h: configuration error
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Setting:
    """One setting as the three front ends call it."""

    env: str
    dotenv: str | None = None
    option: str | None = None
    meaning: str = ""

    def where(self) -> str:
        places = [p for p in (f".env {self.dotenv}" if self.dotenv else None, self.option) if p]
        return f" ({'; '.join(places)})" if places else ""


HOST_IP = Setting("THIS_NODE_IP", "HOST_IP", "--host-ip", "the address other sites use to reach this host")
SENTINEL = Setting("SENTINEL_NODE_IP", "SENTINEL_HOST", "--sentinel-ip", "the address of a running SN to join")
SN_HOST = Setting("SN_NODE_IP", "SN_HOST", "--sn-ip", "the SN this component registers with")
CERT_DIR = Setting("SWARM_CERT_DIR", "CERT_DIR", None, "the folder of this site's certificates")
ID_CERT = Setting("SWARM_ID_CERT", "CERT_DIR", "--cert", "this component's certificate")
ID_KEY = Setting("SWARM_ID_KEY", "CERT_DIR", "--key", "its private key")
ID_CAPATH = Setting("SWARM_ID_CAPATH", "CERT_DIR", "--capath", "the folder of trusted CA certificates")
ID_CACERT = Setting("SWARM_ID_CACERT", "CERT_DIR", "--cacert", "the bundle of trusted CA certificates")
SN_DATA = Setting("SN_DATA_DIR", "DATA_DIR", "-v <dir>:/platform/swarm/SMLNODE", "the SN's chain data folder")
SL_SOCKET = Setting("SWARM_SL_SOCKET", None, None, "the local channel between the SL and its ML program")
SWOP_PROFILE = Setting("SWOP_PROFILE", "SWOP_PROFILE", "--profile-file-name", "the SWOP profile in the user folder")
SWCI_SCRIPT = Setting("SWCI_STARTUP_SCRIPT", "SWCI_INIT_SCRIPT", "--init-script-name", "the SWCI init script")
USR_DIR = Setting("USR_DIR", "USR_DIR", "--usr-dir", "the user folder")
LICENSE_DATA = Setting("SWARM_LICENSE_DATA_DIR", "DATA_DIR", None, "the license server's data folder")
LICENSE_ISSUER = Setting(
    "SWARM_LICENSE_TRUSTED_ISSUER", "LICENSE_ISSUER", "--trusted-issuer", "the issuer public key to trust"
)
LICENSE_INSTALL = Setting("SWARM_LICENSE_INSTALL_DIR", "LICENSE_DIR", None, "licenses to install at start")
PORTS = (
    Setting("SN_API_SERVER_PORT", "SN_API_PORT", "--sn-api-port"),
    Setting("SN_ETH_PORT_EXT", "SN_P2P_PORT", "--sn-p2p-port"),
    Setting("SENTINEL_API_SERVER_PORT", "SENTINEL_API_PORT", "--sentinel-api-port"),
    Setting("SL_FS_PORT", "SL_FS_PORT_1 / SL_FS_PORT_2", "--sl-fs-port"),
    Setting("SWARM_LICENSE_PORT", "APLS_PORT", "--port"),
    Setting("SWARM_LICENSE_AUTOPASSJ_SERVER_PRIMARY_PORT", "APLS_PORT", "--apls-port"),
    Setting("SWCI_WEB_PORT", "SWCI_WEB_PORT", None),
)


class Preflight:
    """Collects the problems of one container's settings."""

    def __init__(self, environ: Mapping[str, str], args: Sequence[str]) -> None:
        self.env = environ
        self.args = list(args)
        self.problems: list[str] = []

    # -- helpers -------------------------------------------------------------------------------------------------
    def value(self, setting: Setting) -> str:
        """The setting's value: its command-line option wins over its environment variable."""
        if setting.option and setting.option.startswith("--"):
            for i, arg in enumerate(self.args):
                if arg == setting.option and i + 1 < len(self.args):
                    return self.args[i + 1]
                if arg.startswith(setting.option + "="):
                    return arg.split("=", 1)[1]
        return self.env.get(setting.env, "").strip()

    def flag(self, name: str, env: str) -> bool:
        return name in self.args or self.env.get(env, "").strip().lower() in _TRUE

    def problem(self, setting: Setting, what: str) -> None:
        meaning = f" — {setting.meaning}" if setting.meaning else ""
        self.problems.append(f"{setting.env} {what}{meaning}{setting.where()}")

    def require(self, setting: Setting, unless: bool = False) -> str:
        value = self.value(setting)
        if not value and not unless:
            self.problem(setting, "is not set")
        return value

    def missing(self, setting: Setting, path: str) -> bool:
        """Report a path that is absent or hidden behind a folder this user may not enter."""
        try:
            Path(path).stat()
        except PermissionError:
            self.problem(setting, f"names {path}, which user {_who()} cannot read")
            return True
        except OSError:
            self.problem(setting, f"names {path}, which does not exist in the container")
            return True
        return False

    def readable_file(self, setting: Setting, path: str) -> None:
        p = Path(path)
        if self.missing(setting, path):
            return
        if not p.is_file():
            self.problem(setting, f"names {path}, which is not a file")
        elif not os.access(p, os.R_OK):
            self.problem(setting, f"names {path}, which user {_who()} cannot read")

    def readable_dir(self, setting: Setting, path: str, need_files: bool = True) -> bool:
        p = Path(path)
        if self.missing(setting, path):
            return False
        if not p.is_dir():
            self.problem(setting, f"names {path}, which is not a folder")
            return False
        if not os.access(p, os.R_OK | os.X_OK):
            self.problem(setting, f"names {path}, which user {_who()} cannot read")
            return False
        if need_files and not any(child.is_file() for child in p.iterdir()):
            self.problem(setting, f"names {path}, which holds no file")
            return False
        return True

    def writable_dir(self, setting: Setting, path: str) -> None:
        p = Path(path)
        probe = p if p.exists() else p.parent
        if p.exists() and not p.is_dir():
            self.problem(setting, f"names {path}, which is not a folder")
        elif not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
            self.problem(setting, f"names {path}, which user {_who()} cannot write")

    def port(self, setting: Setting) -> None:
        raw = self.value(setting)
        if raw and not (raw.isdigit() and 0 < int(raw) < 65536):
            self.problem(setting, f"={raw!r} is not a port number (1-65535)")

    # -- checks ----------------------------------------------------------------------------------------------------
    def identity(self) -> None:
        if self.env.get("SWARM_SPIFFE_WORKLOAD_API_SOCKET_PATH"):
            return
        cert_dir = self.value(CERT_DIR)
        if cert_dir and not self.readable_dir(CERT_DIR, cert_dir):
            return  # every file below would repeat the same cause
        for setting in (ID_CERT, ID_KEY):
            path = self.require(setting)
            if path:
                self.readable_file(setting, path)
        capath, cacert = self.value(ID_CAPATH), self.value(ID_CACERT)
        if not capath and not cacert:
            self.problems.append(
                f"{ID_CAPATH.env} and {ID_CACERT.env} are both unset: give the trusted CA certificates"
                f"{ID_CAPATH.where()}"
            )
        if capath:
            self.readable_dir(ID_CAPATH, capath)
        if cacert:
            self.readable_file(ID_CACERT, cacert)

    def ports(self) -> None:
        for setting in PORTS:
            self.port(setting)

    def sn(self) -> None:
        services = bool(self.env.get("SN_API_SERVICE") and self.env.get("SN_ETH_P2P_SERVICE"))
        self.require(HOST_IP, unless=services)
        joins = self.value(SENTINEL) or self.env.get("SENTINEL_API_SERVICE")
        if not self.flag("--sentinel", "SN_I_AM_SENTINEL") and not joins:
            self.problem(
                SENTINEL,
                "is not set and this SN is not the sentinel (SN_I_AM_SENTINEL): "
                "a joining SN needs the address of a running SN",
            )
        data = self.value(SN_DATA)
        if data:
            self.writable_dir(SN_DATA, data)

    def sl(self) -> None:
        self.require(HOST_IP, unless=bool(self.env.get("SL_FS_SERVICE")))
        self.require(SN_HOST, unless=bool(self.env.get("SN_API_SERVICE")))
        self.channel()

    def channel(self) -> None:
        socket = self.value(SL_SOCKET)
        if socket:
            self.writable_dir(SL_SOCKET, str(Path(socket).parent))

    def ml(self) -> None:
        if self.env.get("SWARM_LOOPBACK", "").strip().lower() not in _TRUE:
            self.channel()

    def swop(self) -> None:
        self.require(SN_HOST, unless=bool(self.env.get("SN_API_SERVICE")))
        profile = self.require(SWOP_PROFILE)
        if profile:
            self.user_file(SWOP_PROFILE, profile)

    def swci(self) -> None:
        script = self.value(SWCI_SCRIPT)
        if script:
            self.user_file(SWCI_SCRIPT, script)

    def user_file(self, setting: Setting, name: str) -> None:
        usr = self.value(USR_DIR) or "/platform/swarm/usr"
        if self.readable_dir(USR_DIR, usr, need_files=False):
            self.readable_file(setting, str(Path(usr, name)))

    def license(self) -> None:
        data = self.value(LICENSE_DATA)
        if data:
            self.writable_dir(LICENSE_DATA, data)
        issuer = self.require(LICENSE_ISSUER)
        if issuer:
            self.readable_file(LICENSE_ISSUER, issuer)
        install = self.value(LICENSE_INSTALL)
        if install:
            self.readable_dir(LICENSE_INSTALL, install, need_files=False)


CHECKS: dict[str, list[Callable[[Preflight], None]]] = {
    "sn": [Preflight.identity, Preflight.ports, Preflight.sn],
    "sl": [Preflight.identity, Preflight.ports, Preflight.sl],
    "swop": [Preflight.identity, Preflight.swop],
    "swci": [Preflight.identity, Preflight.ports, Preflight.swci],
    "license": [Preflight.identity, Preflight.ports, Preflight.license],
    "ml": [Preflight.ml],
}


def _who() -> str:
    return f"{os.getuid()}:{os.getgid()}" if hasattr(os, "getuid") else "this user"


def problems(component: str, environ: Mapping[str, str], args: Sequence[str]) -> list[str]:
    """Every problem of ``component``'s settings (empty: it may start)."""
    if component not in CHECKS:
        return [f"SWARM_COMPONENT={component!r} is not one of {', '.join(CHECKS)}"]
    check = Preflight(environ, args)
    for step in CHECKS[component]:
        step(check)
    return check.problems


def command(environ: Mapping[str, str], args: Sequence[str]) -> list[str]:
    """The command to run: the arguments, behind the image's default command when they are only options."""
    default = shlex.split(environ.get("SWARM_COMMAND", ""))
    if not args or args[0].startswith("-"):
        return default + list(args)
    return list(args)


def license_arguments(environ: Mapping[str, str]) -> list[str]:
    """``serve`` options from the license image's environment: the trusted issuer and licenses to install."""
    extra: list[str] = []
    issuer = environ.get(LICENSE_ISSUER.env, "").strip()
    if issuer:
        extra += ["--trusted-issuer", issuer]
    install = environ.get(LICENSE_INSTALL.env, "").strip()
    if install and Path(install).is_dir():
        for item in sorted(Path(install).iterdir()):
            if item.is_file() and item.suffix in {".lic", ".json"}:
                extra += ["--license", str(item)]
    return extra


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    args = list(sys.argv[1:] if argv is None else argv)
    component = env.get("SWARM_COMPONENT", "").strip()
    cmd = command(env, args)
    if component == "license" and "serve" in cmd and "--trusted-issuer" not in cmd:
        cmd += license_arguments(env)
    if component and env.get("SWARM_SKIP_PREFLIGHT", "").strip().lower() not in _TRUE:
        found = problems(component, env, cmd)
        if found:
            name = f"swarm-{component or 'container'}"
            print(f"{name}: cannot start, fix these settings first:", file=sys.stderr)
            for line in found:
                print(f"{name}:   {line}", file=sys.stderr)
            return EX_CONFIG
    if not cmd:
        print("entrypoint: no command (set SWARM_COMMAND or give one)", file=sys.stderr)
        return EX_CONFIG
    sys.stdout.flush()
    os.execvp(cmd[0], cmd)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
