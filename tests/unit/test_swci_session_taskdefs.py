"""What SWCI makes of task YAML before anything reaches the chain, how bodies map to chunks, how tables look."""

from __future__ import annotations

import pytest
import yaml

from swci.errors import TaskDefinitionError
from swci.executor import HANDLERS
from swci.executor.body import BATCH_BYTES, MAX_CHUNK_BYTES, batches, lines_of, set_line
from swci.executor.render import key_values, progress_bar, table
from swci.executor.taskdef import parse_task_definition
from swci.language import COMMANDS

BUILD_TASK = """\
---
Name: user_env_tf_build_task
TaskType: MAKE_USER_CONTAINER
Author: Zoë Ñúñez – 张伟
Prereq: ROOTTASK
Outcome: user-env-tf2.7.0-swop
Body:
    BuildContext: sl-cli-lib      # the volume with the Swarm wheel
    BuildType: INLINE
    BuildSteps:
    - FROM tensorflow/tensorflow:2.7.0
    - ' '
    - RUN pip3 install --upgrade pip==23.3.2 && \\
    -   pip3 install keras matplotlib opencv-python pandas protobuf==3.15.6
    - '# Größe prüfen ✓'
"""

RUN_TASK = """\
Name: swarm_mnist_task
TaskType: RUN_SWARM
Author: HPE-TEST
Prereq: user_env_tf_build_task
Outcome: swarm_mnist_task
Body:
    Command: model/mnist_tf.py
    Entrypoint: python3
    WorkingDir: /tmp/test
    Envvars: ["MODEL_DIR": model, "MAX_EPOCHS": 2, "MIN_PEERS": 2]
    PrivateContent: /tmp/test/
    SharedContent:
    -   Src: /home/user/mnist/model
        Tgt: /tmp/test/model
        MType: BIND
"""


def test_a_task_yaml_maps_to_header_fields_and_its_body_section_kept_as_written() -> None:
    task = parse_task_definition(BUILD_TASK, "taskdefs/build.yaml")
    assert (task.name, task.task_type, task.author, task.prereq, task.outcome) == (
        "user_env_tf_build_task",
        "MAKE_USER_CONTAINER",
        "Zoë Ñúñez – 张伟",
        "ROOTTASK",
        "user-env-tf2.7.0-swop",
    )
    assert task.body_text.splitlines() == [
        "---",
        "BuildContext: sl-cli-lib      # the volume with the Swarm wheel",
        "BuildType: INLINE",
        "BuildSteps:",
        "- FROM tensorflow/tensorflow:2.7.0",
        "- ' '",
        "- RUN pip3 install --upgrade pip==23.3.2 && \\",
        "-   pip3 install keras matplotlib opencv-python pandas protobuf==3.15.6",
        "- '# Größe prüfen ✓'",
    ]
    assert yaml.safe_load(task.body_text) == yaml.safe_load(BUILD_TASK)["Body"]


def test_a_run_swarm_task_with_flow_style_envvars_is_valid() -> None:
    task = parse_task_definition(RUN_TASK, "run.yaml")
    assert task.task_type == "RUN_SWARM"
    assert yaml.safe_load(task.body_text)["Envvars"] == [{"MODEL_DIR": "model"}, {"MAX_EPOCHS": 2}, {"MIN_PEERS": 2}]


def test_a_flow_style_body_is_stored_as_written_and_the_old_build_swarm_name_is_read_as_make_user_container() -> None:
    text = RUN_TASK.replace("TaskType: RUN_SWARM", "TaskType: build_swarm").split("Body:")[0]
    text += "Body: {BuildContext: ~, BuildType: INLINE, BuildSteps: [FROM python:3.11]}\n"
    task = parse_task_definition(text, "b.yaml")
    assert task.task_type == "MAKE_USER_CONTAINER"
    assert task.body_text == "---\n{BuildContext: ~, BuildType: INLINE, BuildSteps: [FROM python:3.11]}\n"


@pytest.mark.acceptance_swci
@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        (RUN_TASK.replace('["MODEL_DIR": model,', '["MODEL_DIR": model'), "line 10, col 46", "YAML syntax error"),
        (RUN_TASK.replace("    WorkingDir: /tmp/test\n", "   WorkingDir: /tmp/test\n"), "line 9, col", "YAML syntax"),
        (RUN_TASK.replace("TaskType: RUN_SWARM", "TaskType: RUN_FAST"), "line 2, col 11", "unknown TaskType"),
        (RUN_TASK.replace("Outcome: swarm_mnist_task\n", ""), "line 1, col 1", "lacks Outcome"),
        (RUN_TASK.replace("Author:", "Autor:"), "line 3, col 1", "unknown key 'Autor'"),
        (RUN_TASK.replace("MType: BIND", "MType: COPY"), "line 15, col 16", "MType 'COPY' is not allowed"),
        (RUN_TASK.replace("    Entrypoint: python3\n", ""), "line 7, col 5", "RUN_SWARM Body lacks Entrypoint"),
        (RUN_TASK.replace("Prereq: user_env_tf_build_task", "Prereq: ~"), "line 4, col 9", "Prereq is empty"),
        ("- just\n- a list\n", "line 1, col 1", "not a mapping"),
        ("Name: broken\nTaskType: RUN_SWARM\nBody: [unclosed\n\n", "line 3, col 7", "while parsing a flow sequence"),
    ],
)
def test_a_bad_task_yaml_is_one_line_with_its_position_and_the_expected_form(
    text: str, position: str, problem: str
) -> None:
    with pytest.raises(TaskDefinitionError) as caught:
        parse_task_definition(text, "taskdefs/run.yaml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"taskdefs/run.yaml: {position}"), message
    assert problem in message and "; expected " in message, message


def test_a_body_is_uploaded_in_batches_of_whole_lines_that_leave_room_in_each_chunk() -> None:
    body = "---\n" + "".join(f"- RUN echo step {i} ✓\n" for i in range(1, 800))
    cut = batches(body)
    assert "".join(b.text for b in cut) == body
    assert len(cut) > 3 and all(len(b.text.encode()) <= BATCH_BYTES < MAX_CHUNK_BYTES for b in cut)
    assert [b.first_line for b in cut] == [0, *(sum(b.lines for b in cut[:i]) for i in range(1, len(cut)))]
    assert sum(b.lines for b in cut) == len(lines_of(body))


def test_setting_a_body_line_rewrites_the_chunk_that_holds_it_or_appends_and_refuses_gaps() -> None:
    body = "---\nTag: '2.7.0'\nRepoName: tf\n"
    assert set_line(body, [4, 13, 13], 1, "Tag: '2.8.0'", "t") == (1, "Tag: '2.8.0'\n")
    assert set_line(body, [len(body)], 3, "Auth: ~", "t") == (0, body + "Auth: ~\n")
    assert set_line(body, [len(body)], 2, "RepoName: pt", "t") == (0, "---\nTag: '2.7.0'\nRepoName: pt\n")
    with pytest.raises(Exception, match="line 5 is beyond the end of the body of task t: it has 3 lines"):
        set_line(body, [len(body)], 5, "x", "t")


def test_tables_align_columns_and_key_values_keep_the_task_state_key_exact() -> None:
    assert table(("UID", "STATUS"), [("sl-1", "TRAINING"), ("sl-22", None)]) == [
        "UID    STATUS",
        "-----  --------",
        "sl-1   TRAINING",
        "sl-22  -",
    ]
    assert key_values([("TASK_STATE", "COMPLETE"), ("ERROR", "")]) == ["TASK_STATE : COMPLETE", "ERROR : -"]
    assert progress_bar(1, 4) == "[#####---------------]  25%"
    assert progress_bar(0, 0).endswith("?")


def test_every_command_of_the_language_has_an_executor() -> None:
    assert {spec.command for spec in COMMANDS} == set(HANDLERS)
