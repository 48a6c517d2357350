"""Linear operators: matrices, transforms and sampling, with adjoints, composition and norms."""

from .base import LinearOperator, dottest, power_iteration
from .dct import DCT
from .fourier import Fourier2D, MultiCoilFourier, fft2c, ifft2c
from .gradient import Gradient2D
from .matrix import Identity, Matrix, as_operator
from .stack import Stack
from .wavelet import UndecimatedWavelet2D, Wavelet2D

__all__ = ["LinearOperator", "as_operator", "dottest", "power_iteration", "DCT", "Identity", "Matrix",
           "Fourier2D", "MultiCoilFourier", "fft2c", "ifft2c", "Gradient2D", "Stack", "UndecimatedWavelet2D",
           "Wavelet2D"]
