"""Miscellaneous commands: CD, LS, PWD, SLEEP, EXIT ON FAILURE, EXIT and HELP."""

from __future__ import annotations

import shlex
import subprocess

from swci.errors import SwciError
from swci.executor.state import SessionState
from swci.language import commands as c
from swci.language import render_help

LS_TIMEOUT_SECONDS = 30.0


def change_directory(state: SessionState, command: c.ChangeDirectory) -> list[str]:
    target = (state.cwd / command.path).resolve()
    if not target.is_dir():
        raise SwciError(f"cannot change to {target}: no such directory")
    state.cwd = target
    return [f"Current Directory : {target}"]


def print_working_directory(state: SessionState, _: c.PrintWorkingDirectory) -> list[str]:
    return [str(state.cwd)]


def list_directory(state: SessionState, command: c.ListDirectory) -> list[str]:
    """``ls`` with the given options in SWCI's directory (run without a shell: options cannot start commands)."""
    try:
        args = shlex.split(command.options)
    except ValueError as exc:
        raise SwciError(f"cannot read the options of LS: {exc}") from exc
    try:
        done = subprocess.run(
            ["ls", *args], cwd=state.cwd, capture_output=True, text=True, timeout=LS_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SwciError(f"ls failed: {exc}") from exc
    if done.returncode != 0:
        raise SwciError(done.stderr.strip() or f"ls ended with exit code {done.returncode}")
    return done.stdout.splitlines()


def sleep(state: SessionState, command: c.Sleep) -> list[str]:
    """Pause the session (grace periods in scripts); closing the session ends the pause."""
    state.stopping.wait(command.seconds)
    return [f"SLEPT {command.seconds:g} SECONDS"]


def exit_on_failure(state: SessionState, command: c.ExitOnFailure) -> list[str]:
    state.exit_on_failure = command.enabled
    return [f"EXIT ON FAILURE IS TURNED {'ON' if command.enabled else 'OFF'}"]


def exit_session(_: SessionState, __: c.Exit) -> list[str]:
    return ["EXITING SWCI"]


def show_help(_: SessionState, command: c.Help) -> list[str]:
    return render_help(command).splitlines()


HANDLERS = {
    c.ChangeDirectory: change_directory,
    c.PrintWorkingDirectory: print_working_directory,
    c.ListDirectory: list_directory,
    c.Sleep: sleep,
    c.ExitOnFailure: exit_on_failure,
    c.Exit: exit_session,
    c.Help: show_help,
}
