"""Linear operators: matrices, transforms and sampling, with adjoints, composition and norms."""

from .base import LinearOperator, dottest
from .dct import DCT
from .matrix import Identity, Matrix, as_operator

__all__ = ["LinearOperator", "as_operator", "dottest", "DCT", "Identity", "Matrix"]
from .fourier import Fourier2D, MultiCoilFourier  # noqa: E402
from .gradient import Gradient2D  # noqa: E402
from .stack import Stack  # noqa: E402
from .wavelet import UndecimatedWavelet2D, Wavelet2D  # noqa: E402

__all__ += ["Fourier2D", "MultiCoilFourier", "Gradient2D", "Stack", "UndecimatedWavelet2D", "Wavelet2D"]
