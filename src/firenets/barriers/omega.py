"""The class Omega_K: well-conditioned (P3) instances whose minimiser no algorithm can compute
to K digits from 2^-n-accurate input.

For K digits and input precision n (Colbrook, Antun, Hansen, PNAS 2022, SI; constants in the
project reference): with delta = 1/6, lam = 1, gamma_1 = sqrt(2) (1 - delta) 10^K / (3 lam),
rho = 1 - delta, eps = 2^(-n-1), t = (eps / (gamma_1 lam)) rho^2 / (1 + (eps / (gamma_1 lam)) rho)
and rho_min = 1 - delta - t, the vector a in R^{N1} has entries gamma_1 lam / (1 - delta) except
a_j = gamma_1 lam / rho_min; A = C [a 0; 0 ||a|| I_{N2}] and y = C e_1, with C the orthonormal
DCT-II of size N2 + 1. The unique minimiser of (P3) is e_j / a_j. The exact instance has
j = 1; the inexact one (j = 2) differs from it by 2^-n at most, entrywise, yet its minimiser is
about 3 * 10^-K away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validation import check_int
from ..inexact import check_pair
from ..operators import DCT, Matrix
from ..problems import SRLasso

DELTA = 1.0 / 6.0
LAM = 1.0
DIMS = {"code": (2, 20), "caption": (2, 18)}  # (N1, N2): m = N2 + 1, N = N1 + N2


@dataclass(frozen=True)
class OmegaInstance:
    """One member of Omega_K: the exact pair (A, y) and an admissible inexact pair (A_n, y_n)."""

    K: int
    n: int
    N1: int
    N2: int
    A: Matrix
    y: torch.Tensor
    A_n: Matrix
    y_n: torch.Tensor
    minimiser: torch.Tensor
    inexact_minimiser: torch.Tensor

    @property
    def problem(self) -> SRLasso:
        """(P3) for the exact pair."""
        return SRLasso(self.A, self.y, lam=LAM)

    @property
    def inexact_problem(self) -> SRLasso:
        """(P3) for the inexact pair (what a method is given)."""
        return SRLasso(self.A_n, self.y_n, lam=LAM)

    def distance_to_minimisers(self, x: torch.Tensor) -> torch.Tensor:
        """dist(x, Xi(A, y)) in l2; Xi(A, y) = {e_1 / a_1} (batched over leading dims)."""
        return torch.linalg.vector_norm(x - self.minimiser, dim=-1)


def first_row(K: int, n: int, N1: int, j: int) -> torch.Tensor:
    """The vector a of Omega_K (j is 1-based, as in the paper)."""
    gamma1 = math.sqrt(2.0) * (1 - DELTA) * 10.0**K / (3 * LAM)
    rho = 1 - DELTA
    eps = 2.0 ** (-n - 1)
    q = eps / (gamma1 * LAM)
    t = q * rho**2 / (1 + q * rho)
    rho_min = 1 - DELTA - t
    a = torch.full((N1,), gamma1 * LAM / (1 - DELTA), dtype=torch.float64)
    a[j - 1] = gamma1 * LAM / rho_min
    return a


def _matrix(a: torch.Tensor, N2: int) -> torch.Tensor:
    N1 = a.numel()
    M = torch.zeros(N2 + 1, N1 + N2, dtype=torch.float64)
    M[0, :N1] = a
    M[1:, N1:] = torch.linalg.vector_norm(a) * torch.eye(N2, dtype=torch.float64)
    return M


def instance(K: int, n: int, *, dims: str = "code", mix: bool = True) -> OmegaInstance:
    """The Omega_K instance for K digits and input precision 2^-n (dims 'code' or 'caption')."""
    K = check_int("K", K, minimum=1)
    n = check_int("n", n, minimum=1)
    if dims not in DIMS:
        raise ValueError(f"dims must be one of {sorted(DIMS)}; got {dims!r}")
    N1, N2 = DIMS[dims]
    C = DCT(N2 + 1).matrix() if mix else torch.eye(N2 + 1, dtype=torch.float64)
    e1 = torch.zeros(N2 + 1, dtype=torch.float64)
    e1[0] = 1.0
    y = C @ e1
    mats, mins = [], []
    for j in (1, 2):
        a = first_row(K, n, N1, j)
        mats.append(C @ _matrix(a, N2))
        x = torch.zeros(N1 + N2, dtype=torch.float64)
        x[j - 1] = 1.0 / a[j - 1]
        mins.append(x)
    check_pair(mats[0], mats[1], n)
    return OmegaInstance(
        K=K, n=n, N1=N1, N2=N2,
        A=Matrix(mats[0]), y=y, A_n=Matrix(mats[1]), y_n=y.clone(),
        minimiser=mins[0], inexact_minimiser=mins[1],
    )
