"""Keras / TensorFlow 2 SwarmCallback under the product's import path (imports TensorFlow)."""

from swarm_learning.callback.keras import DEFAULT_TRAINING_CONTRACT, SwarmCallback, SwarmError

__all__ = ["DEFAULT_TRAINING_CONTRACT", "SwarmCallback", "SwarmError"]
