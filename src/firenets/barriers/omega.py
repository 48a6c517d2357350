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

from .._validation import check_int, check_seed
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


def instance(
    K: int, n: int, *, dims: str = "code", N1: int | None = None, N2: int | None = None, mix: bool = True
) -> OmegaInstance:
    """The Omega_K instance for K digits and input precision 2^-n.

    dims: "code" (N1 = 2, N2 = 20: m = 21, N = 22, as in the authors' script) or "caption"
    (N2 = 18: m = 19, N = 20, as in the slide); N1 and N2 override them.
    """
    K = check_int("K", K, minimum=1)
    n = check_int("n", n, minimum=1)
    if dims not in DIMS:
        raise ValueError(f"dims must be one of {sorted(DIMS)}; got {dims!r}")
    N1 = DIMS[dims][0] if N1 is None else check_int("N1", N1, minimum=2)
    N2 = DIMS[dims][1] if N2 is None else check_int("N2", N2, minimum=1)
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


@dataclass(frozen=True)
class TrainingSet:
    """Training and validation pairs (x, y = A_n x) of an Omega_K instance."""

    x: torch.Tensor
    y: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


def training_set(
    inst: OmegaInstance, *, size: int = 8000, validation: int = 100, sparsity: int = 5, seed: int = 0
) -> TrainingSet:
    """Seeded (sparsity + 1)-sparse training vectors for the inexact matrix A_n.

    Each x is e_2 / a_2 (the minimiser's entry for A_n) plus ``sparsity`` entries at random
    positions among the last N2 coordinates with values N(0, 1) / ||a||; its data is
    y = A_n x = C [1; ||a|| x_tail]. The first ``size`` are for training, the next
    ``validation`` for choosing the best epoch.
    """
    size = check_int("size", size, minimum=1)
    validation = check_int("validation", validation, minimum=1)
    sparsity = check_int("sparsity", sparsity, minimum=0)
    if sparsity > inst.N2:
        raise ValueError(f"sparsity must be <= N2 = {inst.N2}; got {sparsity}")
    gen = torch.Generator().manual_seed(check_seed("seed", seed))
    total = size + validation
    na = torch.linalg.vector_norm(first_row(inst.K, inst.n, inst.N1, 2)).item()
    x = inst.inexact_minimiser.expand(total, -1).clone()
    # `sparsity` distinct positions per vector among the last N2 coordinates
    positions = torch.argsort(torch.rand(total, inst.N2, generator=gen), dim=1)[:, :sparsity] + inst.N1
    values = torch.randn(total, sparsity, generator=gen, dtype=torch.float64) / na
    x.scatter_(1, positions, values)
    y = inst.A_n(x)
    return TrainingSet(x=x[:size], y=y[:size], x_val=x[size:], y_val=y[size:])
