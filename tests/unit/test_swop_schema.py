"""SWOP profiles and task definitions: the product's own examples load as written, mistakes are reported on one line
naming the file, line, column and field, and a task's body text is what the file wrote."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest
import yaml

from swarm_learning.errors import ConfigurationError, SwarmLearningError
from swop.schema import (
    MakeSwarmUserContentBody,
    MakeUserContainerBody,
    PullImageBody,
    RunSwarmBody,
    SchemaError,
    TaskDefinition,
    TaskType,
    load_profile,
    load_task,
    task_body_text,
    task_header,
)

DATA = Path(__file__).parent / "data" / "swop"
PROFILES = sorted((DATA / "profiles").glob("*.yaml"))
TASKS = sorted((DATA / "taskdefs").glob("*.yaml"))


def profile_text(name: str) -> str:
    return (DATA / "profiles" / name).read_text()


def task_text(name: str) -> str:
    return (DATA / "taskdefs" / name).read_text()


# --- the examples load as written ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_every_example_profile_loads(path: Path) -> None:
    profile = load_profile(path)
    assert profile.sl_nodes and profile.taskrunner == "defaulttaskbb.taskdb.sml.hpe"
    assert sorted(node.idx for node in profile.sl_nodes) == list(range(len(profile.sl_nodes)))


@pytest.mark.parametrize("path", TASKS, ids=lambda p: p.name)
def test_every_example_task_loads_with_the_body_of_its_type(path: Path) -> None:
    task = load_task(path)
    expected_body = {
        TaskType.MAKE_USER_CONTAINER: MakeUserContainerBody,
        TaskType.PULL_IMAGE: PullImageBody,
        TaskType.MAKE_SWARM_USER_CONTENT: MakeSwarmUserContentBody,
        TaskType.RUN_SWARM: RunSwarmBody,
    }[task.task_type]
    assert isinstance(task.body, expected_body)


def test_task_header_is_what_swci_registers_first() -> None:
    task = load_task(DATA / "taskdefs" / "swarm_mnist_task.yaml")
    assert task_header(task) == (
        "swarm_mnist_task",
        "RUN_SWARM",
        "Swarm Example Team",
        "user_env_tf_build_task",
        "swarm_mnist_task",
    )
    assert task_header(task).task_type == "RUN_SWARM" and type(task_header(task).task_type) is str


def test_a_run_swarm_task_gives_the_ml_container_its_command_env_and_mounts() -> None:
    body = load_task(DATA / "taskdefs" / "swarm_mnist_task.yaml").body
    assert isinstance(body, RunSwarmBody)
    assert (body.entrypoint, body.args, body.working_dir) == ("python3", ["model/mnist_tf.py"], "/tmp/test")
    assert body.env == {"MODEL_DIR": "model", "MAX_EPOCHS": "2", "MIN_PEERS": "2"}
    assert body.private_content == "/tmp/test/"
    assert body.shared_content is not None
    mount = body.shared_content[0]
    assert (mount.src, mount.tgt, mount.m_type) == (
        "/home/alice/swarm-learning/workspace/mnist/model",
        "/tmp/test/model",
        "BIND",
    )


def test_a_pull_task_names_the_full_image_reference() -> None:
    body = load_task(DATA / "taskdefs" / "pull_task_tf2.yaml").body
    assert isinstance(body, PullImageBody)
    assert body.image == "hub.docker.hpecorp.net/hub/tensorflow-tensorflow:2.7.0" and body.auth is None


def test_registry_credentials_can_be_a_config_path_or_a_username_and_password() -> None:
    with_credentials = load_task(DATA / "taskdefs" / "pull_private_registry_task.yaml").body
    assert isinstance(with_credentials, PullImageBody)
    assert with_credentials.auth is not None and not isinstance(with_credentials.auth, str)
    assert (with_credentials.auth.username, with_credentials.auth.password) == ("robot$puller", "s3cr3t: not-really")
    with_config = load_task(task_text("pull_task_tf2.yaml").replace("Auth: ~", "Auth: /home/alice/.docker/config.json"))
    assert isinstance(with_config.body, PullImageBody) and with_config.body.auth == "/home/alice/.docker/config.json"


def test_a_user_content_task_lists_downloads_into_the_volume() -> None:
    body = load_task(DATA / "taskdefs" / "download_task_mnist_local.yaml").body
    assert isinstance(body, MakeSwarmUserContentBody) and body.content_type == "SWARMCONTENT"
    assert [(op.operation, op.out) for op in body.ops_list] == [
        ("DOWNLOAD", "model/mnist_tf.py"),
        ("DOWNLOAD", "data/mnist.npz"),
    ]


# --- the quirks of the product's own examples are accepted --------------------------------------------------------


def test_subpath_may_be_null_omitted_or_spelt_in_lower_case() -> None:
    mnist = load_profile(DATA / "profiles" / "mnist_swop1_profile.yaml").sl_nodes[0]
    assert [i.sub_path for i in mnist.identities] == [None, None, None]
    spire = load_profile(DATA / "profiles" / "spire_cifar10_swop1_profile.yaml").sl_nodes[0]
    assert spire.identities[0].a_type == "SPIFFE_SOCKETPATH" and spire.identities[0].sub_path is None
    sample = load_profile(DATA / "profiles" / "doc_sample_profile.yaml").sl_nodes
    assert [i.target_path for i in sample[0].identities] == [
        "/swarm-cert/sl-1-key.pem",
        "/swarm-cert/sl-1-cert.pem",
        "/swarm-cert/ca-cert.pem",
    ]
    assert sample[1].identities[0].target_path == "/swarm-cert/sl-2-key.pem"  # written `subpath`


def test_node_keys_the_schema_requires_but_allows_as_null_may_be_left_out() -> None:
    text = profile_text("mnist_swop1_profile.yaml")
    for line in (
        "        slhostname : sl1\n",
        "        usrhostname : user1\n",
        "        slenvvars : null\n",
        '        usrenvvars : [SCRATCH_DIR : "user1"]\n',
    ):
        text = text.replace(line, "")
    text = text.replace(
        '        privatedata :\n            src: "/home/alice/swarm-learning/workspace/mnist"\n'
        "            mType : BIND\n",
        "",
    )
    node = load_profile(text).sl_nodes[0]
    assert (node.slhostname, node.usrhostname, node.privatedata, node.slenvvars, node.usrenvvars) == (None,) * 5


def test_flow_env_lists_become_strings_as_python_prints_them() -> None:
    amd = load_profile(DATA / "profiles" / "mnist_pyt_amd_profile.yaml").sl_nodes
    assert [node.usrenvvars for node in amd][2] == [{"SCRATCH_DIR": "user3"}, {"HIP_VISIBLE_DEVICES": "1"}]
    hf = load_profile(DATA / "profiles" / "huggingface_profile.yaml").sl_nodes[1]
    assert hf.usrenvvars == [{"SCRATCH_DIR": "user2"}, {"NODE_ID": "n2"}]
    sample = load_profile(DATA / "profiles" / "doc_sample_profile.yaml")
    assert sample.sl_env(sample.sl_nodes[0])["SL_RAM_INTENSIVE"] == "False"
    assert sample.sl_env(sample.sl_nodes[0])["SL_WAIT_TIMEOUT"] == "600"
    spire = load_profile(DATA / "profiles" / "spire_cifar10_swop1_profile.yaml")
    assert spire.sl_env(spire.sl_nodes[0]) == {"SL_LOG_LEVEL": "INFO", "swarm_node_type": "sl"}
    loopback = load_task(DATA / "taskdefs" / "swarm_ind_task.yaml").body
    assert isinstance(loopback, RunSwarmBody) and loopback.env["SWARM_LOOPBACK"] == "True"


def test_proxy_variables_left_as_tilde_become_empty_strings() -> None:
    profile = load_profile(DATA / "profiles" / "mnist_swop1_profile.yaml")
    env = profile.sl_env(profile.sl_nodes[0])
    assert env["SL_LOG_LEVEL"] == "INFO" and env["http_proxy"] == env["NO_PROXY"] == ""
    assert load_profile(DATA / "profiles" / "reverse_proxy_mnist_profile.yaml").envvars is None


def test_tilde_ports_fall_back_to_the_product_defaults() -> None:
    profile = load_profile(DATA / "profiles" / "mnist_pyt_cpu_profile.yaml")
    assert profile.sl_nodes[0].fs_port == 30305
    assert load_profile(DATA / "profiles" / "mnist_swop1_profile.yaml").apls.port == 5814
    rp = load_profile(DATA / "profiles" / "reverse_proxy_mnist_profile.yaml")
    assert (rp.apisrv.locator.host, rp.apisrv.locator.port, rp.apisrv.locator.service) == (None, None, "api.sn-1.swarm")


def test_nodes_may_share_a_certificate_and_an_ml_hostname() -> None:
    nih = load_profile(DATA / "profiles" / "nih_profile.yaml").sl_nodes
    assert [node.usrhostname for node in nih] == ["user1", "user1", "user3"]
    assert len({node.identities[0].src for node in nih}) == 1
    assert all(node.privatedata is None for node in nih)


def test_reverse_proxy_and_gpu_options_are_read() -> None:
    rp = load_profile(DATA / "profiles" / "reverse_proxy_mnist_profile.yaml")
    assert rp.dns == ["172.30.0.10"]
    node = rp.sl_nodes[1]
    assert node.slfsservice == "fs.sl-2.swarm:443" and node.slnetworkopts is not None
    assert node.slnetworkopts[0].ip == "172.30.0.17"
    amd = load_profile(DATA / "profiles" / "mnist_pyt_amd_profile.yaml").sl_nodes[0].usrcontaineropts or []
    merged = {k: v for opt in amd for k, v in opt.model_dump(by_alias=True, exclude_none=True).items()}
    assert merged == {
        "device": ["/dev/kfd", "/dev/dri"],
        "ipc": "host",
        "shm-size": "8G",
        "group-add": ["video"],
        "cap-add": ["SYS_PTRACE"],
        "security-opt": ["seccomp=unconfined"],
        "privileged": True,
    }
    sample = load_profile(DATA / "profiles" / "doc_sample_profile.yaml").sl_nodes[0]
    assert sample.usrcontaineropts is not None and sample.usrcontaineropts[0].gpus == "device=3,5"


def test_labels_may_be_a_mapping_or_a_list() -> None:
    node = load_profile(DATA / "profiles" / "doc_sample_profile.yaml").sl_nodes[0]
    assert node.sllabels == {"org.example.site": "north", "org.example.tier": "gold"}
    assert node.usrlabels == {"org.example.role": "ml", "org.example.debug": ""}


def test_the_older_build_swarm_type_is_read_as_make_user_container(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="swop.schema.task"):
        task = load_task(DATA / "taskdefs" / "build_swarm_alias_task.yaml")
    assert task.task_type is TaskType.MAKE_USER_CONTAINER and task_header(task).task_type == "MAKE_USER_CONTAINER"
    assert "BUILD_SWARM is an older name" in caplog.text


def test_build_steps_keep_blank_comment_and_continued_lines() -> None:
    body = load_task(DATA / "taskdefs" / "user_env_tf_build_task.yaml").body
    assert isinstance(body, MakeUserContainerBody) and body.build_context == "sl-cli-lib"
    assert body.dockerfile.splitlines()[:6] == [
        "FROM tensorflow/tensorflow:2.7.0",
        " ",
        "# Pin pip first: newer releases refuse the old wheel metadata.",
        "RUN pip3 install --upgrade pip==23.3.2 && \\",
        "pip3 install \\",  # YAML drops the spaces after '-'
        "keras matplotlib opencv-python pandas protobuf==3.15.6",
    ]
    long_build = load_task(DATA / "taskdefs" / "build_hf_user_image.yaml").body
    assert isinstance(long_build, MakeUserContainerBody) and 70 < len(long_build.build_steps) <= 80


def test_the_process_executor_needs_no_docker_access_info() -> None:
    assert load_profile(DATA / "profiles" / "process_executor_profile.yaml").resourcemgr.mgrtype == "PROCESS"


# --- mistakes are reported with file, line, column and field ------------------------------------------------------

MALFORMED_PROFILES = [
    # (what is wrong, edit (old, new) of mnist_swop1_profile.yaml, line, column, field, reason starts with)
    ("missing field", ("groupname  : demo\n", ""), 3, 1, "groupname", "field required (expected a string"),
    (
        "wrong type",
        ("idx : 0", "idx : zero"),
        30,
        15,
        "nodes[0].slnodedef.idx",
        "got 'zero' (expected an integer >= 0)",
    ),
    (
        "number given as text",
        ("slport : 16000", "slport : '16000'"),
        52,
        18,
        "nodes[0].slnodedef.slport",
        "got '16000' (expected an integer 0..65535, or ~)",
    ),
    (
        "unknown key",
        ("        slport : 16000\n", "        slport : 16000\n        slprot : 1\n"),
        53,
        9,
        "nodes[0].slnodedef.slprot",
        "unknown field (allowed here: idx, identity, slhostname,",
    ),
    (
        "value outside its enum",
        ("aType : CERT", "aType : CERTIFICATE"),
        39,
        25,
        "nodes[0].slnodedef.identity[1].attribute.aType",
        "unknown value 'CERTIFICATE' (expected one of KEY, CERT,",
    ),
    (
        "docker without access info",
        ("    accessinfo :\n        accesstype : FROMENV\n", ""),
        7,
        5,
        "resourcemgr.accessinfo",
        "field required for mgrtype DOCKER",
    ),
    (
        "env value that is a list",
        ("    - SL_LOG_LEVEL : INFO", "    - SL_LOG_LEVEL : [INFO]"),
        21,
        22,
        "envvars[0].SL_LOG_LEVEL",
        "got a list (expected a text, number or true/false value)",
    ),
    (
        "bad container name",
        ("groupname  : demo", "groupname  : my demo"),
        3,
        14,
        "groupname",
        "'my demo' cannot be part of a container name",
    ),
    (
        "duplicate key",
        ("network    : host-1-net", "network    : host-1-net\nnetwork : host-2-net"),
        11,
        1,
        "network",
        "duplicate key (first given on line 10)",
    ),
    (
        "bad indentation",
        ("        slhostip   : 172.1.1.1", "       slhostip   : 172.1.1.1"),
        51,
        8,
        "slhostip",
        "not valid YAML: a key here is indented differently from the keys beside it",
    ),
    ("misspelt case", ("network    :", "Network    :"), 10, 1, "Network", "unknown field (did you mean network?"),
]


@pytest.mark.parametrize(
    ("edit", "line", "column", "field", "reason"),
    [case[1:] for case in MALFORMED_PROFILES],
    ids=[case[0] for case in MALFORMED_PROFILES],
)
def test_a_malformed_profile_is_refused_on_one_line_naming_field_and_position(
    edit: tuple[str, str], line: int, column: int, field: str, reason: str
) -> None:
    text = profile_text("mnist_swop1_profile.yaml")
    assert edit[0] in text
    with pytest.raises(SchemaError) as caught:
        load_profile(text.replace(edit[0], edit[1], 1))
    err = caught.value
    assert (err.line, err.column, err.field) == (line, column, field)
    assert str(err).startswith(f"profile.yaml line {line}, col {column}: {field}: {reason}"), str(err)
    assert "\n" not in str(err)


def test_a_second_node_reusing_an_idx_is_pointed_at() -> None:
    text = profile_text("mnist_swop1_profile.yaml")
    nodes = text.split("nodes :\n")[1]
    with pytest.raises(SchemaError) as caught:
        load_profile(text + nodes)
    assert str(caught.value) == (
        "profile.yaml line 60, col 15: nodes[1].slnodedef.idx: idx 0 is already used by nodes[0]; "
        "give every node its own idx"
    )


BUILD = """\
Name: user_env_tf_build_task
TaskType: MAKE_USER_CONTAINER
Author: Swarm Example Team
Prereq: ROOTTASK
Outcome: user-env-tf2.7.0-swop
Body:
    BuildContext: sl-cli-lib
    BuildType: INLINE
    BuildSteps:
    - FROM tensorflow/tensorflow:2.7.0
    - RUN pip3 install keras
"""

MALFORMED_TASKS = [
    # (what is wrong, task text, line, column, field, reason starts with)
    (
        "unknown task type",
        BUILD.replace("MAKE_USER_CONTAINER", "BUILD_IMAGE"),
        2,
        11,
        "TaskType",
        "unknown value 'BUILD_IMAGE' (expected one of MAKE_USER_CONTAINER, PULL_IMAGE, MAKE_SWARM_USER_CONTENT, "
        "RUN_SWARM)",
    ),
    (
        "missing header field",
        BUILD.replace("Author: Swarm Example Team\n", ""),
        1,
        1,
        "Author",
        "field required (expected a string of 1..160 characters)",
    ),
    (
        "missing body field",
        BUILD.replace("    BuildType: INLINE\n", ""),
        7,
        5,
        "Body.BuildType",
        "field required (expected one of INLINE, REMOTE)",
    ),
    (
        "a field of another task type",
        BUILD.replace("    BuildType: INLINE\n", "    BuildType: INLINE\n    Tag: x\n"),
        9,
        5,
        "Body.Tag",
        "unknown field (allowed here: BuildContext, BuildType, BuildSteps)",
    ),
    ("over-long name", BUILD.replace("Name: user_env_tf_build_task", "Name: " + "n" * 161), 1, 7, "Name", "'nnnnn"),
    (
        "unquoted ': ' in a build step",
        BUILD.replace("- RUN pip3 install keras", "- ENV MODE: fast"),
        11,
        7,
        "Body.BuildSteps[1]",
        "got a mapping (expected a string of at most 160 characters); a ': ' inside",
    ),
    (
        "no build steps",
        BUILD.replace("    - FROM tensorflow/tensorflow:2.7.0\n    - RUN pip3 install keras\n", "      []\n"),
        10,
        7,
        "Body.BuildSteps",
        "has 0 items (expected a list of strings",
    ),
    (
        "bad indentation",
        BUILD.replace("    BuildType: INLINE", "   BuildType: INLINE"),
        8,
        4,
        "BuildType",
        "not valid YAML: a key here is indented differently",
    ),
    (
        "tab indentation",
        BUILD.replace("    BuildType: INLINE", "\tBuildType: INLINE"),
        8,
        1,
        "BuildType",
        "not valid YAML: tabs cannot indent YAML; use spaces",
    ),
    (
        "lower-case header key",
        BUILD.replace("Outcome:", "outcome:"),
        5,
        1,
        "outcome",
        "unknown field (did you mean Outcome? keys are case-sensitive)",
    ),
    (
        "body that is not a mapping",
        BUILD.split("Body:")[0] + "Body: [FROM x]\n",
        6,
        7,
        "Body",
        "got a list (expected a mapping with BuildContext, BuildType, BuildSteps)",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "column", "field", "reason"),
    [case[1:] for case in MALFORMED_TASKS],
    ids=[case[0] for case in MALFORMED_TASKS],
)
def test_a_malformed_task_is_refused_on_one_line_naming_field_and_position(
    text: str, line: int, column: int, field: str, reason: str
) -> None:
    with pytest.raises(SchemaError) as caught:
        load_task(text)
    err = caught.value
    assert (err.line, err.column, err.field) == (line, column, field)
    assert str(err).startswith(f"task.yaml line {line}, col {column}: {field}: {reason}"), str(err)
    assert "\n" not in str(err)


RUN = task_text("swarm_mnist_task.yaml")
PULL = task_text("pull_task_tf2.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            RUN.replace("WorkingDir: /tmp/test", "WorkingDir: tmp/test"),
            "task.yaml line 10, col 17: Body.WorkingDir: 'tmp/test' is not an absolute path (it must start with /)",
        ),
        (
            RUN.replace("MType: BIND", "MType: bind"),
            "task.yaml line 16, col 16: Body.SharedContent[0].MType: unknown value 'bind' (expected one of BIND, VOLUME)",
        ),
        (
            RUN.replace('["MODEL_DIR": model, "MAX_EPOCHS": 2, "MIN_PEERS": 2]', "{MODEL_DIR: model}"),
            "task.yaml line 11, col 14: Body.Envvars: got a mapping (expected ~ or a list of NAME: value entries, "
            "e.g. [SCRATCH_DIR: user1, MAX_EPOCHS: 2])",
        ),
        (
            PULL.replace('Tag: "2.7.0"', "Tag: 2.7"),
            "task.yaml line 8, col 10: Body.Tag: got 2.7 (a number) (expected a string of 1..160 characters); "
            "quote it to keep it text",
        ),
        (
            PULL.replace("Auth: ~", "Auth: {Username: robot}"),
            "task.yaml line 11, col 11: Body.Auth.Password: field required (expected a string of 1..160 characters)",
        ),
        (
            PULL + "---\nName: second\n",
            "task.yaml line 12, col 1: not valid YAML: expected a single document in the stream but found another "
            "document",
        ),
        ("", "task.yaml line 1, col 1: the file is empty (expected a YAML mapping)"),
        (
            "- Name: x\n",
            "task.yaml line 1, col 1: got a list (expected a mapping with Name, TaskType, Author, Prereq, "
            "Outcome, Body)",
        ),
    ],
    ids=[
        "relative working dir",
        "lower-case mount type",
        "env as a mapping",
        "unquoted version tag",
        "half of the credentials",
        "two documents",
        "empty file",
        "list instead of mapping",
    ],
)
def test_task_mistakes_read_as_one_line_each(text: str, message: str) -> None:
    with pytest.raises(SchemaError) as caught:
        load_task(text)
    assert str(caught.value) == message


def test_every_problem_is_kept_and_the_first_in_the_file_is_shown() -> None:
    text = BUILD.replace("Author: Swarm Example Team\n", "Author: 7\n").replace("BuildType: INLINE", "BuildType: X")
    with pytest.raises(SchemaError) as caught:
        load_task(text)
    err = caught.value
    assert [(p.line, p.field) for p in err.problems] == [(3, "Author"), (8, "Body.BuildType")]
    assert str(err).endswith("(and 1 more problem)")
    assert isinstance(err, ConfigurationError) and isinstance(err, SwarmLearningError)


def test_a_file_is_named_by_its_file_name_and_a_missing_file_is_a_schema_error(tmp_path: Path) -> None:
    broken = tmp_path / "swop9_profile.yaml"
    broken.write_text(profile_text("mnist_swop1_profile.yaml").replace("idx : 0", "idx : -1"))
    with pytest.raises(SchemaError, match=r"^swop9_profile\.yaml line 30, col 15: nodes\[0\]\.slnodedef\.idx: got -1"):
        load_profile(str(broken))
    with pytest.raises(SchemaError, match=r"/nowhere\.yaml: cannot read the file: No such file or directory$"):
        load_profile(tmp_path / "nowhere.yaml")


# --- the body text SWCI stores is what the file wrote -------------------------------------------------------------


@pytest.mark.parametrize("path", TASKS, ids=lambda p: p.name)
def test_body_text_is_the_files_own_text_under_body(path: Path) -> None:
    original = path.read_text()
    body = task_body_text(load_task(path))
    assert textwrap.indent(body, "    ", lambda _line: True) in original  # the slice, re-indented: nothing rewritten
    assert yaml.safe_load(body) == yaml.safe_load(original)["Body"]


def test_body_text_of_the_build_task_round_trips_exactly() -> None:
    assert task_body_text(load_task(DATA / "taskdefs" / "user_env_tf_build_task.yaml")) == textwrap.dedent("""\
        BuildContext: sl-cli-lib
        BuildType: INLINE
        BuildSteps:
        - FROM tensorflow/tensorflow:2.7.0
        - ' '
        - '# Pin pip first: newer releases refuse the old wheel metadata.'
        - RUN pip3 install --upgrade pip==23.3.2 && \\
        -   pip3 install \\
        -     keras matplotlib opencv-python pandas protobuf==3.15.6
        - ' '
        - RUN mkdir -p /tmp/hpe-swarmcli-pkg
        - COPY swarmlearning-client-py3-none-manylinux_2_24_x86_64.whl /tmp/hpe-swarmcli-pkg/swarmlearning-client-py3-none-manylinux_2_24_x86_64.whl
        - RUN pip3 install /tmp/hpe-swarmcli-pkg/swarmlearning-client-py3-none-manylinux_2_24_x86_64.whl
        - ' '
        - RUN pip3 install --upgrade pip
        """)


def test_body_text_keeps_inner_comments_and_drops_what_follows_the_body() -> None:
    text = PULL.replace(
        '    RepoName: "tensorflow-tensorflow"\n',
        '    # the official image, mirrored\n    RepoName: "tensorflow-tensorflow"\n',
    )
    text += "\n# end of the task file\n"
    assert task_body_text(load_task(text)) == (
        'Tag: "2.7.0"\n# the official image, mirrored\nRepoName: "tensorflow-tensorflow"\n'
        'OrgAndReg: "hub.docker.hpecorp.net/hub/"\nAuth: ~\n'
    )


def test_a_flow_style_body_is_kept_as_written() -> None:
    text = PULL.split("Body:")[0] + "Body: {Tag: '2.7.0', RepoName: tf, OrgAndReg: hub.example.org/, Auth: ~}\n"
    assert task_body_text(load_task(text)) == "{Tag: '2.7.0', RepoName: tf, OrgAndReg: hub.example.org/, Auth: ~}\n"


def test_a_task_built_in_code_serialises_its_body() -> None:
    task = TaskDefinition.model_validate(
        {
            "Name": "pull-task",
            "TaskType": "PULL_IMAGE",
            "Author": "me",
            "Prereq": "ROOTTASK",
            "Outcome": "o",
            "Body": {"Tag": "1", "RepoName": "r", "OrgAndReg": "x/", "Auth": None},
        }
    )
    assert yaml.safe_load(task_body_text(task)) == {"Tag": "1", "RepoName": "r", "OrgAndReg": "x/", "Auth": None}
