"""Generalisation: "unknown specimens, unknown microscopes" -- quality off the training distribution.

A method tuned (or trained) on reference images with one acquisition (the baseline: mask kind,
rate, noise) is scored on other image sets and other acquisitions; the table gives mean PSNR,
SSIM and NMSE per (image set, acquisition) and the change against the in-distribution cell
(reference images, baseline acquisition). Antun et al., PNAS 2020, and Colbrook, Antun, Hansen,
PNAS 2022 (REFERENCE section 5), ask exactly this of learned reconstructions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .. import metrics as _metrics
from ..acquisition import acquire
from .hallucination import _check_map, _reconstruct

__all__ = ["ACQUISITION_KEYS", "BASELINE", "REFERENCE", "Generalisation", "generalisation"]

REFERENCE = "reference"  # name of the in-distribution image set
BASELINE = "baseline"  # name of the in-distribution acquisition
ACQUISITION_KEYS = ("mask", "rate", "noise", "seed", "center_fraction")  # keywords of reconstruction.acquire allowed


@dataclass(frozen=True)
class Generalisation:
    """Per (image set, acquisition): per-image metrics, their means, and the change from the reference.

    per_image[(images, acquisition)]: one {"psnr", "ssim", "nmse"} per image. Drops are
    reference - cell for PSNR and SSIM (positive = worse), cell - reference for NMSE.
    """

    per_image: dict[tuple[str, str], tuple[dict[str, float], ...]]
    acquisitions: dict[str, dict[str, Any]]

    def mean(self, images: str, acquisition: str) -> dict[str, float]:
        """Mean PSNR, SSIM, NMSE over the images of one cell."""
        key = (images, acquisition)
        if key not in self.per_image:
            raise KeyError(f"no cell ({images!r}, {acquisition!r}); cells: {sorted(self.per_image)}")
        vals = self.per_image[key]
        return {k: sum(v[k] for v in vals) / len(vals) for k in ("psnr", "ssim", "nmse")}

    def drop(self, images: str, acquisition: str) -> dict[str, float]:
        """{"psnr_drop", "ssim_drop", "nmse_increase"} of a cell against (reference, baseline)."""
        ref, cell = self.mean(REFERENCE, BASELINE), self.mean(images, acquisition)
        return {
            "psnr_drop": _difference(ref["psnr"], cell["psnr"]),
            "ssim_drop": ref["ssim"] - cell["ssim"],
            "nmse_increase": cell["nmse"] - ref["nmse"],
        }

    def table(self) -> list[dict[str, Any]]:
        """One row per cell: names, number of images, means and drops; the reference first."""
        return [
            {"images": i, "acquisition": a, "n_images": len(v), **self.mean(i, a), **self.drop(i, a)}
            for (i, a), v in self.per_image.items()
        ]

    def summary(self) -> dict[str, Any]:
        """JSON-ready record: the acquisitions (mask tensors as "custom") and the table."""
        acqs = {
            name: {k: ("custom" if isinstance(v, torch.Tensor) else v) for k, v in kw.items()}
            for name, kw in self.acquisitions.items()
        }
        return {"reference": [REFERENCE, BASELINE], "acquisitions": acqs, "table": self.table()}


def _difference(a: float, b: float) -> float:
    return 0.0 if a == b else a - b  # inf - inf (two perfect cells) is no drop


def _image_list(name: str, images: Any) -> list[Any]:
    if not isinstance(images, (list, tuple)):
        raise TypeError(f"{name} must be a list of (H, W) images; got {type(images).__name__}")
    if not images:
        raise ValueError(f"{name} must hold at least one image; got an empty {type(images).__name__}")
    return list(images)


def _acquisition(name: str, kw: Any) -> dict[str, Any]:
    if not isinstance(kw, dict):
        raise TypeError(f"{name} must be a dict of reconstruction.acquire keywords; got {type(kw).__name__}")
    unknown = sorted(set(kw) - set(ACQUISITION_KEYS))
    if unknown:
        raise ValueError(f"{name} has unknown keys {unknown}; expected some of {list(ACQUISITION_KEYS)}")
    return dict(kw)


def _named(name: str, value: Any, reserved: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict (name -> ...); got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"{name} keys must be strings; got {key!r}")
        if key == reserved:
            raise ValueError(f"{name} cannot use the name {reserved!r}: it is the in-distribution cell's")
    return value


def generalisation(
    make_map: Callable,
    reference_images: Any,
    *,
    others: dict[str, Any] | None = None,
    acquisitions: dict[str, dict[str, Any]] | None = None,
    baseline: dict[str, Any],
    maps: Any = None,
) -> Generalisation:
    """Mean PSNR/SSIM/NMSE of |f(y)| against the target for every (image set, acquisition), and drops.

    Image sets: "reference" (``reference_images``) and ``others``; acquisitions: "baseline"
    (``baseline``, the in-distribution one) and ``acquisitions``, each the keywords mask, rate,
    noise, seed, center_fraction of ``acquisition.acquire``, every one through the coil ``maps`` when
    given (SENSE). make_map(F) gives the map for operator F; it is called once per distinct mask. Metrics: ``metrics.evaluate`` (fastMRI conventions).
    """
    if not callable(make_map):
        raise TypeError(
            f"make_map must be callable (operator -> reconstruction map); got {type(make_map).__name__}"
        )
    sets = {REFERENCE: _image_list("reference_images", reference_images)}
    for key, imgs in _named("others", others, REFERENCE).items():
        sets[key] = _image_list(f"others[{key!r}]", imgs)
    acqs = {BASELINE: _acquisition("baseline", baseline)}
    for key, kw in _named("acquisitions", acquisitions, BASELINE).items():
        acqs[key] = _acquisition(f"acquisitions[{key!r}]", kw)
    made: dict[tuple, Callable] = {}  # the map per distinct mask
    per_image: dict[tuple[str, str], tuple[dict[str, float], ...]] = {}
    for set_name, imgs in sets.items():
        for acq_name, kw in acqs.items():
            rows = []
            for i, image in enumerate(imgs):
                try:
                    acq = acquire(image, **kw, maps=maps)
                except (TypeError, ValueError) as exc:
                    where = f"image {i} of {set_name!r} with acquisition {acq_name!r}"
                    raise type(exc)(f"{where}: {exc}") from exc
                F = acq.operator
                key = (tuple(F.in_shape), F.mask.cpu().numpy().tobytes())
                if key not in made:
                    made[key] = _check_map("make_map(F)", make_map(F))
                rec = _reconstruct(made[key], acq.y, F.in_shape)
                rows.append(_metrics.evaluate(acq.target, rec.abs()))
            per_image[(set_name, acq_name)] = tuple(rows)
    return Generalisation(per_image, acqs)
