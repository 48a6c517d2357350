"""The barriers of deep learning: the class Omega_K and the impossibility experiment."""

from . import omega

__all__ = ["omega"]
