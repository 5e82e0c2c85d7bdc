"""The SWCI command language: parsing and help, no execution.

Public interface::

    parse_line(text, line=1) -> Command | None        one line; None for blank/comment lines
    parse_script(text) -> list[Command]                a whole script; raises at the FIRST malformed line
    parse_script_lines(text) -> list[ScriptLine]       the same, keeping every line (for echoing comments)
    completions(text) -> list[str]                     keywords that may follow a partial line
    help_index() / help_for(topic) / render_help(Help) the HELP output, from the parser's own table
    COMMANDS                                           the table: pattern, dataclass, summary, example per command

Errors: ``SwciSyntaxError`` (``line``, ``column``, ``expected``, ``got``, ``usage``; ``str()`` is one line such as
``line 3, col 31: expected WITH <peersNeeded> PEERS | WITH ALL PEERS | TARGET <SWOP-UID> after 'ASSIGN TASK t TO r',
got 'PEER'; usage: ASSIGN TASK ...``) and ``UnknownHelpTopic``, both ``SwciLanguageError(SwarmLearningError)``.

Choices where the specification is unclear or silent
----------------------------------------------------
1. Comments: ``#`` starts a comment at the start of a line or of a token (after whitespace), outside quotes; inside
   a bare word (``a#b``) it is an ordinary character. Exception: the content of ``APPEND TASK BODY`` is the rest of the
   line verbatim, ``#`` included, because body lines may be Dockerfile or YAML comments; a single quoted string there
   is unquoted instead (to keep leading spaces), and then a trailing comment is allowed.
2. Quoting: arguments may be ``"double"`` or ``'single'`` quoted (backslash escapes the quote and backslash); a
   quoted token is never a keyword. Arguments stay case-sensitive; only keywords are case-insensitive.
3. No reserved words: an argument may look like a keyword (a taskrunner named ``peers``); the matcher backtracks.
4. Optional context names: ``GET CONTEXT ENV``, ``LIST CONTEXT ENV`` and ``SET CONTEXT ENV`` all accept the context
   name as optional (the current context when omitted); with ``SET`` two arguments mean ``<env> <envValue>``.
5. ``WAIT FOR IP <ip> [port] [retries]`` is positional: one number after the address is the port; retries need the
   port before them. Defaults port 30304, retries 360 are filled into the dataclass.
6. ``ASSIGN TASK ... TO [TASKRUNNER] <trName>``: the keyword ``TASKRUNNER`` before the name is accepted and ignored;
   ``PEER`` is accepted for ``PEERS`` (``WITH 1 PEER``).
7. ``ls()`` and ``pwd()`` (the Python API's names) are accepted for ``LS``/``PWD``; ``LS`` passes the rest of the
   line as options.
8. Task types are matched case-insensitively and normalised to upper case; ``BUILD_SWARM`` (older documentation) is
   read as ``MAKE_USER_CONTAINER``. Task header fields are limited to 160 characters (task schema), body lines to 79
   (spec: "< 80 characters"), body line indexes start at 1.
9. Multi-line input: the language has none; a task body is given either as a YAML file (``CREATE TASK FROM``) or
   line by line with ``APPEND TASK BODY`` after ``CREATE TASK``, exactly one command per line as the spec says.
10. ``EXIT ON FAILURE`` with no argument means ON. ``EXIT`` takes no argument.
11. ``GET TASKRUNNER PEER STATUS <tr> <peer>``: an all-digit ``peer`` is an index (int), anything else a SWOP UID.
12. ``HELP <words>``: the words select every command starting with them (``HELP WAIT`` shows the three WAIT
    commands); words that start no command are a syntax error at parse time.
13. ``HISTORY <contractName> [LAST <n>]`` is ours (issue 5, item 4): the chain operations recorded for a training
    contract or a taskrunner, oldest first, optionally only the newest n.
14. ``SLEEP`` accepts fractional seconds. ``PERFDATA`` requires the contract name (the client code has no default).
15. A script is parsed completely before anything runs: the first malformed line raises and nothing is returned.
"""

from __future__ import annotations

from swci.language.commands import (
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
    PeerSelection,
    PerfData,
    PrintWorkingDirectory,
    ResetContract,
    ResetTaskRunner,
    SetContextEnv,
    Sleep,
    SwitchContext,
    TargetSwop,
    WaitForIp,
    WaitForService,
    WaitForTaskRunner,
    WithAllPeers,
    WithPeers,
)
from swci.language.errors import SwciLanguageError, SwciSyntaxError, UnknownHelpTopic
from swci.language.grammar import COMMANDS, CommandSpec
from swci.language.help import help_for, help_index, render_help, usage_of
from swci.language.parser import ScriptLine, completions, parse_line, parse_script, parse_script_lines

__all__ = [
    "COMMANDS",
    "AppendTaskBody",
    "AssignTask",
    "ChangeDirectory",
    "Command",
    "CommandSpec",
    "CreateContextWithIp",
    "CreateContextWithService",
    "CreateContract",
    "CreateTask",
    "CreateTaskFrom",
    "CreateTaskRunner",
    "DeleteTask",
    "Exit",
    "ExitOnFailure",
    "FinalizeTask",
    "GetContextEnv",
    "GetContextInfo",
    "GetContextVersion",
    "GetContractInfo",
    "GetContractStatus",
    "GetTaskBody",
    "GetTaskInfo",
    "GetTaskRunnerInfo",
    "GetTaskRunnerPeerStatus",
    "GetTaskRunnerStatus",
    "Help",
    "History",
    "ListContextEnv",
    "ListContexts",
    "ListContracts",
    "ListDirectory",
    "ListNodes",
    "ListTaskRunnerPeers",
    "ListTaskRunners",
    "ListTasks",
    "PeerSelection",
    "PerfData",
    "PrintWorkingDirectory",
    "ResetContract",
    "ResetTaskRunner",
    "ScriptLine",
    "SetContextEnv",
    "Sleep",
    "SwciLanguageError",
    "SwciSyntaxError",
    "SwitchContext",
    "TargetSwop",
    "UnknownHelpTopic",
    "WaitForIp",
    "WaitForService",
    "WaitForTaskRunner",
    "WithAllPeers",
    "WithPeers",
    "completions",
    "help_for",
    "help_index",
    "parse_line",
    "parse_script",
    "parse_script_lines",
    "render_help",
    "usage_of",
]
