"""The product's import paths, kept so existing user programs run unmodified.

``from swarmlearning.tf import SwarmCallback`` (Keras) and ``from swarmlearning.pyt import SwarmCallback``
(PyTorch) are thin aliases of :mod:`swarm_learning.callback`.
"""

from swarm_learning.callback.config import DEFAULT_TRAINING_CONTRACT
from swarm_learning.errors import SwarmError

__all__ = ["DEFAULT_TRAINING_CONTRACT", "SwarmError"]
