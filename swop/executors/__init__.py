"""Executors run a SWOP task's steps on a site: one interface (``base.Executor``), one class per ``mgrtype``."""

from swop.executors.base import Executor, ExecutorError, Reporter, TaskJob, WorkerResult
from swop.executors.process import ProcessExecutor

__all__ = ["Executor", "ExecutorError", "ProcessExecutor", "Reporter", "TaskJob", "WorkerResult"]
