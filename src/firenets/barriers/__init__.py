"""The barriers of deep learning: the class Omega_K and the impossibility experiment."""

from . import approximation, omega

__all__ = ["approximation", "omega"]
