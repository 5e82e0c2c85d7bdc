"""The command table: every SWCI command's syntax, dataclass, help text and example, in one place.

The parser matches lines against ``COMMANDS`` (first complete match in table order wins); HELP prints the same
entries; error messages quote their usage lines. Argument labels (``<trName>``) are declared once in ``ARGUMENTS``
with the dataclass field they fill and how their text is checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from swci.language import commands as c
from swci.language.patterns import (
    ArgumentKind,
    ArgumentSpec,
    Item,
    canonical_keyword,
    compile_pattern,
    leading_keywords,
    render,
)

MAX_BODY_LINE = 79  # "text of < 80 characters"
MAX_TASK_FIELD = 160  # the task schema's limit for every free string
TASK_TYPES = ("RUN_SWARM", "MAKE_SWARM_USER_CONTENT", "MAKE_USER_CONTAINER", "PULL_IMAGE")
TASK_TYPE_ALIASES = {"BUILD_SWARM": "MAKE_USER_CONTAINER"}  # older documentation's name for the build task

_DIGITS = re.compile(r"[0-9]+")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")


# --- argument kinds ------------------------------------------------------------------------------------------------


def _text(limit: int | None = None) -> Callable[[str], object]:
    def convert(value: str) -> str:
        if not value:
            raise ValueError("empty")
        if limit is not None and len(value) > limit:
            raise ValueError("too long")
        return value

    return convert


def _whole(low: int, high: int | None = None) -> Callable[[str], object]:
    def convert(value: str) -> int:
        if not _DIGITS.fullmatch(value):
            raise ValueError("not a whole number")
        number = int(value)
        if number < low or (high is not None and number > high):
            raise ValueError("out of range")
        return number

    return convert


def _seconds(value: str) -> float:
    if not _NUMBER.fullmatch(value):
        raise ValueError("not a number")
    return float(value)


def _service(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if sep:
        if not host:
            raise ValueError("no host")
        _whole(1, 65535)(port)
    return value


def _task_type(value: str) -> str:
    upper = value.upper()
    upper = TASK_TYPE_ALIASES.get(upper, upper)
    if upper not in TASK_TYPES:
        raise ValueError("unknown task type")
    return upper


def _peer(value: str) -> int | str:
    return int(value) if _DIGITS.fullmatch(value) else value


def _body_line(value: str) -> str:
    if len(value) > MAX_BODY_LINE:
        raise ValueError("too long")
    return value


def _help_topic(value: str) -> str:
    words = tuple(canonical_keyword(w) for w in value.split())
    if not find_commands(words):
        raise ValueError("no such command")
    return " ".join(words)


NAME = ArgumentKind("a name", _text())
HOST = ArgumentKind("an IP address or host name", _text())
PATH = ArgumentKind("a path", _text())
TASK_FIELD = ArgumentKind(f"a text of 1 to {MAX_TASK_FIELD} characters", _text(MAX_TASK_FIELD))
PORT = ArgumentKind("a port number 1-65535", _whole(1, 65535))
COUNT = ArgumentKind("a whole number >= 1", _whole(1))
SECONDS = ArgumentKind("a number of seconds >= 0", _seconds)
SERVICE = ArgumentKind("a host name with an optional :port", _service)
TASK_TYPE = ArgumentKind(" | ".join(TASK_TYPES), _task_type)
PEER = ArgumentKind("an enrolment index (0, 1, ...) or a SWOP UID", _peer)
BODY_LINE = ArgumentKind(
    f"the rest of the line, at most {MAX_BODY_LINE} characters", _body_line, rest_of_line=True, verbatim=True
)
ENV_VALUE = ArgumentKind("a value (quote it if it has spaces)", str)
LS_OPTIONS = ArgumentKind("ls options", _text(), rest_of_line=True)
HELP_TOPIC = ArgumentKind("the first words of a command, e.g. CREATE CONTEXT", _help_topic, rest_of_line=True)

ARGUMENTS: Mapping[str, ArgumentSpec] = {
    "contextName": ArgumentSpec("context", NAME),
    "ip": ArgumentSpec("ip", HOST),
    "port": ArgumentSpec("port", PORT),
    "fqdn[:port]": ArgumentSpec("service", SERVICE),
    "env": ArgumentSpec("env", NAME),
    "envValue": ArgumentSpec("value", ENV_VALUE),
    "contractName": ArgumentSpec("contract", NAME),
    "n": ArgumentSpec("last", COUNT),
    "taskDefFile": ArgumentSpec("path", PATH),
    "taskType": ArgumentSpec("task_type", TASK_TYPE),
    "taskName": ArgumentSpec("task", TASK_FIELD),
    "author": ArgumentSpec("author", TASK_FIELD),
    "prereq": ArgumentSpec("prereq", TASK_FIELD),
    "outcome": ArgumentSpec("outcome", TASK_FIELD),
    "idx": ArgumentSpec("index", COUNT),
    "contentLine": ArgumentSpec("content", BODY_LINE),
    "trName": ArgumentSpec("taskrunner", NAME),
    "peersNeeded": ArgumentSpec("count", COUNT),
    "SWOP-UID": ArgumentSpec("uid", NAME),
    "swopIndex|swopUid": ArgumentSpec("peer", PEER),
    "dirPath": ArgumentSpec("path", PATH),
    "options": ArgumentSpec("options", LS_OPTIONS),
    "seconds": ArgumentSpec("seconds", SECONDS),
    "retries": ArgumentSpec("retries", COUNT),
    "command": ArgumentSpec("topic", HELP_TOPIC),
}


# --- the table -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Captures:
    """What a successful match collected: argument values by field, and the keywords matched, in order."""

    values: Mapping[str, object]
    keywords: tuple[str, ...]


def _fields(captures: Captures) -> dict[str, object]:
    return dict(captures.values)


def _assign(captures: Captures) -> dict[str, object]:
    values = dict(captures.values)
    peers: c.PeerSelection
    if "uid" in values:
        peers = c.TargetSwop(str(values.pop("uid")))
    elif "count" in values:
        count = values.pop("count")
        assert isinstance(count, int)
        peers = c.WithPeers(count)
    else:
        peers = c.WithAllPeers()
    return {**values, "peers": peers}


def _exit_on_failure(captures: Captures) -> dict[str, object]:
    return {"enabled": captures.keywords[-1] != "OFF"}


@dataclass(frozen=True)
class CommandSpec:
    """One row of the help table, which is also one rule of the grammar."""

    section: str
    pattern: str
    command: type[c.Command]
    summary: str  # one line, for HELP
    example: str
    details: str = ""  # more explanation, for HELP <command>
    build: Callable[[Captures], dict[str, object]] = _fields
    items: tuple[Item, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", compile_pattern(self.pattern, ARGUMENTS))

    @property
    def usage(self) -> str:
        return render(self.items)

    @property
    def topic(self) -> tuple[str, ...]:
        return leading_keywords(self.items)


CONTEXTS, CONTRACTS, TASKS, TASKRUNNERS, MISC = (
    "Contexts",
    "Training contracts",
    "Tasks",
    "Taskrunners",
    "Miscellaneous",
)

COMMANDS: tuple[CommandSpec, ...] = (
    # contexts
    CommandSpec(
        CONTEXTS,
        "CREATE CONTEXT <contextName> WITH IP <ip> [<port>]",
        c.CreateContextWithIp,
        "Create a context for the SN API server at an IP address or host name (port 30304 by default).",
        "create context ctx1 with ip sn1",
        "Checks that the API server answers first. The context still has to be made current with SWITCH CONTEXT.",
    ),
    CommandSpec(
        CONTEXTS,
        "CREATE CONTEXT <contextName> WITH SERVICE <fqdn[:port]>",
        c.CreateContextWithService,
        "Create a context for the SN API server behind a reverse-proxy service name (port 443 by default).",
        "create context ctx1 with service api.sn-1.swarm",
    ),
    CommandSpec(
        CONTEXTS,
        "SWITCH CONTEXT <contextName>",
        c.SwitchContext,
        "Make a context the current one; every Swarm command then goes to its API server.",
        "switch context ctx1",
    ),
    CommandSpec(
        CONTEXTS,
        "GET CONTEXT INFO [<contextName>]",
        c.GetContextInfo,
        "Show a context's API server, environment and versions (the current context if no name is given).",
        "get context info ctx1",
    ),
    CommandSpec(
        CONTEXTS,
        "GET CONTEXT ENV [<contextName>] <env>",
        c.GetContextEnv,
        "Show the value of one environment variable of a context (the current context if only <env> is given).",
        "get context env ctx1 SWCI_RUN_TASK_MAX_WAIT_TIME",
    ),
    CommandSpec(
        CONTEXTS,
        "LIST CONTEXT ENV [<contextName>]",
        c.ListContextEnv,
        "List the environment variables of a context (the current context if no name is given).",
        "list context env ctx1",
    ),
    CommandSpec(
        CONTEXTS,
        "SET CONTEXT ENV [<contextName>] <env> <envValue>",
        c.SetContextEnv,
        "Set an environment variable of a context (the current context if only <env> <envValue> are given).",
        "set context env ctx1 SWCI_RUN_TASK_MAX_WAIT_TIME 30",
        "Quote a value that contains spaces or starts with #.",
    ),
    CommandSpec(
        CONTEXTS,
        "GET CONTEXT VERSION",
        c.GetContextVersion,
        "Show the version information of the current context's API server.",
        "get context version",
    ),
    CommandSpec(CONTEXTS, "LIST CONTEXTS", c.ListContexts, "List the contexts of this SWCI session.", "list contexts"),
    # training contracts
    CommandSpec(
        CONTRACTS,
        "CREATE CONTRACT <contractName>",
        c.CreateContract,
        "Register a new training contract; ML programs name it as their trainingContract.",
        "create contract mnist-contract",
        "Contracts are permanent: they can be reset but not deleted.",
    ),
    CommandSpec(
        CONTRACTS,
        "GET CONTRACT INFO <contractName>",
        c.GetContractInfo,
        "Show the static information of a training contract.",
        "get contract info defaultbb.cqdb.sml.hpe",
    ),
    CommandSpec(
        CONTRACTS,
        "GET CONTRACT STATUS <contractName>",
        c.GetContractStatus,
        "Show the current state of a training contract.",
        "get contract status defaultbb.cqdb.sml.hpe",
    ),
    CommandSpec(
        CONTRACTS,
        "LIST CONTRACTS",
        c.ListContracts,
        "List the registered training contracts, defaultbb.cqdb.sml.hpe included.",
        "list contracts",
    ),
    CommandSpec(
        CONTRACTS,
        "PERFDATA <contractName>",
        c.PerfData,
        "Show training progress per SL: status, leader, loss, metric, completed/total epochs.",
        "perfdata defaultbb.cqdb.sml.hpe",
        "Can be repeated while training runs, e.g. between SLEEP 30 commands.",
    ),
    CommandSpec(
        CONTRACTS,
        "RESET CONTRACT <contractName>",
        c.ResetContract,
        "Return a completed training contract to its initial state so it can be used again.",
        "reset contract defaultbb.cqdb.sml.hpe",
        "Irreversible. Do not reset a contract while a training uses it.",
    ),
    CommandSpec(
        CONTRACTS,
        "HISTORY <contractName> [LAST <n>]",
        c.History,
        "List the chain operations recorded for a contract or taskrunner: what, who, when, block.",
        "history defaultbb.cqdb.sml.hpe last 20",
        "Oldest first; LAST <n> keeps only the newest n operations. Not a command of the original product.",
    ),
    # tasks
    CommandSpec(
        TASKS,
        "CREATE TASK FROM <taskDefFile>",
        c.CreateTaskFrom,
        "Check a task definition YAML against the task schema and register it with its body.",
        "create task from taskdefs/swarm_mnist_task.yaml",
        "The path is relative to SWCI's current directory (see CD). The task must then be finalized.",
    ),
    CommandSpec(
        TASKS,
        "CREATE TASK <taskType> <taskName> <author> <prereq> <outcome>",
        c.CreateTask,
        "Register a task header by hand; add its body with APPEND TASK BODY, then FINALIZE TASK.",
        'create task RUN_SWARM my_task "Jane Doe" user_env_tf_build_task my_task',
        f"<taskType> is one of {', '.join(TASK_TYPES)}. Quote fields that contain spaces.",
    ),
    CommandSpec(
        TASKS,
        "APPEND TASK BODY <taskName> <idx> <contentLine>",
        c.AppendTaskBody,
        "Set body line <idx> (1, 2, ...) of a task that is not finalized yet.",
        "append task body my_task 1 Command: model/mnist_tf.py",
        f"<contentLine> is the rest of the line as written, # included, at most {MAX_BODY_LINE} characters; "
        "quote it to keep leading spaces. The body lines together form the task's YAML Body.",
    ),
    CommandSpec(
        TASKS,
        "FINALIZE TASK <taskName>",
        c.FinalizeTask,
        "Freeze a task so that it can be assigned; finalized tasks cannot change.",
        "finalize task swarm_mnist_task",
    ),
    CommandSpec(
        TASKS,
        "DELETE TASK <taskName>",
        c.DeleteTask,
        "Delete a task that is not finalized yet.",
        "delete task my_task",
    ),
    CommandSpec(
        TASKS,
        "GET TASK INFO <taskName>",
        c.GetTaskInfo,
        "Show a task's header: type, author, prerequisite, outcome, state.",
        "get task info swarm_mnist_task",
    ),
    CommandSpec(
        TASKS,
        "GET TASK BODY <taskName>",
        c.GetTaskBody,
        "Show a task's stored body, one numbered line each.",
        "get task body swarm_mnist_task",
    ),
    CommandSpec(TASKS, "LIST TASKS", c.ListTasks, "List the registered tasks, ROOTTASK first.", "list tasks"),
    # taskrunners
    CommandSpec(
        TASKRUNNERS,
        "CREATE TASKRUNNER <trName>",
        c.CreateTaskRunner,
        "Register a new taskrunner (one per concurrent training).",
        "create taskrunner tr2",
    ),
    CommandSpec(
        TASKRUNNERS,
        "ASSIGN TASK <taskName> TO [TASKRUNNER] <trName> (WITH <peersNeeded> PEERS | WITH ALL PEERS | TARGET <SWOP-UID>)",
        c.AssignTask,
        "Start a finalized task on a taskrunner with at least N peers, all listening SWOPs, or one given SWOP.",
        "assign task swarm_mnist_task to defaulttaskbb.taskdb.sml.hpe with 2 peers",
        "Returns at once (see WAIT FOR TASKRUNNER). Peers are SL/ML pairs for RUN_SWARM, SWOPs otherwise. "
        "TARGET may add a SWOP (UID from LIST NODES) to a running task.",
        _assign,
    ),
    CommandSpec(
        TASKRUNNERS,
        "GET TASKRUNNER STATUS <trName>",
        c.GetTaskRunnerStatus,
        "Show a taskrunner's task, TASK_STATE, peer counts and event times.",
        "get taskrunner status defaulttaskbb.taskdb.sml.hpe",
    ),
    CommandSpec(
        TASKRUNNERS,
        "GET TASKRUNNER INFO <trName>",
        c.GetTaskRunnerInfo,
        "Show a taskrunner's static and current information.",
        "get taskrunner info defaulttaskbb.taskdb.sml.hpe",
    ),
    CommandSpec(
        TASKRUNNERS,
        "GET TASKRUNNER PEER STATUS <trName> <swopIndex|swopUid>",
        c.GetTaskRunnerPeerStatus,
        "Show the status of one enrolled SWOP (and its SLs for RUN_SWARM), by index or UID.",
        "get taskrunner peer status defaulttaskbb.taskdb.sml.hpe 0",
    ),
    CommandSpec(
        TASKRUNNERS, "LIST TASKRUNNERS", c.ListTaskRunners, "List the registered taskrunners.", "list taskrunners"
    ),
    CommandSpec(
        TASKRUNNERS,
        "LIST TASKRUNNER PEERS <trName>",
        c.ListTaskRunnerPeers,
        "List the peers enrolled in a taskrunner.",
        "list taskrunner peers defaulttaskbb.taskdb.sml.hpe",
    ),
    CommandSpec(
        TASKRUNNERS,
        "RESET TASKRUNNER <trName>",
        c.ResetTaskRunner,
        "Return a finished taskrunner to IDLE; for RUN_SWARM the SWOPs also remove their SL and ML containers.",
        "reset taskrunner defaulttaskbb.taskdb.sml.hpe",
    ),
    CommandSpec(
        TASKRUNNERS,
        "WAIT FOR TASKRUNNER <trName>",
        c.WaitForTaskRunner,
        "Block until the taskrunner's task completes or fails, printing # as progress.",
        "wait for taskrunner defaulttaskbb.taskdb.sml.hpe",
        "Gives up after SWCI_RUN_TASK_MAX_WAIT_TIME (RUN_SWARM) or SWCI_GENERIC_TASK_MAX_WAIT_TIME minutes "
        "(default 120).",
    ),
    # miscellaneous
    CommandSpec(
        MISC, "LIST NODES", c.ListNodes, "List the live SN, SWOP and SL nodes with their heartbeats.", "list nodes"
    ),
    CommandSpec(
        MISC,
        "CD <dirPath>",
        c.ChangeDirectory,
        "Change SWCI's working directory.",
        "cd /platform/swarm/usr",
    ),
    CommandSpec(
        MISC,
        "LS [<options>]",
        c.ListDirectory,
        "List SWCI's working directory (ls() is accepted too).",
        "ls -l taskdefs",
    ),
    CommandSpec(MISC, "PWD", c.PrintWorkingDirectory, "Print SWCI's working directory (pwd() is accepted too).", "pwd"),
    CommandSpec(
        MISC,
        "SLEEP <seconds>",
        c.Sleep,
        "Pause for a number of seconds.",
        "sleep 15",
    ),
    CommandSpec(
        MISC,
        "WAIT FOR IP <ip> [<port> [<retries>]]",
        c.WaitForIp,
        "Wait until the API server at an IP address or host name accepts connections.",
        "wait for ip sn1",
        "Port 30304 and 360 attempts of 5 s by default; a single number after <ip> is the port.",
    ),
    CommandSpec(
        MISC,
        "WAIT FOR SERVICE <fqdn[:port]> [<retries>]",
        c.WaitForService,
        "Wait until the API server behind a service name accepts connections.",
        "wait for service api.sn-1.swarm",
        "360 attempts of 5 s by default.",
    ),
    CommandSpec(
        MISC,
        "EXIT ON FAILURE [ON | OFF]",
        c.ExitOnFailure,
        "While ON (the default when neither is given), any failing command ends the session.",
        "exit on failure off",
        "A session starts with EXIT ON FAILURE OFF. A failing command under ON makes a script end with a non-zero "
        "exit code.",
        _exit_on_failure,
    ),
    CommandSpec(MISC, "EXIT", c.Exit, "End the SWCI session.", "exit"),
    CommandSpec(
        MISC,
        "HELP [<command>]",
        c.Help,
        "List every command, or show one command's usage, description and example.",
        "help assign task",
    ),
)

SECTIONS = (CONTEXTS, CONTRACTS, TASKS, TASKRUNNERS, MISC)


def find_commands(words: tuple[str, ...]) -> tuple[CommandSpec, ...]:
    """The commands whose leading keywords start with ``words`` (upper-case), e.g. ("WAIT",) -> the three WAITs."""
    return tuple(spec for spec in COMMANDS if words and spec.topic[: len(words)] == words)
