"""An operator's SWCI session: parse commands, execute them against the current context's SN, report one line errors.

The interactive shell, the REST server (port 30306) and the Python client all drive a ``SwciSession``::

    session = SwciSession(identity, cwd=Path("/platform/swarm/usr"))
    result = session.run_line("create context c1 with ip sn1")     # CommandResult(ok, lines, error, ...)
    script = session.run_script(Path("swci-init").read_text())      # ScriptResult(results, exit_code, ...)

``execute`` never raises for a user's error: a malformed command, an unreachable SN (the error names the address),
a contract that refuses the change, a task runner that ends in ERROR all come back as ``ok=False`` with a one-line
``error``. Malformed commands are refused by the parser before anything is sent, so they never touch the chain.
What each command prints, and the choices made where the product's documentation is silent, are described in
``swci.executor``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from swarm_learning.errors import ContractRevert, SNUnavailable, SwarmLearningError
from swarm_learning.tls import TLSIdentity
from swci.errors import CommandFailed, SwciError, one_line
from swci.executor import HANDLERS, tasks
from swci.executor.state import DEFAULT_CONTEXT, Context, Progress, SessionState
from swci.executor.taskdef import parse_task_definition
from swci.language import Command, Exit, SwciLanguageError, parse_line, parse_script

log = logging.getLogger(__name__)

_UNREACHABLE = re.compile(r"at (?P<where>.+?) \((?P<reason>.*)\); check")


@dataclass(frozen=True)
class CommandResult:
    ok: bool  # False: the command failed (error says why, one line)
    lines: list[str] = field(default_factory=list)  # what the command prints (plain text, no ANSI codes)
    error: str | None = None  # one-line error (syntax errors: "line L, col C: expected ... ; usage: ...")
    command: Command | None = None
    exit_requested: bool = False  # the EXIT command


@dataclass(frozen=True)
class ScriptResult:
    results: list[CommandResult]
    exit_code: int  # 0, or 1 when a command failed while EXIT ON FAILURE was ON (or the script did not parse)
    stopped_at_line: int | None  # line of the command that stopped the script, else None


class SwciSession:
    """One operator's SWCI state: contexts (name -> SN address), the current context, EXIT ON FAILURE, cwd.

    ``progress``, when given, receives progress marks while a long command runs (``WAIT FOR TASKRUNNER`` prints
    its header and a ``#`` every 10 s); the marks are in the command's lines as well. Commands run one at a time.
    """

    def __init__(
        self,
        identity: TLSIdentity,
        *,
        cwd: Path | None = None,
        sn_retry_seconds: float = 10.0,
        default_sn: tuple[str, int] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self._state = SessionState(identity, (cwd or Path.cwd()).resolve(), sn_retry_seconds, progress)
        self._lock = threading.RLock()
        if default_sn is not None:
            host, port = default_sn
            self._state.add_context(Context(DEFAULT_CONTEXT, host, int(port)))
            self._state.current = DEFAULT_CONTEXT

    # ------------------------------------------------------------------------------------------- state

    @property
    def exit_on_failure(self) -> bool:
        return self._state.exit_on_failure

    @exit_on_failure.setter
    def exit_on_failure(self, value: bool) -> None:
        self._state.exit_on_failure = bool(value)

    @property
    def current_context(self) -> str | None:
        return self._state.current

    @property
    def cwd(self) -> Path:
        return self._state.cwd

    @property
    def state(self) -> SessionState:
        """The session's contexts, SN clients and settings (for tests and tools; commands change it)."""
        return self._state

    # ---------------------------------------------------------------------------------------- running

    def execute(self, command: Command) -> CommandResult:
        handler = HANDLERS.get(type(command))
        if handler is None:
            return CommandResult(False, [], f"{type(command).__name__} cannot be executed", command)
        result = self._guarded(lambda: handler(self._state, command), command)
        if result.ok and isinstance(command, Exit):
            return CommandResult(True, result.lines, None, command, exit_requested=True)
        return result

    def run_line(self, text: str, line: int = 1) -> CommandResult:
        try:
            command = parse_line(text, line)
        except SwciLanguageError as exc:
            return CommandResult(False, [], one_line(str(exc)))
        if command is None:
            return CommandResult(True, [])
        return self.execute(command)

    def run_script(self, text: str) -> ScriptResult:
        """Parse the whole script (a syntax error runs nothing), then run it line by line, honouring EXIT ON
        FAILURE (a failure while it is ON stops the script with exit code 1) and EXIT (stops with 0)."""
        try:
            commands = parse_script(text)
        except SwciLanguageError as exc:
            return ScriptResult([CommandResult(False, [], one_line(str(exc)))], 1, getattr(exc, "line", None))
        results: list[CommandResult] = []
        for command in commands:
            result = self.execute(command)
            results.append(result)
            if not result.ok and self.exit_on_failure:
                return ScriptResult(results, 1, command.line)
            if result.exit_requested:
                break
        return ScriptResult(results, 0, None)

    def upload_task_definition(self, yaml_text: str, filename: str) -> CommandResult:
        """Keep an uploaded task YAML in the session's directory (under its base name) and register it, as
        ``CREATE TASK FROM <file>`` does. A definition that does not pass the checks is neither kept nor sent."""
        return self._guarded(lambda: self._upload(yaml_text, filename), None)

    def _upload(self, yaml_text: str, filename: str) -> list[str]:
        name = Path(filename.replace("\\", "/")).name
        if name in ("", ".", ".."):
            raise SwciError(f"{filename!r} is not a file name")
        definition = parse_task_definition(yaml_text, name)
        target = self._state.cwd / name
        try:
            target.write_text(yaml_text, encoding="utf-8")
        except OSError as exc:
            raise SwciError(f"cannot save the task definition as {target}: {exc.strerror or exc}") from exc
        return [f"Task definition saved : {target}", *tasks.register_definition(self._state, definition)]

    def close(self) -> None:
        self._state.close()

    def __enter__(self) -> SwciSession:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -------------------------------------------------------------------------------------- internals

    def _guarded(self, run: Callable[[], list[str]], command: Command | None) -> CommandResult:
        with self._lock:
            try:
                return CommandResult(True, run(), None, command)
            except CommandFailed as exc:
                return CommandResult(False, exc.lines, str(exc), command)
            except SNUnavailable as exc:
                return CommandResult(False, [], self._unreachable(exc), command)
            except ContractRevert as exc:
                return CommandResult(False, [], one_line(exc.reason), command)
            except SwarmLearningError as exc:
                return CommandResult(False, [], one_line(str(exc)), command)
            except Exception as exc:  # a bug must not end the operator's session; it is logged
                log.exception("SWCI command %r failed unexpectedly", command)
                return CommandResult(False, [], one_line(f"internal error: {type(exc).__name__}: {exc}"), command)

    @staticmethod
    def _unreachable(exc: SNUnavailable) -> str:
        found = _UNREACHABLE.search(str(exc))
        if found is None:
            return one_line(str(exc))
        where = found["where"].replace("https://", "")
        return one_line(
            f"SN API server {where} is unreachable ({found['reason']}); check that the SN runs there and that the "
            "context's address is right"
        )
