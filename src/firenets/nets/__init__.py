"""Networks: FIRENET (computed, stable and accurate) and LISTA (trained)."""

from . import lista
from .firenet import FIRENET
from .lista import LISTA

__all__ = ["FIRENET", "LISTA", "lista"]
