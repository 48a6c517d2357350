"""LISTA, the model: G networks of the same depth, one per matrix, evaluated as one batched computation.

Layer k of network g: x_{k+1} = S_{theta_k}(x_k + W_k^T (y - A x_k / (10 ||A||_2))), x_0 = 0,
S_theta(u) = ReLU(u - theta) - ReLU(-u - theta), with trainable W_k (the shape of A) and
theta_k >= 0. Initialisation W ~ N(0, 0.05^2) / (10 ||A||), theta ~ U[0, 1e-7], float64
(Colbrook, Antun, Hansen, PNAS 2022, and the project reference). Its trainer, used only by the
impossibility table, is ``barriers.lista_training``. Reference for LISTA: Gregor, LeCun, ICML 2010.
"""

from __future__ import annotations

import torch

from .._validation import as_tensor, check_int, check_seed


class LISTA(torch.nn.Module):
    """G LISTA networks of ``layers`` layers for matrices A (G, m, N) (or one matrix (m, N))."""

    def __init__(self, A: torch.Tensor, *, layers: int = 10, seed: int = 0):
        super().__init__()
        A = as_tensor("A", A)
        if A.is_complex():
            raise TypeError("LISTA here is real: A must be real")
        if A.ndim == 2:
            A = A[None]
        if A.ndim != 3:
            raise ValueError(f"A must have shape (m, N) or (G, m, N); got {tuple(A.shape)}")
        A = A.to(torch.float64)
        layers = check_int("layers", layers, minimum=1)
        G, m, N = A.shape
        norms = torch.linalg.matrix_norm(A, ord=2)
        if bool((norms == 0).any()):
            raise ValueError("A has zero norm")
        self.register_buffer("A", A)
        self.register_buffer("scale", 1.0 / (10 * norms))  # 1 / (10 ||A||_2) per network
        gen = torch.Generator().manual_seed(check_seed("seed", seed))
        W = torch.randn(G, layers, m, N, generator=gen, dtype=torch.float64) * 0.05
        self.W = torch.nn.Parameter(W * self.scale.reshape(G, 1, 1, 1))
        self.theta = torch.nn.Parameter(torch.rand(G, layers, N, generator=gen, dtype=torch.float64) * 1e-7)

    @property
    def networks(self) -> int:
        return self.A.shape[0]

    @property
    def layers(self) -> int:
        return self.W.shape[1]

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """x for y (G, B, m), or (B, m) / (m,) when there is one network."""
        G, L, m, N = self.W.shape
        squeeze = None
        if y.ndim == 1 and G == 1:
            y, squeeze = y[None, None], (0, 0)
        elif y.ndim == 2 and G == 1:
            y, squeeze = y[None], (0,)
        if y.ndim != 3 or y.shape[0] != G or y.shape[-1] != m:
            raise ValueError(f"y must have shape ({G}, B, {m}); got {tuple(y.shape)}")
        # W_k^T (y - c A x) = W_k^T y - c (W_k^T A) x: all W_k^T y in one product
        # x + W_k^T (y - c A x) = W_k^T y + (I - c W_k^T A) x; as row vectors,
        # u = Wy_k + x M_k with M_k = I - c A^T W_k, one fused product per layer.
        # (unbind rather than indexing per layer: its backward is one stack, not L zero fills)
        Wy = (y @ self.W.permute(0, 2, 1, 3).reshape(G, m, L * N)).reshape(G, -1, L, N).unbind(2)
        eye = torch.eye(N, dtype=self.A.dtype, device=self.A.device)
        M = (eye - self.scale.reshape(G, 1, 1, 1) * (self.A.transpose(-1, -2)[:, None] @ self.W)).unbind(1)
        thetas = self.theta[:, :, None].unbind(1)
        x = torch.zeros(G, y.shape[1], N, dtype=y.dtype, device=y.device)
        for k in range(L):
            u = torch.baddbmm(Wy[k], x, M[k])
            # S_theta(u) = ReLU(u - theta) - ReLU(-u - theta), as ReLUs: the same values as
            # u - clip(u, -theta, theta), but clip's derivative in theta is wrong where theta = 0
            # (clip with min = max), which the projection theta >= 0 makes common in training
            x = torch.relu(u - thetas[k]) - torch.relu(-u - thetas[k])
        if squeeze is not None:
            for d in squeeze:
                x = x.squeeze(d)
        return x

    def reference_forward(self, y: torch.Tensor) -> torch.Tensor:
        """The layer formula written out literally (for tests)."""
        G, L, m, N = self.W.shape
        x = torch.zeros(G, y.shape[1], N, dtype=y.dtype)
        for k in range(L):
            r = y - (x @ self.A.transpose(-1, -2)) * self.scale.reshape(G, 1, 1)
            u = x + r @ self.W[:, k]
            t = self.theta[:, k][:, None]
            x = torch.relu(u - t) - torch.relu(-u - t)
        return x


__all__ = ["LISTA"]
