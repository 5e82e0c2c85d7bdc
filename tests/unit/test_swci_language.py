"""The SWCI command language: what operators type (scripts and single lines) becomes typed commands, and what they
get wrong is reported on one line with the position and the expected form; HELP comes from the same table."""

from __future__ import annotations

import dataclasses

import pytest

from swarm_learning.errors import SwarmLearningError
from swci.language import (
    COMMANDS,
    AppendTaskBody,
    AssignTask,
    ChangeDirectory,
    Command,
    CreateContextWithIp,
    CreateContextWithService,
    CreateContract,
    CreateTask,
    CreateTaskFrom,
    CreateTaskRunner,
    DeleteTask,
    Exit,
    ExitOnFailure,
    FinalizeTask,
    GetContextEnv,
    GetContextInfo,
    GetContextVersion,
    GetContractInfo,
    GetContractStatus,
    GetTaskBody,
    GetTaskInfo,
    GetTaskRunnerInfo,
    GetTaskRunnerPeerStatus,
    GetTaskRunnerStatus,
    Help,
    History,
    ListContextEnv,
    ListContexts,
    ListContracts,
    ListDirectory,
    ListNodes,
    ListTaskRunnerPeers,
    ListTaskRunners,
    ListTasks,
    PerfData,
    PrintWorkingDirectory,
    ResetContract,
    ResetTaskRunner,
    SetContextEnv,
    Sleep,
    SwciLanguageError,
    SwciSyntaxError,
    SwitchContext,
    TargetSwop,
    UnknownHelpTopic,
    WaitForIp,
    WaitForService,
    WaitForTaskRunner,
    WithAllPeers,
    WithPeers,
    completions,
    help_for,
    help_index,
    parse_line,
    parse_script,
    parse_script_lines,
    render_help,
)

TR = "defaulttaskbb.taskdb.sml.hpe"
CT = "defaultbb.cqdb.sml.hpe"

# Every command of the spec (and HISTORY), as an operator would type it, with the command it must become.
EXAMPLES: list[tuple[str, Command]] = [
    # contexts
    ("CREATE CONTEXT ctx1 WITH IP sn1", CreateContextWithIp(context="ctx1", ip="sn1", port=30304)),
    ("create context ctx1 with ip 172.1.1.1 30305", CreateContextWithIp(context="ctx1", ip="172.1.1.1", port=30305)),
    (
        "create context ctx1 with service api.sn-1.swarm",
        CreateContextWithService(context="ctx1", service="api.sn-1.swarm"),
    ),
    (
        "create context ctx1 with service api.sn-1.swarm:8443",
        CreateContextWithService(context="ctx1", service="api.sn-1.swarm:8443"),
    ),
    ("SWITCH CONTEXT ctx1", SwitchContext(context="ctx1")),
    ("GET CONTEXT INFO", GetContextInfo()),
    ("get context info ctx1", GetContextInfo(context="ctx1")),
    (
        "get context env ctx1 SWCI_RUN_TASK_MAX_WAIT_TIME",
        GetContextEnv(context="ctx1", env="SWCI_RUN_TASK_MAX_WAIT_TIME"),
    ),
    ("get context env SWCI_RUN_TASK_MAX_WAIT_TIME", GetContextEnv(env="SWCI_RUN_TASK_MAX_WAIT_TIME")),
    ("LIST CONTEXT ENV ctx1", ListContextEnv(context="ctx1")),
    ("list context env", ListContextEnv()),
    ("set context env ctx1 MY_VAR 'two words'", SetContextEnv(context="ctx1", env="MY_VAR", value="two words")),
    ("set context env MY_VAR 7", SetContextEnv(env="MY_VAR", value="7")),
    ("get context version", GetContextVersion()),
    ("LIST CONTEXTS", ListContexts()),
    # training contracts
    ("CREATE CONTRACT mnist-contract", CreateContract(contract="mnist-contract")),
    (f"get contract info {CT}", GetContractInfo(contract=CT)),
    (f"GET CONTRACT STATUS {CT}", GetContractStatus(contract=CT)),
    ("list contracts", ListContracts()),
    (f"PERFDATA {CT}", PerfData(contract=CT)),
    (f"perfdata {CT}", PerfData(contract=CT)),
    (f"RESET CONTRACT {CT}", ResetContract(contract=CT)),
    (f"HISTORY {CT}", History(contract=CT)),
    (f"history {TR} last 20", History(contract=TR, last=20)),
    # tasks
    ("create task from taskdefs/swarm_mnist_task.yaml", CreateTaskFrom(path="taskdefs/swarm_mnist_task.yaml")),
    ('CREATE TASK FROM "task defs/my task.yaml"', CreateTaskFrom(path="task defs/my task.yaml")),
    (
        'create task RUN_SWARM my_task "Jane Doe" user_env_tf_build_task my_task',
        CreateTask(
            task_type="RUN_SWARM", task="my_task", author="Jane Doe", prereq="user_env_tf_build_task", outcome="my_task"
        ),
    ),
    (
        "CREATE TASK make_user_container build_task HPE ROOTTASK user-env-tf2.7.0-swop",
        CreateTask(
            task_type="MAKE_USER_CONTAINER",
            task="build_task",
            author="HPE",
            prereq="ROOTTASK",
            outcome="user-env-tf2.7.0-swop",
        ),
    ),
    (
        "APPEND TASK BODY my_task 1 Command: model/mnist_tf.py",
        AppendTaskBody(task="my_task", index=1, content="Command: model/mnist_tf.py"),
    ),
    (
        "append task body my_task 2 '    - FROM tensorflow/tensorflow:2.7.0'",
        AppendTaskBody(task="my_task", index=2, content="    - FROM tensorflow/tensorflow:2.7.0"),
    ),
    (
        "append task body my_task 3 # a Dockerfile comment",
        AppendTaskBody(task="my_task", index=3, content="# a Dockerfile comment"),
    ),
    (
        "append task body my_task 4 Entrypoint: python3   # kept verbatim",
        AppendTaskBody(task="my_task", index=4, content="Entrypoint: python3   # kept verbatim"),
    ),
    ("FINALIZE TASK swarm_mnist_task", FinalizeTask(task="swarm_mnist_task")),
    ("delete task my_task", DeleteTask(task="my_task")),
    ("get task info swarm_mnist_task", GetTaskInfo(task="swarm_mnist_task")),
    ("GET TASK BODY swarm_mnist_task", GetTaskBody(task="swarm_mnist_task")),
    ("list tasks", ListTasks()),
    # taskrunners
    ("CREATE TASKRUNNER tr2", CreateTaskRunner(taskrunner="tr2")),
    (
        f"ASSIGN TASK swarm_mnist_task TO {TR} WITH 2 PEERS",
        AssignTask(task="swarm_mnist_task", taskrunner=TR, peers=WithPeers(2)),
    ),
    (f"assign task build TO {TR} with 1 peer", AssignTask(task="build", taskrunner=TR, peers=WithPeers(1))),
    (
        f"assign task swarm_mnist_task to {TR} with all peers",
        AssignTask(task="swarm_mnist_task", taskrunner=TR, peers=WithAllPeers()),
    ),
    (
        "assign task t to taskrunner tr2 target 3f2a-swop-uid",
        AssignTask(task="t", taskrunner="tr2", peers=TargetSwop("3f2a-swop-uid")),
    ),
    ("assign task t to peers with all peers", AssignTask(task="t", taskrunner="peers", peers=WithAllPeers())),
    (f"GET TASKRUNNER STATUS {TR}", GetTaskRunnerStatus(taskrunner=TR)),
    (f"get taskrunner info {TR}", GetTaskRunnerInfo(taskrunner=TR)),
    (f"get taskrunner peer status {TR} 0", GetTaskRunnerPeerStatus(taskrunner=TR, peer=0)),
    (f"get taskrunner peer status {TR} 9c1e-uid", GetTaskRunnerPeerStatus(taskrunner=TR, peer="9c1e-uid")),
    ("LIST TASKRUNNERS", ListTaskRunners()),
    (f"list taskrunner peers {TR}", ListTaskRunnerPeers(taskrunner=TR)),
    (f"reset TASKRUNNER {TR}", ResetTaskRunner(taskrunner=TR)),
    (f"WAIT FOR TASKRUNNER {TR}", WaitForTaskRunner(taskrunner=TR)),
    # miscellaneous
    ("LIST NODES", ListNodes()),
    ("list Nodes", ListNodes()),
    ("cd /platform/swarm/usr", ChangeDirectory(path="/platform/swarm/usr")),
    ("CD 'my dir'", ChangeDirectory(path="my dir")),
    ("ls", ListDirectory()),
    ("ls()", ListDirectory()),
    ("LS -la taskdefs", ListDirectory(options="-la taskdefs")),
    ("pwd", PrintWorkingDirectory()),
    ("pwd()", PrintWorkingDirectory()),
    ("SLEEP 15", Sleep(seconds=15)),
    ("sleep 0.5", Sleep(seconds=0.5)),
    ("wait for ip sn1", WaitForIp(ip="sn1", port=30304, retries=360)),
    ("WAIT FOR IP 172.1.1.1 30304 10", WaitForIp(ip="172.1.1.1", port=30304, retries=10)),
    ("wait for ip sn1 31000", WaitForIp(ip="sn1", port=31000)),
    ("wait for service api.sn-1.swarm", WaitForService(service="api.sn-1.swarm", retries=360)),
    ("WAIT FOR SERVICE api.sn-1.swarm:443 12", WaitForService(service="api.sn-1.swarm:443", retries=12)),
    ("EXIT", Exit()),
    ("EXIT ON FAILURE", ExitOnFailure(enabled=True)),
    ("exit on failure on", ExitOnFailure(enabled=True)),
    ("EXIT ON FAILURE OFF", ExitOnFailure(enabled=False)),
    ("HELP", Help()),
    ("help create context", Help(topic="CREATE CONTEXT")),
    ("HELP HELP", Help(topic="HELP")),
    ("help ls()", Help(topic="LS")),
]


@pytest.mark.parametrize(("text", "expected"), EXAMPLES, ids=[text for text, _ in EXAMPLES])
def test_each_command_parses_to_its_dataclass(text: str, expected: Command) -> None:
    assert parse_line(text) == expected


def test_every_command_of_the_table_has_an_example_above_and_its_own_help_example_parses() -> None:
    covered = {type(command) for _, command in EXAMPLES}
    for spec in COMMANDS:
        assert spec.command in covered, spec.usage
        assert isinstance(parse_line(spec.example), spec.command), spec.example


def test_commands_are_frozen_and_remember_their_line_and_source() -> None:
    command = parse_line("  Sleep 15   # grace period", line=7)
    assert command == Sleep(seconds=15, line=7)
    assert command is not None and command.source == "  Sleep 15   # grace period"
    with pytest.raises(dataclasses.FrozenInstanceError):
        command.line = 8  # type: ignore[misc]


@pytest.mark.parametrize("spelling", ["list contracts", "LIST CONTRACTS", "List Contracts", "lIsT cOnTrAcTs"])
def test_keywords_are_case_insensitive(spelling: str) -> None:
    assert parse_line(spelling) == ListContracts()


def test_arguments_keep_their_case() -> None:
    assert parse_line("switch context MyCtx") == SwitchContext(context="MyCtx")
    assert parse_line("finalize task Swarm_Task") == FinalizeTask(task="Swarm_Task")


def test_an_argument_may_look_like_a_keyword() -> None:
    assert parse_line("create contract CONTRACT") == CreateContract(contract="CONTRACT")
    assert parse_line("switch context 'with'") == SwitchContext(context="with")


@pytest.mark.parametrize("text", ["", "   ", "# a comment", "   # indented comment", "\t"])
def test_blank_and_comment_lines_are_no_command(text: str) -> None:
    assert parse_line(text) is None


def test_trailing_comments_are_ignored_but_not_inside_quotes_or_words() -> None:
    assert parse_line("switch context ctx1   # the only one") == SwitchContext(context="ctx1")
    assert parse_line("cd 'dir # with hash'  # comment") == ChangeDirectory(path="dir # with hash")
    assert parse_line("create contract a#b") == CreateContract(contract="a#b")
    assert parse_line("EXIT ON FAILURE OFF # was ON") == ExitOnFailure(enabled=False)


def test_quoted_strings_support_escapes() -> None:
    assert parse_line(r'set context env E "say \"hi\""') == SetContextEnv(env="E", value='say "hi"')


# The canonical init script of the product's SWOP examples (mnist), as the spec quotes it, with comments, blank lines
# and the mixed spellings the examples use.
MNIST_INIT_SCRIPT = f"""\
# swci-init for the mnist example
EXIT ON FAILURE
wait for ip sn1
create context test-mnist with ip sn1
switch context test-mnist
EXIT ON FAILURE OFF

cd /platform/swarm/usr
EXIT ON FAILURE
create task from taskdefs/user_env_tf_build_task.yaml
finalize task user_env_tf_build_task
get task info user_env_tf_build_task
get task body user_env_tf_build_task
list tasks
EXIT ON FAILURE OFF

# build the user image on both hosts
EXIT ON FAILURE
RESET TASKRUNNER {TR}
ASSIGN TASK user_env_tf_build_task TO {TR} WITH 2 PEERS
WAIT FOR TASKRUNNER {TR}
RESET TASKRUNNER {TR}
EXIT ON FAILURE OFF

EXIT ON FAILURE
create task from taskdefs/swarm_mnist_task.yaml
finalize task swarm_mnist_task
get task info swarm_mnist_task
get task body swarm_mnist_task
list tasks
EXIT ON FAILURE OFF

EXIT ON FAILURE
RESET TASKRUNNER {TR}
ASSIGN TASK swarm_mnist_task TO {TR} WITH 2 PEERS
SLEEP 30
PERFDATA {CT}
WAIT FOR TASKRUNNER {TR}
SLEEP 15           # let the ML programs save their models
RESET TASKRUNNER {TR}
EXIT ON FAILURE OFF

EXIT ON FAILURE
LIST CONTRACTS
RESET CONTRACT {CT}
EXIT ON FAILURE OFF
EXIT
"""


def test_the_mnist_init_script_parses_to_the_whole_command_sequence() -> None:
    on, off = ExitOnFailure(enabled=True), ExitOnFailure(enabled=False)

    def at(line: int, command: Command) -> Command:
        return dataclasses.replace(command, line=line)

    build, run = "user_env_tf_build_task", "swarm_mnist_task"
    expected = [
        at(2, on),
        at(3, WaitForIp(ip="sn1")),
        at(4, CreateContextWithIp(context="test-mnist", ip="sn1")),
        at(5, SwitchContext(context="test-mnist")),
        at(6, off),
        at(8, ChangeDirectory(path="/platform/swarm/usr")),
        at(9, on),
        at(10, CreateTaskFrom(path=f"taskdefs/{build}.yaml")),
        at(11, FinalizeTask(task=build)),
        at(12, GetTaskInfo(task=build)),
        at(13, GetTaskBody(task=build)),
        at(14, ListTasks()),
        at(15, off),
        at(18, on),
        at(19, ResetTaskRunner(taskrunner=TR)),
        at(20, AssignTask(task=build, taskrunner=TR, peers=WithPeers(2))),
        at(21, WaitForTaskRunner(taskrunner=TR)),
        at(22, ResetTaskRunner(taskrunner=TR)),
        at(23, off),
        at(25, on),
        at(26, CreateTaskFrom(path=f"taskdefs/{run}.yaml")),
        at(27, FinalizeTask(task=run)),
        at(28, GetTaskInfo(task=run)),
        at(29, GetTaskBody(task=run)),
        at(30, ListTasks()),
        at(31, off),
        at(33, on),
        at(34, ResetTaskRunner(taskrunner=TR)),
        at(35, AssignTask(task=run, taskrunner=TR, peers=WithPeers(2))),
        at(36, Sleep(seconds=30)),
        at(37, PerfData(contract=CT)),
        at(38, WaitForTaskRunner(taskrunner=TR)),
        at(39, Sleep(seconds=15)),
        at(40, ResetTaskRunner(taskrunner=TR)),
        at(41, off),
        at(43, on),
        at(44, ListContracts()),
        at(45, ResetContract(contract=CT)),
        at(46, off),
        at(47, Exit()),
    ]
    assert parse_script(MNIST_INIT_SCRIPT) == expected


def test_script_lines_keep_comments_and_blanks_for_echoing() -> None:
    lines = parse_script_lines(MNIST_INIT_SCRIPT)
    assert len(lines) == 47
    assert lines[0].text == "# swci-init for the mnist example" and lines[0].command is None
    assert lines[6].text == "" and lines[6].command is None
    assert lines[-1].number == 47 and lines[-1].command == Exit(line=47)


def test_a_reverse_proxy_script_and_a_hand_written_task_parse() -> None:
    script = """\
wait for service api.sn-1.swarm
create context rp with service api.sn-1.swarm
switch context rp
CREATE TASK RUN_SWARM hand_task "A. Author" user_env_tf_build_task hand_task
APPEND TASK BODY hand_task 1 Command: model/mnist_tf.py
APPEND TASK BODY hand_task 2 Entrypoint: python3
append task body hand_task 3 "WorkingDir: /tmp/test"
FINALIZE TASK hand_task
ASSIGN TASK hand_task TO defaulttaskbb.taskdb.sml.hpe WITH ALL PEERS
exit
"""
    commands = parse_script(script)
    assert [type(c) for c in commands] == [
        WaitForService,
        CreateContextWithService,
        SwitchContext,
        CreateTask,
        AppendTaskBody,
        AppendTaskBody,
        AppendTaskBody,
        FinalizeTask,
        AssignTask,
        Exit,
    ]
    assert [c.content for c in commands if isinstance(c, AppendTaskBody)] == [
        "Command: model/mnist_tf.py",
        "Entrypoint: python3",
        "WorkingDir: /tmp/test",
    ]


def test_a_script_with_one_bad_line_yields_nothing_and_names_the_first_bad_line() -> None:
    script = "create context c with ip sn1\nswitch context c\nreset taskrunner\nfrobnicate\nEXIT\n"
    with pytest.raises(SwciSyntaxError) as caught:
        parse_script(script)
    assert caught.value.line == 3
    assert str(caught.value).startswith("line 3, col 17: expected <trName> after 'reset taskrunner', got end of line")


# Malformed input: (text, line/col prefix, fragments the one-line message must contain).
MALFORMED: list[tuple[str, str, list[str]]] = [
    (
        "ASSIGN TASK t TO TASKRUNNER r PEER",
        "line 1, col 31:",
        [
            "expected WITH <peersNeeded> PEERS | WITH ALL PEERS | TARGET <SWOP-UID> after 'ASSIGN TASK t TO TASKRUNNER r'",
            "got 'PEER'",
            "usage: ASSIGN TASK <taskName> TO [TASKRUNNER] <trName> (WITH <peersNeeded> PEERS | WITH ALL PEERS | TARGET <SWOP-UID>)",
        ],
    ),
    (
        "assign task t to r with many peers",
        "line 1, col 25:",
        ["expected <peersNeeded> (a whole number >= 1) | ALL after 'assign task t to r with'", "got 'many'"],
    ),
    ("assign task t to r with 0 peers", "line 1, col 25:", ["<peersNeeded> (a whole number >= 1)", "got '0'"]),
    ("assign task t to r with 2", "line 1, col 26:", ["expected PEERS", "got end of line"]),
    (
        "frobnicate now",
        "line 1, col 1:",
        ["unknown command 'frobnicate'", "expected one of APPEND, ASSIGN, CD, CREATE", "type HELP"],
    ),
    (
        "create context c with telnet sn1",
        "line 1, col 23:",
        [
            "expected IP | SERVICE after 'create context c with', got 'telnet'",
            "usage: CREATE CONTEXT <contextName> WITH IP <ip> [<port>] | CREATE CONTEXT <contextName> WITH SERVICE <fqdn[:port]>",
        ],
    ),
    (
        "create context c with ip",
        "line 1, col 25:",
        ["expected <ip> after 'create context c with ip', got end of line"],
    ),
    ("create context c with ip sn1 http", "line 1, col 30:", ["<port> (a port number 1-65535)", "got 'http'"]),
    ("create context c with ip sn1 70000", "line 1, col 30:", ["<port> (a port number 1-65535)", "got '70000'"]),
    ("wait for service api.sn-1:port", "line 1, col 18:", ["<fqdn[:port]> (a host name with an optional :port)"]),
    (
        "wait for ip sn1 30304 many",
        "line 1, col 23:",
        ["<retries> (a whole number >= 1)", "usage: WAIT FOR IP <ip> [<port> [<retries>]]"],
    ),
    (
        "wait for sn1",
        "line 1, col 10:",
        [
            "expected TASKRUNNER | IP | SERVICE after 'wait for', got 'sn1'",
            "usage: WAIT FOR TASKRUNNER <trName> | WAIT FOR IP",
        ],
    ),
    (
        "get foo",
        "line 1, col 5:",
        ["expected CONTEXT | CONTRACT | TASK | TASKRUNNER after 'get'", "usage: see HELP GET"],
    ),
    (
        "list contracts now",
        "line 1, col 16:",
        ["expected end of line after 'list contracts', got 'now'", "usage: LIST CONTRACTS"],
    ),
    (
        "EXIT ON FAILURE MAYBE",
        "line 1, col 17:",
        ["expected ON | OFF | end of line", "usage: EXIT ON FAILURE [ON | OFF]"],
    ),
    (
        "exit now",
        "line 1, col 6:",
        ["expected ON | end of line after 'exit', got 'now'", "usage: EXIT ON FAILURE [ON | OFF] | EXIT"],
    ),
    ("sleep soon", "line 1, col 7:", ["<seconds> (a number of seconds >= 0)", "usage: SLEEP <seconds>"]),
    ("sleep -1", "line 1, col 7:", ["<seconds>", "got '-1'"]),
    (
        "create task BAKE_CAKE t me ROOTTASK t",
        "line 1, col 13:",
        ["<taskType> (RUN_SWARM | MAKE_SWARM_USER_CONTENT", "FROM <taskDefFile>"],
    ),
    ("create task RUN_SWARM t me ROOTTASK", "line 1, col 36:", ["expected <outcome>", "got end of line"]),
    ("append task body t 0 Command: x", "line 1, col 20:", ["<idx> (a whole number >= 1)", "got '0'"]),
    (
        "append task body t 1 " + "x" * 80,
        "line 1, col 22:",
        ["<contentLine> (the rest of the line, at most 79 characters)", "got 'xxxx"],
    ),
    ("append task body t 1", "line 1, col 21:", ["expected <contentLine>", "got end of line"]),
    ("get taskrunner peer status tr", "line 1, col 30:", ["expected <swopIndex|swopUid>"]),
    ("history c last", "line 1, col 15:", ["expected <n>", "usage: HISTORY <contractName> [LAST <n>]"]),
    ("help frobnicate", "line 1, col 6:", ["<command> (the first words of a command", "got 'frobnicate'"]),
    ('cd "/unterminated', "line 1, col 4:", ["unterminated string"]),
    ('cd "/a"b', "line 1, col 8:", ["expected a space after the closing"]),
]


@pytest.mark.parametrize(("text", "where", "fragments"), MALFORMED, ids=[text[:40] for text, _, _ in MALFORMED])
def test_malformed_lines_give_one_line_with_position_and_expected_form(
    text: str, where: str, fragments: list[str]
) -> None:
    with pytest.raises(SwciSyntaxError) as caught:
        parse_line(text)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(where), message
    for fragment in fragments:
        assert fragment in message, message


def test_syntax_errors_belong_to_the_project_hierarchy_and_carry_their_parts() -> None:
    with pytest.raises(SwarmLearningError) as caught:
        parse_line("x\nignored", line=1)
    assert isinstance(caught.value, SwciLanguageError)
    with pytest.raises(SwciSyntaxError) as caught2:
        parse_line("reset contract", line=12)
    error = caught2.value
    assert (error.line, error.column, error.got) == (12, 15, "end of line")
    assert error.expected == "<contractName>"
    assert error.usage == "RESET CONTRACT <contractName>"


def test_help_lists_every_command_with_a_one_line_description() -> None:
    index = help_index()
    for spec in COMMANDS:
        assert spec.usage in index
        assert spec.summary in index
        assert "\n" not in spec.summary
    assert render_help(Help()) == index


def test_help_for_a_command_shows_usage_description_and_example() -> None:
    text = help_for("assign task")
    assert text.splitlines()[0] == (
        "Usage: ASSIGN TASK <taskName> TO [TASKRUNNER] <trName> (WITH <peersNeeded> PEERS | WITH ALL PEERS | TARGET <SWOP-UID>)"
    )
    assert "Example: assign task swarm_mnist_task to defaulttaskbb.taskdb.sml.hpe with 2 peers" in text
    assert render_help(Help(topic="ASSIGN TASK")) == text


def test_help_by_first_words_shows_every_matching_command() -> None:
    text = render_help(parse_line("help wait"))  # type: ignore[arg-type]
    assert [line for line in text.splitlines() if line.startswith("Usage:")] == [
        "Usage: WAIT FOR TASKRUNNER <trName>",
        "Usage: WAIT FOR IP <ip> [<port> [<retries>]]",
        "Usage: WAIT FOR SERVICE <fqdn[:port]> [<retries>]",
    ]
    assert help_for("HELP").startswith("Usage: HELP [<command>]")


def test_history_documents_its_syntax_in_help() -> None:
    text = help_for("history")
    assert "Usage: HISTORY <contractName> [LAST <n>]" in text
    assert "what, who, when, block" in text


def test_help_about_an_unknown_command_is_an_error() -> None:
    with pytest.raises(UnknownHelpTopic, match="no command starts with 'frob'"):
        help_for("frob")


def test_the_error_usage_is_the_help_usage() -> None:
    with pytest.raises(SwciSyntaxError) as caught:
        parse_line("perfdata")
    assert caught.value.usage in help_for("perfdata")


def test_completion_offers_the_keywords_that_may_come_next() -> None:
    assert completions("get ta") == ["TASK", "TASKRUNNER"]
    assert completions("WAIT FOR ") == ["IP", "SERVICE", "TASKRUNNER"]
    assert completions("exit on failure ") == ["OFF", "ON"]
    assert "PERFDATA" in completions("")
