"""Validation of SWOP profiles and task definitions, with errors that point at the file, line, column and field.

>>> profile = load_profile("swop1_profile.yaml")          # doctest: +SKIP
>>> task = load_task("taskdefs/swarm_mnist_task.yaml")    # doctest: +SKIP
>>> task_header(task), task_body_text(task)               # doctest: +SKIP
"""

from swop.schema.errors import Problem, SchemaError
from swop.schema.profile import SlNodeDef, SwopProfile, load_profile
from swop.schema.task import (
    MakeSwarmUserContentBody,
    MakeUserContainerBody,
    PullImageBody,
    RunSwarmBody,
    TaskDefinition,
    TaskHeader,
    TaskType,
    load_task,
    task_body_text,
    task_header,
)

__all__ = [
    "MakeSwarmUserContentBody",
    "MakeUserContainerBody",
    "Problem",
    "PullImageBody",
    "RunSwarmBody",
    "SchemaError",
    "SlNodeDef",
    "SwopProfile",
    "TaskDefinition",
    "TaskHeader",
    "TaskType",
    "load_profile",
    "load_task",
    "task_body_text",
    "task_header",
]
