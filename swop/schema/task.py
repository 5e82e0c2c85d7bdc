"""A SWOP task definition: a header (name, type, author, prerequisite, outcome) and a body whose shape the type picks.

Strict: every header field is required, free strings hold at most 160 characters (they are stored on chain), and
unknown keys are errors. Lenient where the product's own documents are: ``BUILD_SWARM`` (an older name in the user
guide) is read as ``MAKE_USER_CONTAINER``; environment values may be numbers or booleans (``"SWARM_LOOPBACK" : True``,
``MAX_EPOCHS: 2``) and become strings as Python prints them; ``BuildSteps`` keep blank (``' '``), comment and
backslash-continued lines as written.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import yaml
from annotated_types import MaxLen, MinLen
from pydantic import (
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from swop.schema.describe import Expect, problems_from
from swop.schema.fields import AbsolutePath160, EnvList, RelativePath160, StrictModel, Text160, env_dict
from swop.schema.positions import YamlPath, read_yaml

logger = logging.getLogger(__name__)

ROOT_TASK = "ROOTTASK"


class TaskType(StrEnum):
    MAKE_USER_CONTAINER = "MAKE_USER_CONTAINER"
    PULL_IMAGE = "PULL_IMAGE"
    MAKE_SWARM_USER_CONTENT = "MAKE_SWARM_USER_CONTENT"
    RUN_SWARM = "RUN_SWARM"


TASK_TYPE_ALIASES = {"BUILD_SWARM": TaskType.MAKE_USER_CONTAINER}


class MakeUserContainerBody(StrictModel):
    """Build an image tagged with the task's ``Outcome`` from Dockerfile lines and a build-context volume."""

    build_context: Annotated[str, MinLen(3), MaxLen(160)] | None = Field(alias="BuildContext")
    build_type: Literal["INLINE", "REMOTE"] = Field(alias="BuildType")
    build_steps: Annotated[list[Annotated[str, MaxLen(160)]], MinLen(1), MaxLen(80)] = Field(alias="BuildSteps")

    @property
    def dockerfile(self) -> str:
        """The Dockerfile text of an INLINE build: the steps joined by newlines."""
        return "\n".join(self.build_steps) + "\n"


class SharedMount(StrictModel):
    src: Annotated[str, MinLen(2), MaxLen(160)] = Field(alias="Src")
    tgt: AbsolutePath160 = Field(alias="Tgt")
    m_type: Literal["BIND", "VOLUME"] = Field(alias="MType")


class RunSwarmBody(StrictModel):
    """Start one SL and one ML per node of each participating SWOP's profile, from the prerequisite's image."""

    command: Text160 = Field(alias="Command")
    entrypoint: Text160 = Field(alias="Entrypoint")
    working_dir: AbsolutePath160 = Field(alias="WorkingDir")
    envvars: EnvList = Field(alias="Envvars")
    private_content: AbsolutePath160 | None = Field(alias="PrivateContent")
    shared_content: Annotated[list[SharedMount], MinLen(1), MaxLen(10)] | None = Field(alias="SharedContent")

    @property
    def env(self) -> dict[str, str]:
        return env_dict(self.envvars)

    @property
    def args(self) -> list[str]:
        return self.command.split()


class RegistryCredentials(StrictModel):
    username: Text160 = Field(alias="Username")
    password: Text160 = Field(alias="Password")


def _auth_kind(value: Any) -> str:
    return "credentials" if isinstance(value, dict) else "config"


RegistryAuth = Annotated[
    Annotated[RegistryCredentials, Tag("credentials")] | Annotated[Text160, Tag("config")], Discriminator(_auth_kind)
]


class PullImageBody(StrictModel):
    """Pull ``<OrgAndReg><RepoName>:<Tag>``."""

    tag: Text160 = Field(alias="Tag")
    repo_name: Text160 = Field(alias="RepoName")
    org_and_reg: Text160 = Field(alias="OrgAndReg")
    auth: Annotated[
        RegistryAuth | None, Expect("~, the path of a docker config.json, or a mapping with Username and Password")
    ] = Field(alias="Auth")

    @property
    def image(self) -> str:
        return f"{self.org_and_reg}{self.repo_name}:{self.tag}"


class ContentOption(StrictModel):
    out: RelativePath160 = Field(alias="Out")


class ContentOperation(StrictModel):
    operation: Literal["DOWNLOAD", "EXTRACT"] = Field(alias="Operation")
    target: Text160 = Field(alias="Target")
    options: list[ContentOption] = Field(alias="Options")

    @property
    def out(self) -> str | None:
        return self.options[-1].out if self.options else None


class MakeSwarmUserContentBody(StrictModel):
    """Fill a volume named after the task's ``Outcome`` by downloading and extracting files."""

    content_type: Literal["BUILDCONTENT", "SWARMCONTENT"] = Field(alias="ContentType")
    ops_list: Annotated[list[ContentOperation], MinLen(1), MaxLen(20)] = Field(alias="OpsList")


TaskBody = MakeUserContainerBody | PullImageBody | MakeSwarmUserContentBody | RunSwarmBody

BODY_MODELS: dict[TaskType, type[StrictModel]] = {
    TaskType.MAKE_USER_CONTAINER: MakeUserContainerBody,
    TaskType.PULL_IMAGE: PullImageBody,
    TaskType.MAKE_SWARM_USER_CONTENT: MakeSwarmUserContentBody,
    TaskType.RUN_SWARM: RunSwarmBody,
}


class TaskDefinition(StrictModel):
    """A task YAML: header fields and the body of its ``TaskType``."""

    name: Text160 = Field(alias="Name")
    task_type: TaskType = Field(alias="TaskType", strict=False)
    author: Text160 = Field(alias="Author")
    prereq: Text160 = Field(alias="Prereq")
    outcome: Text160 = Field(alias="Outcome")
    body: TaskBody = Field(alias="Body")
    _body_text: str | None = PrivateAttr(default=None)

    @field_validator("task_type", mode="before")
    @classmethod
    def _older_names(cls, value: Any) -> Any:
        if isinstance(value, str) and value in TASK_TYPE_ALIASES:
            logger.warning("TaskType %s is an older name; reading it as %s", value, TASK_TYPE_ALIASES[value].value)
            return TASK_TYPE_ALIASES[value]
        return value

    @field_validator("body", mode="wrap")
    @classmethod
    def _body_of_its_type(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        task_type = info.data.get("task_type")
        if task_type is None:
            return value  # the TaskType error is reported; a body cannot be checked without it
        return BODY_MODELS[task_type].model_validate(value)


class TaskHeader(NamedTuple):
    name: str
    task_type: str
    author: str
    prereq: str
    outcome: str


def _body_overrides(data: Any) -> dict[YamlPath, Any]:
    raw = data.get("TaskType") if isinstance(data, dict) else None
    if isinstance(raw, str):
        task_type = TASK_TYPE_ALIASES.get(raw) or (TaskType(raw) if raw in TaskType.__members__ else None)
        if task_type is not None:
            return {("Body",): BODY_MODELS[task_type]}
    return {}


def load_task(path_or_text: str | Path, *, name: str = "task.yaml") -> TaskDefinition:
    """Read and validate a task definition (a file path, or YAML text reported as ``name``).

    Raises :class:`SchemaError` naming the file, line, column and field of every problem."""
    doc = read_yaml(path_or_text, name)
    try:
        task = TaskDefinition.model_validate(doc.data)
    except ValidationError as err:
        raise problems_from(err, doc, TaskDefinition, _body_overrides(doc.data)) from None
    task._body_text = doc.original_text(("Body",))
    return task


def task_header(task: TaskDefinition) -> TaskHeader:
    """What SWCI registers first: ``(name, type, author, prereq, outcome)``."""
    return TaskHeader(task.name, task.task_type.value, task.author, task.prereq, task.outcome)


def task_body_text(task: TaskDefinition) -> str:
    """The body as SWCI stores it on chain: the YAML text under ``Body:`` exactly as the file wrote it (re-indented
    to column 0), or, for a task not read from a file, the body serialised as YAML."""
    if task._body_text is not None:
        return task._body_text
    data = task.body.model_dump(by_alias=True)
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False))
