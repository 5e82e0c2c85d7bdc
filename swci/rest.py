"""SWCI's web mode: the REST API of the product (``SWCI_MODE=WEB``, port 30306), served over mutual TLS.

Routes (only callers holding a ``swci`` certificate; others get 403 naming their role):

``POST /exec?cmd=<one SWCI command>``
    Runs the command in the server's one session (contexts are kept between requests; requests run one at a time).
    ``200 {"CONTENT": ["<the output's lines, joined by newlines>"]}`` on success. A failure answers
    ``{"CONTENT": ["<output so far>", "ERROR : <why>"]}`` (the product's client looks for a string starting with
    ``ERROR ``; the output before it is left out when empty) with a status that says what went wrong:
    400 the command is malformed (the one-line error gives line, column and the expected form) or ``cmd`` is
    missing/empty/multi-line; 422 the command ran and failed (unknown contract, unreachable SN, ...).
    ``EXIT`` answers 200 and then stops the web server (the session ends, as in the product).
``POST /uploadTaskDef[?register=true]`` (multipart form field ``file``)
    Checks a task-definition YAML against the task schema and stores it in SWCI's current directory under its base
    name, so that ``CREATE TASK FROM <name>`` (the product client's ``registerTask``, which follows an upload) can
    use it; with ``register=true`` it is also registered at once, as ``CREATE TASK FROM`` does. Text answers: 200
    ``Task definition saved : <path>`` (plus the registration's lines); 400 ``ERROR : ...`` for a name with a path,
    a non-UTF-8 file, or YAML that is malformed or no task (line, column, expected form); 413 above
    ``MAX_TASK_DEF_BYTES``; 422 when the registration failed (the SN refused or is unreachable).

``EXIT ON FAILURE`` is kept by the session, but in web mode a failed request never stops the server: only ``EXIT``
and SIGTERM do (an operator's typo in a UI must not end the service).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse

from swarm_learning.errors import SwarmLearningError
from swarm_learning.roles import SWCI, EndpointPolicy, Peer, Rule, answer_refusals, rule
from swci.executor.taskdef import parse_task_definition
from swci.session import CommandResult, SwciSession

log = logging.getLogger(__name__)

MAX_TASK_DEF_BYTES = 1 << 20
ERROR_PREFIX = "ERROR : "

#: Who may call the SWCI web API: SWCI certificates only (the SLM-UI and operators' scripts hold one).
SWCI_WEB_POLICY: Mapping[str, Rule] = {
    "POST /exec": rule("execute SWCI commands", SWCI),
    "POST /uploadTaskDef": rule("upload a task definition", SWCI),
}
swci_web_policy = EndpointPolicy("SWCI web API", SWCI_WEB_POLICY)
Caller = Annotated[Peer, Depends(swci_web_policy)]


def error_line(text: str | None) -> str:
    message = (text or "the command failed").strip()
    return message if message.startswith("ERROR") else ERROR_PREFIX + message


def content(lines: list[str], status: int = 200) -> JSONResponse:
    return JSONResponse(status_code=status, content={"CONTENT": lines})


def text_answer(error: str | None, status: int) -> PlainTextResponse:
    return PlainTextResponse(error_line(error), status)


def answer(result: CommandResult) -> JSONResponse:
    """A command's result as the product's JSON; the status tells a malformed command from a failed one.

    The output is one string of lines: the product's client treats any CONTENT string that starts with ``ERROR ``
    as a failure, and an output line may start so (a task runner's status once had an ``ERROR : -`` field; it is ``LAST ERROR`` now).
    """
    output = ["\n".join(result.lines)] if result.lines else []
    if result.ok:
        return content(output)
    status = 400 if result.command is None else 422
    return content([*output, error_line(result.error)], status)


def create_app(session: SwciSession, on_exit: Callable[[], None] | None = None) -> FastAPI:
    """The web API over ``session``; ``on_exit`` is called after the answer to ``EXIT`` has been sent."""
    app = FastAPI(title="SWCI web API", version="1")
    answer_refusals(app)
    lock = threading.Lock()  # one session, one command at a time (as at the prompt)

    @app.exception_handler(RequestValidationError)
    def _malformed(_: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors())
        return content([error_line(f"malformed request ({where}); usage: POST /exec?cmd=<SWCI command>")], 400)

    @app.post("/exec")
    def execute(_: Caller, background: BackgroundTasks, cmd: Annotated[str, Query()]) -> JSONResponse:
        text = cmd.strip()
        if not text:
            return content([error_line("empty command: give one SWCI command in ?cmd= (HELP lists them)")], 400)
        if "\n" in text or "\r" in text:
            return content([error_line("one command per request: cmd holds several lines")], 400)
        with lock:
            result = session.run_line(text, 1)
        log.info("exec %r: %s", text, "ok" if result.ok else result.error)
        if result.exit_requested and on_exit is not None:
            background.add_task(on_exit)
        return answer(result)

    @app.post("/uploadTaskDef", response_class=PlainTextResponse)
    async def upload(
        _: Caller, file: Annotated[UploadFile, File()], register: Annotated[bool, Query()] = False
    ) -> PlainTextResponse:
        name = PurePath(file.filename or "").name
        if not name or name != (file.filename or "") or name in {".", ".."}:
            return text_answer(
                f"upload a file by its base name, not {file.filename!r}: SWCI keeps it in its folder", 400
            )
        data = await file.read(MAX_TASK_DEF_BYTES + 1)
        if len(data) > MAX_TASK_DEF_BYTES:
            return text_answer(f"{name} is larger than {MAX_TASK_DEF_BYTES} bytes", 413)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return text_answer(f"{name} is not UTF-8 text (a task definition is YAML)", 400)
        try:
            parse_task_definition(text, name)
        except SwarmLearningError as exc:  # malformed YAML or not a task: line, column and the expected form
            return text_answer(str(exc), 400)
        if register:
            with lock:
                result = session.upload_task_definition(text, name)
            if not result.ok:
                return text_answer(result.error, 422)
            return PlainTextResponse("\n".join(result.lines))
        with lock:
            target = Path(session.cwd) / name
            target.write_text(text, encoding="utf-8")
        log.info("task definition %s stored in %s", name, target.parent)
        return PlainTextResponse(f"Task definition saved : {target}")

    return app
