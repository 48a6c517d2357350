"""The barriers of deep learning: the class Omega_K and the impossibility experiment."""

from . import approximation, omega, table

__all__ = ["approximation", "omega", "table"]
