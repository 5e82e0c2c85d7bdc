"""Executors run a SWOP task's steps on a site: one interface (``base.Executor``), one class per ``mgrtype``."""

from __future__ import annotations

from pathlib import Path

from swop.executors.base import Executor, ExecutorError, Reporter, TaskJob, WorkerResult
from swop.executors.process import ProcessExecutor
from swop.schema import SwopProfile


def make_executor(profile: SwopProfile, state_dir: Path) -> Executor:
    """The executor of the profile's ``resourcemgr.mgrtype`` (``DOCKER`` checks that its engine answers)."""
    if profile.resourcemgr.mgrtype == "DOCKER":
        from swop.executors.docker import DockerExecutor  # the docker SDK is needed only here

        return DockerExecutor(profile, state_dir)
    return ProcessExecutor(profile, state_dir)


__all__ = ["Executor", "ExecutorError", "ProcessExecutor", "Reporter", "TaskJob", "WorkerResult", "make_executor"]
