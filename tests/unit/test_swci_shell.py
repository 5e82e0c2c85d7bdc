"""The SWCI shell, web API and client over a stand-in session (the real session and SNs: tests/integration).

The stand-in below implements the session interface (``run_line``, ``execute``, ``exit_on_failure``, ...) with a
few contracts held in memory, so these tests check what the shell, the REST layer and the client add: prompts and
echo, EXIT / EXIT ON FAILURE, exit codes, HTTP statuses and bodies, the role policy, caching and output parsing.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from swarm_learning.https import BackgroundServer, uvicorn_config
from swci import shell
from swci.client import SwciClient
from swci.language import (
    Command,
    CreateContract,
    CreateTaskFrom,
    Exit,
    ExitOnFailure,
    GetContractInfo,
    GetTaskRunnerStatus,
    ListContracts,
    ListNodes,
    SwciSyntaxError,
    parse_line,
)
from swci.rest import create_app
from tests.conftest import CertFactory

BUILD_TASK = (
    Path(__file__).resolve().parents[2] / "examples" / "digits" / "swci" / "taskdefs" / "user_env_pyt_build_task.yaml"
)


@dataclass(frozen=True)
class Result:
    ok: bool
    lines: list[str]
    error: str | None = None
    command: Command | None = None
    exit_requested: bool = False


@dataclass
class StandInSession:
    """Contracts in memory; everything else answers ``done <Command>``."""

    cwd: Path = field(default_factory=Path.cwd)
    exit_on_failure: bool = False
    current_context: str | None = None
    contracts: list[str] = field(default_factory=lambda: ["defaultbb.cqdb.sml.hpe"])
    executed: list[Command] = field(default_factory=list)
    task_state: str = "IDLE"
    uploads: list[str] = field(default_factory=list)
    closed: bool = False

    def execute(self, command: Command) -> Result:
        self.executed.append(command)
        if isinstance(command, ExitOnFailure):
            self.exit_on_failure = command.enabled
            return Result(True, [f"EXIT ON FAILURE IS TURNED {'ON' if command.enabled else 'OFF'}"], command=command)
        if isinstance(command, Exit):
            return Result(True, ["EXITING SWCI"], command=command, exit_requested=True)
        if isinstance(command, CreateContract):
            self.contracts.append(command.contract)
            return Result(True, [f"CONTRACT CREATED : {command.contract}"], command=command)
        if isinstance(command, ListContracts):
            return Result(True, ["CONTRACTS:", *(f"  {c}" for c in self.contracts)], command=command)
        if isinstance(command, GetContractInfo) and command.contract not in self.contracts:
            return Result(False, [], f"contract {command.contract!r} is not registered", command)
        if isinstance(command, GetTaskRunnerStatus):
            lines = ["TASK NAME : Empty", f"TASK_STATE : {self.task_state}", "ERROR : -"]  # a field, not a failure
            return Result(True, lines, command=command)
        if isinstance(command, CreateTaskFrom):
            if not (self.cwd / command.path).is_file():
                return Result(False, [], f"no file {command.path} in {self.cwd}", command)
            return Result(True, ["Task definition is valid", "Task Registered : build_task"], command=command)
        if isinstance(command, ListNodes):
            return Result(
                True,
                [
                    "NodeType, HostIP, Port, ContainerName, UUID, ParentUUID, i-am-alive",
                    "SN, 127.0.0.1, 30304, sn-1, u-sn, u-sn, 2024-01-01 00:00:00",
                    "SL, 127.0.0.1, 30305, sl-1, u-sl, u-sn, 2024-01-01 00:00:01",
                ],
                command=command,
            )
        return Result(True, [f"done {type(command).__name__}"], command=command)

    def run_line(self, text: str, line: int = 1) -> Result:
        try:
            command = parse_line(text, line)
        except SwciSyntaxError as exc:
            return Result(False, [], str(exc))
        return Result(True, []) if command is None else self.execute(command)

    def upload_task_definition(self, yaml_text: str, filename: str) -> Result:
        self.uploads.append(filename)
        return Result(True, ["Task Registered : build_task"])

    def close(self) -> None:
        self.closed = True


def run_shell(tmp_path: Path, script: str | None, stdin: str, session: StandInSession) -> tuple[int, list[str]]:
    init = None
    if script is not None:
        init = tmp_path / "swci-init"
        init.write_text(script)
    settings = shell.ShellSettings(tmp_path, init, False, 0, "127.0.0.1", None, None, 1.0, None)
    out = io.StringIO()
    code = shell.run(settings, session, stdin=io.StringIO(stdin), out=out)  # type: ignore[arg-type]
    return code, out.getvalue().splitlines()


# ------------------------------------------------------------------------------------------------------- the shell


def test_an_init_script_is_echoed_with_the_prompt_and_ends_at_exit(tmp_path: Path) -> None:
    session = StandInSession()
    script = "# set up\nCREATE CONTRACT c1\n\nlist contracts\nEXIT\nCREATE CONTRACT never\n"
    code, out = run_shell(tmp_path, script, "CREATE CONTRACT from-stdin\n", session)
    assert code == 0
    assert out == [
        "SWCI:0 > # set up",
        "SWCI:0 > CREATE CONTRACT c1",
        "CONTRACT CREATED : c1",
        "SWCI:1 > ",
        "SWCI:1 > list contracts",
        "CONTRACTS:",
        "  defaultbb.cqdb.sml.hpe",
        "  c1",
        "SWCI:2 > EXIT",
        "EXITING SWCI",
    ]
    assert "never" not in session.contracts and "from-stdin" not in session.contracts


def test_a_failure_under_exit_on_failure_ends_the_session_with_exit_code_1(tmp_path: Path) -> None:
    session = StandInSession()
    script = "GET CONTRACT INFO nope\nEXIT ON FAILURE\nGET CONTRACT INFO nope\nCREATE CONTRACT never\n"
    code, out = run_shell(tmp_path, script, "", session)
    assert code == 1
    assert out.count("ERROR : contract 'nope' is not registered") == 2
    assert out[-1] == "EXIT ON FAILURE is ON: the session ends"
    assert "never" not in session.contracts


def test_a_malformed_init_script_runs_nothing_and_says_where(tmp_path: Path) -> None:
    session = StandInSession()
    code, out = run_shell(tmp_path, "CREATE CONTRACT c1\nASSIGN TASK t TO r WITH x PEERS\n", "", session)
    assert code == 2
    assert session.executed == []
    assert len(out) == 1
    assert out[0].startswith("ERROR : swci-init: line 2, col 25: expected <peersNeeded>")
    assert "usage: ASSIGN TASK" in out[0] and out[0].endswith("nothing was run")


def test_piped_commands_run_until_end_of_input_and_a_typo_is_one_line_error(tmp_path: Path) -> None:
    session = StandInSession()
    code, out = run_shell(tmp_path, None, "create contract c2\ncreate contrat c3\n# note\nlist contracts\n", session)
    assert code == 0
    assert out[0:2] == ["SWCI:0 > create contract c2", "CONTRACT CREATED : c2"]
    assert out[2] == "SWCI:1 > create contrat c3"
    assert out[3].startswith("ERROR : line 2, col 8: expected ")
    assert out[4] == "SWCI:2 > # note"
    assert out[-1] == "  c2"


def test_piped_commands_stop_at_a_failure_when_exit_on_failure_is_on(tmp_path: Path) -> None:
    session = StandInSession()
    code, out = run_shell(tmp_path, "EXIT ON FAILURE\n", "get contract info x\ncreate contract never\n", session)
    assert code == 1
    assert out[-2:] == ["ERROR : contract 'x' is not registered", "EXIT ON FAILURE is ON: the session ends"]
    assert "never" not in session.contracts


def test_the_init_script_defaults_to_swci_init_in_the_usr_dir_and_a_named_one_must_exist(tmp_path: Path) -> None:
    assert shell.find_init_script(tmp_path, None) is None
    (tmp_path / "swci-init").write_text("EXIT\n")
    assert shell.find_init_script(tmp_path, None) == tmp_path / "swci-init"
    assert shell.find_init_script(tmp_path, None, usr_dir_given=False) is None  # no --usr-dir: interactive only
    (tmp_path / "other").write_text("EXIT\n")
    assert shell.find_init_script(tmp_path, "other") == tmp_path / "other"
    with pytest.raises(Exception, match="init script .*missing does not exist"):
        shell.find_init_script(tmp_path, "missing")


def test_tab_completion_offers_the_next_keywords_in_the_case_being_typed() -> None:
    assert ("CONTEXT", 0) in shell.keyword_completions("CREATE ")
    assert ("contract", -4) in shell.keyword_completions("create cont")
    assert {word for word, _ in shell.keyword_completions("get taskrunner ")} == {"INFO", "PEER", "STATUS"}


def test_tab_at_the_prompt_completes_keywords_through_prompt_toolkit() -> None:
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    completer = shell.keyword_completer()
    offered = [c.text for c in completer.get_completions(Document("list no"), CompleteEvent(completion_requested=True))]
    assert offered == ["nodes"]
    offered = [c.text for c in completer.get_completions(Document("CREATE CON"), CompleteEvent())]
    assert offered == ["CONTEXT", "CONTRACT"]


def test_the_prompt_keeps_its_history_in_a_file_and_ends_at_ctrl_d(tmp_path: Path) -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    history = tmp_path / "history"
    with create_pipe_input() as keys:
        keys.send_text("list contracts\r\x04")
        read = shell.terminal_reader(history, input=keys, output=DummyOutput())
        assert read("SWCI:0 > ") == "list contracts"
        assert read("SWCI:1 > ") is None
    assert "+list contracts" in history.read_text()
    with create_pipe_input() as keys:
        keys.send_text("\x1b[A\r")  # arrow up: the previous session's command
        read = shell.terminal_reader(history, input=keys, output=DummyOutput())
        assert read("SWCI:0 > ") == "list contracts"


def test_the_cli_documents_the_products_options_and_environment(tmp_path: Path) -> None:
    result = CliRunner().invoke(shell.main, ["--help"])
    assert result.exit_code == 0
    for option in ("--usr-dir", "--init-script-name", "--mode", "--web", "--web-port", "--sn-ip", "--cert", "--capath"):
        assert option in result.output
    missing = CliRunner().invoke(shell.main, ["--usr-dir", str(tmp_path), "--init-script-name", "nope"])
    assert missing.exit_code == 2 and "init script" in missing.output


# ------------------------------------------------------------------------------------------- web API and client


@dataclass
class WebApi:
    port: int
    session: StandInSession
    exited: threading.Event
    swarm_ca: CertFactory

    def client(self, name: str = "swci-1", **kwargs: object) -> SwciClient:
        p = self.swarm_ca.paths(name)
        return SwciClient(
            "127.0.0.1",
            self.port,
            clientCert=str(p.cert),
            clientPKey=str(p.key),
            clientCABundle=str(p.capath),
            logger=__import__("logging").getLogger("swci-web-test"),
            **kwargs,  # type: ignore[arg-type]
        )


@pytest.fixture
def web_api(swarm_ca: CertFactory, tmp_path: Path) -> Iterator[WebApi]:
    session = StandInSession(cwd=tmp_path)
    exited = threading.Event()
    app = create_app(session, on_exit=exited.set)  # type: ignore[arg-type]
    server = BackgroundServer(uvicorn_config(app, swarm_ca.identity("swci-1"), "127.0.0.1", 0)).start()
    try:
        yield WebApi(server.port, session, exited, swarm_ca)
    finally:
        server.stop()


def test_exec_answers_content_lines_and_errors_with_their_status(web_api: WebApi) -> None:
    with web_api.client() as client:
        http = client._http
        ok = http.post(f"{client.baseUrl}/exec", params={"cmd": "create contract web1"})
        assert (ok.status_code, ok.json()) == (200, {"CONTENT": ["CONTRACT CREATED : web1"]})
        bad = http.post(f"{client.baseUrl}/exec", params={"cmd": "create contrat web2"})
        assert bad.status_code == 400
        (line,) = bad.json()["CONTENT"]
        assert line.startswith("ERROR : line 1, col 8: expected ") and "usage:" in line
        failed = http.post(f"{client.baseUrl}/exec", params={"cmd": "get contract info nope"})
        assert (failed.status_code, failed.json()) == (422, {"CONTENT": ["ERROR : contract 'nope' is not registered"]})
        missing = http.post(f"{client.baseUrl}/exec")
        assert missing.status_code == 400 and missing.json()["CONTENT"][0].startswith("ERROR : malformed request")
        empty = http.post(f"{client.baseUrl}/exec", params={"cmd": "  "})
        assert empty.status_code == 400
        several = http.post(f"{client.baseUrl}/exec", params={"cmd": "get taskrunner status tr"})
        assert several.json() == {"CONTENT": ["TASK NAME : Empty\nTASK_STATE : IDLE\nERROR : -"]}  # one string
    assert "web2" not in web_api.session.contracts


def test_exit_over_the_web_api_answers_and_then_stops_the_server(web_api: WebApi) -> None:
    with web_api.client() as client:
        assert client.execute("exit") == ["EXITING SWCI"]
    assert web_api.exited.wait(10)


def test_only_swci_certificates_may_use_the_web_api(web_api: WebApi) -> None:
    with web_api.client("sl-1") as client:
        assert client.listTrainingContracts() == []
        errors = client.getErrors() or ""
        assert "an sl certificate" in errors and "only swci may" in errors and "HTTP 403" in errors
    assert web_api.session.executed == []


def test_the_client_returns_lines_or_nothing_with_the_error_kept(web_api: WebApi) -> None:
    with web_api.client() as client:
        assert client.createTrainingContract("c9") == ["CONTRACT CREATED : c9"]
        assert client.getErrors() is None
        assert client.getTrainingContractInfo("nope") == []
        assert client.getErrors() == "ERROR : contract 'nope' is not registered"
        assert client.listNodes()[1].startswith("SN, 127.0.0.1")
        assert [row["NodeType"] for row in client.nodeRows()] == ["SN", "SL"]


def test_cached_listings_are_refreshed_by_the_matching_create(web_api: WebApi) -> None:
    with web_api.client() as client:
        first = client.listTrainingContracts()
        web_api.session.contracts.append("made-elsewhere")
        assert client.listTrainingContracts() == first  # cached
        client.createTrainingContract("c10")
        assert client.listTrainingContracts()[-2:] == ["made-elsewhere", "c10"]
    with web_api.client(enableCaching=False) as client:
        web_api.session.contracts.append("c11")
        assert client.listTrainingContracts()[-1] == "c11"


def test_upload_then_register_a_task_as_the_products_client_does(web_api: WebApi, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "build.yaml").write_text(BUILD_TASK.read_text())
    with web_api.client() as client:
        answer = client.uploadTaskDefintion(str(source / "build.yaml"))
        assert answer == f"Task definition saved : {tmp_path / 'build.yaml'}"
        assert (tmp_path / "build.yaml").read_text() == BUILD_TASK.read_text()
        assert web_api.session.executed == []  # stored only: registering is the next call
        assert client.registerTask("build.yaml") == ["Registered Task : build_task"]
        assert [type(c).__name__ for c in web_api.session.executed] == ["CreateTaskFrom", "FinalizeTask"]
        with pytest.raises(RuntimeError, match="not found"):
            client.uploadTaskDefintion(str(source / "missing.yaml"))


def test_an_upload_with_a_path_or_malformed_yaml_is_refused_with_the_position(web_api: WebApi) -> None:
    with web_api.client() as client:
        url = f"{client.baseUrl}/uploadTaskDef"
        with_path = client._http.post(url, files={"file": ("../x.yaml", BUILD_TASK.read_bytes())})
        assert with_path.status_code == 400 and with_path.text.startswith("ERROR : upload a file by its base name")
        broken = client._http.post(url, files={"file": ("bad.yaml", b"Name: x\nTaskType: [RUN_SWARM\n")})
        assert broken.status_code == 400
        assert re.match(r"ERROR : bad\.yaml: line \d+, col \d+: YAML syntax error", broken.text), broken.text
        assert "\n" not in broken.text
    assert not (web_api.session.cwd / "bad.yaml").exists()


def test_an_upload_can_register_at_once(web_api: WebApi) -> None:
    with web_api.client() as client:
        answer = client._http.post(
            f"{client.baseUrl}/uploadTaskDef",
            params={"register": "true"},
            files={"file": ("b.yaml", BUILD_TASK.read_bytes())},
        )
        assert (answer.status_code, answer.text) == (200, "Task Registered : build_task")
    assert web_api.session.uploads == ["b.yaml"]


def test_a_long_commands_progress_is_shown_live_and_not_twice() -> None:
    out = io.StringIO()
    live = shell.LiveProgress(out)
    session = StandInSession()
    console = shell.Shell(session, out, live)  # type: ignore[arg-type]
    live("WAITING FOR TASKRUNNER TO COMPLETE")
    live("#")
    live("#")
    console.show(Result(True, ["WAITING FOR TASKRUNNER TO COMPLETE", "##", "TASK_STATE : COMPLETE"]))  # type: ignore[arg-type]
    assert out.getvalue().splitlines() == ["WAITING FOR TASKRUNNER TO COMPLETE", "##", "TASK_STATE : COMPLETE"]


def test_task_state_is_read_from_the_task_state_line(web_api: WebApi) -> None:
    with web_api.client() as client:
        assert client.getTaskRunnerStatus("tr")[-1] == "ERROR : -"
        assert client.isTaskDone("defaulttaskbb.taskdb.sml.hpe")
        web_api.session.task_state = "RUNNING"
        assert not client.isTaskDone("defaulttaskbb.taskdb.sml.hpe")


def test_the_client_checks_its_arguments_like_the_product() -> None:
    with pytest.raises(RuntimeError, match="SWCI IP not provided!"):
        SwciClient(None)
    with pytest.raises(RuntimeError, match="SWCI Port not Integer!"):
        SwciClient("127.0.0.1", "30306")  # type: ignore[arg-type]


def test_the_products_import_path_names_the_same_client() -> None:
    import swarmlearning.swci as sw

    assert sw.Swci is SwciClient
