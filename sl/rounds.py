"""The sync round, as one SL node takes part in it (spec: merge-and-sync.md §2).

For each sync request of its ML program the node:

1. stores the local weights in its exchange folder (served by its file server) and checks in on chain;
2. waits for the round to reach ``minPeers``; the first eligible node to check in leads the round;
3. the leader waits for the rest of the live members (at most ``SL_WAIT_FOR_FULL_QUORUM_SECONDS``, or without bound
   when everybody present has already finished local training), closes the round, fetches every participant's
   weights, drops the ones it cannot fetch or that do not match its own tensors (and says why), merges the rest
   weighted by ``nodeWeightage``, and publishes the merged file's URI and SHA-256 on chain;
4. every participant downloads the merged file, checks the digest, hands it to its ML program (a loss request:
   the program loads and evaluates it) and records loss, metric and epochs on chain.

A node that arrives after a round was closed without it takes that round's merged model and trains on.
After its ML program ends local training, the node keeps contributing its final weights to later rounds until all
live members have finished; the round in which every participant has finished is the final one and its merged
model is the model every node ends with.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

from sl.file_server import WeightsFetcher
from sl.settings import SLSettings
from swarm_learning import sn_api as api
from swarm_learning.errors import ContractRevert, SwarmLearningError, WeightsError
from swarm_learning.merge import get_merge_method
from swarm_learning.sn_client import SNClient
from swarm_learning.weights import (
    check_compatible,
    file_sha256,
    layout_of,
    load_weights,
    save_weights,
    weights_layout,
)

log = logging.getLogger("swarm.SL")

POLL_SECONDS = 5.0  # longest wait between two looks at the chain (conditions that depend on the clock)
TAKEOVER_RETRY_SECONDS = 30.0
GATHER_WORKERS = 4  # concurrent downloads of participants' weights by a round's leader  # a refused take-over is a (reverted) block: do not repeat it in a tight loop


@dataclass(frozen=True)
class SessionParams:
    training: str
    min_peers: int
    sync_interval: int
    use_adaptive_sync: bool
    checkin_mode: str  # inactive | active | snapshot
    node_weightage: int
    merge_method: str
    total_epochs: int


@dataclass(frozen=True)
class Evaluation:
    ok: bool
    error: str
    loss: float
    metric: float
    epochs_done: int
    total_epochs: int


@dataclass(frozen=True)
class SyncOutcome:
    next_interval: int
    training_over: bool
    rounds: int


Evaluate = Callable[[Path], Evaluation]


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80]


def _signature(model: dict) -> tuple:
    return layout_of(model)


def _layout_problem(local: tuple, merged: tuple) -> str | None:
    if not local or local == merged:
        return None
    for (lk, ls, ld), (mk, ms, md) in zip(local, merged):
        if (lk, ls, ld) != (mk, ms, md):
            return f"tensor {lk!r} is {ls} {ld} here but {mk!r} is {ms} {md} in the merged model"
    return f"{len(local)} tensors here, {len(merged)} in the merged model"


def _majority_reference(models: list[dict], prefer: dict | None) -> dict | None:
    """The model whose tensor layout most participants share (ties go to ``prefer``, the leader's own)."""
    if not models:
        return None
    counts: dict[tuple, int] = {}
    for m in models:
        counts[_signature(m)] = counts.get(_signature(m), 0) + 1
    best = max(counts.values())
    if prefer is not None and counts[_signature(prefer)] == best:
        return prefer
    return next(m for m in models if counts[_signature(m)] == best)


def _link_or_copy(src: Path, dest: Path) -> Path:
    dest.unlink(missing_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)
    return dest


class AdaptiveInterval:
    """Adaptive sync (documented rule): after each merge compare this node's validation loss of the merged model
    with the previous one. Improved by more than 1 % -> sync less often (interval × 1.5, at most 4 × the start
    value); otherwise sync more often (interval ÷ 2, at least 1)."""

    def __init__(self, start: int, enabled: bool) -> None:
        self.start = start
        self.current = start
        self.enabled = enabled
        self._previous: float | None = None

    def update(self, loss: float) -> int:
        if self.enabled and self._previous is not None and math.isfinite(loss):
            if loss < self._previous * 0.99:
                self.current = min(math.ceil(self.current * 1.5), 4 * self.start)
            else:
                self.current = max(self.current // 2, 1)
        self._previous = loss
        return self.current


class RoundCoordinator:
    def __init__(
        self,
        sn: SNClient,
        fetcher: WeightsFetcher,
        me: str,
        exchange_dir: Path,
        channel_dir: Path,
        public_base_url: str,
        settings: SLSettings,
        license_check: Callable[[], None] | None = None,
    ) -> None:
        self.sn = sn
        self._license_check = license_check or (lambda: None)  # raises while this node holds no valid lease
        self.fetcher = fetcher
        self.me = me
        self.exchange_dir = exchange_dir
        self.channel_dir = channel_dir
        self.public_base_url = public_base_url.rstrip("/")
        self.settings = settings
        self.params: SessionParams | None = None
        self.finished = False
        self.rounds_taken = 0
        self.last_merged: Path | None = None
        self._interval: AdaptiveInterval | None = None
        self._local_layout: tuple = ()
        self._published: set[str] = set()  # URIs of the local weights this session offered (older lives' differ)
        self._reports = ThreadPoolExecutor(max_workers=1, thread_name_prefix="progress")
        exchange_dir.mkdir(parents=True, exist_ok=True)

    # -- session ---------------------------------------------------------------------------------------------
    def open(self, params: SessionParams) -> None:
        get_merge_method(params.merge_method)  # unknown method: a clear error before anything happens
        self._license_check()
        names = self.sn.trainings()
        if params.training not in names:
            raise SwarmLearningError(
                f"training contract {params.training!r} does not exist on the swarm network; create it with SWCI "
                f"`CREATE CONTRACT {params.training}` or use the default (known: {', '.join(names) or 'none'})"
            )
        if self.sn.training(params.training).over:
            raise SwarmLearningError(
                f"training contract {params.training!r} has already completed a training; reset it with SWCI "
                f"`RESET CONTRACT {params.training}` (or use another contract) to train again"
            )
        self.sn.join(
            params.training,
            params.min_peers,
            self.settings.make_me_admin,
            max(1, int(self.settings.leader_failure_timeout_s)),
        )
        self.params = params
        self._interval = AdaptiveInterval(params.sync_interval, params.use_adaptive_sync)
        log.info(
            "session open: training %s, minPeers %s, merge %s, weightage %s",
            params.training,
            params.min_peers,
            params.merge_method,
            params.node_weightage,
        )

    @property
    def _p(self) -> SessionParams:
        if self.params is None:
            raise SwarmLearningError("no open session: the ML program must open a session first")
        return self.params

    # -- one sync request --------------------------------------------------------------------------------------
    def sync(self, weights_file: Path, weightage: int, close: bool, evaluate: Evaluate) -> SyncOutcome:
        p = self._p
        assert self._interval is not None
        try:
            self._local_layout = weights_layout(weights_file)  # readable before anything goes on chain
        except WeightsError as exc:
            raise SwarmLearningError(f"the ML program's weights cannot be read: {exc}") from exc
        local = self._publish_local(weights_file)
        if close and not self.finished:
            self.finished = True
            self.sn.finish(p.training)
            log.info("local training finished; contributing %s weights until the swarm is done", p.checkin_mode)
        while True:
            training = self.sn.training_status(p.training)
            if training.over:
                self._take_final(training, evaluate)
                return SyncOutcome(self._interval.current, True, self.rounds_taken)
            number = training.current_round
            rnd = self.sn.round(p.training, number)
            if not self._checked_in_by_this_session(rnd):
                earlier = self._my_check_in(rnd)
                if earlier is None and rnd.closed:
                    log.info("round %s closed before this node arrived; taking its merged model", number)
                    rnd = self._wait(number, lambda r: r.merged)
                    self._take_merged(rnd, evaluate)
                    if not close:
                        return SyncOutcome(self._interval.current, rnd.final, self.rounds_taken)
                    continue
                if earlier is not None:
                    # an earlier run of this node (killed, restarted) checked in and its weights went with it
                    log.info("round %s holds a check-in of an earlier run of this node (%s); replacing it",
                             number, earlier.uri)  # fmt: skip
                if not self._check_in(number, local, weightage):
                    continue
            rnd = self._complete_round(number)
            evaluation = self._take_merged(rnd, evaluate)
            if rnd.final:
                log.info("round %s was the final round: swarm training is over", number)
                return SyncOutcome(self._interval.current, True, self.rounds_taken)
            interval = self._interval.update(evaluation.loss)
            if not close:
                return SyncOutcome(interval, False, self.rounds_taken)
            if p.checkin_mode == "active" and self.last_merged is not None:
                local = self._publish_local(self.last_merged)

    # -- steps -------------------------------------------------------------------------------------------------
    def _publish_local(self, weights_file: Path) -> str:
        name = f"local-{_safe(self.me)}-{_safe(self._p.training)}-{time.time_ns()}.safetensors"
        _link_or_copy(weights_file, self.exchange_dir / name)
        for old in sorted(self.exchange_dir.glob(f"local-{_safe(self.me)}-*.safetensors"))[:-3]:
            old.unlink(missing_ok=True)
        uri = f"{self.public_base_url}/weights/{name}"
        self._published.add(uri)
        return uri

    def _is_participant(self, rnd: api.RoundView) -> bool:
        return self._my_check_in(rnd) is not None

    def _my_check_in(self, rnd: api.RoundView) -> api.CheckInView | None:
        return next((c for c in rnd.participants if c.identity == self.me), None)

    def _checked_in_by_this_session(self, rnd: api.RoundView) -> bool:
        mine = self._my_check_in(rnd)
        return mine is not None and mine.uri in self._published

    def _check_in(self, number: int, uri: str, weightage: int) -> bool:
        self._license_check()  # no round without a valid lease
        try:
            self.sn.check_in(self._p.training, number, api.CheckIn(uri=uri, weightage=weightage, final=self.finished))
            log.info("checked in for round %s (weightage %s%s)", number, weightage, ", final" if self.finished else "")
            return True
        except ContractRevert as exc:
            rnd = self.sn.round(self._p.training, number)
            if self._checked_in_by_this_session(rnd):
                return True  # our earlier attempt went through
            log.info("check-in for round %s refused (%s); trying again", number, exc.reason)
            return False

    def _wait(self, number: int, done: Callable[[api.RoundView], bool]) -> api.RoundView:
        after: int | None = None
        while True:
            rnd = self.sn.round(self._p.training, number, after=after, timeout=POLL_SECONDS)
            if done(rnd):
                return rnd
            after = rnd.height

    def _missing_members(self, rnd: api.RoundView, status: api.TrainingStatus) -> set[str]:
        """Live members of the training that have not checked in for this round (a check-in left by an earlier,
        since restarted run of a member does not count: its new run is expected to check in again)."""
        present = {c.identity for c in rnd.participants if not c.stale}
        if len(present) >= status.member_count:
            return set()  # everybody is here: no need to read every member's liveness
        now = time.time()
        training = self.sn.training(self._p.training)
        alive = {
            m.identity
            for m in training.members
            if m.joined and (m.identity == self.me or now - m.last_seen <= self.settings.peer_stale_s)
        }
        return alive - present

    def _complete_round(self, number: int) -> api.RoundView:
        """Wait until the round is merged, leading it if this node is its leader (or must take over)."""
        full_quorum_deadline: float | None = None
        next_takeover_attempt = 0.0
        after: int | None = None  # long-poll: the next read returns once the chain grew past this height
        while True:
            rnd = self.sn.round(self._p.training, number, after=after, timeout=POLL_SECONDS)
            after = None
            if rnd.merged:
                return rnd
            if rnd.leader == self.me and not rnd.closed:
                status = self.sn.training_status(self._p.training)
                if len(rnd.participants) >= status.min_peers:
                    missing = self._missing_members(rnd, status)
                    everyone_done = all(p.final for p in rnd.participants if not p.stale)
                    if not missing:
                        self._lead(number)
                        continue
                    if not everyone_done:
                        full_quorum_deadline = (
                            full_quorum_deadline or time.monotonic() + self.settings.full_quorum_wait_s
                        )
                        if time.monotonic() >= full_quorum_deadline:
                            log.info("round %s: closing without %s after the full-quorum wait", number, sorted(missing))
                            self._lead(number)
                            continue
            elif rnd.leader == self.me and rnd.closed:
                # resume after a restart of this node's round work; restarted participants get the full-quorum wait
                # to check in again (a closed round takes no newcomers, but its participants may replace their
                # check-ins until it is merged)
                restarted = {c.identity for c in rnd.participants if c.stale}
                full_quorum_deadline = full_quorum_deadline or time.monotonic() + self.settings.full_quorum_wait_s
                if not restarted or time.monotonic() >= full_quorum_deadline:
                    self._lead(number)
                    continue
            elif self._leader_overdue(rnd) and time.monotonic() >= next_takeover_attempt:
                next_takeover_attempt = time.monotonic() + TAKEOVER_RETRY_SECONDS
                try:
                    self.sn.take_over(self._p.training, number)
                    log.warning("round %s: leader %s did not finish the round in time; taking over", number, rnd.leader)
                except ContractRevert as exc:
                    log.info("round %s: take-over refused: %s", number, exc.reason)
                continue
            after = rnd.height

    def _leader_overdue(self, rnd: api.RoundView) -> bool:
        """Has the round's leader had more than SL_LEADER_FAILURE_BASE_TIMEOUT to close (from the round's opening)
        or to publish (from its closing)? The contract has the last word (it measures from when quorum was reached)."""
        if not self.settings.make_me_admin or not self._is_participant(rnd) or rnd.leader == self.me:
            return False
        if not rnd.closed and len(rnd.participants) < self._p.min_peers:
            return False  # nobody can lead a round without quorum
        since = rnd.closed_at if rnd.closed else rnd.opened_at
        return time.time() >= since + self.settings.leader_failure_timeout_s

    def _lead(self, number: int) -> None:
        p = self._p
        rnd = self.sn.round(p.training, number)
        if not rnd.closed:
            try:
                self.sn.close_round(p.training, number)
            except ContractRevert as exc:  # e.g. our earlier attempt went through before the SN restarted
                log.info("round %s: close refused (%s); re-reading the round", number, exc.reason)
            rnd = self.sn.round(p.training, number)
            if not rnd.closed and rnd.leader != self.me:
                log.info("round %s: %s leads it now; waiting for its merge", number, rnd.leader)
                return
            if not rnd.closed:
                raise SwarmLearningError(f"round {number} could not be closed")
        log.info("round %s: leading the merge of %s peers", number, len(rnd.participants))
        started = time.monotonic()
        models, weights, included, excluded = self._gather(rnd)
        log.debug("round %s: gathered %s models in %.2fs", number, len(models), time.monotonic() - started)
        if not models:
            raise SwarmLearningError(f"round {number}: no usable weights from any participant")
        if sum(weights) == 0:
            log.warning("round %s: every participant has weightage 0; merging with equal weights", number)
            weights = [1.0] * len(models)
        merged = get_merge_method(p.merge_method).merge(models, weights)
        name = f"merged-{_safe(p.training)}-r{number}.safetensors"
        path = save_weights(self.exchange_dir / name, merged)
        digest = file_sha256(path)
        final = all(c.final for c in included) and not self._missing_members(rnd, self.sn.training_status(p.training))
        try:
            self.sn.publish_merge(
                p.training,
                number,
                api.PublishMerge(
                    uri=f"{self.public_base_url}/weights/{name}", digest=digest, excluded=sorted(excluded), final=final
                ),
            )
        except ContractRevert as exc:
            now = self.sn.round(p.training, number)
            if not now.merged and now.leader != self.me:
                log.info("round %s: %s took the round over (%s); waiting for its merge", number, now.leader, exc.reason)
                return
            if not now.merged:
                raise
            log.info("round %s: already published (%s)", number, exc.reason)
        log.info(
            "round %s: merged %s models with %s in %.2fs%s (sha256 %s)",
            number,
            len(models),
            p.merge_method,
            time.monotonic() - started,
            ", final" if final else "",
            digest[:12],
        )

    def _gather(self, rnd: api.RoundView) -> tuple[list[dict], list[float], list[api.CheckInView], dict[str, str]]:
        """Fetch every participant's weights; keep those matching the majority's tensors (keys, shapes, dtypes)."""
        fetched: list[tuple[api.CheckInView, dict]] = []
        excluded: dict[str, str] = {}

        def load(checkin: api.CheckInView) -> dict:
            if checkin.stale:
                raise SwarmLearningError(
                    f"its check-in was made by an earlier run of {checkin.identity}, which has restarted since and "
                    "not checked in again: those weights went with that run"
                )
            if checkin.identity == self.me:
                return load_weights(self._local_path(checkin.uri))
            dest = self.exchange_dir / f"peer-{_safe(checkin.identity)}-r{rnd.number}.safetensors"
            try:
                self.fetcher.fetch(checkin.uri, dest)
                return load_weights(dest)
            finally:
                dest.unlink(missing_ok=True)

        # peers' files are downloaded in parallel: a round waits for the slowest peer, not for their sum
        with ThreadPoolExecutor(max_workers=GATHER_WORKERS, thread_name_prefix="gather") as pool:
            futures = [(checkin, pool.submit(load, checkin)) for checkin in rnd.participants]
            for checkin, future in futures:
                try:
                    fetched.append((checkin, future.result()))
                except SwarmLearningError as exc:
                    log.warning("round %s: excluding %s: %s", rnd.number, checkin.identity, exc)
                    excluded[checkin.identity] = str(exc)
        reference = _majority_reference(
            [m for _, m in fetched], prefer=next((m for c, m in fetched if c.identity == self.me), None)
        )
        models: list[dict] = []
        weights: list[float] = []
        included: list[api.CheckInView] = []
        for checkin, model in fetched:
            problem = check_compatible(reference, model) if reference is not None else None
            if problem:
                log.warning(
                    "round %s: excluding %s: its weights do not match the other peers': %s",
                    rnd.number,
                    checkin.identity,
                    problem,
                )
                excluded[checkin.identity] = problem
                continue
            models.append(model)
            weights.append(float(checkin.weightage))
            included.append(checkin)
        return models, weights, included, excluded

    def _local_path(self, uri: str) -> Path:
        return self.exchange_dir / uri.rsplit("/", 1)[-1]

    def _take_merged(self, rnd: api.RoundView, evaluate: Evaluate) -> Evaluation:
        p = self._p
        name = f"merged-{_safe(p.training)}-r{rnd.number}.safetensors"
        path = self.exchange_dir / name
        if rnd.leader != self.me or not path.exists():
            self.fetcher.fetch(rnd.merged_uri, path, rnd.digest)
        elif file_sha256(path) != rnd.digest:
            raise WeightsError(f"merged model {path} does not match the digest on chain")
        if self.me in rnd.excluded:
            log.error("round %s: the leader excluded this node's weights", rnd.number)
        problem = _layout_problem(self._local_layout, weights_layout(path))
        if problem:
            raise WeightsError(
                f"the merged model of round {rnd.number} does not fit this node's model ({problem}); every site must "
                "train the same model architecture"
                + (" — the leader excluded this node's weights" if self.me in rnd.excluded else "")
            )
        for old in self.exchange_dir.glob(f"merged-{_safe(p.training)}-r*.safetensors"):
            if old != path and old != self.last_merged:
                old.unlink(missing_ok=True)
        self.last_merged = path
        self.rounds_taken += 1
        log.debug("round %s: merged model in hand; asking the ML program to load and evaluate it", rnd.number)
        for_ml = _link_or_copy(path, self.channel_dir / f"merged-r{rnd.number}.safetensors")
        evaluation = evaluate(for_ml)
        for_ml.unlink(missing_ok=True)
        log.debug(
            "round %s: ML program evaluated it: loss %s, metric %s", rnd.number, evaluation.loss, evaluation.metric
        )
        if not evaluation.ok:
            raise SwarmLearningError(f"the ML program could not load or evaluate the merged model: {evaluation.error}")
        self._report_progress(
            api.Progress(
                loss=evaluation.loss,
                metric=evaluation.metric,
                epochs_done=evaluation.epochs_done,
                total_epochs=evaluation.total_epochs,
            ),
        )
        return evaluation

    def _report_progress(self, progress: api.Progress) -> None:
        """Loss, metric and epochs go on chain off the round's critical path (in order, one at a time)."""
        p = self._p

        def send() -> None:
            try:
                self.sn.report_progress(p.training, progress)
            except SwarmLearningError as exc:
                log.warning("could not record progress on chain: %s", exc)

        self._reports.submit(send)

    def close(self, timeout: float = 15.0) -> None:
        """Flush pending progress reports (bounded), then stop the reporting thread."""
        done = self._reports.submit(lambda: None)
        try:
            done.result(timeout)
        except FutureTimeout:
            log.warning("progress reports still pending after %.0fs; dropping them", timeout)
        self._reports.shutdown(wait=False, cancel_futures=True)

    def _take_final(self, training: api.TrainingStatus, evaluate: Evaluate) -> None:
        last = training.current_round - 1
        if last < 1:
            raise SwarmLearningError("the training is marked over but no round was merged")
        self._take_merged(self.sn.round(self._p.training, last), evaluate)
