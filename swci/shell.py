"""``swci``: the Swarm Learning Command Interface — an init script, then a prompt or the web API (options as ``run-swci``).

Start-up, in the product's order:

1. the init script (``--init-script-name`` / ``SWCI_STARTUP_SCRIPT``, looked up in ``--usr-dir``; ``swci-init`` there
   is the default when it exists and ``--usr-dir`` was given) is parsed as a whole — one malformed line and nothing
   runs (exit code 2) — then run command by command, each echoed after the prompt ``SWCI:<n> > `` (``n`` counts
   executed commands; comment and blank lines are echoed with the counter unchanged); a long command's progress
   (``WAIT FOR TASKRUNNER``'s ``#`` marks) is printed as it comes;
2. unless the script ended the session (``EXIT``, or a failure while ``EXIT ON FAILURE`` is ON), the session goes
   on: at an interactive prompt with history and tab completion (prompt_toolkit) when stdin is a terminal, reading
   stdin line by line otherwise (ending at ``EXIT`` or end of input), or — ``--web`` / ``SWCI_MODE=WEB`` — serving
   ``POST /exec`` and ``POST /uploadTaskDef`` over mutual TLS on ``SWCI_WEB_PORT`` (30306) until ``EXIT`` or SIGTERM.

Exit codes: 0 (ended by ``EXIT`` or end of input), 1 (a command failed while ``EXIT ON FAILURE`` was ON), 2 (bad
options, identity or init script: nothing ran).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

import click

from licensing.address import AplsAddress, apls_options
from licensing.client import acquire_license
from swarm_learning.errors import ConfigurationError, SwarmLearningError
from swarm_learning.identity_options import identity_options, load_identity
from swarm_learning.logs import configure
from swarm_learning.tls import TLSIdentity
from swci.language import SwciSyntaxError, completions, parse_script_lines
from swci.session import CommandResult, SwciSession

log = logging.getLogger(__name__)

DEFAULT_INIT_SCRIPT = "swci-init"
DEFAULT_WEB_PORT = 30306
DEFAULT_SN_API_PORT = 30304
EXIT_OK, EXIT_FAILED, EXIT_NOT_STARTED = 0, 1, 2


# ------------------------------------------------------------------------------------------------ running commands


@dataclass(frozen=True)
class RunOutcome:
    """How a run of lines ended: ``ended`` means the session is over (``EXIT`` or a failure under EXIT ON FAILURE)."""

    ended: bool
    exit_code: int = EXIT_OK


def format_error(error: str | None) -> str:
    """The one line printed (and answered over REST) for a failed command: ``ERROR : <why>``."""
    text = (error or "the command failed").strip()
    return text if text.startswith("ERROR") else f"ERROR : {text}"


class LiveProgress:
    """The session's progress sink: prints a long command's header at once and its ``#`` marks on one line.

    The same lines come back in the command's result; :meth:`Shell.show` leaves out what was shown already.
    Disabled in web mode (nobody watches the server's stdout).
    """

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.enabled = True
        self._shown: list[str] = []
        self._marks = 0

    def __call__(self, text: str) -> None:
        if not self.enabled:
            return
        if text == "#":
            print("#", end="", file=self.out, flush=True)
            self._marks += 1
            return
        self._end_marks()
        print(text, file=self.out, flush=True)
        self._shown.append(text)

    def _end_marks(self) -> None:
        if self._marks:
            print(file=self.out, flush=True)

    def take(self) -> tuple[list[str], int]:
        """What was shown since the last call (lines, number of marks), ending an open line of marks."""
        self._end_marks()
        shown, marks = self._shown, self._marks
        self._shown, self._marks = [], 0
        return shown, marks


class Shell:
    """Feeds commands to a session and prints what it answers, with the product's prompt ``SWCI:<n> > ``."""

    def __init__(self, session: SwciSession, out: TextIO | None = None, live: LiveProgress | None = None) -> None:
        self.session = session
        self.out = out or sys.stdout
        self.live = live
        self.executed = 0

    @property
    def prompt(self) -> str:
        return f"SWCI:{self.executed} > "

    def echo(self, text: str) -> None:
        self._print(f"{self.prompt}{text}")

    def show(self, result: CommandResult) -> None:
        shown, marks = self.live.take() if self.live is not None else ([], 0)
        for line in result.lines:
            if shown and line == shown[0]:
                shown.pop(0)
            elif marks and line and set(line) == {"#"}:
                marks = 0
            else:
                self._print(line)
        if not result.ok:
            self._print(format_error(result.error))

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _after(self, result: CommandResult) -> RunOutcome:
        """Count the command, show its output and say whether the session ends here."""
        self.executed += 1
        self.show(result)
        if result.exit_requested:
            return RunOutcome(ended=True)
        if not result.ok and self.session.exit_on_failure:
            self._print("EXIT ON FAILURE is ON: the session ends")
            return RunOutcome(ended=True, exit_code=EXIT_FAILED)
        return RunOutcome(ended=False)

    def run_line(self, text: str, line: int) -> RunOutcome:
        """One line typed or read from stdin (a syntax error is a failed command)."""
        if not text.strip() or text.lstrip().startswith("#"):
            return RunOutcome(ended=False)
        return self._after(self.session.run_line(text, line))

    def run_script(self, text: str, name: str = "script") -> RunOutcome:
        """A whole script: parsed first (a malformed line runs nothing), then echoed and run line by line."""
        try:
            lines = parse_script_lines(text)
        except SwciSyntaxError as exc:
            self._print(format_error(f"{name}: {exc}; nothing was run"))
            return RunOutcome(ended=True, exit_code=EXIT_NOT_STARTED)
        for entry in lines:
            self.echo(entry.text)
            if entry.command is None:
                continue
            outcome = self._after(self.session.execute(entry.command))
            if outcome.ended:
                return outcome
        return RunOutcome(ended=False)

    def interact(self, read: LineReader) -> int:
        """Read and run lines until ``EXIT``, end of input, or a failure while EXIT ON FAILURE is ON."""
        number = 0
        while True:
            text = read(self.prompt)
            if text is None:
                return EXIT_OK
            number += 1
            outcome = self.run_line(text, number)
            if outcome.ended:
                return outcome.exit_code


# ---------------------------------------------------------------------------------------------------- reading lines


class LineReader(Protocol):
    def __call__(self, prompt: str) -> str | None:
        """The next line (without its newline), or None at the end of input."""


def plain_reader(stream: TextIO, out: TextIO, echo: bool) -> LineReader:
    """Lines from a pipe or file; with ``echo`` the prompt and the line are printed, as in an init script's run."""

    def read(prompt: str) -> str | None:
        line = stream.readline()
        if not line:
            return None
        text = line.rstrip("\r\n")
        if echo:
            print(f"{prompt}{text}", file=out, flush=True)
        return text

    return read


def keyword_completions(before_cursor: str) -> list[tuple[str, int]]:
    """Tab completion: (keyword, start position relative to the cursor) for the words that may come next.

    The keyword is offered in the case the user is typing (``cre`` -> ``create``, ``CRE`` -> ``CREATE``).
    """
    prefix = "" if not before_cursor or before_cursor[-1].isspace() else before_cursor.split()[-1]
    lower = prefix != "" and prefix == prefix.lower()
    return [(word.lower() if lower else word, -len(prefix)) for word in completions(before_cursor)]


def keyword_completer() -> Any:
    """A prompt_toolkit completer offering the keywords that may come next (see :func:`keyword_completions`)."""
    from prompt_toolkit.completion import Completer, Completion

    class KeywordCompleter(Completer):
        def get_completions(self, document: Any, complete_event: Any) -> Any:
            for word, start in keyword_completions(document.text_before_cursor):
                yield Completion(word, start_position=start)

    return KeywordCompleter()


def terminal_reader(history_file: Path | None, **prompt_options: Any) -> LineReader:
    """The interactive prompt: prompt_toolkit with a persistent history and keyword completion (Tab).

    ``prompt_options`` go to ``PromptSession`` (tests pass ``input``/``output``).
    """
    try:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory, History, InMemoryHistory
    except ImportError:  # pragma: no cover - prompt_toolkit is a dependency; plain input() without it
        log.warning("prompt_toolkit is not installed: no history or completion at the prompt")
        return _input_reader

    history: History = InMemoryHistory()
    if history_file is not None:
        try:
            history_file.parent.mkdir(parents=True, exist_ok=True)
            history_file.touch(exist_ok=True)
            history = FileHistory(str(history_file))
        except OSError as exc:
            log.warning("no command history: %s cannot be written (%s)", history_file, exc.strerror)
    session: PromptSession[str] = PromptSession(history=history, completer=keyword_completer(), **prompt_options)

    def read(prompt: str) -> str | None:
        while True:
            try:
                return session.prompt(prompt)
            except KeyboardInterrupt:  # Ctrl-C drops the line being typed, as in a shell
                continue
            except EOFError:  # Ctrl-D ends the session
                return None

    return read


def _input_reader(prompt: str) -> str | None:  # pragma: no cover - only without prompt_toolkit
    try:
        return input(prompt)
    except EOFError:
        return None


# ---------------------------------------------------------------------------------------------------------- options


@dataclass(frozen=True)
class ShellSettings:
    usr_dir: Path
    init_script: Path | None
    web: bool
    web_port: int
    bind: str
    port_file: Path | None
    default_sn: tuple[str, int] | None
    sn_retry_seconds: float
    history_file: Path | None


def find_init_script(usr_dir: Path, name: str | None, usr_dir_given: bool = True) -> Path | None:
    """The init script to run: ``name`` (absolute, or relative to ``usr_dir``); else ``usr_dir/swci-init`` when it
    exists and a user folder was given (without ``--usr-dir`` SWCI is purely interactive, as the product's docs say)."""
    if name:
        path = Path(name) if Path(name).is_absolute() else usr_dir / name
        if not path.is_file():
            raise ConfigurationError(
                f"init script {path} does not exist: put it at the top of --usr-dir {usr_dir} or fix "
                "--init-script-name / SWCI_STARTUP_SCRIPT"
            )
        return path
    default = usr_dir / DEFAULT_INIT_SCRIPT
    return default if usr_dir_given and default.is_file() else None


def settings_from_options(options: dict[str, Any]) -> ShellSettings:
    usr_dir = Path(options["usr_dir"] or ".").absolute()
    if not usr_dir.is_dir():
        raise ConfigurationError(f"--usr-dir {usr_dir} is not a folder")
    mode = str(options["mode"]).upper()
    sn_ip = options["sn_ip"]
    history = options["history_file"]
    return ShellSettings(
        usr_dir=usr_dir,
        init_script=find_init_script(usr_dir, options["init_script"], options["usr_dir"] is not None),
        web=bool(options["web"]) or mode == "WEB",
        web_port=int(options["web_port"]),
        bind=str(options["bind"]),
        port_file=options["port_file"],
        default_sn=(str(sn_ip), int(options["sn_api_port"])) if sn_ip else None,
        sn_retry_seconds=float(options["sn_retry_seconds"]),
        history_file=Path(history).expanduser() if history else None,
    )


# ------------------------------------------------------------------------------------------------------- web mode


def serve_web(session: SwciSession, settings: ShellSettings, identity: TLSIdentity, out: TextIO) -> int:
    """Serve the REST API until ``EXIT`` arrives over it or SIGTERM/SIGINT; 0 when it stopped normally."""
    # imported here: FastAPI and uvicorn take seconds to import, which the interactive prompt need not wait for
    from swarm_learning.https import BackgroundServer, uvicorn_config
    from swarm_learning.process import stop_event, write_port_file
    from swci.rest import create_app

    stop = stop_event()
    app = create_app(session, on_exit=stop.set)
    server = BackgroundServer(uvicorn_config(app, identity, settings.bind, settings.web_port)).start()
    try:
        write_port_file(settings.port_file, server.port)
        print(f"SWCI web API on https://{settings.bind}:{server.port} (POST /exec, POST /uploadTaskDef)", file=out,
              flush=True)  # fmt: skip
        stop.wait()
    finally:
        server.stop()
    print("SWCI web API stopped", file=out, flush=True)
    return EXIT_OK


# --------------------------------------------------------------------------------------------------------- the CLI


def run(
    settings: ShellSettings,
    session: SwciSession,
    *,
    stdin: TextIO,
    out: TextIO,
    identity: TLSIdentity | None = None,
    live: LiveProgress | None = None,
    reader_factory: Callable[[Path | None], LineReader] = terminal_reader,
) -> int:
    """The whole start-up sequence of the module doc, over an already opened session."""
    shell = Shell(session, out, live)
    if settings.init_script is not None:
        outcome = shell.run_script(settings.init_script.read_text(), settings.init_script.name)
        if outcome.ended:
            return outcome.exit_code
    if settings.web:
        if live is not None:
            live.enabled = False
        if identity is None:
            raise ConfigurationError("web mode needs this SWCI's certificate (--cert, --key, --capath)")
        return serve_web(session, settings, identity, out)
    if stdin.isatty():
        return shell.interact(reader_factory(settings.history_file))
    return shell.interact(plain_reader(stdin, out, echo=True))


@click.command("swci", context_settings={"show_default": True})
@click.option(
    "--usr-dir",
    envvar="SWCI_USR_DIR",
    default=None,
    type=click.Path(path_type=Path, file_okay=False),
    help="User folder: the init script and task definitions; SWCI's starting directory (cd, ls, CREATE TASK FROM). "
    "Default: the current directory, without a default init script.",
)
@click.option(
    "--init-script-name",
    "--init-script",
    "init_script",
    envvar="SWCI_STARTUP_SCRIPT",
    default=None,
    help=f"Init script run before the prompt (relative to --usr-dir); default {DEFAULT_INIT_SCRIPT} when it exists.",
)
@click.option(
    "--mode",
    envvar="SWCI_MODE",
    default="CLI",
    type=click.Choice(["CLI", "WEB"], case_sensitive=False),
    help="CLI: interactive prompt; WEB: serve the REST API instead.",
)
@click.option("--web", is_flag=True, help="Same as --mode WEB: serve POST /exec and /uploadTaskDef, no prompt.")
@click.option("--web-port", envvar="SWCI_WEB_PORT", default=DEFAULT_WEB_PORT, type=int, help="Web API port (0 = any).")
@click.option("--bind", envvar="SWCI_WEB_BIND", default="0.0.0.0", help="Address the web API listens on.")
@click.option("--port-file", default=None, type=click.Path(path_type=Path), help="Write the web API's bound port here.")
@click.option(
    "--sn-ip",
    envvar="SWCI_SN_IP",
    default=None,
    help="SN API host of a context named 'default' made at start (scripts usually CREATE CONTEXT themselves).",
)
@click.option("--sn-api-port", envvar="SWCI_SN_API_PORT", default=DEFAULT_SN_API_PORT, type=int)
@click.option(
    "--sn-retry-seconds",
    envvar="SWCI_SN_RETRY_SECONDS",
    default=10.0,
    type=float,
    help="How long one command retries an SN that does not answer before it fails naming the address.",
)
@click.option(
    "--history-file",
    envvar="SWCI_HISTORY_FILE",
    default=str(Path("~") / ".swci_history"),
    help="Command history of the interactive prompt ('' = keep none).",
)
@click.option("--log-level", envvar="SWCI_LOG_LEVEL", default="WARNING", help="Level of the log lines on stderr.")
@identity_options
@apls_options
def main(**options: Any) -> None:
    """Run the Swarm Learning Command Interface: init script, then prompt (or web API with --web)."""
    configure(options["log_level"])
    try:
        settings = settings_from_options(options)
        identity = load_identity(options["cert"], options["key"], options["capath"], options["cacert"])
        lease = acquire_license(AplsAddress.from_options(**options), identity, "swci")  # 6002 when unreachable
    except SwarmLearningError as exc:
        click.echo(format_error(str(exc)), err=True)
        sys.exit(EXIT_NOT_STARTED)
    live = LiveProgress(sys.stdout)
    session = SwciSession(
        identity,
        cwd=settings.usr_dir,
        sn_retry_seconds=settings.sn_retry_seconds,
        default_sn=settings.default_sn,
        progress=live,
    )
    try:
        code = run(settings, session, stdin=sys.stdin, out=sys.stdout, identity=identity, live=live)
    except SwarmLearningError as exc:
        click.echo(format_error(str(exc)), err=True)
        code = EXIT_NOT_STARTED
    finally:
        session.close()
        if lease is not None:
            lease.release()
    sys.exit(code)


if __name__ == "__main__":
    main()
