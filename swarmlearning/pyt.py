"""PyTorch SwarmCallback under the product's import path (imports torch)."""

from swarm_learning.callback.torch import DEFAULT_TRAINING_CONTRACT, SwarmCallback, SwarmError

__all__ = ["DEFAULT_TRAINING_CONTRACT", "SwarmCallback", "SwarmError"]
