"""The logic behind ``run-sn``, ``run-sl``, ``run-swop``, ``run-swci`` and ``stop-swarm`` (standard library only).

The scripts have the product's names and options (``docs: spec/nodes-and-cli.md``) and start the project's images
with ``docker container create`` + ``docker container start``:

* component options (``--host-ip``, ``--sentinel``, ``--sn-api-port``, ...) become the container's environment and
  published ports; APLS (``--apls-ip``...) and identity options (``--cert/--key/--capath/--cacert``: bind-mounted
  read-only at the same absolute path) are shared by all four;
* every ``docker container create`` option is accepted and passed on (which ones take a value is read from
  ``docker container create --help``, as the product's generator does); ``-d`` means "do not attach";
* ``run-sl --ml-<docker option>`` declares the ML sidecar, started after the SL with ``--volumes-from`` it (the
  local channel ``/tmp/hpe-swarm``);
* unknown options, and everything after ``--``, go to the component's command line.

Options are case-insensitive, ``--opt value`` or ``--opt=value``. ``--image`` overrides the image
(default ``swarm-learning/<component>:<swarmVer>``, the version in ``scripts/common``).
"""

from __future__ import annotations

import grp
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
COMPONENTS = ("sn", "sl", "swop", "swci")


class UsageError(Exception):
    """A wrong option or value: printed with the usage hint, exit code 1."""


def swarm_version(common: Path = SCRIPTS / "common") -> str:
    match = re.search(r'^swarmVer="([^"]+)"', common.read_text(), re.MULTILINE)
    if not match:
        raise UsageError(f'{common} has no swarmVer="X.Y.Z" line')
    return match.group(1)


def default_image(component: str) -> str:
    prefix = os.environ.get("SWARM_IMAGE_PREFIX", "swarm-learning")
    return f"{prefix}/{component}:{swarm_version()}"


# ---- what docker container create accepts ------------------------------------------------------------------------
@dataclass(frozen=True)
class DockerOptions:
    """Long and short names of ``docker container create`` options; ``valued`` ones take an argument."""

    valued: frozenset[str]
    flags: frozenset[str]

    def takes_value(self, name: str) -> bool | None:
        """True/False for a known option, None for an unknown one."""
        if name in self.valued:
            return True
        if name in self.flags:
            return False
        return None


_HELP_LINE = re.compile(r"^\s+(?:(-\w),\s+)?(--[\w-]+)(?: (\w+))?(?:\s{2,}|$)")


def parse_docker_help(text: str) -> DockerOptions:
    valued: set[str] = set()
    flags: set[str] = set()
    for line in text.splitlines():
        match = _HELP_LINE.match(line)
        if not match:
            continue
        short, long, kind = match.groups()
        target = valued if kind else flags
        target.add(long)
        if short:
            target.add(short)
    return DockerOptions(frozenset(valued), frozenset(flags))


def docker_options(docker: Sequence[str]) -> DockerOptions:
    result = subprocess.run(
        [*docker, "container", "create", "--help"], capture_output=True, text=True, check=False, timeout=30
    )
    parsed = parse_docker_help(result.stdout)
    if not parsed.valued:
        raise UsageError(f"cannot read `{' '.join(docker)} container create --help`: {result.stderr.strip()}")
    return parsed


# ---- one container being assembled -------------------------------------------------------------------------------
@dataclass
class Container:
    image: str
    options: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)
    given: set[str] = field(default_factory=set)  # docker options the user gave (long names)

    def add(self, name: str, value: str | None = None) -> None:
        if value is None:
            self.options.append(name)
        elif name.startswith("--"):
            self.options.append(f"{name}={value}")
        else:
            self.options += [name, value]

    def publish(self, host_port: str, container_port: str) -> None:
        self.add("--publish", f"{host_port}:{container_port}")

    def mount_same_path(self, path: str, what: str, is_dir: bool) -> str:
        real = Path(path).resolve()
        if (is_dir and not real.is_dir()) or (not is_dir and not real.is_file()):
            raise UsageError(f"bad {'directory' if is_dir else 'file'} for {what}: {path}")
        self.add("--volume", f"{real}:{real}:ro")
        return str(real)

    def create_args(self) -> list[str]:
        env = [f"--env={k}={v}" for k, v in self.env.items()]
        return ["container", "create", *self.options, *env, self.image, *self.command]


# ---- option parsing ----------------------------------------------------------------------------------------------
Handler = Callable[["Run", str | None], None]


@dataclass(frozen=True)
class Option:
    handler: Handler
    valued: bool = True


class Run:
    """Parses one script's arguments into the containers to create."""

    def __init__(self, component: str, docker_opts: DockerOptions) -> None:
        self.component = component
        self.docker_opts = docker_opts
        self.main = Container(default_image(component))
        self.ml: Container | None = None
        self.detach = False
        self.sudo = False
        self.extra_args: list[str] = []
        self.options: dict[str, Option] = {**COMMON_OPTIONS, **COMPONENT_OPTIONS[component]}
        # component options kept for the finishing step
        self.usr: Path | None = None
        self.usr_files: list[tuple[str, str]] = []
        self.socket_file: str | None = None
        self.swop_uid: str | None = None
        self.sn_docker_name: str | None = None
        self.sn_image: str | None = None

    def parse(self, argv: Sequence[str]) -> None:
        args = list(argv)
        i = 0
        while i < len(args):
            arg = args[i]
            i += 1
            if arg == "--":
                self.extra_args += args[i:]
                return
            name, eq, inline = arg.partition("=")
            lname = name.lower()
            if lname in self.options:
                opt = self.options[lname]
                value: str | None = None
                if opt.valued:
                    if eq:
                        value = inline
                    elif i < len(args):
                        value, i = args[i], i + 1
                    else:
                        raise UsageError(f"{name} needs a value")
                opt.handler(self, value)
                continue
            if self.component == "sl" and lname.startswith("--ml-"):
                i = self.ml_option(name[5:], eq, inline, args, i)
                continue
            consumed = self.docker_option(self.main, name, eq, inline, args, i)
            if consumed is None:
                self.extra_args.append(arg)  # the component's own option: its command line
            else:
                i = consumed

    def docker_option(self, target: Container, name: str, eq: str, inline: str, args: list[str], i: int) -> int | None:
        """Pass a ``docker container create`` option on; returns the next index, None if it is no docker option."""
        if re.fullmatch(r"-[a-zA-Z]{2,}", name) and not eq:  # clustered short flags: -dt, -ti
            letters = [f"-{c}" for c in name[1:]]
            if all(x == "-d" or self.docker_opts.takes_value(x) is False for x in letters):
                for letter in letters:
                    self.docker_option(target, letter, "", "", args, i)
                return i
            return None
        takes = self.docker_opts.takes_value(name)
        if name in ("-d", "--detach"):  # `docker container create` has no -d: here it means "do not attach"
            if target is not self.main:
                raise UsageError(f"{name} is not supported for the ML container")
            self.detach = (inline or "true").lower() != "false"
            return i
        if takes is None:
            return None
        value: str | None = None
        if takes:
            if eq:
                value = inline
            elif i < len(args):
                value, i = args[i], i + 1
            else:
                raise UsageError(f"{name} needs a value")
        elif eq:
            value = inline  # --rm=false
        long = LONG_OF_SHORT.get(name, name)
        target.given.add(long)
        if long == "--volume" and value is not None:
            value = bind_source(value)
        target.add(name, value)
        return i

    def ml_option(self, rest: str, eq: str, inline: str, args: list[str], i: int) -> int:
        if self.ml is None:
            self.ml = Container(image="")
        name = ("--" if len(rest) > 1 else "-") + rest
        lname = name.lower()
        if lname == "--image" or lname == "--cmd":
            value = inline if eq else (args[i] if i < len(args) else None)
            if value is None:
                raise UsageError(f"--ml-{rest} needs a value")
            if not eq:
                i += 1
            if lname == "--image":
                self.ml.image = value
            else:
                self.ml.command = shlex.split(value)
            return i
        if lname in ("--it", "--ti"):
            self.ml.add("--interactive")
            self.ml.add("--tty")
            return i
        consumed = self.docker_option(self.ml, name, eq, inline, args, i)
        if consumed is None:
            raise UsageError(f"--ml-{rest}: unsupported option")
        return consumed

    def containers(self) -> list[Container]:
        main = self.main
        if "--name" in main.given and "--hostname" not in main.given:
            main.add("--hostname", _value_of(main.options, "--name"))
        if "--interactive" not in main.given:
            main.add("--interactive=true")
        if "--tty" not in main.given and sys.stdin.isatty():
            main.add("--tty=true")
        main.command += self.extra_args
        finish = FINISH.get(self.component)
        if finish:
            finish(self)
        if self.ml is None:
            return [main]
        if not self.ml.image:
            raise UsageError("--ml-image is required when any --ml-... option is given")
        if "--name" not in main.given:
            raise UsageError("run-sl with an ML container needs --name for the SL (the ML uses --volumes-from it)")
        self.ml.add("--volumes-from", _value_of(main.options, "--name"))
        if "--user" not in self.ml.given:
            self.ml.add("--user", f"{os.getuid()}:{os.getgid()}")
        if self.ml.command and any(a.lower().startswith("--ml-") for a in self.ml.command):
            raise UsageError("unsupported option in the ML command line: --ml-...")
        return [main, self.ml]


LONG_OF_SHORT = {"-v": "--volume", "-e": "--env", "-p": "--publish", "-u": "--user", "-w": "--workdir",
                 "-i": "--interactive", "-t": "--tty", "-l": "--label", "-h": "--hostname"}  # fmt: skip


def _value_of(options: list[str], long: str) -> str:
    for item in reversed(options):
        if item.startswith(long + "="):
            return item.split("=", 1)[1]
    raise UsageError(f"{long} not given")


def bind_source(spec: str) -> str:
    """``src:tgt[:opts]``: a source with ``/`` is a bind mount that must exist and is made absolute."""
    source, sep, rest = spec.partition(":")
    if sep and "/" in source:
        real = Path(source).resolve()
        if not real.exists():
            raise UsageError(f"bad volume source (does not exist): {source}")
        return f"{real}:{rest}"
    return spec


# ---- option tables -----------------------------------------------------------------------------------------------
def env(var: str, flag_value: str | None = None) -> Handler:
    def handle(run: Run, value: str | None) -> None:
        run.main.env[var] = flag_value if flag_value is not None else str(value)

    return handle


def identity(var: str, is_dir: bool) -> Handler:
    def handle(run: Run, value: str | None) -> None:
        run.main.env[var] = run.main.mount_same_path(str(value), var, is_dir)

    return handle


def socket_path(run: Run, value: str | None) -> None:
    path = Path(str(value))
    if path.exists():
        run.main.add("--volume", f"{path.resolve().parent}:/tmp/spire-agent")
        run.main.env["SWARM_SPIFFE_WORKLOAD_API_SOCKET_PATH"] = f"/tmp/spire-agent/{path.name}"
    else:  # <volume>[:<path in volume>]
        volume, _, inner = str(value).partition(":")
        run.main.add("--volume", f"{volume}:/tmp/spire-agent")
        run.main.env["SWARM_SPIFFE_WORKLOAD_API_SOCKET_PATH"] = f"/tmp/spire-agent/{inner or 'agent.sock'}"
    run.main.add("--label", f"swarm-node-type={run.component}")


def image(run: Run, value: str | None) -> None:
    run.main.image = str(value)


def cmd(run: Run, value: str | None) -> None:
    run.main.command = shlex.split(str(value))


def sudo(run: Run, value: str | None) -> None:
    run.sudo = True


def port_same(var: str) -> Handler:
    """The component listens on the port it advertises: publish it under the same number."""

    def handle(run: Run, value: str | None) -> None:
        if not str(value).isdigit():
            raise UsageError(f"{var}: {value!r} is not a port number")
        run.main.env[var] = str(value)
        run.main.publish(str(value), str(value))

    return handle


def service(var: str, default_port: str) -> Handler:
    def handle(run: Run, value: str | None) -> None:
        run.main.env[var] = str(value)
        port = str(value).rpartition(":")[2] if ":" in str(value) else default_port
        run.main.publish(port, default_port)

    return handle


def usr_dir(run: Run, value: str | None) -> None:
    real = Path(str(value)).resolve()
    if not real.is_dir():
        raise UsageError(f"bad directory for --usr-dir: {value}")
    run.main.add("--volume", f"{real}:/platform/swarm/usr:rw")
    run.main.env["USR_DIR"] = "/platform/swarm/usr"
    run.usr = real


def in_usr_dir(var: str, what: str) -> Handler:
    def handle(run: Run, value: str | None) -> None:
        run.main.env[var] = str(value)
        run.usr_files.append((what, str(value)))

    return handle


COMMON_OPTIONS: dict[str, Option] = {
    "--image": Option(image),
    "--cmd": Option(cmd),
    "--sudo": Option(sudo, valued=False),
    "--apls-ip": Option(env("SWARM_LICENSE_AUTOPASSJ_SERVER_PRIMARY_IP")),
    "--primary-apls-ip": Option(env("SWARM_LICENSE_AUTOPASSJ_SERVER_PRIMARY_IP")),
    "--apls-port": Option(env("SWARM_LICENSE_AUTOPASSJ_SERVER_PRIMARY_PORT")),
    "--primary-apls-port": Option(env("SWARM_LICENSE_AUTOPASSJ_SERVER_PRIMARY_PORT")),
    "--secondary-apls-ip": Option(env("SWARM_LICENSE_AUTOPASSJ_SERVER_SECONDARY_IP")),
    "--secondary-apls-port": Option(env("SWARM_LICENSE_AUTOPASSJ_SERVER_SECONDARY_PORT")),
    "--cert": Option(identity("SWARM_ID_CERT", is_dir=False)),
    "--key": Option(identity("SWARM_ID_KEY", is_dir=False)),
    "--capath": Option(identity("SWARM_ID_CAPATH", is_dir=True)),
    "--cacert": Option(identity("SWARM_ID_CACERT", is_dir=False)),
    "--socket-path": Option(socket_path),
}

COMPONENT_OPTIONS: dict[str, dict[str, Option]] = {
    "sn": {
        "--host-ip": Option(env("THIS_NODE_IP")),
        "--sentinel": Option(env("SN_I_AM_SENTINEL", "1"), valued=False),
        "--sentinel-ip": Option(env("SENTINEL_NODE_IP")),
        "--sentinel-api-port": Option(env("SENTINEL_API_SERVER_PORT")),
        "--sentinel-api-service": Option(env("SENTINEL_API_SERVICE")),
        "--sn-api-port": Option(port_same("SN_API_SERVER_PORT")),
        "--sn-api-service": Option(service("SN_API_SERVICE", "30304")),
        "--sn-p2p-port": Option(port_same("SN_ETH_PORT_EXT")),
        "--sn-p2p-service": Option(service("SN_ETH_P2P_SERVICE", "30303")),
    },
    "sl": {
        "--host-ip": Option(env("THIS_NODE_IP")),
        "--sn-ip": Option(env("SN_NODE_IP")),
        "--sn-api-port": Option(env("SN_API_SERVER_PORT")),
        "--sn-api-service": Option(env("SN_API_SERVICE")),
        "--sn-docker-name": Option(lambda run, v: setattr(run, "sn_docker_name", v)),
        "--sn-image": Option(lambda run, v: setattr(run, "sn_image", v)),
        "--sl-fs-port": Option(port_same("SL_FS_PORT")),
        "--sl-fs-service": Option(service("SL_FS_SERVICE", "30305")),
    },
    "swop": {
        "--usr-dir": Option(usr_dir),
        "--profile-file-name": Option(in_usr_dir("SWOP_PROFILE", "--profile-file-name")),
        "--docker-socket-file": Option(lambda run, v: setattr(run, "socket_file", v)),
        "--docker-group-id": Option(env("SWOP_DOCKER_GID")),
        "--swop-uid": Option(lambda run, v: setattr(run, "swop_uid", v)),
        "--sn-ip": Option(env("SN_NODE_IP")),
        "--sn-api-port": Option(env("SN_API_SERVER_PORT")),
        "--sn-api-service": Option(env("SN_API_SERVICE")),
    },
    "swci": {
        "--usr-dir": Option(usr_dir),
        "--init-script-name": Option(in_usr_dir("SWCI_STARTUP_SCRIPT", "--init-script-name")),
    },
}


# ---- per-component finishing -------------------------------------------------------------------------------------
def check_usr_files(run: Run) -> None:
    usr = run.usr
    for what, name in run.usr_files:
        if usr is None:
            raise UsageError(f"{what} needs --usr-dir")
        if not (usr / name).is_file():
            raise UsageError(f"{what}: {name} is not a file at the top level of {usr}")


def finish_sn(run: Run) -> None:
    e = run.main.env
    if not e.get("THIS_NODE_IP") and not (e.get("SN_API_SERVICE") and e.get("SN_ETH_P2P_SERVICE")):
        raise UsageError("--host-ip is required (unless both --sn-api-service and --sn-p2p-service are given)")
    if not (e.get("SN_I_AM_SENTINEL") or e.get("SENTINEL_NODE_IP") or e.get("SENTINEL_API_SERVICE")):
        raise UsageError("one of --sentinel, --sentinel-ip, --sentinel-api-service is required")


def finish_sl(run: Run) -> None:
    e = run.main.env
    if not e.get("THIS_NODE_IP") and not e.get("SL_FS_SERVICE"):
        raise UsageError("--host-ip is required (unless --sl-fs-service is given)")
    if not e.get("SN_NODE_IP") and not e.get("SN_API_SERVICE"):
        e["SN_NODE_IP"] = find_local_sn(run)


def find_local_sn(run: Run) -> str:
    docker = DOCKER + (["sudo"] if run.sudo else [])
    name = run.sn_docker_name
    query = ["ps", "-q", "--filter", f"name=^{name}$"] if name else []
    query = query or ["ps", "-q", "--filter", f"ancestor={run.sn_image or default_image('sn')}"]
    ids = subprocess.run([*docker, *query], capture_output=True, text=True, check=False).stdout.split()
    if not ids:
        raise UsageError("no --sn-ip / --sn-api-service, and no running SN container found on this host")
    fmt = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
    ips = subprocess.run([*docker, "inspect", "-f", fmt, ids[0]], capture_output=True, text=True, check=False)
    return ips.stdout.split()[0]


def finish_swop(run: Run) -> None:
    if run.usr is None:
        raise UsageError("--usr-dir is required")
    if "SWOP_PROFILE" not in run.main.env:
        raise UsageError("--profile-file-name is required")
    check_usr_files(run)
    socket = Path(run.socket_file or "/var/run/docker.sock")
    if not socket.is_socket():
        raise UsageError(f"--docker-socket-file: {socket} is not a socket")
    run.main.add("--volume", f"{socket.resolve()}:/var/run/docker.sock:rw")
    gid = run.main.env.get("SWOP_DOCKER_GID") or _docker_gid()
    if gid:
        run.main.env["SWOP_DOCKER_GID"] = gid
        run.main.add("--group-add", gid)
    uid = run.swop_uid
    run.main.env["SWOP_UID"] = str(uid or os.getuid())
    run.main.env["SWOP_GID"] = str(_primary_gid(int(uid)) if uid else os.getgid())


def finish_swci(run: Run) -> None:
    check_usr_files(run)
    usr = run.usr
    if usr is not None and "SWCI_STARTUP_SCRIPT" not in run.main.env and (usr / "swci-init").is_file():
        run.main.env["SWCI_STARTUP_SCRIPT"] = "swci-init"
    if "--rm" not in run.main.given:
        run.main.add("--rm=true")


FINISH: dict[str, Callable[[Run], None]] = {"sn": finish_sn, "sl": finish_sl, "swop": finish_swop, "swci": finish_swci}


def _docker_gid() -> str:
    try:
        return str(grp.getgrnam("docker").gr_gid)
    except KeyError:
        return ""


def _primary_gid(uid: int) -> int:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_gid
    except KeyError:
        return uid


# ---- running -----------------------------------------------------------------------------------------------------
DOCKER = shlex.split(os.environ.get("DOCKER", "docker"))


def docker_prefix(force_sudo: bool) -> list[str]:
    if force_sudo:
        return ["sudo", *DOCKER]
    if os.getuid() == 0 or shutil.which("podman"):
        return list(DOCKER)
    groups = {grp.getgrgid(g).gr_name for g in os.getgroups()}
    return list(DOCKER) if groups & {"docker", "root"} else ["sudo", *DOCKER]


def call(docker: list[str], *args: str) -> str:
    result = subprocess.run([*docker, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise UsageError(f"`docker {' '.join(args[:2])}` failed: {result.stderr.strip()}")
    return result.stdout.strip()


def write_container_info(docker: list[str], container_id: str, image_name: str) -> None:
    """The 3-line /tmp/container_info_file (id, image name:tag, image id) SWOP reads to learn who it is."""
    image_id = call(docker, "image", "inspect", "--format", "{{.Id}}", image_name)
    with tempfile.NamedTemporaryFile("w", suffix=".info", delete=False) as info:
        info.write(f"{container_id}\n{image_name}\n{image_id}\n")
    os.chmod(info.name, 0o644)
    try:
        call(docker, "cp", info.name, f"{container_id}:/tmp/container_info_file")
    finally:
        os.unlink(info.name)


def start(component: str, argv: Sequence[str]) -> int:
    if any(a in ("-h", "--help") for a in argv[: argv.index("--") if "--" in argv else len(argv)]):
        print(usage(component))
        return 0
    force_sudo = any(a.lower() == "--sudo" for a in argv)
    docker = docker_prefix(force_sudo)
    run = Run(component, docker_options(docker))
    run.parse(argv)
    created: list[str] = []
    for container in run.containers():
        container_id = call(docker, *container.create_args())
        write_container_info(docker, container_id, container.image)
        created.append(container_id)
    for container_id in created:
        call(docker, "container", "start", container_id)
        print(container_id)
    if run.detach:
        return 0
    subprocess.run([*docker, "logs", created[0]], check=False)
    os.execvp(docker[0], [*docker, "attach", created[0]])
    return 0  # not reached


def stop(argv: Sequence[str]) -> int:
    chosen: set[str] = set()
    keep = force_sudo = False
    for arg in (a.lower() for a in argv):
        if arg == "--all":
            chosen.update(COMPONENTS)
        elif arg.lstrip("-") in COMPONENTS and arg.startswith("--"):
            chosen.add(arg[2:])
        elif arg == "--keep":
            keep = True
        elif arg == "--sudo":
            force_sudo = True
        elif arg in ("-h", "--help"):
            print(usage("stop-swarm"))
            return 0
        else:
            print(usage("stop-swarm"), file=sys.stderr)
            return 1
    docker = docker_prefix(force_sudo)
    for component in sorted(chosen or set(COMPONENTS)):
        ids = call(docker, "ps", "-aq", "--filter", f"ancestor={default_image(component)}").split()
        running = call(docker, "ps", "-q", "--filter", f"ancestor={default_image(component)}").split()
        if running:
            call(docker, "stop", *running)
        if ids and not keep:
            call(docker, "rm", *ids)
        print(f"{component}: stopped {len(running)}, removed {0 if keep else len(ids)}")
    return 0


USAGE = {
    "sn": "run-sn [--sentinel | --sentinel-ip IP [--sentinel-api-port P]] --host-ip IP [--sn-api-port P] "
    "[--sn-p2p-port P] --cert F --key F --capath D [docker options] [-- component args]",
    "sl": "run-sl --host-ip IP --sn-ip IP [--sn-api-port P] [--sl-fs-port P] --cert F --key F --capath D "
    "[--ml-image IMG --ml-cmd CMD --ml-v SRC:TGT ...] [docker options]",
    "swop": "run-swop --usr-dir D --profile-file-name F [--sn-ip IP] [--sn-api-port P] [--docker-socket-file S] "
    "--cert F --key F --capath D [docker options]",
    "swci": "run-swci [--usr-dir D [--init-script-name F]] --cert F --key F --capath D [docker options]",
    "stop-swarm": "stop-swarm [--all|--sl|--sn|--swci|--swop] [--keep] [--sudo] [--help]",
}


def usage(name: str) -> str:
    return f"usage: {USAGE[name]}\n(options as the product's; see docker/scripts/swarm_run.py)"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in (*COMPONENTS, "stop-swarm"):
        print(f"usage: swarm_run.py {{{','.join(COMPONENTS)},stop-swarm}} [options]", file=sys.stderr)
        return 1
    name, rest = args[0], args[1:]
    try:
        return stop(rest) if name == "stop-swarm" else start(name, rest)
    except UsageError as exc:
        print(f"{'run-' + name if name != 'stop-swarm' else name}: {exc}", file=sys.stderr)
        print(usage(name), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
