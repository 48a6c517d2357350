"""The barriers of deep learning: the class Omega_K, the impossibility experiment and LISTA's trainer."""

from . import approximation, lista_training, omega, table

__all__ = ["approximation", "lista_training", "omega", "table"]
