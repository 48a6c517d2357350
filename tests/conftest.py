"""Shared test helpers: problems whose minimiser is known in closed form from the KKT conditions."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def sign(x: np.ndarray) -> np.ndarray:
    return x / np.abs(x)


def known_minimiser(kind: str, *, m: int = 40, N: int = 80, s: int = 4, complex_: bool = False, seed: int = 0):
    """(A, y, x*, params) with x* the unique minimiser of the problem ``kind``.

    Built from the optimality conditions: with S the support of x*, g = w_S sign(x*_S) and z a
    solution of A_S^* z = g (minimum-norm; for SRLasso plus a part orthogonal to range(A_S), so
    that the residual leaves no flat direction), strict dual feasibility |A^* z|_i < w_i off S (checked)
    and an injective A_S make x* the unique minimiser when
      Lasso:   y = A x* + (lam / 2) z
      SRLasso: lam = 1 / ||z||, y = A x* + rho z / ||z||   (any rho > 0)
      QCBP:    y = A x* + eta z / ||z||                     (the constraint is active)
    """
    rng = np.random.default_rng(seed)
    for _ in range(100):
        A = rng.standard_normal((m, N))
        if complex_:
            A = (A + 1j * rng.standard_normal((m, N))) / np.sqrt(2)
        A /= np.sqrt(m)
        w = rng.uniform(0.5, 2.0, N)
        S = rng.choice(N, s, replace=False)
        x = np.zeros(N, dtype=A.dtype)
        mag = rng.uniform(1.0, 2.0, s)
        x[S] = mag * (np.exp(2j * np.pi * rng.uniform(size=s)) if complex_ else rng.choice([-1.0, 1.0], s))
        g = w[S] * sign(x[S])
        z = np.linalg.pinv(A[:, S].conj().T) @ g
        if kind == "srlasso":
            # a residual inside range(A_S) would leave a flat direction: add a part orthogonal to it
            v = rng.standard_normal(m) + (1j * rng.standard_normal(m) if complex_ else 0)
            Q = np.linalg.qr(A[:, S])[0]
            v -= Q @ (Q.conj().T @ v)
            z = z + 0.5 * np.linalg.norm(z) * v / np.linalg.norm(v)
        off = np.setdiff1d(np.arange(N), S)
        if np.max(np.abs(A[:, off].conj().T @ z) / w[off]) < 0.9:
            break
    else:  # pragma: no cover
        raise RuntimeError("no strictly dual-feasible instance found")
    params = {}
    if kind == "lasso":
        params["lam"] = 0.1
        y = A @ x + params["lam"] / 2 * z
    elif kind == "srlasso":
        params["lam"] = 1.0 / np.linalg.norm(z)
        y = A @ x + 0.3 * z / np.linalg.norm(z)
    elif kind == "qcbp":
        params["eta"] = 0.2
        y = A @ x + params["eta"] * z / np.linalg.norm(z)
    else:  # pragma: no cover
        raise ValueError(kind)
    return torch.from_numpy(A), torch.from_numpy(y), torch.from_numpy(x), torch.from_numpy(w), params


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
