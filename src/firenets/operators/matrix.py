"""Dense matrices and the identity as operators."""

from __future__ import annotations

from typing import Any

import torch

from .._validation import as_tensor, check_float_dtype, check_shape
from .base import LinearOperator


def _one_product(x: torch.Tensor, y: torch.Tensor) -> bool:
    """Whether a batch x and a batch y fit one addmm: both (B, n), of one dtype."""
    return x.ndim == 2 and y.ndim == 2 and x.dtype == y.dtype and x.shape[0] == y.shape[0]


class Matrix(LinearOperator):
    """A dense matrix M in R^{m x N} or C^{m x N}: x -> M x, y -> M^* y, batched."""

    def __init__(self, M: Any, *, device: torch.device | str | None = None):
        M = as_tensor("M", M, device=device)
        if M.ndim != 2:
            raise ValueError(f"M must be a 2-D matrix (m, N); got shape {tuple(M.shape)}")
        if M.numel() == 0:
            raise ValueError(f"M must not be empty; got shape {tuple(M.shape)}")
        self.M = M
        self.in_shape, self.out_shape = (M.shape[1],), (M.shape[0],)
        self.dtype, self.device = M.dtype, M.device

    def _cast(self, t: torch.Tensor) -> torch.Tensor:
        return self.M if t.dtype == self.M.dtype else self.M.to(t.dtype)

    def _forward(self, x):
        return x @ self._cast(x).mT

    def _adjoint(self, y):
        M = self._cast(y)
        return y @ (M.conj() if M.is_complex() else M)

    def _adjoint_subtract(self, x, y, alpha):
        M = self._cast(y)
        M = M.conj() if M.is_complex() else M
        if _one_product(x, y):
            return torch.addmm(x, y, M, alpha=-alpha)  # x - alpha y M^H-rows: one BLAS call
        return torch.add(x, y @ M, alpha=-alpha)

    def _residual(self, x, y):
        M = self._cast(x)
        if _one_product(x, y):
            return torch.addmm(y, x, M.mT, beta=-1)  # x M^T - y: one BLAS call
        return x @ M.mT - y

    def to_dense(self, *, max_entries: int = 50_000_000) -> torch.Tensor:
        """The matrix M itself."""
        return self.M

    def _exact_norm(self) -> float:
        return torch.linalg.matrix_norm(self.M, ord=2).item()


class Identity(LinearOperator):
    """The identity on tensors of trailing shape ``shape``."""

    unitary = True

    def __init__(
        self,
        shape: Any,
        *,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
    ):
        self.in_shape = self.out_shape = check_shape("shape", shape)
        self.dtype = check_float_dtype("dtype", dtype)
        self.device = torch.device(device)

    def _forward(self, x):
        return x

    def _adjoint(self, y):
        return y

    def _exact_norm(self) -> float:
        return 1.0


def as_operator(A: Any) -> LinearOperator:
    """A itself if it is a LinearOperator; a Matrix for a 2-D tensor or NumPy array."""
    if isinstance(A, LinearOperator):
        return A
    import numpy as np

    if isinstance(A, (torch.Tensor, np.ndarray)):
        return Matrix(A)
    raise TypeError(f"A must be a LinearOperator or a 2-D matrix; got {type(A).__name__}")
