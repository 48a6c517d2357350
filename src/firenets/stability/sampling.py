"""The "more samples" test: does a reconstruction method get worse when it is given more data?

Antun, Renna, Poon, Adcock, Hansen, "On instabilities of deep learning in image reconstruction
and the potential costs of AI", PNAS 117(48), 2020 (REFERENCE section 5): reconstruct one image
from nested masks M_1 c M_2 c ... at increasing rates (``masks.nested``: every mask contains the
previous ones, so each step only adds samples). A stable method's quality does not drop; some
trained networks lose quality when sampled more than in training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .. import masks as _masks
from .. import metrics as _metrics
from .._validation import as_tensor, check_scalar, check_seed
from ..operators import Fourier2D, MultiCoilFourier
from .hallucination import _check_map, _reconstruct

__all__ = ["MoreSamples", "more_samples"]


@dataclass(frozen=True)
class MoreSamples:
    """Quality against sampling rate for nested masks, and the drops found.

    results[i]: {"rate" (asked), "sampled" (actual fraction), "samples", "psnr", "ssim", "nmse"};
    drops: (rate_from, rate_to, psnr_loss) for every pair rate_from < rate_to whose PSNR falls by
    more than tolerance_db; images: |f(y)| per rate.
    """

    kind: str
    seed: int
    tolerance_db: float
    results: tuple[dict[str, float], ...]
    drops: tuple[tuple[float, float, float], ...]
    images: tuple[torch.Tensor, ...]

    @property
    def stable(self) -> bool:
        """True when no added samples cost more than tolerance_db of PSNR."""
        return not self.drops

    @property
    def rates(self) -> tuple[float, ...]:
        """The sampling rates asked for, increasing."""
        return tuple(r["rate"] for r in self.results)

    def summary(self) -> dict[str, Any]:
        """JSON-ready record: per-rate metrics, drops, verdict."""
        return {
            "kind": self.kind,
            "seed": self.seed,
            "tolerance_db": self.tolerance_db,
            "results": [dict(r) for r in self.results],
            "drops": [{"rate_from": a, "rate_to": b, "psnr_loss": d} for a, b, d in self.drops],
            "stable": self.stable,
        }


def _rates(rates: Any) -> list[float]:
    if isinstance(rates, (str, bytes)) or not hasattr(rates, "__iter__"):
        raise TypeError(f"rates must be a sequence of numbers; got {type(rates).__name__}")
    out = [check_scalar(f"rates[{i}]", r) for i, r in enumerate(rates)]
    if len(out) < 2:
        raise ValueError(f"rates must hold at least 2 rates to add samples; got {out}")
    for r in out:
        if not 0.0 < r <= 1.0:
            raise ValueError(f"rates must lie in (0, 1]; got {out}")
    if any(b <= a for a, b in zip(out, out[1:], strict=False)):
        raise ValueError(f"rates must be strictly increasing; got {out}")
    return out


def _loss(before: float, after: float) -> float:
    """PSNR lost from ``before`` to ``after`` (dB); a perfect image (inf) kept perfect loses 0."""
    if before == after:
        return 0.0
    return before - after


def more_samples(
    make_map: Callable[[Fourier2D], Callable],
    x: Any,
    *,
    kind: str = "gaussian",
    rates: Any = (0.1, 0.15, 0.2, 0.25, 0.3),
    seed: int = 0,
    tolerance_db: float = 0.5,
    maps: Any = None,
    center_fraction: float | None = None,
) -> MoreSamples:
    """PSNR/SSIM/NMSE of |f_r(A_r x)| against |x| for nested masks A_r; flag PSNR drops > tolerance_db.

    make_map(F) returns the reconstruction map for the operator F = Fourier2D(mask at rate r), or
    MultiCoilFourier(maps, mask) with coil ``maps`` (C, H, W); ``center_fraction`` the cartesian masks'
    fully sampled centre; masks are ``masks.nested(kind, x.shape, rates, seed=seed)``. Every pair of rates is compared,
    not only neighbours, so a decline of less than tolerance_db per step is caught once it adds
    up. Antun et al., PNAS 2020.
    """
    if not callable(make_map):
        raise TypeError(
            f"make_map must be callable (operator -> reconstruction map); got {type(make_map).__name__}"
        )
    x = as_tensor("x", x, finite=False)
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D image (H, W); got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x must be finite; it holds NaN/Inf entries")
    rates = _rates(rates)
    seed = check_seed("seed", seed)
    tolerance_db = check_scalar("tolerance_db", tolerance_db, nonnegative=True)
    target = x.abs().to(torch.float64)
    xc = x.to(torch.complex128)
    results: list[dict[str, float]] = []
    images: list[torch.Tensor] = []
    options = {} if center_fraction is None else {"center_fraction": center_fraction}
    for rate, sm in zip(rates, _masks.nested(kind, tuple(x.shape), rates, seed=seed, **options), strict=True):
        m = sm.mask.to(x.device)
        F = Fourier2D(m) if maps is None else MultiCoilFourier(maps, m)
        f = _check_map("make_map(F)", make_map(F))
        rec = _reconstruct(f, F(xc), F.in_shape).abs()
        images.append(rec)
        results.append({"rate": rate, "sampled": F.rate, "samples": F.out_shape[-1],
                        **_metrics.evaluate(target, rec)})
    drops = []
    for i, a in enumerate(results):
        for b in results[i + 1 :]:
            loss = _loss(a["psnr"], b["psnr"])
            if loss > tolerance_db:
                drops.append((a["rate"], b["rate"], loss))
    return MoreSamples(kind, seed, tolerance_db, tuple(results), tuple(drops), tuple(images))
