"""Small structural changes: is a small detail added to an image recovered by a reconstruction map?

Antun, Renna, Poon, Adcock, Hansen, "On instabilities of deep learning in image reconstruction
and the potential costs of AI", PNAS 117(48), 2020 (REFERENCE section 5): insert a small detail
(a tiny ellipse, or text such as "CAN U SEE IT", ``data.insert_detail``) and ask whether the
reconstruction shows it. The contrast the map recovers on the detail's support S is

    c = mean_S(|f(A x_d)| - |f(A x)|) / mean_S(|x_d| - |x|)

(1: fully recovered, 0: invisible; for the nonnegative phantoms of ``data`` the denominator is
mean_S(x_d - x), the inserted contrast). The zero-filled image A^* A x_d is the baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .._validation import check_scalar
from ..operators.base import LinearOperator
from .hallucination import _check_map, _check_operator, _image, _norm, _reconstruct, _support

__all__ = ["RECOVERED_THRESHOLD", "StructuralChange", "structural_change"]

# A choice, not a theorem: a detail counts as recovered when at least half of its inserted
# contrast survives on its support (as seen by eye in side-by-side figures).
RECOVERED_THRESHOLD = 0.5


@dataclass(frozen=True)
class StructuralChange:
    """Recovery of a small detail on ``support`` by a map f, with the zero-filled baseline.

    contrast: recovered contrast c (see the module); support_error: || |f(A x_d)| - |x_d| ||_S /
    ||x_d||_S; zero_filled_*: the same for A^* A x_d, A^* A x. recovered: contrast >= threshold.
    recon, recon_reference: f(A x_d), f(A x) (complex (H, W)).
    """

    contrast: float
    support_error: float
    zero_filled_contrast: float
    zero_filled_support_error: float
    inserted_contrast: float
    threshold: float
    support_pixels: int
    recon: torch.Tensor
    recon_reference: torch.Tensor

    @property
    def recovered(self) -> bool:
        """c >= threshold (default 0.5: half of the inserted contrast is visible)."""
        return self.contrast >= self.threshold

    @property
    def zero_filled_recovered(self) -> bool:
        """Whether the zero-filled image shows the detail by the same threshold."""
        return self.zero_filled_contrast >= self.threshold

    def summary(self) -> dict[str, Any]:
        """JSON-ready record of the contrasts, support errors and verdicts."""
        return {
            "contrast": self.contrast,
            "support_error": self.support_error,
            "recovered": self.recovered,
            "zero_filled_contrast": self.zero_filled_contrast,
            "zero_filled_support_error": self.zero_filled_support_error,
            "zero_filled_recovered": self.zero_filled_recovered,
            "inserted_contrast": self.inserted_contrast,
            "threshold": self.threshold,
            "support_pixels": self.support_pixels,
            "shape": list(self.recon.shape),
        }


def _contrast(rec_d: torch.Tensor, rec: torch.Tensor, support: torch.Tensor, inserted: float) -> float:
    return float((rec_d.abs() - rec.abs())[support].mean()) / inserted


def _support_error(rec_d: torch.Tensor, x_d: torch.Tensor, support: torch.Tensor) -> float:
    return _norm((rec_d.abs() - x_d.abs())[support]) / _norm(x_d[support])


def structural_change(
    f: Callable,
    A: LinearOperator,
    x: Any,
    x_detail: Any,
    support: Any,
    *,
    threshold: float = RECOVERED_THRESHOLD,
) -> StructuralChange:
    """Recovered contrast c = mean_S(|f(A x_d)| - |f(A x)|) / mean_S(|x_d| - |x|) of a detail on S.

    x_detail: x plus a small detail on the boolean (H, W) ``support`` (``data.insert_detail``,
    ``data.ellipses_with_details``). Noiseless samples y = A x. Antun et al., PNAS 2020.
    """
    f = _check_map("f", f)
    A = _check_operator(A)
    x = _image("x", x, A)
    x_d = _image("x_detail", x_detail, A)
    support = _support(support, A.in_shape).to(x.device)
    threshold = check_scalar("threshold", threshold)
    inserted = float((x_d.abs() - x.abs())[support].to(torch.float64).mean())
    if inserted == 0.0:
        raise ValueError("x_detail must differ from x on the support: mean_S(|x_detail| - |x|) is 0")
    if _norm(x_d[support]) == 0.0:
        raise ValueError("x_detail is 0 on the support; the relative support error is undefined")
    y, y_d = A(x), A(x_d)
    rec = _reconstruct(f, y, A.in_shape)
    rec_d = _reconstruct(f, y_d, A.in_shape)
    zf = A.adjoint(y).to(torch.complex128)
    zf_d = A.adjoint(y_d).to(torch.complex128)
    x_d = x_d.to(torch.complex128)
    return StructuralChange(
        contrast=_contrast(rec_d, rec, support, inserted),
        support_error=_support_error(rec_d, x_d, support),
        zero_filled_contrast=_contrast(zf_d, zf, support, inserted),
        zero_filled_support_error=_support_error(zf_d, x_d, support),
        inserted_contrast=inserted,
        threshold=threshold,
        support_pixels=int(support.sum()),
        recon=rec_d,
        recon_reference=rec,
    )
