"""Networks: FIRENET (computed, stable and accurate) and FIRENET for MRI, LISTA, UNet and DeepCascade (trained)."""

from . import learned, lista
from .firenet import FIRENET
from .learned import DeepCascade, UNet
from .lista import LISTA
from .mri import MRIFirenet, reconstruction_map

__all__ = ["FIRENET", "MRIFirenet", "reconstruction_map", "LISTA", "UNet", "DeepCascade", "learned", "lista"]
