"""The SWCI command executor: one handler per command dataclass of ``swci.language``, grouped by module.

A handler is ``handler(state: SessionState, command) -> list[str]``: it returns the lines the command prints and
raises (``SwciError`` or any ``SwarmLearningError``) when the command fails; ``swci.session.SwciSession`` turns that
into a one-line error. Modules: ``contexts``, ``contracts`` (training contracts and HISTORY), ``tasks``,
``taskrunners``, ``nodes`` (LIST NODES, WAIT FOR IP/SERVICE), ``misc``; ``render`` draws tables, ``taskdef`` reads
task YAML, ``body`` maps body lines to chain chunks, ``state`` keeps the session's contexts and SN clients.

Choices where the specification is unclear or silent
----------------------------------------------------
1. Contexts live in the session only. ``CREATE CONTEXT`` checks that the server answers ``GET /is_up`` (bounded by
   the session's SN retry time) and refuses an unreachable one; creating an existing name replaces it. ``WITH
   SERVICE fqdn[:port]`` connects to that host name (port 443 by default). A session given ``default_sn`` starts
   with a current context named ``default`` for it, not checked until used.
2. Every Swarm command uses an SN client for the current context with the session's certificate. Before its first
   write to an SN the session registers itself there as a ``swci`` node (host = this host's name, port 0).
3. Settings such as ``SWCI_RUN_TASK_MAX_WAIT_TIME`` are read from the current context's environment
   (``SET CONTEXT ENV``) first, then from the process environment; minutes may be fractional.
4. A task YAML's ``Body`` is stored as its own text (see ``taskdef``), after a ``---`` line: line 0. ``CREATE TASK``
   by hand writes that ``---`` line too, so ``APPEND TASK BODY <task> 1 ...`` sets the first line of the body proper
   and ``GET TASK BODY`` numbers lines the way ``APPEND`` does. ``APPEND`` replaces an existing line or appends the
   next one (no gaps), by rewriting the one chunk that holds it.
5. Re-running a script against a chain that kept its tasks: ``CREATE TASK FROM`` a definition whose header and body
   equal the registered task's succeeds without writing; a different one under the same name fails.
   ``FINALIZE TASK`` on a finalized task succeeds without writing. ``RESET TASKRUNNER`` on an idle one succeeds.
6. ``WAIT FOR TASKRUNNER`` ends on COMPLETE (success), ERROR (failure, naming the failing peer and its reason) or
   IDLE (nothing assigned, success); past the maximum wait time it prints the product's warning and fails.
7. ``WAIT FOR IP/SERVICE``: one TCP connection attempt per 5 s at most, each bounded by 5 s, ``retries`` attempts.
8. ``LIST NODES`` prints the product's CSV: the SN answering (alive now), the other SNs of its network (no
   heartbeat on record: ``-``), then SWOP and SL rows with the answering SN's identity as ParentUUID (the chain
   does not record which SN a node registered through). UUID is the node's certificate identity (what ``ASSIGN ...
   TARGET`` takes for a SWOP), ContainerName its short name; the timestamp shows the last heartbeat and its age.
   Nodes whose heartbeats stopped are listed with their age rather than hidden.
9. ``PERFDATA``: STATUS is COMPLETED (finished), NO HEARTBEAT (silent for 60 s), TRAINING (epochs reported) or
   JOINED; LEADER marks the leader of the current sync round.
10. ``HISTORY <name>`` lists every operation whose arguments name ``name`` as a training contract, a task or a
    taskrunner (an assignment shows under both its task and its taskrunner).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from swci.executor import contexts, contracts, misc, nodes, taskrunners, tasks
from swci.executor.state import SessionState

Handler = Callable[[SessionState, Any], list[str]]

HANDLERS: dict[type, Handler] = {}
for _module in (contexts, contracts, tasks, taskrunners, nodes, misc):
    HANDLERS.update(_module.HANDLERS)  # type: ignore[attr-defined]

__all__ = ["HANDLERS", "Handler", "SessionState"]
