"""Open Swarm Learning: the library every component shares and the ML-side API.

Data scientists use :mod:`swarmlearning.tf` / :mod:`swarmlearning.pyt` (the product's import paths) or
:mod:`swarm_learning.callback` directly. Daemons (``sn``, ``sl``) share the helpers of this package:
TLS identities, weight files, merge methods, errors and logging.
"""

__version__ = "0.1.0"
DEFAULT_TRAINING_CONTRACT = "defaultbb.cqdb.sml.hpe"
