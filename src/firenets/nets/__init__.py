"""Networks: FIRENET (computed, stable and accurate), LISTA, UNet and DeepCascade (trained)."""

from . import learned, lista
from .firenet import FIRENET
from .learned import DeepCascade, UNet
from .lista import LISTA

__all__ = ["FIRENET", "LISTA", "UNet", "DeepCascade", "learned", "lista"]
