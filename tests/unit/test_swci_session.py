"""An operator's SWCI session against a real SN process: every command, its output, and what it leaves on the chain.

One SN serves the whole module; each test uses its own contract, task and taskrunner names. SL and SWOP nodes are
simulated with ``SNClient`` and their own certificates (``sl-1``, ``swop-1``), the way the real nodes call the SN.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from swarm_learning import sn_api as api
from swarm_learning.errors import NetworkError
from swarm_learning.sn_client import SNClient
from swci.session import CommandResult, SwciSession
from tests.conftest import CertFactory
from tests.integration.harness import Daemon, start_sn

BUILD_TASK = """\
---
Name: {name}
TaskType: MAKE_USER_CONTAINER
Author: Zoë Ñúñez – 张伟 (Équipe ML)
Prereq: ROOTTASK
Outcome: user-env-tf2.7.0-swop
Body:
    BuildContext: sl-cli-lib
    BuildType: INLINE
    BuildSteps:
    - FROM tensorflow/tensorflow:2.7.0
    - ' '
    - RUN pip3 install --upgrade pip==23.3.2 && \\
    -   pip3 install keras matplotlib opencv-python pandas protobuf==3.15.6
    - '# Größe prüfen — naïve café “quotes” ✓'
    - RUN mkdir -p /tmp/hpe-swarmcli-pkg
"""
PULL_TASK = """\
Name: {name}
TaskType: PULL_IMAGE
Author: ops
Prereq: ROOTTASK
Outcome: hub.example.org/tf:2.7.0
Body:
    Tag: "2.7.0"
    RepoName: tf
    OrgAndReg: hub.example.org/
    Auth: ~
"""


# ------------------------------------------------------------------------------------------------ fixtures


def identity_args(ca: CertFactory, name: str) -> list[str]:
    p = ca.paths(name)
    return ["--cert", str(p.cert), "--key", str(p.key), "--capath", str(p.capath)]


@pytest.fixture(scope="module")
def sn(tmp_path_factory: pytest.TempPathFactory, swarm_ca: CertFactory) -> Iterator[Daemon]:
    daemon = start_sn(tmp_path_factory.mktemp("swci-sn"), identity_args(swarm_ca, "sn-1"))
    try:
        yield daemon
    finally:
        daemon.stop()


def client_as(sn: Daemon, ca: CertFactory, name: str) -> SNClient:
    return SNClient("127.0.0.1", sn.port, ca.identity(name), retry_seconds=10)


@pytest.fixture(scope="module")
def chain(sn: Daemon, swarm_ca: CertFactory) -> Iterator[SNClient]:
    """A reader of the chain (heights, histories) that is not the session under test."""
    client = client_as(sn, swarm_ca, "swci-1")
    yield client
    client.close()


@pytest.fixture(scope="module")
def swop(sn: Daemon, swarm_ca: CertFactory) -> Iterator[SNClient]:
    """A simulated SWOP: registered, then listening/enrolling/reporting as the tests need."""
    client = client_as(sn, swarm_ca, "swop-1")
    client.register("swop", "127.0.0.1", 0)
    yield client
    client.close()


@pytest.fixture
def session(sn: Daemon, swarm_ca: CertFactory, tmp_path: Path) -> Iterator[SwciSession]:
    s = SwciSession(swarm_ca.identity("swci-1"), cwd=tmp_path)
    ok(s, f"create context local with ip 127.0.0.1 {sn.port}")
    ok(s, "switch context local")
    yield s
    s.close()


def ok(session: SwciSession, line: str) -> list[str]:
    result = session.run_line(line)
    assert result.ok, f"{line!r} failed: {result.error}"
    assert result.error is None
    return result.lines


def fails(session: SwciSession, line: str) -> CommandResult:
    result = session.run_line(line)
    assert not result.ok, f"{line!r} should fail but printed {result.lines}"
    assert result.error and "\n" not in result.error
    return result


def value(lines: list[str], key: str) -> str:
    found = [line.split(" : ", 1)[1] for line in lines if line.split(" : ", 1)[0] == key]
    assert found, f"no {key} in {lines}"
    return found[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------------ contexts


def test_contexts_are_created_switched_described_and_carry_their_own_environment(
    sn: Daemon, swarm_ca: CertFactory, tmp_path: Path
) -> None:
    with SwciSession(swarm_ca.identity("swci-1"), cwd=tmp_path) as s:
        assert "no current context" in fails(s, "list contracts").error  # type: ignore[operator]
        assert ok(s, f"CREATE CONTEXT c1 WITH IP 127.0.0.1 {sn.port}") == ["API Server is UP!", "CONTEXT CREATED : c1"]
        assert ok(s, f"create context c2 with service 127.0.0.1:{sn.port}")[-1] == "CONTEXT CREATED : c2"
        assert s.current_context is None
        assert ok(s, "switch context c2") == ["DEFAULT CONTEXT SET TO : c2"] and s.current_context == "c2"
        info = ok(s, "get context info")
        assert value(info, "API SERVER") == f"127.0.0.1:{sn.port}" and value(info, "DEFAULT CONTEXT") == "YES"
        assert value(info, "API SERVICE") == f"127.0.0.1:{sn.port}" and value(info, "SWCI IDENTITY") == "swci-1"
        assert value(ok(s, "get context info c1"), "DEFAULT CONTEXT") == "NO"

        ok(s, "set context env c1 SWCI_RUN_TASK_MAX_WAIT_TIME 30")
        ok(s, "set context env MY_NOTE 'two words'")  # the current context (c2)
        assert ok(s, "get context env c1 SWCI_RUN_TASK_MAX_WAIT_TIME") == ["SWCI_RUN_TASK_MAX_WAIT_TIME : 30"]
        assert ok(s, "list context env c2") == ["MY_NOTE : two words"]
        assert "not set in context c2" in (fails(s, "get context env SWCI_RUN_TASK_MAX_WAIT_TIME").error or "")
        assert "no context named 'c9'" in (fails(s, "switch context c9").error or "")

        version = ok(s, "get context version")
        assert value(version, "SN IDENTITY") == "sn-1" and int(value(version, "CHAIN HEIGHT")) > 0
        assert ok(s, "list contexts") == ["c1", "c2"]


# -------------------------------------------------------------------------------------- training contracts


def test_a_contract_is_created_watched_with_perfdata_reset_and_its_history_listed(
    session: SwciSession, sn: Daemon, swarm_ca: CertFactory, chain: SNClient
) -> None:
    assert ok(session, "create contract mnist-contract") == ["CONTRACT CREATED : mnist-contract"]
    assert {"defaultbb.cqdb.sml.hpe", "mnist-contract"} <= set(ok(session, "list contracts"))
    assert value(ok(session, "get contract info mnist-contract"), "CONTRACT NAME") == "mnist-contract"
    assert value(ok(session, "get contract status mnist-contract"), "CONTRACT STATE") == "UNINITIALISED"
    assert ok(session, "perfdata mnist-contract") == ["NO SL NODES HAVE JOINED : mnist-contract"]

    sl = client_as(sn, swarm_ca, "sl-1")
    try:
        sl.register("sl", "127.0.0.1", 16000)
        sl.join("mnist-contract", 1, True, 600)
        sl.report_progress("mnist-contract", api.Progress(loss=0.25, metric=0.9, epochs_done=2, total_epochs=4))
    finally:
        sl.close()

    perf = ok(session, "PERFDATA mnist-contract")
    assert perf[0].startswith("PERFDATA : mnist-contract")
    assert perf[1].split() == ["UID", "STATUS", "LEADER", "LOSS", "METRIC", "EPOCHS", "PROGRESS"]
    assert perf[3].split() == ["sl-1", "TRAINING", "NO", "0.2500", "0.9000", "2/4", "[##########----------]", "50%"]
    status = ok(session, "get contract status mnist-contract")
    assert value(status, "CONTRACT STATE") == "ACTIVE" and value(status, "SL NODES") == "1"
    assert value(ok(session, "get contract info mnist-contract"), "SL NODES") == "sl-1"

    assert ok(session, "reset contract mnist-contract") == ["CONTRACT RESET : mnist-contract"]
    assert value(ok(session, "get contract status mnist-contract"), "CONTRACT STATE") == "UNINITIALISED"

    history = ok(session, "history mnist-contract")
    assert history[0].split()[:4] == ["BLOCK", "WHEN", "(UTC)", "AGE"]
    rows = [line.split() for line in history[2:]]
    assert [(row[5], row[6]) for row in rows] == [
        ("swci-1", "createTraining"),
        ("sl-1", "joinTraining"),
        ("sl-1", "reportProgress"),
        ("swci-1", "resetTraining"),
    ]
    assert [line.split()[6] for line in ok(session, "history mnist-contract last 1")[2:]] == ["resetTraining"]
    assert "swci-1" in {n.identity for n in chain.nodes() if n.kind == "swci"}  # registered before its first write


# ---------------------------------------------------------------------------------------------------- tasks


def test_a_task_from_yaml_is_registered_finalized_and_its_body_reads_back_exactly(
    session: SwciSession, tmp_path: Path, chain: SNClient
) -> None:
    (tmp_path / "usr" / "taskdefs").mkdir(parents=True)
    text = BUILD_TASK.format(name="user_env_tf_build_task")
    (tmp_path / "usr" / "taskdefs" / "build.yaml").write_text(text, encoding="utf-8")
    assert ok(session, f"cd {tmp_path / 'usr'}") == [f"Current Directory : {tmp_path / 'usr'}"]

    assert ok(session, "create task from taskdefs/build.yaml") == [
        "Task definition is valid",
        "Task Registered : user_env_tf_build_task",
        "Appending Task Body",
        "batch start : 0 , len : 10 Successful",
    ]
    body = ok(session, "get task body user_env_tf_build_task")
    assert body[:2] == ["0000: ---", "0001: BuildContext: sl-cli-lib"]
    assert [line[:6] for line in body] == [f"{i:04d}: " for i in range(len(body))]
    stored = "\n".join(line[6:] for line in body) + "\n"
    written_body = "".join(line[4:] + "\n" for line in text.split("Body:\n", 1)[1].splitlines())
    assert stored == "---\n" + written_body  # the Body section exactly as written, de-indented
    assert yaml.safe_load(stored) == yaml.safe_load(text)["Body"]

    assert ok(session, "finalize task user_env_tf_build_task") == ["TASK FINALIZED : user_env_tf_build_task"]
    info = ok(session, "get task info user_env_tf_build_task")
    assert value(info, "TASK TYPE") == "MAKE_USER_CONTAINER" and value(info, "TASK STATE") == "FINALIZED"
    assert value(info, "AUTHOR") == "Zoë Ñúñez – 张伟 (Équipe ML)" and value(info, "PREREQ") == "ROOTTASK"
    assert value(info, "OUTCOME") == "user-env-tf2.7.0-swop" and value(info, "CREATED BY") == "swci-1"
    tasks = ok(session, "list tasks")
    assert tasks[0] == "ROOTTASK" and "user_env_tf_build_task" in tasks

    before = chain.info().height  # the init script run again: nothing is written, nothing fails
    assert ok(session, "create task from taskdefs/build.yaml")[-1] == "Task already on the chain: nothing written"
    assert ok(session, "finalize task user_env_tf_build_task") == ["TASK ALREADY FINALIZED : user_env_tf_build_task"]
    assert chain.info().height == before
    (tmp_path / "usr" / "taskdefs" / "build.yaml").write_text(text.replace("2.7.0", "2.8.0"), encoding="utf-8")
    assert "exists with another definition" in (fails(session, "create task from taskdefs/build.yaml").error or "")


def test_a_task_written_by_hand_line_by_line_can_be_corrected_and_deleted_before_it_is_finalized(
    session: SwciSession,
) -> None:
    assert ok(session, 'create task pull_image pull-by-hand "Jane Doe" ROOTTASK tf-image') == [
        "Task Registered : pull-by-hand"
    ]
    ok(session, "append task body pull-by-hand 1 Tag: '2.7.0'")
    ok(session, "append task body pull-by-hand 2 RepoName: tf   # the # is part of the line")
    assert ok(session, "append task body pull-by-hand 1 Tag: '2.8.0'") == ["TASK BODY LINE 1 SET : pull-by-hand"]
    assert "next line to append is 3" in (fails(session, "append task body pull-by-hand 5 Auth: ~").error or "")
    assert ok(session, "get task body pull-by-hand") == [
        "0000: ---",
        "0001: Tag: '2.8.0'",
        "0002: RepoName: tf   # the # is part of the line",
    ]
    assert value(ok(session, "get task info pull-by-hand"), "TASK STATE") == "CREATED"
    assert ok(session, "delete task pull-by-hand") == ["TASK DELETED : pull-by-hand"]
    assert "pull-by-hand" not in ok(session, "list tasks")
    assert "no task named pull-by-hand" in (fails(session, "get task info pull-by-hand").error or "")

    ok(session, "create task PULL_IMAGE frozen ops ROOTTASK img")
    ok(session, "finalize task frozen")
    assert "is finalized" in (fails(session, "append task body frozen 1 Tag: x").error or "")
    assert "only tasks that are not finalized" in (fails(session, "delete task frozen").error or "")


def test_an_uploaded_task_definition_is_kept_in_the_session_directory_and_registered(
    session: SwciSession, tmp_path: Path
) -> None:
    result = session.upload_task_definition(PULL_TASK.format(name="uploaded-pull"), "C:\\defs\\pull.yaml")
    assert result.ok, result.error
    assert result.lines[0] == f"Task definition saved : {tmp_path / 'pull.yaml'}"
    assert "Task Registered : uploaded-pull" in result.lines
    assert ok(session, "create task from pull.yaml")[-1] == "Task already on the chain: nothing written"


# --------------------------------------------------------------------------------------------- taskrunners


def register_finalized(session: SwciSession, tmp_path: Path, name: str) -> None:
    (tmp_path / f"{name}.yaml").write_text(PULL_TASK.format(name=name), encoding="utf-8")
    ok(session, f"create task from {name}.yaml")
    ok(session, f"finalize task {name}")


def test_an_assigned_task_completes_when_the_swop_reports_success_and_wait_says_so(
    session: SwciSession, tmp_path: Path, swop: SNClient, chain: SNClient
) -> None:
    register_finalized(session, tmp_path, "pull-ok")
    assert ok(session, "create taskrunner tr-ok") == ["TASKRUNNER CREATED : tr-ok"]
    assert "tr-ok" in ok(session, "list taskrunners")
    swop.listen_on_task_runner("tr-ok", 1)
    assert value(ok(session, "get taskrunner info tr-ok"), "LISTENERS") == "swop-1 (1 SL nodes)"

    assigned = ok(session, "assign task pull-ok to tr-ok with 1 peers")
    assert assigned[0] == "TASK ASSIGNED : pull-ok TO tr-ok" and value(assigned, "TASK_STATE") == "ASSIGNED"
    status = ok(session, "get taskrunner status tr-ok")
    assert value(status, "TASK NAME") == "pull-ok" and value(status, "PEER TYPE") == "SWOP"

    run = swop.task_runner("tr-ok").run
    swop.enroll_in_task_runner("tr-ok", run)
    swop.report_task("tr-ok", run, "success", "pulled hub.example.org/tf:2.7.0")
    waited = ok(session, "wait for taskrunner tr-ok")
    assert waited[0] == "WAITING FOR TASKRUNNER TO COMPLETE" and waited[-1] == "TASK_STATE : COMPLETE"

    status = ok(session, "get taskrunner status tr-ok")
    assert value(status, "TASK_STATE") == "COMPLETE" and value(status, "COMPLETED PEERS") == "1"
    peers = ok(session, "list taskrunner peers tr-ok")
    assert peers[2].split()[:7] == ["0", "swop-1", "COMPLETE", "1", "0", "1", "0"]
    by_index = ok(session, "get taskrunner peer status tr-ok 0")
    assert by_index == ok(session, "get taskrunner peer status tr-ok swop-1")
    assert value(by_index, "STATUS") == "COMPLETE"
    assert value(by_index, "DESCRIPTION") == "pulled hub.example.org/tf:2.7.0"
    assert "out of range (0..0)" in (fails(session, "get taskrunner peer status tr-ok 3").error or "")

    what = [line.split()[6] for line in ok(session, "history tr-ok")[2:]]
    assert what == ["createTaskRunner", "listen", "assignTask", "enroll", "reportSuccess"]
    assert "assignTask" in [line.split()[6] for line in ok(session, "history pull-ok")[2:]]
    assert ok(session, "reset taskrunner tr-ok") == ["TASKRUNNER RESET : tr-ok"]
    assert value(ok(session, "get taskrunner status tr-ok"), "TASK_STATE") == "IDLE"
    assert ok(session, "wait for taskrunner tr-ok")[-1] == "TASK_STATE : IDLE"


def test_a_failing_peer_ends_the_wait_in_error_with_its_reason_and_a_targeted_retry_completes(
    session: SwciSession, tmp_path: Path, swop: SNClient
) -> None:
    register_finalized(session, tmp_path, "pull-retry")
    ok(session, "create taskrunner tr-retry")
    swop.listen_on_task_runner("tr-retry", 1)
    assert value(ok(session, "assign task pull-retry to tr-retry with all peers"), "PEERS NEEDED") == "1 SWOP"
    run = swop.task_runner("tr-retry").run
    swop.enroll_in_task_runner("tr-retry", run)
    swop.report_task("tr-retry", run, "failure", "pull failed: registry hub.example.org unreachable")

    result = fails(session, "wait for taskrunner tr-retry")
    assert result.error == (
        "taskrunner tr-retry ended in ERROR: swop-1: pull failed: registry hub.example.org unreachable"
    )
    assert result.lines[-2:] == [
        "TASK_STATE : ERROR",
        "LAST ERROR : swop-1: pull failed: registry hub.example.org unreachable",
    ]
    assert value(ok(session, "get taskrunner peer status tr-retry swop-1"), "STATUS") == "FAILED"

    ok(session, "assign task pull-retry to taskrunner tr-retry target swop-1")
    swop.enroll_in_task_runner("tr-retry", run)
    swop.report_task("tr-retry", run, "success", "pulled on the second try")
    assert ok(session, "wait for taskrunner tr-retry")[-1] == "TASK_STATE : COMPLETE"


def test_wait_for_taskrunner_gives_up_after_the_maximum_wait_time_of_the_context(
    session: SwciSession, tmp_path: Path
) -> None:
    register_finalized(session, tmp_path, "pull-nobody")
    ok(session, "create taskrunner tr-nobody")
    ok(session, "assign task pull-nobody to tr-nobody with 2 peers")  # no SWOP will enroll
    ok(session, "set context env SWCI_GENERIC_TASK_MAX_WAIT_TIME 0.02")  # 1.2 s
    started = time.monotonic()
    result = fails(session, "wait for taskrunner tr-nobody")
    assert 1.0 <= time.monotonic() - started < 15
    assert result.error == (
        "taskrunner tr-nobody is still ASSIGNED after 0.02 minutes (SWCI_GENERIC_TASK_MAX_WAIT_TIME)"
    )
    assert result.lines[-2:] == ["WARNING - Maximum configured SWCI wait time is over", "TASK_STATE : ASSIGNED"]
    ok(session, "reset taskrunner tr-nobody")


def test_only_swci_changes_tasks_and_taskrunners_and_only_a_swop_listens_enrolls_and_reports(
    sn: Daemon, swarm_ca: CertFactory, swop: SNClient
) -> None:
    with pytest.raises(NetworkError, match=r"may not POST /tasks \(register a task\): only swci may"):
        swop.create_task("by-a-swop", "PULL_IMAGE", "swop", "ROOTTASK", "img")
    with pytest.raises(NetworkError, match="only swci may"):
        swop.reset_task_runner("defaulttaskbb.taskdb.sml.hpe")
    swci = client_as(sn, swarm_ca, "swci-1")
    try:
        with pytest.raises(NetworkError, match="only swop may"):
            swci.listen_on_task_runner("defaulttaskbb.taskdb.sml.hpe", 1)
        with pytest.raises(NetworkError, match="only swop may"):
            swci.report_task("defaulttaskbb.taskdb.sml.hpe", 0, "failure", "not mine to say")
    finally:
        swci.close()
    assert "by-a-swop" not in swop.tasks()  # every role may read


# ---------------------------------------------------------------------------------------- nodes and misc


def test_list_nodes_shows_the_sn_and_the_sl_and_swop_nodes_but_never_swci(
    session: SwciSession, sn: Daemon, swop: SNClient, swarm_ca: CertFactory
) -> None:
    sl = client_as(sn, swarm_ca, "sl-2")
    try:
        sl.register("sl", "127.0.0.1", 17000)
    finally:
        sl.close()
    ok(session, "create contract nodes-check")  # makes sure this SWCI registered itself as a node
    lines = ok(session, "list nodes")
    assert lines[0] == "NodeType, HostIP, Port, ContainerName, UUID, ParentUUID, i-am-alive timestamp"
    rows = [line.split(", ") for line in lines[1:]]
    assert all(len(row) == 7 for row in rows)
    assert rows[0][:6] == ["SN", "127.0.0.1", str(sn.port), "sn-1", "sn-1", "-"]
    by_uid = {row[4]: row for row in rows}
    assert by_uid["swop-1"][:6] == ["SWOP", "127.0.0.1", "0", "swop-1", "swop-1", "sn-1"]
    assert by_uid["sl-2"][:6] == ["SL", "127.0.0.1", "17000", "sl-2", "sl-2", "sn-1"]
    assert by_uid["sl-2"][6].endswith("s ago)")
    assert "swci-1" not in by_uid and not any(row[0] == "SWCI" for row in rows)


def test_a_script_changes_directory_lists_it_sleeps_and_stops_at_exit(session: SwciSession, tmp_path: Path) -> None:
    (tmp_path / "usr" / "taskdefs").mkdir(parents=True)
    (tmp_path / "usr" / ".hidden").write_text("x")
    script = (
        "# the usual preamble\n"
        "EXIT ON FAILURE\n"
        "cd usr\n"
        "pwd()\n"
        "ls()\n"
        "LS -a\n"
        "sleep 0.2\n"
        "help wait\n"
        "HELP\n"
        "EXIT ON FAILURE OFF\n"
        "EXIT\n"
        "create contract never-created\n"
    )
    started = time.monotonic()
    done = session.run_script(script)
    assert time.monotonic() - started >= 0.2
    assert (done.exit_code, done.stopped_at_line) == (0, None)
    lines = [r.lines for r in done.results]
    assert len(lines) == 10 and all(r.ok for r in done.results)
    assert lines[0] == ["EXIT ON FAILURE IS TURNED ON"] and lines[8] == ["EXIT ON FAILURE IS TURNED OFF"]
    assert lines[1] == [f"Current Directory : {tmp_path / 'usr'}"] and lines[2] == [str(tmp_path / "usr")]
    assert lines[3] == ["taskdefs"] and ".hidden" in lines[4]
    assert lines[5] == ["SLEPT 0.2 SECONDS"]
    assert [line for line in lines[6] if line.startswith("Usage: ")] == [
        "Usage: WAIT FOR TASKRUNNER <trName>",
        "Usage: WAIT FOR IP <ip> [<port> [<retries>]]",
        "Usage: WAIT FOR SERVICE <fqdn[:port]> [<retries>]",
    ]
    assert len(lines[7]) > 40 and lines[7][0].startswith("SWCI commands")
    assert done.results[-1].exit_requested and session.cwd == tmp_path / "usr"
    assert not session.exit_on_failure
    assert "never-created" not in ok(session, "list contracts")
    assert "no such directory" in (fails(session, "cd nowhere").error or "")


def test_exit_on_failure_stops_a_script_at_the_failing_line_with_exit_code_1(session: SwciSession) -> None:
    script = "list tasks\nEXIT ON FAILURE ON\nget task info no-such-task\nlist tasks\n"
    done = session.run_script(script)
    assert (done.exit_code, done.stopped_at_line, len(done.results)) == (1, 3, 3)
    assert done.results[-1].error == "no task named no-such-task: LIST TASKS shows the registered ones"
    ok(session, "exit on failure off")
    done = session.run_script("get task info no-such-task\nlist tasks\n")
    assert (done.exit_code, done.stopped_at_line, [r.ok for r in done.results]) == (0, None, [False, True])


def test_wait_for_ip_and_service_wait_until_the_api_server_accepts_connections(
    session: SwciSession, sn: Daemon
) -> None:
    assert ok(session, f"wait for ip 127.0.0.1 {sn.port}") == ["API Server is UP!"]
    assert ok(session, f"WAIT FOR SERVICE 127.0.0.1:{sn.port} 3") == ["API Server is UP!"]
    session.state.wait_attempt_seconds = 0.2  # the product waits 5 s per attempt
    port = closed_port()
    started = time.monotonic()
    result = fails(session, f"wait for ip 127.0.0.1 {port} 3")
    assert 0.4 <= time.monotonic() - started < 5  # three attempts, one per attempt period
    assert result.error is not None and result.error.startswith(
        f"API server 127.0.0.1:{port} did not accept a connection in 3 attempts"
    )


# ----------------------------------------------------------------- acceptance item 3: errors never touch the chain


@pytest.mark.acceptance_swci
def test_malformed_commands_say_where_and_what_was_expected_and_never_touch_the_chain(
    session: SwciSession, chain: SNClient
) -> None:
    before = chain.info().height
    result = fails(session, "ASSIGN TASK t TO tr WITH 2 PEOPLE")
    assert result.error is not None and result.error.startswith("line 1, col 28: expected PEERS after")
    assert "usage: ASSIGN TASK <taskName> TO [TASKRUNNER] <trName>" in result.error
    result = fails(session, "create contrac x")
    assert result.error is not None and result.error.startswith("line 1, col 8: expected ")
    assert fails(session, "frobnicate everything").error.startswith("line 1, col 1: unknown command 'frobnicate'")  # type: ignore[union-attr]
    assert fails(session, "append task body t 0 Tag: x").error.startswith("line 1, col 20: ")  # type: ignore[union-attr]

    script = "create contract created-by-a-broken-script\nlist contracts\nreset taskrunner\n"
    done = session.run_script(script)
    assert (done.exit_code, done.stopped_at_line, len(done.results)) == (1, 3, 1)
    assert done.results[0].error is not None and done.results[0].error.startswith("line 3, col 17: expected <trName>")
    assert chain.info().height == before
    assert "created-by-a-broken-script" not in chain.trainings()


@pytest.mark.acceptance_swci
def test_malformed_task_yaml_gives_line_column_and_expected_form_and_writes_nothing(
    session: SwciSession, tmp_path: Path, chain: SNClient
) -> None:
    good = PULL_TASK.format(name="never-registered")
    (tmp_path / "broken.yaml").write_text(good.replace('Tag: "2.7.0"', 'Tag: "2.7.0'), encoding="utf-8")
    (tmp_path / "wrong.yaml").write_text(good.replace("    RepoName: tf\n", ""), encoding="utf-8")
    before = chain.info().height

    error = fails(session, "create task from broken.yaml").error or ""
    assert error.startswith("broken.yaml: line 7, col 10: YAML syntax error: while scanning a quoted scalar"), error
    assert error.endswith(
        "; expected a YAML mapping with Name, TaskType, Author, Prereq, Outcome (text) and Body (a mapping)"
    )
    error = fails(session, "create task from wrong.yaml").error or ""
    assert error == (
        "wrong.yaml: line 7, col 5: the PULL_IMAGE Body lacks RepoName; "
        "expected a PULL_IMAGE Body with Tag, RepoName, OrgAndReg, Auth"
    )
    upload = session.upload_task_definition(good.replace("TaskType: PULL_IMAGE", "TaskType: PUSH"), "up.yaml")
    assert not upload.ok and upload.error is not None and upload.error.startswith("up.yaml: line 2, col 11: ")
    assert not (tmp_path / "up.yaml").exists()
    assert "cannot read task definition" in (fails(session, "create task from missing.yaml").error or "")

    assert chain.info().height == before
    assert "never-registered" not in chain.tasks()


@pytest.mark.acceptance_swci
def test_a_command_against_an_unreachable_sn_says_which_address_failed(swarm_ca: CertFactory, tmp_path: Path) -> None:
    port = closed_port()
    with SwciSession(
        swarm_ca.identity("swci-1"), cwd=tmp_path, sn_retry_seconds=0.5, default_sn=("127.0.0.1", port)
    ) as s:
        assert s.current_context == "default"
        for line in ("list contracts", "create task PULL_IMAGE t ops ROOTTASK img", "wait for taskrunner tr"):
            error = fails(s, line).error or ""
            assert error.startswith(f"SN API server 127.0.0.1:{port} is unreachable ("), error
        error = fails(s, f"create context far with ip 127.0.0.1 {port}").error or ""
        assert error.startswith(f"SN API server 127.0.0.1:{port} is unreachable ("), error
        assert ok(s, "list contexts") == ["default"]
