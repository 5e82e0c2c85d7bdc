"""Regenerate (or check) the Python code generated from the ``.proto`` files of this folder.

Run from anywhere::

    python -m swarm_learning.proto.generate          # rewrite the committed *_pb2*.py / *.pyi files
    python -m swarm_learning.proto.generate --check  # exit 1 if regenerating would change them

``protoc`` runs with the repository root as include path, so generated modules import each other as
``from swarm_learning.proto import ml_channel_pb2``. The lines that only record which protoc / grpcio
version generated a file are ignored by ``--check``, so a newer grpcio-tools does not fail the check.
"""

from __future__ import annotations

import argparse
import difflib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
REPO_ROOT = PROTO_DIR.parent.parent
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")

# Lines that name the generator's version: they change with grpcio-tools, not with the .proto files.
_VERSION_LINE = re.compile(
    r"^(# Protobuf Python Version:.*"
    r"|GRPC_GENERATED_VERSION = .*"
    r"|\s+\d+,\s*$"  # the major/minor/patch arguments of ValidateProtobufRuntimeVersion(...)
    r")$"
)


def proto_files() -> list[Path]:
    """The .proto sources of this folder, sorted."""
    return sorted(PROTO_DIR.glob("*.proto"))


def generated_names(proto: Path) -> list[str]:
    stem = proto.stem
    return [stem + suffix for suffix in GENERATED_SUFFIXES]


def generate(out_root: Path) -> None:
    """Run protoc on every .proto of this folder, writing the package tree below ``out_root``.

    protoc runs in a child process: loaded next to TensorFlow's own protobuf/absl copies, the in-process
    compiler can crash the interpreter. (``python -m grpc_tools.protoc`` adds the well-known types' folder.)
    """
    sources = [str(p) for p in proto_files()]
    if not sources:
        raise SystemExit(f"no .proto files in {PROTO_DIR}")
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{REPO_ROOT}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *sources,
    ]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"protoc failed:\n{done.stderr}")


def _normalise(text: str) -> list[str]:
    return [line for line in text.splitlines() if not _VERSION_LINE.match(line)]


def check() -> list[str]:
    """Differences between the committed generated files and a fresh generation (empty if none)."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh_dir = Path(tmp) / PROTO_DIR.relative_to(REPO_ROOT)
        for proto in proto_files():
            for name in generated_names(proto):
                committed, fresh = PROTO_DIR / name, fresh_dir / name
                if not committed.exists():
                    problems.append(f"{name} is missing: run python -m swarm_learning.proto.generate")
                    continue
                old, new = _normalise(committed.read_text()), _normalise(fresh.read_text())
                if old != new:
                    diff = "\n".join(
                        list(difflib.unified_diff(old, new, name, name + " (fresh)", lineterm=""))[:40]
                    )
                    problems.append(f"{name} is out of date with its .proto:\n{diff}")
    return problems


def write() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh_dir = Path(tmp) / PROTO_DIR.relative_to(REPO_ROOT)
        for proto in proto_files():
            for name in generated_names(proto):
                shutil.copyfile(fresh_dir / name, PROTO_DIR / name)
                print(f"wrote {PROTO_DIR / name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the files are up to date")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    write()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
