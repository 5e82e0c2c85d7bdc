"""Build every Swarm Learning image, tagged with the project version (``make images`` runs this).

::

    python docker/build_images.py [--tag 0.1.0] [--base-image debian:bookworm-slim] [--ca-bundle FILE]
                                  [--only sn,sl] [--prefix swarm-learning] [--local-wheels DIR ...]
                                  [--report images.json]

Order: ``runtime`` (Debian + Python + the project wheel with pinned dependencies), then the thin component images
``sn sl swop swci license`` and the ML bases ``ml-pytorch ml-keras`` on top of it. Each image gets a small build
context of its own in a temporary folder (the repository, with its virtualenv, is never sent to the daemon):
its Dockerfile, ``constraints.txt``, ``entrypoint.py``, ``healthcheck.py``, ``ca/ca-bundle.crt`` (empty unless
``--ca-bundle``) and ``wheels/`` (runtime: the project wheel, and its dependencies in ``requirements.txt``; swop:
the project wheel, for build tasks' ``sl-cli-lib`` context; ``ml-pytorch``: ``torch-*.whl`` found in
``--local-wheels`` folders, default ``$PIP_FIND_LINKS``).

Uses the classic builder (``DOCKER_BUILDKIT=0``): the Debian engine here has no BuildKit. Prints, and with
``--report`` writes as JSON, the build time and size of every image.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger("swarm.images")

DOCKER_DIR = Path(__file__).resolve().parent
REPO = DOCKER_DIR.parent
COMPONENTS = ("sn", "sl", "swop", "swci", "license")
ML_BASES = ("ml-pytorch", "ml-keras")
ALL_IMAGES = ("runtime", *COMPONENTS, *ML_BASES)
SHARED_FILES = ("constraints.txt", "entrypoint.py", "healthcheck.py")


class BuildError(RuntimeError):
    """A step of the image build failed; the message says which and why."""


@dataclass(frozen=True)
class Built:
    image: str
    seconds: float
    size_bytes: int

    @property
    def size_mb(self) -> float:
        return round(self.size_bytes / 1e6, 1)


def project_version(pyproject: Path = REPO / "pyproject.toml") -> str:
    return str(tomllib.loads(pyproject.read_text())["project"]["version"])


def image_name(prefix: str, name: str, tag: str) -> str:
    return f"{prefix}/{name}:{tag}"


def build_wheel(out: Path, python: str = sys.executable) -> Path:
    """The project's wheel (no dependencies: those are resolved inside the image against constraints.txt)."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [python, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(REPO)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"`{' '.join(cmd)}` failed:\n{result.stderr[-2000:]}")
    wheels = sorted(out.glob("swarm_learning_open-*.whl"))
    if not wheels:
        raise BuildError(f"pip wheel wrote no swarm_learning_open-*.whl into {out}")
    return wheels[-1]


def runtime_requirements(wheel: Path) -> str:
    """The wheel's ``Requires-Dist`` without extras: installed in a layer of their own, cached across code changes."""
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(meta).decode().splitlines()
    reqs = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:")]
    return "".join(f"{r}\n" for r in reqs if "extra ==" not in r)


def local_wheel_dirs(given: list[str]) -> list[Path]:
    raw = given or os.environ.get("PIP_FIND_LINKS", "").split()
    return [Path(d) for d in raw if d and Path(d).is_dir()]


def make_context(name: str, root: Path, project_wheel: Path, ca_bundle: Path | None, wheel_dirs: list[Path]) -> Path:
    """A minimal build context for image ``name`` under ``root``."""
    ctx = root / name
    (ctx / "wheels").mkdir(parents=True)
    (ctx / "ca").mkdir()
    shutil.copy2(DOCKER_DIR / name / "Dockerfile", ctx / "Dockerfile")
    for file in SHARED_FILES:
        shutil.copy2(DOCKER_DIR / file, ctx / file)
    bundle = ctx / "ca" / "ca-bundle.crt"
    if ca_bundle is not None:
        shutil.copyfile(ca_bundle, bundle)
    else:
        bundle.write_text("")
    if name in ("runtime", "swop"):  # swop: the client wheel it puts into the sl-cli-lib build-context volume
        shutil.copy2(project_wheel, ctx / "wheels" / project_wheel.name)
    if name == "runtime":
        (ctx / "requirements.txt").write_text(runtime_requirements(project_wheel))
    if name == "ml-pytorch":
        for folder in wheel_dirs:
            for wheel in folder.glob("torch-*.whl"):
                target = ctx / "wheels" / wheel.name
                if _same_fs(wheel, ctx):
                    os.link(wheel, target)  # hundreds of MB: no copy
                else:
                    shutil.copy2(wheel, target)
    return ctx


def _same_fs(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


def docker(docker_cmd: list[str], *args: str, capture: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    return subprocess.run([*docker_cmd, *args], capture_output=capture, text=True, check=False, env=env)


def image_size(docker_cmd: list[str], image: str) -> int:
    result = docker(docker_cmd, "image", "inspect", "--format", "{{.Size}}", image)
    if result.returncode != 0:
        raise BuildError(f"cannot inspect {image}: {result.stderr.strip()}")
    return int(result.stdout.strip())


def build_one(
    docker_cmd: list[str], name: str, ctx: Path, tag: str, prefix: str, build_args: dict[str, str], log_dir: Path
) -> Built:
    image = image_name(prefix, name, tag)
    args = ["build", "--tag", image, "--tag", image_name(prefix, name, "latest")]
    for key, value in build_args.items():
        args += ["--build-arg", f"{key}={value}"]
    args += ["--label", f"org.opencontainers.image.version={tag}", str(ctx)]
    log_file = log_dir / f"build-{name}.log"
    log.info("building %s (log: %s)", image, log_file)
    started = time.monotonic()
    with log_file.open("w") as sink:
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        result = subprocess.run([*docker_cmd, *args], stdout=sink, stderr=subprocess.STDOUT, env=env, check=False)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        tail = log_file.read_text()[-3000:]
        raise BuildError(f"building {image} failed after {seconds:.0f} s (full log: {log_file}):\n{tail}")
    built = Built(image, round(seconds, 1), image_size(docker_cmd, image))
    log.info("built %s in %.0f s, %.0f MB", image, built.seconds, built.size_mb)
    return built


def build_all(
    names: list[str],
    tag: str,
    prefix: str,
    base_image: str,
    ca_bundle: Path | None,
    wheel_dirs: list[Path],
    docker_cmd: list[str],
    log_dir: Path,
) -> list[Built]:
    if ca_bundle is not None and not ca_bundle.is_file():
        raise BuildError(f"--ca-bundle {ca_bundle} is not a file")
    log_dir.mkdir(parents=True, exist_ok=True)
    built: list[Built] = []
    with tempfile.TemporaryDirectory(prefix="swarm-images-") as tmp:
        root = Path(tmp)
        wheel = build_wheel(root / "dist")
        log.info("project wheel: %s", wheel.name)
        runtime = image_name(prefix, "runtime", tag)
        for name in names:
            ctx = make_context(name, root, wheel, ca_bundle, wheel_dirs)
            build_args = {"BASE_IMAGE": base_image} if name == "runtime" else {"RUNTIME_IMAGE": runtime}
            if name == "ml-pytorch" and any((ctx / "wheels").glob("torch-*.whl")):
                build_args["TORCH_INDEX_URL"] = ""  # the local CPU wheel is enough; PyTorch's index may be unreachable
            built.append(build_one(docker_cmd, name, ctx, tag, prefix, build_args, log_dir))
    return built


def selected(only: str | None) -> list[str]:
    if not only:
        return list(ALL_IMAGES)
    wanted = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in ALL_IMAGES]
    if unknown:
        raise BuildError(f"--only: unknown image(s) {', '.join(unknown)}; choose from {', '.join(ALL_IMAGES)}")
    return [n for n in ALL_IMAGES if n in wanted]  # runtime first, whatever the order given


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tag", default=None, help="image tag (default: the version in pyproject.toml)")
    parser.add_argument("--prefix", default=os.environ.get("SWARM_IMAGE_PREFIX", "swarm-learning"))
    parser.add_argument("--base-image", default=os.environ.get("BASE_IMAGE", "debian:bookworm-slim"))
    parser.add_argument("--ca-bundle", type=Path, default=None, help="CA bundle pip trusts inside the builds")
    parser.add_argument("--only", default=None, help="comma-separated subset of: " + " ".join(ALL_IMAGES))
    parser.add_argument("--local-wheels", action="append", default=[], help="folder of local wheels (torch CPU)")
    parser.add_argument("--docker", default=os.environ.get("DOCKER", "docker"), help="docker command")
    parser.add_argument("--log-dir", type=Path, default=Path(tempfile.gettempdir()) / "swarm-image-builds")
    parser.add_argument("--report", type=Path, default=None, help="write build times and sizes here (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    tag = args.tag or project_version()
    started = time.monotonic()
    try:
        built = build_all(
            selected(args.only),
            tag,
            args.prefix,
            args.base_image,
            args.ca_bundle,
            local_wheel_dirs(args.local_wheels),
            args.docker.split(),
            args.log_dir,
        )
    except BuildError as exc:
        log.error("%s", exc)
        return 1
    total = time.monotonic() - started
    print(f"{'image':<40} {'build s':>8} {'size MB':>8}")
    for item in built:
        print(f"{item.image:<40} {item.seconds:>8.0f} {item.size_mb:>8.0f}")
    print(f"total build time: {total:.0f} s (base image {args.base_image})")
    if args.report:
        report = {"tag": tag, "base_image": args.base_image, "total_seconds": round(total, 1)}
        report["images"] = [{**asdict(b), "size_mb": b.size_mb} for b in built]
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
