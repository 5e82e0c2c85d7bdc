"""The ``DOCKER`` executor (the product's ``mgrtype``): SL and ML run as containers of a Docker engine.

The engine is the one the environment names (``accessinfo: {accesstype: FROMENV}``: ``DOCKER_HOST`` and friends, as
the docker CLI reads them). How each task type maps to the engine:

- ``MAKE_USER_CONTAINER``: ``BuildSteps`` (Dockerfile lines) are built into the image ``<Outcome>:latest``. The build
  context is a temporary folder holding the Dockerfile and, when ``BuildContext`` names a Docker volume, that
  volume's files. ``sl-cli-lib`` (the product's name for the volume holding the client wheel) is made when missing,
  holding this release's wheel ``swarm_learning_open-<version>-py3-none-any.whl`` (from ``SWOP_CLIENT_WHEEL_DIR``,
  set in the swop image, else built from the source tree the SWOP runs from); any other missing volume is reported
  as a progress note (a ``COPY`` of its files then fails with Docker's reason). Proxy settings of the SWOP's
  environment are passed as build arguments.
- ``PULL_IMAGE``: ``<OrgAndReg><RepoName>:<Tag>`` is pulled (with ``Auth`` when given) and tagged ``<Outcome>:latest``.
- ``MAKE_SWARM_USER_CONTENT``: the operations run in a staging folder on this host whose files are then copied into
  the Docker volume named by ``Outcome`` (created when missing). Every node sees the same volume.
- ``RUN_SWARM``: per profile node, an SL container (image ``SWOP_SL_IMAGE``, default
  ``swarm-learning/sl:<version>``) and an ML container (the image of the ``Prereq`` task's ``Outcome``) on the
  profile's ``network`` (``default`` means the shared bridge network ``swarm-default``; a missing network is
  created), sharing only a Docker volume for the local channel (``/tmp/hpe-swarm``). Identity files are
  bind-mounted read-only at their ``tgt`` (profile paths are paths of the engine's host); ``PrivateContent`` is the node's ``privatedata``; ``SharedContent``
  entries are bind mounts or volumes at their ``Tgt``. Both containers of a node run as the owner of its private
  data folder (else of its key file), so the ML program can write its results there and the SL can read its key.
  The SL advertises ``slhostip`` (else its container name, resolvable on the network) and publishes ``slport``
  when given. A worker succeeds when its ML container exits with 0. Containers and channel volumes are removed at
  the end; their logs and the SL's ``status.json`` (the final model's digest) are kept in
  ``state_dir/runs/<task>-<run>/<idx>/``, so the SWOP's own folders never need to be paths of the engine's host.

Everything this executor creates carries the label ``org.swarm-learning.swop=<groupname>``, so a restarted SWOP
removes what a killed one left behind (``clean_up_leftovers``).
"""

from __future__ import annotations

import importlib.metadata
import io
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import docker
import docker.auth
import docker.errors
import requests
from docker.models.containers import Container
from docker.types import DeviceRequest, Mount

from swarm_learning.errors import ConfigurationError
from swop.executors.base import ExecutorError, Reporter, TaskJob, WorkerResult
from swop.executors.content import apply_operations
from swop.executors.pairs import PairExecutor, SwarmPair
from swop.schema import (
    MakeSwarmUserContentBody,
    MakeUserContainerBody,
    PullImageBody,
    RunSwarmBody,
    SlNodeDef,
    SwopProfile,
)
from swop.schema.fields import env_dict

log = logging.getLogger(__name__)

LABEL = "org.swarm-learning.swop"
DEFAULT_NETWORK = "swarm-default"
CHANNEL_DIR = "/tmp/hpe-swarm"
SL_DATA_DIR = "/platform/swarm/sl-data"
SL_INSIDE_PORT = 30305
BUILD_TIMEOUT_S = 1800.0
CLIENT_LIB_VOLUME = "sl-cli-lib"
WHEEL_GLOB = "swarm_learning_open-*.whl"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


def default_sl_image() -> str:
    """The SL image of this release: ``SWOP_SL_IMAGE`` overrides it."""
    try:
        version = importlib.metadata.version("swarm-learning-open")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        version = "latest"
    return os.environ.get("SWOP_SL_IMAGE") or f"swarm-learning/sl:{version}"


def image_of_outcome(outcome: str) -> str:
    """The image a build or pull task names by its ``Outcome`` (tag ``latest`` unless the outcome has one)."""
    return outcome if ":" in outcome.rsplit("/", 1)[-1] else f"{outcome}:latest"


class DockerExecutor(PairExecutor[Container]):
    """``mgrtype: DOCKER``."""

    _network_name: str  # the Docker network of the current run (one task at a time)

    def __init__(self, profile: SwopProfile, state_dir: Path, client: docker.DockerClient | None = None) -> None:
        super().__init__(profile, state_dir)
        try:
            self.client = client or docker.from_env(timeout=120)
            self.client.ping()
        except docker.errors.DockerException as exc:
            where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
            raise ConfigurationError(
                f"resourcemgr DOCKER: cannot reach the Docker engine at {where} ({exc}); start the engine or point "
                "DOCKER_HOST at it (accessinfo FROMENV reads the environment)"
            ) from exc
        self.sl_image = default_sl_image()
        self.labels = {LABEL: profile.groupname}

    def execute(self, job: TaskJob, reporter: Reporter) -> list[WorkerResult]:
        """As every executor; an engine error (gone, refused a call) fails the task with its reason."""
        try:
            return super().execute(job, reporter)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            reason = f"the Docker engine failed a call: {exc}"
            workers: list[str | None] = list(self.workers(job.task)) or [None]
            return [WorkerResult(worker, False, reason) for worker in workers]

    # -- leftovers -------------------------------------------------------------------------------------------
    def clean_up_leftovers(self) -> list[str]:
        removed = []
        for container in self.client.containers.list(all=True, filters={"label": f"{LABEL}={self.profile.groupname}"}):
            _remove(container)
            removed.append(f"container {container.name}")
        for volume in self.client.volumes.list(filters={"label": f"{LABEL}-channel={self.profile.groupname}"}):
            try:
                volume.remove(force=True)
                removed.append(f"volume {volume.name}")
            except docker.errors.APIError as exc:
                log.warning("cannot remove volume %s: %s", volume.name, exc)
        return removed

    # -- build / pull / content ------------------------------------------------------------------------------
    def make_user_container(self, job: TaskJob, body: MakeUserContainerBody, reporter: Reporter) -> str:
        if body.build_type != "INLINE":
            raise ExecutorError("BuildType REMOTE is not supported; write the Dockerfile lines as INLINE BuildSteps")
        tag = image_of_outcome(job.task.outcome)
        with tempfile.TemporaryDirectory(prefix="swop-build-") as tmp:
            context = Path(tmp)
            if body.build_context == CLIENT_LIB_VOLUME and not self._volume_exists(CLIENT_LIB_VOLUME):
                self._make_client_lib(reporter)
            if body.build_context:
                if self._volume_exists(body.build_context):
                    self._copy_out_of_volume(body.build_context, context)
                else:
                    reporter.progress(None, f"BuildContext volume {body.build_context} does not exist: empty context")
            (context / "Dockerfile").write_text("\n".join(body.build_steps) + "\n")
            reporter.progress(None, f"building image {tag}")
            args = {k: v for k in PROXY_VARS if (v := os.environ.get(k))}
            try:
                image, _ = self.client.images.build(
                    path=str(context),
                    tag=tag,
                    rm=True,
                    forcerm=True,
                    pull=False,
                    buildargs=args,
                    timeout=BUILD_TIMEOUT_S,
                )
            except docker.errors.BuildError as exc:
                raise ExecutorError(f"building {tag} failed: {_build_failure(exc)}") from exc
            except docker.errors.APIError as exc:
                raise ExecutorError(f"building {tag} failed: {exc.explanation or exc}") from exc
        return f"image {tag} built ({image.short_id})"

    def pull_image(self, job: TaskJob, body: PullImageBody, reporter: Reporter) -> str:
        repository = f"{body.org_and_reg}{body.repo_name}"
        auth = _registry_auth(body)
        reporter.progress(None, f"pulling {repository}:{body.tag}")
        try:
            image = self.client.images.pull(repository, tag=body.tag, auth_config=auth)
        except docker.errors.APIError as exc:
            raise ExecutorError(f"cannot pull {repository}:{body.tag}: {exc.explanation or exc}") from exc
        target = image_of_outcome(job.task.outcome)
        name, tag = target.rsplit(":", 1)
        image.tag(name, tag)
        return f"pulled {repository}:{body.tag} as {target}"

    def make_user_content(self, job: TaskJob, body: MakeSwarmUserContentBody, reporter: Reporter) -> str:
        volume = job.task.outcome
        with tempfile.TemporaryDirectory(prefix="swop-content-") as tmp:
            apply_operations(body.ops_list, Path(tmp), reporter)
            if not self._volume_exists(volume):
                self.client.volumes.create(name=volume, labels={f"{LABEL}-content": self.profile.groupname})
            self._copy_into_volume(Path(tmp), volume)
        return f"content {job.task.outcome} staged in Docker volume {volume}"

    def _make_client_lib(self, reporter: Reporter) -> None:
        wheel = client_wheel(self.state_dir / "wheels")
        reporter.progress(None, f"creating volume {CLIENT_LIB_VOLUME} with {wheel.name}")
        self.client.volumes.create(name=CLIENT_LIB_VOLUME, labels={f"{LABEL}-content": self.profile.groupname})
        with tempfile.TemporaryDirectory(prefix="swop-wheel-") as tmp:
            shutil.copy2(wheel, Path(tmp) / wheel.name)
            self._copy_into_volume(Path(tmp), CLIENT_LIB_VOLUME)

    # -- run swarm -------------------------------------------------------------------------------------------
    # -- run swarm (the order is PairExecutor's) --------------------------------------------------------------
    def prepare_run(self, job: TaskJob) -> str:
        """The images exist and the network is there; returns the ML image."""
        if not job.prereq_outcome:
            raise ExecutorError(
                "RUN_SWARM with mgrtype DOCKER needs a Prereq task (MAKE_USER_CONTAINER or PULL_IMAGE) whose "
                "Outcome names the ML image"
            )
        image = image_of_outcome(job.prereq_outcome)
        for needed in (image, self.sl_image):
            if not self._image_exists(needed):
                raise ExecutorError(f"image {needed} is not on this Docker engine; build or pull it first")
        self._network_name = self._network()
        return image

    def _channel(self, node: SlNodeDef, run: int) -> str:
        return f"{self.profile.groupname}-{node.idx}-channel-{run}"

    def sl_serving(self, pair: SwarmPair[Container]) -> bool:
        return _has_file(pair.sl, f"{SL_DATA_DIR}/fs-port")

    def exit_code(self, handle: Container) -> int | None:
        state = _state(handle)
        return int(state.get("ExitCode", -1)) if state.get("Status") in ("exited", "dead") else None

    def describe(self, handle: Container) -> str:
        return f"(container {handle.name}, image {handle.attrs.get('Config', {}).get('Image', '?')})"

    def log_hint(self, handle: Container) -> str:
        return f"last lines: {_tail(handle)}"

    def stop(self, handle: Container) -> None:
        try:
            handle.stop(timeout=10)
        except docker.errors.APIError as exc:
            log.debug("stopping %s: %s", handle.name, exc)

    def start_sl(self, job: TaskJob, node: SlNodeDef, folder: Path) -> Container:
        name = node.slhostname or f"{self.profile.groupname}-sl-{node.idx}"
        self._remove_named(name)
        channel = self._channel(node, job.run)
        self._fresh_channel(channel)
        args = {"KEY": "--key", "CERT": "--cert", "CAPATH": "--capath", "CACERT": "--cacert"}
        command: list[str] = []
        mounts = [Mount(CHANNEL_DIR, channel, type="volume")]  # SL_DATA_DIR: the image's volume, copied out at the end
        for attr in node.identities:
            source = str(Path(attr.src) / attr.sub_path) if attr.sub_path else attr.src
            if attr.m_type == "BIND":
                if not _on_host(source):
                    raise ExecutorError(f"identity {attr.a_type} of node {node.idx}: {source} does not exist")
                mounts.append(Mount(attr.tgt, str(Path(source).absolute()), type="bind", read_only=True))
            else:
                mounts.append(Mount(attr.tgt, attr.src, type="volume", read_only=True))
            if attr.a_type in args:
                command += [args[attr.a_type], attr.tgt]
        port = node.slport or SL_INSIDE_PORT
        command += [
            "--host-ip", node.slhostip or name,
            "--sn-ip", job.sn.host,
            "--sn-api-port", str(job.sn.port),
            "--sl-fs-port", str(port),
            "--data-dir", SL_DATA_DIR,
            "--port-file", f"{SL_DATA_DIR}/fs-port",
            "--socket", f"{CHANNEL_DIR}/sl.sock",
        ]  # fmt: skip
        if job.licensed:
            command += ["--apls-ip", self.profile.apls.locator.host, "--apls-port", str(self.profile.apls.port)]
        ports = {f"{port}/tcp": port} if node.slport else None
        return self._run(
            self.sl_image,
            command=command,
            name=name,
            hostname=name,
            environment=self.profile.sl_env(node),
            mounts=mounts,
            network=self._network_name,
            ports=ports,
            user=self._node_user(node),
            labels={**self.labels, **_labels(node.sllabels), f"{LABEL}.run": str(job.run)},
            networking_config=self._aliases(self._network_name, node.slnetworkopts),
        )

    def start_ml(self, job: TaskJob, body: RunSwarmBody, pair: SwarmPair[Container], image: str) -> Container:
        node = pair.node
        mounts = [Mount(CHANNEL_DIR, self._channel(node, job.run), type="volume")]
        private = node.privatedata
        if body.private_content and private is not None:
            if private.m_type == "BIND":
                if not _on_host(private.src):
                    raise ExecutorError(f"privatedata of node {node.idx}: {private.src} does not exist on this host")
                mounts.append(Mount(body.private_content, str(Path(private.src).absolute()), type="bind"))
            else:
                mounts.append(Mount(body.private_content, private.src, type="volume"))
        for shared in body.shared_content or []:
            if shared.m_type == "BIND":
                if not _on_host(shared.src):
                    raise ExecutorError(f"SharedContent Src {shared.src} does not exist on this host")
                mounts.append(Mount(shared.tgt, str(Path(shared.src).absolute()), type="bind"))
            else:
                if not self._volume_exists(shared.src):
                    raise ExecutorError(f"SharedContent volume {shared.src} does not exist; run its content task")
                mounts.append(Mount(shared.tgt, shared.src, type="volume"))
        name = node.usrhostname or f"{self.profile.groupname}-ml-{node.idx}"
        self._remove_named(name)
        env = {**body.env, **env_dict(node.usrenvvars), "SWARM_SL_SOCKET": f"{CHANNEL_DIR}/sl.sock"}
        return self._run(
            image,
            entrypoint=[body.entrypoint],
            command=body.args,
            name=name,
            hostname=name,
            environment=env,
            mounts=mounts,
            network=self._network_name,
            working_dir=body.working_dir,
            user=self._node_user(node),
            labels={**self.labels, **_labels(node.usrlabels), f"{LABEL}.run": str(job.run)},
            networking_config=self._aliases(self._network_name, node.usrnetworkopts),
            **_container_options(node),
        )

    def finish_pair(self, job: TaskJob, pair: SwarmPair[Container]) -> None:
        """Keep the logs and the SL's status.json, remove both containers and the channel volume."""
        for role, container in (("ml", pair.ml), ("sl", pair.sl)):
            if container is None:
                continue
            try:
                container.stop(timeout=10)
                (pair.folder / f"{role}.log").write_bytes(container.logs())
                if role == "sl":
                    _copy_out(container, f"{SL_DATA_DIR}/status.json", pair.folder / "sl")
            except (docker.errors.APIError, OSError, tarfile.TarError) as exc:
                log.warning("cannot keep the log or data of %s: %s", container.name, exc)
            _remove(container)
        try:
            self.client.volumes.get(self._channel(pair.node, job.run)).remove(force=True)
        except docker.errors.APIError as exc:
            log.debug("channel volume of node %s: %s", pair.node.idx, exc)

    # -- engine helpers --------------------------------------------------------------------------------------
    def _run(self, image: str, **kwargs: Any) -> Container:
        networking = kwargs.pop("networking_config", None)
        try:
            container = self.client.containers.create(image, init=True, detach=True, **kwargs)
            if networking:
                network = self.client.networks.get(kwargs["network"])
                network.disconnect(container)
                network.connect(container, **networking)
            container.start()
        except docker.errors.APIError as exc:
            raise ExecutorError(f"cannot start a container from {image}: {exc.explanation or exc}") from exc
        return container

    def _network(self) -> str:
        name = DEFAULT_NETWORK if self.profile.network == "default" else self.profile.network
        if not self.client.networks.list(names=[name]):
            try:
                self.client.networks.create(name, driver="bridge", labels={f"{LABEL}-network": self.profile.groupname})
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # another SWOP created it meanwhile
                    raise ExecutorError(f"cannot create the Docker network {name}: {exc.explanation or exc}") from exc
        return name

    @staticmethod
    def _aliases(network: str, options: list[Any] | None) -> dict[str, Any] | None:
        if not options:
            return None
        out: dict[str, Any] = {}
        for option in options:
            if option.ip:
                out["ipv4_address"] = option.ip
            if option.aliases:
                out["aliases"] = list(option.aliases)
        return out or None

    def _node_user(self, node: SlNodeDef) -> str:
        private = node.privatedata
        candidates = [Path(private.src)] if private is not None and private.m_type == "BIND" else []
        candidates += [Path(a.src) for a in node.identities if a.a_type == "KEY" and a.m_type == "BIND"]
        for path in candidates:
            try:
                st = path.stat()
            except OSError:
                continue
            return f"{st.st_uid}:{st.st_gid}"
        return "10001:10001"

    def _remove_named(self, name: str) -> None:
        try:
            old = self.client.containers.get(name)
        except docker.errors.NotFound:
            return
        if old.labels.get(LABEL) != self.profile.groupname:
            raise ExecutorError(f"a container named {name} exists and is not this SWOP's; rename the node's host")
        _remove(old)

    def _fresh_channel(self, name: str) -> None:
        try:
            self.client.volumes.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
        self.client.volumes.create(name=name, labels={f"{LABEL}-channel": self.profile.groupname})

    def _image_exists(self, image: str) -> bool:
        try:
            self.client.images.get(image)
        except docker.errors.ImageNotFound:
            return False
        return True

    def _volume_exists(self, name: str) -> bool:
        try:
            self.client.volumes.get(name)
        except docker.errors.NotFound:
            return False
        return True

    def _helper(self, volume: str, read_only: bool) -> Container:
        """A created (never started) container with ``volume`` at /content: its files can be copied in and out."""
        return self.client.containers.create(
            self.sl_image,
            command=["true"],
            mounts=[Mount("/content", volume, type="volume", read_only=read_only)],
            labels=self.labels,
        )

    def _copy_out_of_volume(self, volume: str, into: Path) -> None:
        helper = self._helper(volume, read_only=True)
        try:
            _copy_out(helper, "/content/.", into)
        finally:
            _remove(helper)

    def _copy_into_volume(self, folder: Path, volume: str) -> None:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for path in sorted(folder.rglob("*")):
                info = archive.gettarinfo(str(path), arcname=str(path.relative_to(folder)))
                info.mode |= 0o755 if path.is_dir() else 0o644  # every node's user may read the content
                if path.is_file():
                    with open(path, "rb") as data:
                        archive.addfile(info, data)
                else:
                    archive.addfile(info)
        helper = self._helper(volume, read_only=False)
        try:
            if not helper.put_archive("/content", buffer.getvalue()):
                raise ExecutorError(f"cannot copy the content into volume {volume}")
        finally:
            _remove(helper)


# ------------------------------------------------------------------------------------------ helpers


def client_wheel(cache: Path) -> Path:
    """This release's client wheel: from ``SWOP_CLIENT_WHEEL_DIR``, else built once from the source tree."""
    folder = os.environ.get("SWOP_CLIENT_WHEEL_DIR")
    if folder:
        found = sorted(Path(folder).glob(WHEEL_GLOB))
        if not found:
            raise ExecutorError(f"SWOP_CLIENT_WHEEL_DIR={folder} holds no {WHEEL_GLOB}")
        return found[-1]
    found = sorted(cache.glob(WHEEL_GLOB))
    if found:
        return found[-1]
    source = Path(__file__).resolve().parents[2]
    if not (source / "pyproject.toml").is_file():
        raise ExecutorError(
            f"no client wheel for the {CLIENT_LIB_VOLUME} volume: set SWOP_CLIENT_WHEEL_DIR to a folder holding "
            f"{WHEEL_GLOB}, or create the volume yourself"
        )
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(cache), str(source)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    found = sorted(cache.glob(WHEEL_GLOB))
    if done.returncode != 0 or not found:
        raise ExecutorError(f"cannot build the client wheel from {source}: {done.stderr.strip()[-500:]}")
    return found[-1]


def _on_host(path: str) -> bool:
    """Whether a profile path exists on the engine's host; a SWOP in a container cannot tell, and Docker will say."""
    return Path(path).exists() or Path("/.dockerenv").exists()


def _has_file(container: Container, path: str) -> bool:
    try:
        return container.exec_run(["test", "-e", path], user="0").exit_code == 0
    except docker.errors.APIError:  # not running (yet, or any more)
        return False


def _copy_out(container: Container, path: str, into: Path) -> None:
    """Files of a (running or stopped) container at ``path`` into the folder ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    stream, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
        archive.extractall(into, filter="data")


def _state(container: Container) -> dict[str, Any]:
    try:
        container.reload()
    except docker.errors.NotFound:
        return {"Status": "exited", "ExitCode": -1}
    return dict(container.attrs.get("State", {}))


def _tail(container: Container, lines: int = 5) -> str:
    try:
        text = container.logs(tail=lines).decode(errors="replace").strip()
    except docker.errors.APIError:
        return "(no log)"
    return " | ".join(line.strip() for line in text.splitlines() if line.strip()) or "(empty log)"


def _remove(container: Container) -> None:
    try:
        container.remove(force=True, v=True)  # with its anonymous volumes (the images declare some)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        log.warning("cannot remove container %s: %s", container.name, exc)


def _build_failure(exc: docker.errors.BuildError) -> str:
    steps = [str(item.get("stream", "")).strip() for item in exc.build_log if item.get("stream")]
    step = next((s for s in reversed(steps) if s.startswith("Step ")), "")
    return f"{exc.msg}" + (f" (at {step})" if step else "")


def _labels(labels: dict[str, str] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (labels or {}).items()}


def _registry_auth(body: PullImageBody) -> dict[str, Any] | None:
    """``Auth``: Username/Password, or the path of a docker ``config.json`` holding the registry's credentials."""
    if body.auth is None:
        return None
    if isinstance(body.auth, str):
        registry = docker.auth.resolve_repository_name(f"{body.org_and_reg}{body.repo_name}")[0]
        found = docker.auth.resolve_authconfig(docker.auth.load_config(body.auth), registry)
        if not found:
            raise ExecutorError(f"Auth {body.auth} holds no credentials for the registry {registry}")
        return dict(found)
    return {"username": body.auth.username, "password": body.auth.password}


def _container_options(node: SlNodeDef) -> dict[str, Any]:
    """The profile's ``usrcontaineropts`` as docker SDK arguments."""
    out: dict[str, Any] = {}
    for option in node.usrcontaineropts or []:
        if option.gpus:
            count = -1 if option.gpus == "all" else int(option.gpus) if option.gpus.isdigit() else -1
            out["device_requests"] = [DeviceRequest(count=count, capabilities=[["gpu"]])]
        if option.device:
            out["devices"] = list(option.device)
        if option.ipc:
            out["ipc_mode"] = option.ipc
        if option.shm_size:
            out["shm_size"] = option.shm_size
        if option.group_add:
            out["group_add"] = list(option.group_add)
        if option.cap_add:
            out["cap_add"] = list(option.cap_add)
        if option.security_opt:
            out["security_opt"] = list(option.security_opt)
        if option.privileged is not None:
            out["privileged"] = option.privileged
    return out
