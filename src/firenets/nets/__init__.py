"""Networks: FIRENET (computed, stable and accurate)."""

from .firenet import FIRENET

__all__ = ["FIRENET"]
