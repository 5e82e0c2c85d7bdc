"""Task definition files: YAML checked against the task schema (``spec/swop.md`` §3), split into header and body.

A task YAML maps to the chain like this: ``Name`` is the task's name, ``TaskType``/``Author``/``Prereq``/``Outcome``
its header, and the value of ``Body`` its body. The stored body is the text of the ``Body`` section as the author
wrote it (comments and quoting kept, de-indented), after a ``---`` document-start line, so that ``GET TASK BODY``
shows ``0000: ---`` then the body's own lines and ``yaml.safe_load(body)`` gives back exactly the ``Body`` value.
When the section's text cannot be cut out cleanly, the body is the ``Body`` value dumped as YAML (keys sorted).

Every problem is a ``TaskDefinitionError`` with the 1-based line and column of the offending YAML node and the
expected form; nothing here touches the chain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from swci.errors import TaskDefinitionError
from swci.language.grammar import MAX_TASK_FIELD, TASK_TYPE_ALIASES, TASK_TYPES

HEADER_KEYS = ("Name", "TaskType", "Author", "Prereq", "Outcome")
TOP_KEYS = (*HEADER_KEYS, "Body")
TOP_FORM = "a YAML mapping with Name, TaskType, Author, Prereq, Outcome (text) and Body (a mapping)"
MAX_BODY_BYTES = 32768  # the task store's limit
_NULL = "tag:yaml.org,2002:null"


@dataclass(frozen=True)
class TaskDefinition:
    name: str
    task_type: str
    author: str
    prereq: str
    outcome: str
    body: Any  # the Body value as loaded
    body_text: str  # what is stored on the chain (see the module doc)


def parse_task_definition(text: str, source: str) -> TaskDefinition:
    """Check ``text`` (the YAML of file ``source``) and return the task it defines."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        loaded = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = _error_mark(exc, text)
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "not valid YAML"
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        raise TaskDefinitionError(source, line, column, f"YAML syntax error: {problem}", TOP_FORM) from exc
    except yaml.YAMLError as exc:
        raise TaskDefinitionError(source, 0, 0, f"not readable as YAML: {exc}", TOP_FORM) from exc
    if root is None:
        raise TaskDefinitionError(source, 1, 1, "the file is empty", TOP_FORM)
    checker = _Checker(source)
    fields = checker.mapping(root, TOP_KEYS, TOP_KEYS, "the task definition", TOP_FORM)
    header = {key: checker.text(fields[key], key) for key in HEADER_KEYS}
    task_type = _task_type(checker, fields["TaskType"])
    body_node = fields["Body"]
    checker.body(body_node, task_type)
    body = loaded["Body"]
    body_text = body_section(text, body_node, body)
    if len(body_text.encode("utf-8")) > MAX_BODY_BYTES:
        raise checker.error(body_node, f"the body is {len(body_text.encode())} bytes", f"at most {MAX_BODY_BYTES}")
    return TaskDefinition(
        name=header["Name"],
        task_type=task_type,
        author=header["Author"],
        prereq=header["Prereq"],
        outcome=header["Outcome"],
        body=body,
        body_text=body_text,
    )


def _error_mark(exc: yaml.MarkedYAMLError, text: str) -> Any:
    """Where to point: the problem, unless the problem is the end of the file (an unclosed quote or bracket), then
    where the unclosed construct began."""
    problem, context = exc.problem_mark, exc.context_mark
    if problem is None:
        return context
    if context is not None and problem.index >= len(text.rstrip()):
        return context
    return problem


def _task_type(checker: _Checker, node: Node) -> str:
    value = checker.text(node, "TaskType").upper()
    value = TASK_TYPE_ALIASES.get(value, value)
    if value not in TASK_TYPES:
        raise checker.error(node, f"unknown TaskType {node.value!r}", "one of " + ", ".join(TASK_TYPES))
    return value


def body_section(text: str, node: Node, body: Any) -> str:
    """The ``Body`` value's text as written (de-indented) after a ``---`` line; a YAML dump if that fails."""
    section = _source_of(text, node)
    if section is not None:
        candidate = "---\n" + section
        try:
            if yaml.safe_load(candidate) == body:
                return candidate
        except yaml.YAMLError:
            pass
    return yaml.safe_dump(body, explicit_start=True, sort_keys=True, allow_unicode=True, default_flow_style=False)


def _source_of(text: str, node: Node) -> str | None:
    start, end = node.start_mark, node.end_mark
    if start is None or end is None:
        return None
    raw = text[start.index : end.index]
    lines = raw.split("\n")
    indent = start.column
    kept = [lines[0]]
    for line in lines[1:]:
        lead = len(line) - len(line.lstrip(" "))
        kept.append(line[min(lead, indent) :])
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept) + "\n" if kept else None


# ------------------------------------------------------------------------------------------------ schema

_Check = Callable[["_Checker", Node, str], None]


class _Checker:
    """Checks nodes against the task schema; errors point at the node's line and column."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, node: Node, problem: str, expected: str) -> TaskDefinitionError:
        mark = node.start_mark
        return TaskDefinitionError(self.source, mark.line + 1, mark.column + 1, problem, expected)

    def mapping(
        self, node: Node, required: tuple[str, ...], allowed: tuple[str, ...], what: str, form: str
    ) -> dict[str, Node]:
        if not isinstance(node, MappingNode):
            raise self.error(node, f"{what} is not a mapping", form)
        fields: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key not in allowed:
                raise self.error(key_node, f"unknown key {key!r} in {what}", "only " + ", ".join(allowed))
            if key in fields:
                raise self.error(key_node, f"key {key!r} appears twice in {what}", form)
            fields[key] = value_node
        missing = [key for key in required if key not in fields]
        if missing:
            raise self.error(node, f"{what} lacks {', '.join(missing)}", form)
        return fields

    def text(self, node: Node, what: str, low: int = 1, high: int = MAX_TASK_FIELD, null: bool = False) -> str:
        expected = f"{what}: text of {low}..{high} characters" + (" or ~" if null else "")
        if not isinstance(node, ScalarNode):
            raise self.error(node, f"{what} is not text", expected)
        if node.tag == _NULL:
            if null:
                return ""
            raise self.error(node, f"{what} is empty", expected)
        value = str(node.value)
        if not low <= len(value) <= high:
            raise self.error(node, f"{what} has {len(value)} characters", expected)
        return value

    def choice(self, node: Node, what: str, options: tuple[str, ...]) -> None:
        value = self.text(node, what)
        if value not in options:
            raise self.error(node, f"{what} {value!r} is not allowed", f"{what}: one of {', '.join(options)}")

    def items(self, node: Node, what: str, low: int, high: int, null: bool = False) -> list[Node]:
        expected = f"{what}: a list of {low}..{high} items" + (" or ~" if null else "")
        if null and isinstance(node, ScalarNode) and node.tag == _NULL:
            return []
        if not isinstance(node, SequenceNode):
            raise self.error(node, f"{what} is not a list", expected)
        if not low <= len(node.value) <= high:
            raise self.error(node, f"{what} has {len(node.value)} items", expected)
        return list(node.value)

    def body(self, node: Node, task_type: str) -> None:
        checks = BODY_SCHEMAS[task_type]
        keys = tuple(checks)
        form = f"a {task_type} Body with " + ", ".join(keys)
        fields = self.mapping(node, keys, keys, f"the {task_type} Body", form)
        for key, check in checks.items():
            check(self, fields[key], key)


# Per task type: Body key -> check (every key is required, as in the task schema).


def _text(low: int = 1, null: bool = False) -> _Check:
    def check(checker: _Checker, node: Node, what: str) -> None:
        checker.text(node, what, low, null=null)

    return check


def _choice(*options: str) -> _Check:
    return lambda checker, node, what: checker.choice(node, what, options)


def _build_steps(checker: _Checker, node: Node, what: str) -> None:
    for item in checker.items(node, what, 1, 80):
        checker.text(item, f"an item of {what}", 0)


def _maps(checker: _Checker, node: Node, what: str) -> None:
    for item in checker.items(node, what, 0, 1000, null=True):
        if not isinstance(item, MappingNode):
            raise checker.error(
                item, f"an item of {what} is not a mapping", f"{what}: a list of maps such as KEY: value"
            )


def _shared_content(checker: _Checker, node: Node, what: str) -> None:
    form = "SharedContent items with Src, Tgt and MType (BIND or VOLUME)"
    for item in checker.items(node, what, 1, 10, null=True):
        fields = checker.mapping(item, ("Src", "Tgt", "MType"), ("Src", "Tgt", "MType"), "a SharedContent item", form)
        checker.text(fields["Src"], "Src", 2)
        checker.text(fields["Tgt"], "Tgt", 2)
        checker.choice(fields["MType"], "MType", ("BIND", "VOLUME"))


def _auth(checker: _Checker, node: Node, what: str) -> None:
    if isinstance(node, MappingNode):
        keys = ("Username", "Password")
        fields = checker.mapping(node, keys, keys, what, "Auth: ~, a docker config.json path or Username/Password")
        for key in keys:
            checker.text(fields[key], key)
    else:
        checker.text(node, what, null=True)


def _ops_list(checker: _Checker, node: Node, what: str) -> None:
    keys = ("Operation", "Target", "Options")
    for item in checker.items(node, what, 1, 20):
        fields = checker.mapping(item, keys, keys, "an OpsList item", "OpsList items with Operation, Target, Options")
        checker.choice(fields["Operation"], "Operation", ("DOWNLOAD", "EXTRACT"))
        checker.text(fields["Target"], "Target")
        _maps(checker, fields["Options"], "Options")


BODY_SCHEMAS: Mapping[str, Mapping[str, _Check]] = {
    "MAKE_USER_CONTAINER": {
        "BuildContext": _text(3, null=True),
        "BuildType": _choice("INLINE", "REMOTE"),
        "BuildSteps": _build_steps,
    },
    "RUN_SWARM": {
        "Command": _text(),
        "Entrypoint": _text(),
        "WorkingDir": _text(2),
        "Envvars": _maps,
        "PrivateContent": _text(2, null=True),
        "SharedContent": _shared_content,
    },
    "PULL_IMAGE": {
        "Tag": _text(),
        "RepoName": _text(),
        "OrgAndReg": _text(),
        "Auth": _auth,
    },
    "MAKE_SWARM_USER_CONTENT": {
        "ContentType": _choice("BUILDCONTENT", "SWARMCONTENT"),
        "OpsList": _ops_list,
    },
}
