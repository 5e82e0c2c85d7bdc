"""The product's SWCI web client under its import path: ``import swarmlearning.swci as sw; s = sw.Swci(ip, ...)``."""

from swci.client import SwciClient

Swci = SwciClient

__all__ = ["Swci", "SwciClient"]
