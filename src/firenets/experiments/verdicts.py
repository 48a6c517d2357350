"""The judgements of a stability audit, each defined once: a map is unstable at the attacked sizes
when its worst-case ratio exceeds ``UNSTABLE_FACTOR`` times the control's (zero-filling's, exactly 1);
a search converged when its stopping rule, not its step cap, ended every start. ``verdicts`` judges one
image's perturbation stage; ``over_images`` the rows of a dataset."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..stability.perturbation import Perturbation
from .maps import ZERO_FILLED

__all__ = ["UNSTABLE_FACTOR", "MapOverImages", "Verdict", "is_unstable", "over_images", "verdicts"]

UNSTABLE_FACTOR = 2.0  # a worst case more than this many times zero-filling's (exactly 1) counts as unstable


def is_unstable(ratio: float, control_ratio: float, threshold: float = UNSTABLE_FACTOR) -> bool:
    """ratio / control_ratio > threshold: the one definition of "unstable at these sizes"."""
    return ratio / control_ratio > threshold


@dataclass(frozen=True)
class Verdict:
    """What one map's perturbation stage shows against the control's (zero-filling's) at the same sizes.

    ``factor`` = max ratio / the control's max ratio; unstable when it exceeds ``threshold``. The worst
    stage's numbers: its size ||r|| / ||x||, output change / ||x||, ratio and noise ratio, and the error
    to the truth ||f(A(x + r)) - x|| / ||x|| beside the unperturbed one. ``converged``: every stage's
    stopping rule ended it (otherwise the ratios are weaker lower bounds).
    """

    label: str
    unstable: bool
    factor: float
    threshold: float
    control_ratio: float
    ratio: float
    noise_ratio: float
    r_rel: float
    out_rel: float
    error: float
    error_perturbed: float
    error_unperturbed: float
    converged: bool

    def summary(self) -> dict[str, Any]:
        return asdict(self)


def verdicts(perts: Mapping[str, Perturbation], *, control: str = ZERO_FILLED,
             threshold: float = UNSTABLE_FACTOR) -> dict[str, Verdict]:
    """A ``Verdict`` for every map of a perturbation stage but the control."""
    if control not in perts:
        raise ValueError(f"the perturbation stage must include the control {control!r}; got {list(perts)}")
    ref = perts[control].max_ratio
    out = {}
    for label, p in perts.items():
        if label == control:
            continue
        j = max(range(len(p.worst.stages)), key=lambda i: p.worst.stages[i].ratio)
        s, c = p.worst.stages[j], p.noise.stages[j]
        xn = s.r_norm / s.r_rel
        out[label] = Verdict(label, is_unstable(p.max_ratio, ref, threshold), p.max_ratio / ref, threshold, ref,
                             s.ratio, c.ratio, s.r_rel, s.out_diff / xn, s.error, s.error_perturbed, p.error,
                             bool(p.worst.converged))
    return out


def _median(values: Sequence[float]) -> float:
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


@dataclass(frozen=True)
class MapOverImages:
    """One map over the rows of a dataset audit: how many images it has rows on; PSNR median and range;
    the worst-case ratio's median, largest and the image of the largest; the median of the worst case
    over the noise ratio and of the targeted attack's contrast; on how many of the images with both
    ratios it is unstable (``is_unstable`` against the control); on how many its attacks converged; on
    how many the samples it was given contradict the contrast its targeted attack invented (the region
    bounds' verdict). A value is None where no image measured it."""

    label: str
    images: int
    psnr: tuple[float, float, float] | None  # median, min, max
    worst_ratio: tuple[float, float, str] | None  # median, largest, where
    noise_quotient: float | None
    contrast: float | None
    unstable: tuple[int, int] | None  # images unstable, images judged
    converged: tuple[int, int] | None  # images converged, images with attacks
    threshold: float = UNSTABLE_FACTOR
    contradicted: tuple[int, int] | None = None  # images whose attacked disc the data contradict, images judged

    def summary(self) -> dict[str, Any]:
        return asdict(self)


def over_images(rows: Sequence[Mapping[str, Any]], label: str, *, control: str = ZERO_FILLED,
                threshold: float = UNSTABLE_FACTOR) -> MapOverImages:
    """``MapOverImages`` of ``label`` from dataset rows (``experiments.stages.image_row``)."""
    mine = [(r["image"], r["maps"][label]) for r in rows if label in r.get("maps", {})]

    def values(key: str) -> list[tuple[float, str]]:
        return [(v[key], image) for image, v in mine if v.get(key) is not None]

    psnr, worst, quot, contrast = values("psnr"), values("worst_ratio"), values("noise_quotient"), values("contrast")
    judged = [is_unstable(r["maps"][label]["worst_ratio"], r["maps"][control]["worst_ratio"], threshold)
              for r in rows if label != control
              and r.get("maps", {}).get(label, {}).get("worst_ratio") is not None
              and r["maps"].get(control, {}).get("worst_ratio")]
    conv = [v["converged"] for _, v in mine if v.get("converged") is not None]
    faith = [v["faithfulness"] for _, v in mine if v.get("faithfulness") is not None]
    p = [v for v, _ in psnr]
    top = max(worst) if worst else None
    return MapOverImages(
        label, len(mine),
        (_median(p), min(p), max(p)) if p else None,
        (_median([v for v, _ in worst]), top[0], top[1]) if top else None,
        _median([v for v, _ in quot]) if quot else None,
        _median([v for v, _ in contrast]) if contrast else None,
        (sum(judged), len(judged)) if judged else None,
        (sum(conv), len(conv)) if conv else None,
        threshold,
        (sum(f == "contradicted by the data" for f in faith), len(faith)) if faith else None)
