"""The ML side of the sync-round benchmark: no framework, just weights of a given size through the real channel.

Env: PARAMS (float32 parameters), ROUNDS (timed rounds), MIN_PEERS, SCRATCH_DIR. Writes
``<SCRATCH_DIR>/timings.json``: the wall time of each sync call (check-in to merged model loaded).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from swarm_learning.callback.channel import LossReport, SLChannel
from swarm_learning.callback.config import SLPlatform, parse_config
from swarm_learning.weights import load_weights

params = int(os.environ["PARAMS"])
rounds = int(os.environ.get("ROUNDS", "3"))
min_peers = int(os.environ["MIN_PEERS"])
scratch = Path(os.environ["SCRATCH_DIR"])

config = parse_config(
    1,
    min_peers,
    "defaultbb.cqdb.sml.hpe",
    {"ml_platform": "PYTORCH", "model": object()},
    platforms=(SLPlatform.PYTORCH,),
)
channel = SLChannel.from_env()
channel.connect()
session = channel.open_session(config)
rng = np.random.default_rng(int.from_bytes(os.urandom(4), "little"))
# a model of `params` float32 parameters in a few tensors of realistic sizes
sizes = [params // 2, params // 4, params - params // 2 - params // 4]
weights = {f"layer{i}.weight": rng.standard_normal(n, dtype=np.float32) for i, n in enumerate(sizes)}


def serve(path: Path) -> LossReport:
    merged = load_weights(path)
    weights.update(merged)
    return LossReport(0.0, 0.0, 0, 1)


timings = []
for seq in range(1, rounds + 2):
    started = time.perf_counter()
    channel.sync(session, seq=seq, close=False, node_weightage=1, weights=weights, serve_loss=serve)
    if seq > 1:  # the first round also waits for every peer to start: not timed
        timings.append(time.perf_counter() - started)
outcome = channel.sync(session, seq=1, close=True, node_weightage=1, weights=weights, serve_loss=serve)
channel.finish(session, "0" * 64)
(scratch / "timings.json").write_text(json.dumps({"round_seconds": timings}))
