"""The inexact-input model: data known only through approximations z_n with |z - z_n| <= 2^-n.

Entrywise, and for complex data separately for the real and the imaginary part. A method is
given (A_n, y_n) for some n (or for every n, through an oracle) and must approximate the
minimisers for the exact (A, y). Reference: Colbrook, Antun, Hansen, PNAS 2022, section 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ._validation import as_tensor, check_int
from .operators import Matrix


def _tensor_of(name: str, z: Any) -> tuple[torch.Tensor, bool]:
    if isinstance(z, Matrix):
        return z.M, True
    return as_tensor(name, z), False


N_MAX = 2000  # |n| beyond this: 2^-n is outside every floating-point range; rounding means nothing


def round_dyadic(z: Any, n: int) -> Any:
    """z_n = 2^-n round(2^n z), so |z - z_n| <= 2^-(n+1) <= 2^-n entrywise (real and imaginary).

    Exact in floating point: scaling by a power of two and rounding to an integer introduce no
    error of their own. z may be a tensor, a NumPy array (returned as a tensor) or a ``Matrix``
    (returned as a ``Matrix``).
    """
    n = check_int("n", n, minimum=-N_MAX, maximum=N_MAX)
    t, is_matrix = _tensor_of("z", z)

    def scaled(u: torch.Tensor, k: int) -> torch.Tensor:  # u 2^k in two exact steps (each power finite)
        return u * 2.0 ** (k // 2) * 2.0 ** (k - k // 2)

    def rnd(u: torch.Tensor) -> torch.Tensor:
        # |u| >= 2^(p - n) (p the significand's bits) means u is already a multiple of 2^-n: kept as it
        # is, so that u 2^n never overflows however large n is
        p = round(-math.log2(torch.finfo(u.dtype).eps)) + 1
        on_grid = u.abs() >= scaled(torch.ones((), dtype=u.dtype), p - n)
        small = torch.where(on_grid, torch.zeros_like(u), u)
        return torch.where(on_grid, u, scaled(torch.round(scaled(small, n)), -n))

    out = torch.complex(rnd(t.real), rnd(t.imag)) if t.is_complex() else rnd(t)
    return Matrix(out) if is_matrix else out


def deviation(z: Any, z_n: Any) -> float:
    """max_i max(|Re(z_i - z_n,i)|, |Im(z_i - z_n,i)|): the entrywise distance of the model."""
    a, _ = _tensor_of("z", z)
    b, _ = _tensor_of("z_n", z_n)
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"z and z_n must have the same shape; got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.is_complex() != b.is_complex():
        raise TypeError(f"z and z_n must both be real or both complex; got {a.dtype} and {b.dtype}")
    d = (a - b.to(a.dtype)).detach()
    if d.is_complex():
        return max(d.real.abs().max().item(), d.imag.abs().max().item()) if d.numel() else 0.0
    return d.abs().max().item() if d.numel() else 0.0


def check_pair(z: Any, z_n: Any, n: int) -> Any:
    """Verify that z_n is an admissible 2^-n approximation of z; return z_n.

    Raises ValueError naming the first offending entry when |z - z_n| > 2^-n (real or
    imaginary part), so that hand-made adversarial pairs are checked before use.
    """
    n = check_int("n", n)
    a, _ = _tensor_of("z", z)
    b, _ = _tensor_of("z_n", z_n)
    dev = deviation(a, b)
    if dev > 2.0**-n:
        d = (a - b.to(a.dtype)).detach()
        mag = torch.maximum(d.real.abs(), d.imag.abs()) if d.is_complex() else d.abs()
        flat = int(torch.argmax(mag.reshape(-1)).item())
        index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), tuple(a.shape)))
        raise ValueError(
            f"z_n is not a 2^-{n} approximation of z: entry {index} differs by {dev:.3e} > "
            f"2^-{n} = {2.0**-n:.3e}"
        )
    return z_n


@dataclass(frozen=True)
class Oracle:
    """An oracle for z: n -> z_n with |z - z_n| <= 2^-n, from dyadic rounding or a given rule.

    ``rule(n)`` may return any approximation (an adversarial one, say); every answer is checked.
    """

    z: Any
    rule: Callable[[int], Any] | None = None

    def __call__(self, n: int) -> Any:
        n = check_int("n", n)
        if self.rule is None:
            return round_dyadic(self.z, n)
        return check_pair(self.z, self.rule(n), n)
