"""SWCI against real SN processes, as an operator uses it.

* Every command of the specification runs through the shell (a ``python -m swci.shell`` process fed the commands on
  stdin) and through the web API (``POST /exec`` of a ``swci --web`` process), in the same order, with the outcome
  of each asserted: one table, ``STEPS``, checked twice. Steps build on each other (a context before a contract,
  a task before its assignment) and include state checks (after ``CREATE CONTRACT``, ``LIST CONTRACTS`` shows it).
* The digits example's init script runs end to end against a local swarm that trains, and ``PERFDATA`` shows live
  loss and epochs while it trains.
* Malformed commands and task YAML give a one-line error with the position and the expected form and change
  nothing on the chain; an unreachable SN is named.

The SWOP is not built yet (next issue): a scripted SWOP (``ScriptedSwop``, a thread speaking the real SN API with a
``swop-1`` certificate, as a SWOP does) listens on the default taskrunner, enrolls in what is assigned and reports
success, so that ``ASSIGN``/``WAIT``/``PEER STATUS`` have a peer to show.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from swarm_learning.errors import SwarmLearningError
from swarm_learning.runlocal import LocalSwarm, RunLocalOptions
from swarm_learning.sn_client import SNClient
from swarm_learning.tls import TLSIdentity
from swci.client import SwciClient
from tests.conftest import CertFactory
from tests.integration.harness import PROGRAMS, REPO, Daemon, logs_of, spawn, start_sn, wait_for_port_file

EXAMPLE = REPO / "examples" / "digits" / "swci"
DEFAULT_TR = "defaulttaskbb.taskdb.sml.hpe"
DEFAULT_CONTRACT = "defaultbb.cqdb.sml.hpe"
PROMPT = re.compile(r"^SWCI:\d+ > ")
SHELL_TIMEOUT = 300

pytestmark = pytest.mark.timeout(900)


# --------------------------------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Step:
    """One command (``{port}``: the SN's API port, ``{who}``: ``sh`` or ``web``, so both runs share one chain) and
    what its output must hold (``expect``) and must not (``absent``); ``ok=False``: the command must fail."""

    command: str
    expect: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    ok: bool = True

    def text(self, port: int, who: str) -> str:
        return self.command.format(port=port, who=who)


def step(command: str, *expect: str, absent: tuple[str, ...] = ()) -> Step:
    return Step(command, expect, absent)


def fail(command: str, *expect: str) -> Step:
    """A step that must fail with one ``ERROR : `` line; ``expect``: fragments of its output and error."""
    return Step(command, expect, ok=False)


STEPS: list[Step] = [
    # misc and contexts
    step("HELP", "SWCI commands", "CREATE CONTEXT <contextName> WITH IP", "PERFDATA <contractName>"),
    step("HELP HELP", "Usage: HELP [<command>]"),
    fail("GET CONTRACT INFO {who}-ct", "no current context"),
    step("WAIT FOR IP 127.0.0.1 {port} 5", "API Server is UP!"),
    step("WAIT FOR SERVICE localhost:{port} 5", "API Server is UP!"),
    step("CREATE CONTEXT {who}-ctx WITH IP 127.0.0.1 {port}", "API Server is UP!", "CONTEXT CREATED : {who}-ctx"),
    step("CREATE CONTEXT {who}-svc WITH SERVICE localhost:{port}", "CONTEXT CREATED : {who}-svc"),
    step("SWITCH CONTEXT {who}-ctx", "DEFAULT CONTEXT SET TO : {who}-ctx"),
    step("GET CONTEXT INFO", "CONTEXT NAME : {who}-ctx", "API SERVER : 127.0.0.1:{port}", "DEFAULT CONTEXT : YES"),
    step("GET CONTEXT INFO {who}-svc", "API SERVICE : localhost:{port}", "DEFAULT CONTEXT : NO"),
    step("SET CONTEXT ENV {who}-ctx MY_SETTING 42", "CONTEXT ENV SET : {who}-ctx : MY_SETTING = 42"),
    step("GET CONTEXT ENV {who}-ctx MY_SETTING", "MY_SETTING : 42"),
    step("LIST CONTEXT ENV {who}-ctx", "MY_SETTING : 42"),
    step("GET CONTEXT VERSION", "SN IDENTITY : sn-1", "SWCI VERSION :"),
    step("LIST CONTEXTS", "{who}-ctx", "{who}-svc"),
    # training contracts
    step("LIST CONTRACTS", DEFAULT_CONTRACT, absent=("{who}-ct",)),
    step("CREATE CONTRACT {who}-ct", "CONTRACT CREATED : {who}-ct"),
    step("LIST CONTRACTS", DEFAULT_CONTRACT, "{who}-ct"),
    fail("CREATE CONTRACT {who}-ct", "exists"),
    step("GET CONTRACT INFO {who}-ct", "CONTRACT NAME : {who}-ct"),
    step("GET CONTRACT STATUS {who}-ct", "CONTRACT STATE : UNINITIALISED", "SL NODES : 0"),
    step("PERFDATA {who}-ct", "NO SL NODES HAVE JOINED : {who}-ct"),
    step("RESET CONTRACT {who}-ct", "CONTRACT RESET : {who}-ct"),
    step("HISTORY {who}-ct", "createTraining", "resetTraining", "swci-1"),
    fail("GET CONTRACT STATUS {who}-nope", "{who}-nope"),
    # tasks
    step("LIST TASKS", "ROOTTASK", absent=("build_{who}",)),
    step(
        "CREATE TASK FROM taskdefs/build_{who}.yaml",
        "Task definition is valid",
        "Task Registered : build_{who}",
        "Appending Task Body",
        "Successful",
    ),
    step("GET TASK INFO build_{who}", "TASK TYPE : MAKE_USER_CONTAINER", "PREREQ : ROOTTASK", "TASK STATE : CREATED"),
    step("FINALIZE TASK build_{who}", "TASK FINALIZED : build_{who}"),
    step("GET TASK INFO build_{who}", "TASK STATE : FINALIZED", "OUTCOME : user-env-pyt-digits"),
    step("GET TASK BODY build_{who}", "0000: ---", "0001: BuildContext: sl-cli-lib", "  - FROM python:3.11-slim"),
    step("CREATE TASK RUN_SWARM run_{who} tester build_{who} run_{who}", "Task Registered : run_{who}"),
    step("APPEND TASK BODY run_{who} 1 Command: model/digits_pyt.py", "TASK BODY LINE 1 SET : run_{who}"),
    step("APPEND TASK BODY run_{who} 2 Entrypoint: python3", "TASK BODY LINE 2 SET : run_{who}"),
    step("GET TASK BODY run_{who}", "0001: Command: model/digits_pyt.py", "0002: Entrypoint: python3"),
    step("CREATE TASK PULL_IMAGE tmp_{who} tester ROOTTASK busybox", "Task Registered : tmp_{who}"),
    step("LIST TASKS", "ROOTTASK", "build_{who}", "run_{who}", "tmp_{who}"),
    step("DELETE TASK tmp_{who}", "TASK DELETED : tmp_{who}"),
    step("LIST TASKS", "build_{who}", absent=("tmp_{who}",)),
    fail("DELETE TASK build_{who}", "build_{who}"),  # finalized tasks are immutable
    fail("APPEND TASK BODY build_{who} 20 RUN true", "build_{who}"),
    # taskrunners
    step("CREATE TASKRUNNER {who}-tr", "TASKRUNNER CREATED : {who}-tr"),
    step("LIST TASKRUNNERS", DEFAULT_TR, "{who}-tr"),
    step("GET TASKRUNNER INFO {who}-tr", "TASKRUNNER NAME : {who}-tr", "TASK_STATE : IDLE"),
    step("GET TASKRUNNER STATUS {who}-tr", "TASK NAME : Empty", "TASK_STATE : IDLE"),
    step("WAIT FOR TASKRUNNER {who}-tr", "WAITING FOR TASKRUNNER TO COMPLETE", "TASK_STATE : IDLE"),
    step("RESET TASKRUNNER {who}-tr", "TASKRUNNER RESET : {who}-tr"),
    fail("ASSIGN TASK run_{who} TO {who}-tr WITH 1 PEERS", "run_{who}"),  # not finalized
    step("ASSIGN TASK build_{who} TO {who}-tr WITH 1 PEERS", "TASK ASSIGNED : build_{who} TO {who}-tr"),
    step("GET TASKRUNNER STATUS {who}-tr", "TASK NAME : build_{who}", "TASK_STATE : ASSIGNED", "PEERS NEEDED : 1"),
    fail("ASSIGN TASK build_{who} TO {who}-tr WITH 1 PEERS", "{who}-tr"),  # busy
    step("SET CONTEXT ENV {who}-ctx SWCI_GENERIC_TASK_MAX_WAIT_TIME 0.02", "SWCI_GENERIC_TASK_MAX_WAIT_TIME"),
    fail(
        "WAIT FOR TASKRUNNER {who}-tr",
        "WAITING FOR TASKRUNNER TO COMPLETE",
        "WARNING - Maximum configured SWCI wait time is over",
        "still ASSIGNED",
    ),
    step("LIST TASKRUNNER PEERS {who}-tr", "NO PEERS IN THE CURRENT RUN OF : {who}-tr"),
    fail("GET TASKRUNNER PEER STATUS {who}-tr 0", "peer index 0 is out of range"),
    # with the scripted SWOP listening on the default taskrunner
    step("RESET TASKRUNNER " + DEFAULT_TR, "TASKRUNNER RESET : " + DEFAULT_TR),
    step(f"ASSIGN TASK build_{{who}} TO {DEFAULT_TR} WITH ALL PEERS", "TASK ASSIGNED", "PEERS NEEDED : 1 SWOP"),
    step("WAIT FOR TASKRUNNER " + DEFAULT_TR, "WAITING FOR TASKRUNNER TO COMPLETE", "TASK_STATE : COMPLETE"),
    step(
        "GET TASKRUNNER STATUS " + DEFAULT_TR, "TASK_STATE : COMPLETE", "ASSIGN MODE : ALL_PEERS", "COMPLETED PEERS : 1"
    ),
    step("LIST TASKRUNNER PEERS " + DEFAULT_TR, "swop-1"),
    step(f"GET TASKRUNNER PEER STATUS {DEFAULT_TR} 0", "swop-1"),
    step(f"GET TASKRUNNER PEER STATUS {DEFAULT_TR} swop-1", "swop-1"),
    step("RESET TASKRUNNER " + DEFAULT_TR, "TASKRUNNER RESET : " + DEFAULT_TR),
    step(f"ASSIGN TASK build_{{who}} TO {DEFAULT_TR} TARGET swop-1", "TASK ASSIGNED"),
    step("WAIT FOR TASKRUNNER " + DEFAULT_TR, "TASK_STATE : COMPLETE"),
    step("GET TASKRUNNER STATUS " + DEFAULT_TR, "ASSIGN MODE : TARGET"),
    step("RESET TASKRUNNER " + DEFAULT_TR, "TASKRUNNER RESET : " + DEFAULT_TR),
    step(f"ASSIGN TASK build_{{who}} TO {DEFAULT_TR} WITH 1 PEERS", "TASK ASSIGNED", "PEERS NEEDED : 1 SWOP"),
    step("WAIT FOR TASKRUNNER " + DEFAULT_TR, "TASK_STATE : COMPLETE"),
    step("HISTORY " + DEFAULT_TR, "assignTask", "resetTaskRunner"),
    step("RESET TASKRUNNER " + DEFAULT_TR, "TASKRUNNER RESET : " + DEFAULT_TR),
    step("GET TASKRUNNER STATUS " + DEFAULT_TR, "TASK_STATE : IDLE"),
    # nodes and the rest
    step(
        "LIST NODES",
        "NodeType, HostIP, Port, ContainerName, UUID, ParentUUID, i-am-alive",
        "SN, 127.0.0.1, {port}, sn-1",
        "SWOP, 127.0.0.1, 0, swop-1, swop-1, sn-1",
    ),
    step("PWD", "{usr}"),
    step("LS", "taskdefs"),
    step("ls()", "taskdefs"),
    step("CD taskdefs", "Current Directory : {usr}/taskdefs"),
    step("pwd()", "{usr}/taskdefs"),
    step("CD ..", "Current Directory : {usr}"),
    fail("CD no-such-folder", "no-such-folder"),
    step("SLEEP 0.2", "SLEPT 0.2 SECONDS"),
    step("EXIT ON FAILURE", "EXIT ON FAILURE IS TURNED ON"),
    step("EXIT ON FAILURE OFF", "EXIT ON FAILURE IS TURNED OFF"),
    step("EXIT", "EXITING SWCI"),
]


def step_id(index: int) -> str:
    return f"{index:02d}-{STEPS[index].command.split('{')[0].strip().replace(' ', '_')[:40]}"


@dataclass
class Outcome:
    """What one step gave: ok or not, its output lines and (REST) the HTTP status."""

    ok: bool
    lines: list[str]
    status: int | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def check(step: Step, outcome: Outcome, values: dict[str, str]) -> None:
    shown = f"{step.command}\n{outcome.text}"
    assert outcome.ok is step.ok, shown
    if not step.ok:
        assert outcome.lines[-1].startswith("ERROR : ") and "\n" not in outcome.lines[-1], shown
    for fragment in step.expect:
        assert fragment.format(**values) in outcome.text, shown
    for fragment in step.absent:
        assert fragment.format(**values) not in outcome.text, shown


# ------------------------------------------------------------------------------------------------- the swarm


class ScriptedSwop(threading.Thread):
    """A SWOP's part of the taskrunner protocol over the real SN API: listen, enroll, report success."""

    def __init__(self, sn_port: int, identity: TLSIdentity, taskrunner: str = DEFAULT_TR) -> None:
        super().__init__(name="scripted-swop", daemon=True)
        self.client = SNClient("127.0.0.1", sn_port, identity, retry_seconds=10)
        self.taskrunner = taskrunner
        self.stop = threading.Event()
        self.handled: set[tuple[int, float]] = set()
        self.errors: list[str] = []

    def start_listening(self) -> ScriptedSwop:
        self.client.register("swop", "127.0.0.1", 0)
        self.client.listen_on_task_runner(self.taskrunner, 1)
        self.start()
        return self

    def run(self) -> None:
        height = 0
        while not self.stop.is_set():
            try:
                view = self.client.task_runner(self.taskrunner)
                key = (view.run, view.assigned_at)
                if view.state in ("ASSIGNED", "RUNNING") and key not in self.handled:
                    self.handled.add(key)
                    self.client.enroll_in_task_runner(self.taskrunner, view.run)
                    self.client.report_task(self.taskrunner, view.run, "success")
                height = self.client.wait_for_change(height, 2)
            except SwarmLearningError as exc:
                if not self.stop.is_set():
                    self.errors.append(str(exc))
                    self.stop.wait(0.5)  # back off after an SN error, bounded by the stop event

    def close(self) -> None:
        self.stop.set()
        self.join(10)
        self.client.close()


@dataclass
class Swarm:
    sn: Daemon
    workdir: Path
    swarm_ca: CertFactory
    swop: ScriptedSwop

    def identity_args(self, name: str = "swci-1") -> list[str]:
        p = self.swarm_ca.paths(name)
        return ["--cert", str(p.cert), "--key", str(p.key), "--capath", str(p.capath)]


@pytest.fixture(scope="module")
def swarm(tmp_path_factory: pytest.TempPathFactory, swarm_ca: CertFactory) -> Iterator[Swarm]:
    workdir = tmp_path_factory.mktemp("swci-sn")
    p = swarm_ca.paths("sn-1")
    sn = start_sn(workdir, ["--cert", str(p.cert), "--key", str(p.key), "--capath", str(p.capath)])
    swop = ScriptedSwop(sn.port, swarm_ca.identity("swop-1")).start_listening()
    try:
        yield Swarm(sn, workdir, swarm_ca, swop)
    finally:
        swop.close()
        sn.stop()


def usr_dir(root: Path, who: str) -> Path:
    """An SWCI user folder with a task definition named ``build_<who>`` (from the digits example's)."""
    folder = root / f"usr-{who}"
    (folder / "taskdefs").mkdir(parents=True, exist_ok=True)
    text = (EXAMPLE / "taskdefs" / "user_env_pyt_build_task.yaml").read_text()
    (folder / "taskdefs" / f"build_{who}.yaml").write_text(text.replace("user_env_pyt_build_task", f"build_{who}"))
    return folder


def run_shell(args: list[str], stdin: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swci.shell", "--history-file", "", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=SHELL_TIMEOUT,
        check=False,
    )


def transcript_blocks(stdout: str) -> list[tuple[str, list[str]]]:
    """The shell's output cut at each echoed prompt: (command as echoed, the lines it printed)."""
    blocks: list[tuple[str, list[str]]] = []
    for line in stdout.splitlines():
        found = PROMPT.match(line)
        if found:
            blocks.append((line[found.end() :], []))
        elif blocks:
            blocks[-1][1].append(line)
    return blocks


# --------------------------------------------------------------------------------------- every command: shell


@dataclass
class ShellRun:
    proc: subprocess.CompletedProcess[str]
    outcomes: list[Outcome]
    values: dict[str, str]
    seconds: float


@pytest.fixture(scope="module")
def shell_run(swarm: Swarm) -> ShellRun:
    folder = usr_dir(swarm.workdir, "sh")
    values = {"port": str(swarm.sn.port), "who": "sh", "usr": str(folder)}
    script = "".join(s.text(swarm.sn.port, "sh") + "\n" for s in STEPS)
    started = time.monotonic()
    proc = run_shell(["--usr-dir", str(folder), *swarm.identity_args()], script)
    seconds = time.monotonic() - started
    blocks = transcript_blocks(proc.stdout)
    assert [b[0] for b in blocks] == [s.text(swarm.sn.port, "sh") for s in STEPS], proc.stdout + proc.stderr
    # a failed command's last line is its error
    outcomes = [Outcome(not (lines and lines[-1].startswith("ERROR : ")), lines) for _, lines in blocks]
    return ShellRun(proc, outcomes, values, seconds)


@pytest.mark.acceptance_swci
@pytest.mark.parametrize("index", range(len(STEPS)), ids=step_id)
def test_every_command_runs_through_the_shell(shell_run: ShellRun, index: int) -> None:
    check(STEPS[index], shell_run.outcomes[index], shell_run.values)


@pytest.mark.acceptance_swci
def test_the_shell_session_ends_at_exit_with_code_0(shell_run: ShellRun) -> None:
    assert shell_run.proc.returncode == 0, shell_run.proc.stdout + shell_run.proc.stderr
    print(f"shell: {len(STEPS)} commands in {shell_run.seconds:.1f}s")


@pytest.mark.acceptance_swci
def test_a_failure_under_exit_on_failure_ends_the_shell_with_code_1(swarm: Swarm, tmp_path: Path) -> None:
    script = (
        f"CREATE CONTEXT c WITH IP 127.0.0.1 {swarm.sn.port}\nSWITCH CONTEXT c\nEXIT ON FAILURE\n"
        "GET CONTRACT INFO no-such-contract\nCREATE CONTRACT never-made\n"
    )
    proc = run_shell(["--usr-dir", str(tmp_path), *swarm.identity_args()], script)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "no-such-contract" in proc.stdout and "never-made" not in proc.stdout.split("no-such-contract", 1)[1]
    check_contracts = run_shell(
        ["--usr-dir", str(tmp_path), "--sn-ip", "127.0.0.1", "--sn-api-port", str(swarm.sn.port),
         *swarm.identity_args()],
        "LIST CONTRACTS\n",
    )  # fmt: skip
    assert check_contracts.returncode == 0 and "never-made" not in check_contracts.stdout


# ------------------------------------------------------------------------------------------ every command: web


@dataclass
class WebSwci:
    """A ``swci --web`` process and an HTTP client holding a swci certificate."""

    proc: Daemon
    http: httpx.Client
    usr: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.proc.port}"

    def exec(self, cmd: str) -> Outcome:
        response = self.http.post(f"{self.url}/exec", params={"cmd": cmd})
        lines = [line for item in response.json()["CONTENT"] for line in str(item).splitlines()]
        return Outcome(response.status_code == 200, lines, response.status_code)

    def close(self) -> None:
        self.http.close()
        self.proc.stop()


def start_web(swarm: Swarm, folder: Path, *extra: str) -> WebSwci:
    return start_web_with(swarm.identity_args(), swarm.swarm_ca.identity("swci-1"), folder, *extra)


def start_web_with(identity_args: list[str], identity: TLSIdentity, folder: Path, *extra: str) -> WebSwci:
    """``swci --web`` on a free port, serving from ``folder``."""
    port_file = folder / "web-port"
    port_file.unlink(missing_ok=True)
    log = folder / "swci-web.log"
    args = ["--usr-dir", str(folder), "--web", "--web-port", "0", "--bind", "127.0.0.1", "--port-file", str(port_file)]
    popen = spawn([sys.executable, "-m", "swci.shell", *args, *extra, *identity_args], log)
    port = wait_for_port_file(port_file, popen, log)
    http = httpx.Client(verify=identity.client_context(), timeout=120)
    return WebSwci(Daemon(popen, log, port), http, folder)


@dataclass
class WebRun:
    outcomes: list[Outcome]
    values: dict[str, str]
    exit_code: int | None
    seconds: float


@pytest.fixture(scope="module")
def web_run(swarm: Swarm, shell_run: ShellRun) -> Iterator[WebRun]:
    folder = usr_dir(swarm.workdir, "web")
    web = start_web(swarm, folder)
    try:
        started = time.monotonic()
        outcomes = [web.exec(s.text(swarm.sn.port, "web")) for s in STEPS]
        seconds = time.monotonic() - started
        exit_code = web.proc.popen.wait(30)  # EXIT, the last step, stops the server
        yield WebRun(outcomes, {"port": str(swarm.sn.port), "who": "web", "usr": str(folder)}, exit_code, seconds)
    finally:
        web.close()


@pytest.mark.acceptance_swci
@pytest.mark.parametrize("index", range(len(STEPS)), ids=step_id)
def test_every_command_runs_through_the_web_api(web_run: WebRun, index: int) -> None:
    step, outcome = STEPS[index], web_run.outcomes[index]
    check(step, outcome, web_run.values)
    assert outcome.status == (200 if step.ok else 422)


@pytest.mark.acceptance_swci
def test_exit_over_the_web_api_stops_the_server(web_run: WebRun) -> None:
    assert web_run.exit_code == 0
    print(f"web: {len(STEPS)} commands in {web_run.seconds:.1f}s")


def test_the_python_client_drives_the_web_api_like_the_products(swarm: Swarm, tmp_path: Path) -> None:
    web = start_web(swarm, usr_dir(tmp_path, "py"), "--sn-ip", "127.0.0.1", "--sn-api-port", str(swarm.sn.port))
    p = swarm.swarm_ca.paths("swci-1")
    source = tmp_path / "upload"
    source.mkdir()
    text = (EXAMPLE / "taskdefs" / "user_env_pyt_build_task.yaml").read_text()
    (source / "py_build.yaml").write_text(text.replace("user_env_pyt_build_task", "py_build"))
    client = SwciClient(
        "127.0.0.1",
        web.proc.port,
        clientCert=str(p.cert),
        clientPKey=str(p.key),
        clientCABundle=str(p.capath),
        logger=logging.getLogger("swci-web-test"),
    )
    try:
        assert client.getContextInfo("default")[0] == "CONTEXT NAME : default"  # the --sn-ip context
        assert client.createTrainingContract("py-ct") == ["CONTRACT CREATED : py-ct"]
        assert "py-ct" in client.listTrainingContracts()
        assert client.uploadTaskDefintion(str(source / "py_build.yaml")).startswith("Task definition saved : ")
        assert client.registerTask("py_build.yaml") == ["Registered Task : py_build"]
        assert "TASK STATE : FINALIZED" in client.getTaskInfo("py_build")
        assert "py_build" in client.listTasks()
        assert client.resetTaskRunner() == [f"TASKRUNNER RESET : {DEFAULT_TR}"]
        assert client.executeTask("py_build", peers=1, pollWaitInSec=0.2) == "COMPLETE"
        assert client.isTaskDone(DEFAULT_TR)  # reset after COMPLETE: IDLE
        rows = client.nodeRows()
        assert {(r["NodeType"], r["UUID"]) for r in rows} >= {("SN", "sn-1"), ("SWOP", "swop-1")}
        graph = client.plotTopology()
        assert set(graph.nodes) >= {"sn-1", "swop-1"} and graph.has_edge("sn-1", "swop-1")
        assert client.getTrainingContractInfo("no-such") == []
        assert "no-such" in (client.getErrors() or "")
    finally:
        client.close()
        web.close()


# -------------------------------------------------------------------------------------- malformed commands


#: command, position (after "line L, "), expected form; the shell counts lines of its input, the web API 1
MALFORMED = [
    ("CREATE CONTEXT c1 WITH IPP 127.0.0.1", "col 24: expected IP | SERVICE", "usage: CREATE CONTEXT"),
    ("ASSIGN TASK t TO r WITH x PEERS", "col 25: expected <peersNeeded>", "usage: ASSIGN TASK"),
    ("create contrat c2", "col 8: expected CONTEXT | CONTRACT", "usage: see HELP CREATE"),
    ("WAIT FOR IP 127.0.0.1 port", "col 23: expected <port>", "usage: WAIT FOR IP"),
    ("LIST", "col 5: expected CONTEXT", "usage: see HELP LIST"),
    ("FROBNICATE everything", "col 1: unknown command 'FROBNICATE'", "HELP"),
]


@pytest.mark.acceptance_swci
def test_malformed_commands_give_one_line_with_position_and_form_and_change_nothing(
    swarm: Swarm, tmp_path: Path
) -> None:
    folder = usr_dir(tmp_path, "bad")
    (folder / "taskdefs" / "broken.yaml").write_text("Name: broken\nTaskType: RUN_SWARM\nBody: [unclosed\n")
    (folder / "taskdefs" / "notask.yaml").write_text("Name: notask\nTaskType: BAKE_BREAD\nAuthor: a\n")
    context = [f"CREATE CONTEXT c WITH IP 127.0.0.1 {swarm.sn.port}", "SWITCH CONTEXT c"]
    before = swarm_state(swarm)

    shell = run_shell(
        ["--usr-dir", str(folder), *swarm.identity_args()], "\n".join([*context, *(m[0] for m in MALFORMED)]) + "\n"
    )
    blocks = dict(transcript_blocks(shell.stdout))
    web = start_web(swarm, folder, "--sn-ip", "127.0.0.1", "--sn-api-port", str(swarm.sn.port))
    try:
        for number, (command, position, form) in enumerate(MALFORMED, start=len(context) + 1):
            answer = web.exec(command)
            assert answer.status == 400
            for lines, line in ((blocks[command], number), (answer.lines, 1)):
                assert len(lines) == 1 and lines[0].startswith(f"ERROR : line {line}, {position}"), (command, lines)
                assert form in lines[0], (command, lines)
        # task YAML: malformed or not a task -> line, column, expected form; nothing registered
        for name, problem in (("broken.yaml", "YAML syntax error"), ("notask.yaml", "")):
            where = re.compile(rf"{name}: line \d+, col \d+: {problem}.*; expected ")
            outcome = web.exec(f"CREATE TASK FROM taskdefs/{name}")
            assert outcome.status == 422 and len(outcome.lines) == 1, outcome.lines
            assert where.search(outcome.lines[0]), outcome.lines
            upload = web.http.post(
                f"{web.url}/uploadTaskDef", files={"file": (name, (folder / "taskdefs" / name).read_bytes())}
            )
            assert upload.status_code == 400 and where.search(upload.text) and "\n" not in upload.text.strip()
        shell_yaml = run_shell(
            ["--usr-dir", str(folder), "--sn-ip", "127.0.0.1", "--sn-api-port", str(swarm.sn.port),
             *swarm.identity_args()],
            "CREATE TASK FROM taskdefs/broken.yaml\n",
        )  # fmt: skip
        assert re.search(r"ERROR : taskdefs/broken\.yaml: line \d+, col \d+: YAML syntax error", shell_yaml.stdout)
        # an unreachable SN is named
        closed = free_port()
        unreachable = web.exec(f"CREATE CONTEXT gone WITH IP 127.0.0.1 {closed}")
        assert unreachable.status == 422 and f"127.0.0.1:{closed}" in unreachable.lines[-1]
    finally:
        web.close()
    assert swarm_state(swarm) == before, "a malformed command changed the chain"


def swarm_state(swarm: Swarm) -> tuple[list[str], list[str], list[str]]:
    client = SNClient("127.0.0.1", swarm.sn.port, swarm.swarm_ca.identity("swci-1"), retry_seconds=10)
    try:
        return client.trainings(), client.tasks(), client.task_runners()
    finally:
        client.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------- the example's init script


PERF_ROW = re.compile(r"^(?P<uid>sl-\d+)\s+(?P<status>[A-Z][A-Z ]*?)\s+\S+\s+(?P<loss>[-\d.e+]+|-)\s+\S+\s+"
                      r"(?P<done>\d+)/(?P<total>\d+)")  # fmt: skip


@pytest.mark.acceptance_swci
def test_the_example_init_script_runs_against_a_training_swarm_and_perfdata_shows_progress(tmp_path: Path) -> None:
    local = LocalSwarm(
        RunLocalOptions(
            nodes=2,
            program=PROGRAMS / "tiny_torch.py",
            data_dirs=(),
            env={"MAX_EPOCHS": "8", "BATCHES_PER_EPOCH": "24", "SYNC_FREQUENCY": "6"},
            workdir=tmp_path / "swarm",
            json_summary=None,
            timeout_s=300,
        )
    )
    web: WebSwci | None = None
    try:
        local.start()
        certs = local.cert_dir
        identity_args = ["--cert", str(certs / "swci-1-cert.pem"), "--key", str(certs / "swci-1-key.pem"),
                         "--capath", str(certs / "ca" / "capath")]  # fmt: skip
        usr = tmp_path / "usr"
        shutil.copytree(EXAMPLE, usr)
        script = usr / "swci-init"
        # the SN's port, as the product's SPIRE launcher fills in its <HOST-IP>
        script.write_text(script.read_text().replace("127.0.0.1 30304", f"127.0.0.1 {local.sn_port}"))
        started = time.monotonic()
        proc = run_shell(["--usr-dir", str(usr), *identity_args], "")
        init_seconds = time.monotonic() - started
        assert proc.returncode == 0, proc.stdout + proc.stderr + logs_of(local.workdir)
        out = proc.stdout
        for expected in (
            "CONTEXT CREATED : digits",
            "Task Registered : user_env_pyt_build_task",
            "TASK FINALIZED : user_env_pyt_build_task",
            "Task Registered : swarm_digits_task",
            "TASKRUNNER CREATED : digitstaskbb.taskdb.sml.hpe",
            "TASKRUNNER RESET : digitstaskbb.taskdb.sml.hpe",
            "CONTRACT CREATED : digitsbb.cqdb.sml.hpe",
            "CONTRACT RESET : digitsbb.cqdb.sml.hpe",
            "SWCI:28 > EXIT",
            "EXITING SWCI",
        ):
            assert expected in out, out
        blocks = transcript_blocks(out)
        assert not [cmd for cmd, lines in blocks if lines and lines[-1].startswith("ERROR : ")], out
        nodes = dict(blocks)["list nodes"]
        assert any(line.startswith("SN, 127.0.0.1") for line in nodes), nodes
        (tmp_path / "init-transcript.txt").write_text(out)

        # PERFDATA while the demo trains, through the web API and the Python client, whenever the chain moves
        watcher = tmp_path / "watcher"  # a folder without swci-init: --usr-dir would run it first
        watcher.mkdir()
        web = start_web_with(
            identity_args, local_identity(local), watcher, "--sn-ip", "127.0.0.1", "--sn-api-port", str(local.sn_port)
        )
        rows = poll_perfdata(local, web, deadline=time.monotonic() + 240)
        assert rows, "PERFDATA never showed an SL with completed epochs and a loss while training"
        print(f"init script: {init_seconds:.1f}s; live PERFDATA rows: {rows}")
        # watching did not disturb the training: every site still trains (the rest of the run is not this test's)
        assert all(s.ml is not None and s.ml.popen.poll() is None for s in local.sites), logs_of(local.workdir)
    finally:
        if web is not None:
            web.close()
        local.stop()


def poll_perfdata(local: LocalSwarm, web: WebSwci, deadline: float) -> list[str]:
    """PERFDATA rows of SLs with 0 < completed epochs < total and a numeric loss (polled as the chain moves)."""
    monitor = local.monitor_client()
    client = SwciClient("127.0.0.1", web.proc.port, identity=local_identity(local), logger=logging.getLogger("t"))
    height = 0
    try:
        while time.monotonic() < deadline:
            live = []
            for line in client.getTrainingContractPerformanceData(DEFAULT_CONTRACT):
                row = PERF_ROW.match(line)
                if row and row["loss"] != "-" and 0 < int(row["done"]) < int(row["total"]):
                    live.append(line)
            if live:
                return live
            height = monitor.wait_for_change(height, 5)
        return []
    finally:
        client.close()
        monitor.close()


def local_identity(local: LocalSwarm) -> TLSIdentity:
    c = local.cert_dir
    return TLSIdentity.from_options(c / "swci-1-cert.pem", c / "swci-1-key.pem", c / "ca" / "capath")
