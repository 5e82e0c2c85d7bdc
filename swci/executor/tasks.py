"""Task commands: create from YAML or by hand, append a body line, finalize, delete, info, body, list."""

from __future__ import annotations

from pathlib import Path

from swarm_learning import sn_api as api
from swarm_learning.errors import SwarmLearningError
from swarm_learning.sn_client import SNClient
from swci.errors import CommandFailed, SwciError
from swci.executor import body as bodies
from swci.executor.render import key_values, when
from swci.executor.state import SessionState
from swci.executor.taskdef import TaskDefinition, parse_task_definition
from swci.language import commands as c

DOCUMENT_START = "---\n"  # line 0 of every body SWCI writes


def read_definition(state: SessionState, path: str) -> tuple[str, Path]:
    """The text of a task YAML, ``path`` taken relative to the session's directory."""
    file = state.cwd / path
    try:
        return file.read_text(encoding="utf-8"), file
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SwciError(f"cannot read task definition {file}: {reason}") from exc


def create_from(state: SessionState, command: c.CreateTaskFrom) -> list[str]:
    text, _ = read_definition(state, command.path)
    return register_definition(state, parse_task_definition(text, command.path))


def register_definition(state: SessionState, definition: TaskDefinition) -> list[str]:
    """Register a checked definition: header, then the body in batches of lines (one transaction each).

    Registering a task again with the very same header and body is a no-op that succeeds, so that an init script
    can run again against a chain that kept its tasks; a different definition under an existing name is refused.
    """
    lines = ["Task definition is valid"]
    sn = state.sn_for_writing()
    existing = sn.task(definition.name)
    if existing.exists:
        if _same(sn, existing, definition):
            return [*lines, f"Task Registered : {definition.name}", "Task already on the chain: nothing written"]
        raise SwciError(
            f"task {definition.name} exists with another definition ({existing.state}): give the task another Name, "
            f"or DELETE TASK {definition.name} first if it is not finalized"
        )
    sn.create_task(definition.name, definition.task_type, definition.author, definition.prereq, definition.outcome)
    lines += [f"Task Registered : {definition.name}", "Appending Task Body"]
    for batch in bodies.batches(definition.body_text):
        try:
            sn.write_task_body_chunk(definition.name, batch.index, batch.text)
        except SwarmLearningError as exc:
            raise CommandFailed(
                f"writing the body of task {definition.name} failed at line {batch.first_line}: {exc}; the task is "
                f"registered with part of its body: DELETE TASK {definition.name} and register it again",
                lines,
            ) from exc
        lines.append(f"batch start : {batch.first_line} , len : {batch.lines} Successful")
    return lines


def _same(sn: SNClient, existing: api.TaskView, definition: TaskDefinition) -> bool:
    header = (existing.task_type, existing.author, existing.prereq, existing.outcome)
    if header != (definition.task_type, definition.author, definition.prereq, definition.outcome):
        return False
    return sn.task_body(definition.name).body == definition.body_text


def create(state: SessionState, command: c.CreateTask) -> list[str]:
    sn = state.sn_for_writing()
    sn.create_task(command.task, command.task_type, command.author, command.prereq, command.outcome)
    sn.write_task_body_chunk(command.task, 0, DOCUMENT_START)
    return [f"Task Registered : {command.task}"]


def append_body(state: SessionState, command: c.AppendTaskBody) -> list[str]:
    sn = state.sn_for_writing()
    stored = sn.task_body(command.task)
    if stored.finalized:
        raise SwciError(f"task {command.task} is finalized: its body cannot change")
    index, chunk = bodies.set_line(stored.body, stored.chunk_lengths, command.index, command.content, command.task)
    sn.write_task_body_chunk(command.task, index, chunk)
    return [f"TASK BODY LINE {command.index} SET : {command.task}"]


def _task(state: SessionState, name: str) -> api.TaskView:
    view = state.sn().task(name)
    if not view.exists:
        raise SwciError(f"no task named {name}: LIST TASKS shows the registered ones")
    return view


def finalize(state: SessionState, command: c.FinalizeTask) -> list[str]:
    """Freeze the task; a task that is finalized already is left as it is (scripts may run again)."""
    if _task(state, command.task).finalized:
        return [f"TASK ALREADY FINALIZED : {command.task}"]
    state.sn_for_writing().finalize_task(command.task)
    return [f"TASK FINALIZED : {command.task}"]


def delete(state: SessionState, command: c.DeleteTask) -> list[str]:
    view = _task(state, command.task)
    if view.finalized:
        raise SwciError(f"task {command.task} is finalized: only tasks that are not finalized can be deleted")
    state.sn_for_writing().delete_task(command.task)
    return [f"TASK DELETED : {command.task}"]


def info(state: SessionState, command: c.GetTaskInfo) -> list[str]:
    view = _task(state, command.task)
    return key_values(
        [
            ("TASK NAME", view.name),
            ("TASK TYPE", view.task_type),
            ("AUTHOR", view.author),
            ("PREREQ", view.prereq),
            ("OUTCOME", view.outcome),
            ("TASK STATE", view.state),
            ("BODY SIZE", f"{view.body_length} bytes in {view.chunk_count} chunks"),
            ("BODY HASH", view.body_hash),
            ("IN USE BY", view.held_by if view.use_count else ""),
            ("CREATED BY", view.creator),
            ("CREATED AT", when(view.created_at)),
            ("FINALIZED AT", when(view.finalized_at)),
        ]
    )


def body(state: SessionState, command: c.GetTaskBody) -> list[str]:
    """The body exactly as stored, one numbered line each (``0000: ---``)."""
    stored = state.sn().task_body(command.task)
    if not stored.body:
        return [f"TASK BODY IS EMPTY : {command.task}"]
    return [f"{i:04d}: {line.removesuffix(chr(10))}" for i, line in enumerate(bodies.lines_of(stored.body))]


def list_tasks(state: SessionState, _: c.ListTasks) -> list[str]:
    return state.sn().tasks()


HANDLERS = {
    c.CreateTaskFrom: create_from,
    c.CreateTask: create,
    c.AppendTaskBody: append_body,
    c.FinalizeTask: finalize,
    c.DeleteTask: delete,
    c.GetTaskInfo: info,
    c.GetTaskBody: body,
    c.ListTasks: list_tasks,
}
