"""SwarmCallback: the ML-side API of Swarm Learning.

Pick the adapter of your framework (each imports its framework; this package imports neither)::

    from swarm_learning.callback.keras import SwarmCallback   # Keras / tf.keras
    from swarm_learning.callback.torch import SwarmCallback   # PyTorch

or, as with the product, ``from swarmlearning.tf import SwarmCallback`` / ``from swarmlearning.pyt import ...``.
"""

from swarm_learning.callback.base import FINAL_LOG_LINE, SwarmCallbackBase, default_logger
from swarm_learning.callback.config import (
    DEFAULT_TRAINING_CONTRACT,
    CallbackConfig,
    CheckinModel,
    SLMergeMethod,
    SLPlatform,
    parse_config,
)
from swarm_learning.errors import SwarmError

__all__ = [
    "DEFAULT_TRAINING_CONTRACT",
    "FINAL_LOG_LINE",
    "CallbackConfig",
    "CheckinModel",
    "SLMergeMethod",
    "SLPlatform",
    "SwarmCallbackBase",
    "SwarmError",
    "default_logger",
    "parse_config",
]
