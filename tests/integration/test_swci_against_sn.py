"""An init script in the shape of the product's examples, run by an SWCI session against a real SN process, while a
simulated SWOP (its own certificate, in a thread) listens on the default taskrunner and carries out what is assigned.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarm_learning.errors import SwarmLearningError
from swarm_learning.sn_client import SNClient
from swci.session import SwciSession
from tests.conftest import CertFactory
from tests.integration.harness import Daemon, start_sn

TR = "defaulttaskbb.taskdb.sml.hpe"

BUILD_TASK = """\
---
Name: user_env_tf_build_task
TaskType: MAKE_USER_CONTAINER
Author: HPE-TEST
Prereq: ROOTTASK
Outcome: user-env-tf2.7.0-swop
Body:
    BuildContext: sl-cli-lib
    BuildType: INLINE
    BuildSteps:
    - FROM tensorflow/tensorflow:2.7.0
    - RUN pip3 install --upgrade pip && pip3 install keras matplotlib pandas
"""

RUN_TASK = """\
---
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
    -   Src: /tmp/project/model
        Tgt: /tmp/test/model
        MType: BIND
"""

INIT_SCRIPT = """\
EXIT ON FAILURE
wait for ip 127.0.0.1 {port}
create context test with ip 127.0.0.1 {port}
switch context test
EXIT ON FAILURE OFF
cd {usr}
EXIT ON FAILURE
create task from taskdefs/user_env_tf_build_task.yaml
finalize task user_env_tf_build_task
get task info user_env_tf_build_task
get task body user_env_tf_build_task
list tasks
EXIT ON FAILURE OFF
EXIT ON FAILURE
RESET TASKRUNNER defaulttaskbb.taskdb.sml.hpe
ASSIGN TASK user_env_tf_build_task TO defaulttaskbb.taskdb.sml.hpe WITH 1 PEERS
WAIT FOR TASKRUNNER defaulttaskbb.taskdb.sml.hpe
RESET TASKRUNNER defaulttaskbb.taskdb.sml.hpe
EXIT ON FAILURE OFF
EXIT ON FAILURE
create task from taskdefs/swarm_mnist_task.yaml
finalize task swarm_mnist_task
get task info swarm_mnist_task
list tasks
RESET TASKRUNNER defaulttaskbb.taskdb.sml.hpe
ASSIGN TASK swarm_mnist_task TO defaulttaskbb.taskdb.sml.hpe WITH 2 PEERS
PERFDATA defaultbb.cqdb.sml.hpe
WAIT FOR TASKRUNNER defaulttaskbb.taskdb.sml.hpe
get taskrunner peer status defaulttaskbb.taskdb.sml.hpe 0
SLEEP 0.1
RESET TASKRUNNER defaulttaskbb.taskdb.sml.hpe
EXIT ON FAILURE OFF
EXIT ON FAILURE
LIST CONTRACTS
RESET CONTRACT defaultbb.cqdb.sml.hpe
LIST NODES
EXIT ON FAILURE OFF
EXIT
"""


class SimulatedSwop:
    """Listens on a taskrunner; enrolls in every new run and reports success for each of its workers (two SL/ML
    pairs for RUN_SWARM, itself otherwise). Waits on the chain's height, never on a timer."""

    def __init__(self, client: SNClient, runner: str) -> None:
        self.client = client
        self.runner = runner
        self.stop = threading.Event()
        self.done: list[tuple[int, str]] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="simulated-swop", daemon=True)

    def __enter__(self) -> SimulatedSwop:
        self.client.register("swop", "127.0.0.1", 0)
        self.client.listen_on_task_runner(self.runner, 2)
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=20)

    def _run(self) -> None:
        height = 0
        try:
            while not self.stop.is_set():
                view = self.client.task_runner(self.runner)
                if view.state == "ASSIGNED" and (view.run, view.task) not in self.done:
                    workers = ["swop-1-sl-1", "swop-1-sl-2"] if view.task_type == "RUN_SWARM" else []
                    self.client.enroll_in_task_runner(self.runner, view.run, workers)
                    for worker in workers or ["swop-1"]:  # a non-RUN_SWARM task's one worker is the SWOP
                        self.client.report_task(self.runner, view.run, "success", f"{view.task} done", worker)
                    self.done.append((view.run, view.task))
                height = self.client.wait_for_change(height, 1.0)
        except SwarmLearningError as exc:
            self.error = exc


@pytest.fixture(scope="module")
def sn(tmp_path_factory: pytest.TempPathFactory, swarm_ca: CertFactory) -> Iterator[Daemon]:
    p = swarm_ca.paths("sn-1")
    daemon = start_sn(
        tmp_path_factory.mktemp("swci-init"), ["--cert", str(p.cert), "--key", str(p.key), "--capath", str(p.capath)]
    )
    try:
        yield daemon
    finally:
        daemon.stop()


def test_an_init_script_in_the_examples_shape_runs_end_to_end_against_an_sn_and_a_swop(
    sn: Daemon, swarm_ca: CertFactory, tmp_path: Path
) -> None:
    usr = tmp_path / "usr"
    (usr / "taskdefs").mkdir(parents=True)
    (usr / "taskdefs" / "user_env_tf_build_task.yaml").write_text(BUILD_TASK)
    (usr / "taskdefs" / "swarm_mnist_task.yaml").write_text(RUN_TASK)
    swop_client = SNClient("127.0.0.1", sn.port, swarm_ca.identity("swop-1"), retry_seconds=10)
    progress: list[str] = []
    try:
        with (
            SimulatedSwop(swop_client, TR) as swop,
            SwciSession(swarm_ca.identity("swci-1"), cwd=tmp_path, progress=progress.append) as session,
        ):
            done = session.run_script(INIT_SCRIPT.format(port=sn.port, usr=usr))
        assert swop.error is None
    finally:
        swop_client.close()

    failures = [(r.command.source if r.command else "", r.error) for r in done.results if not r.ok]
    assert failures == [] and (done.exit_code, done.stopped_at_line) == (0, None)
    assert done.results[-1].exit_requested
    by_source = {r.command.source: r.lines for r in done.results if r.command is not None}
    waits = [r.lines for r in done.results if r.command and r.command.source.startswith("WAIT FOR TASKRUNNER")]
    assert [lines[-1] for lines in waits] == ["TASK_STATE : COMPLETE", "TASK_STATE : COMPLETE"]
    assert progress.count("WAITING FOR TASKRUNNER TO COMPLETE") == 2
    assert [task for _, task in swop.done] == ["user_env_tf_build_task", "swarm_mnist_task"]
    peer = by_source[f"get taskrunner peer status {TR} 0"]
    assert "SWOP UID : swop-1" in peer and "SL PEERS : 2" in peer
    assert by_source["get task body user_env_tf_build_task"][:2] == ["0000: ---", "0001: BuildContext: sl-cli-lib"]
    nodes = by_source["LIST NODES"]
    assert nodes[0].startswith("NodeType, HostIP, Port") and any(row.startswith("SWOP, ") for row in nodes)
    assert not any(row.startswith("SWCI") for row in nodes)
