"""Targeted hallucination attacks: the perturbation of the image that makes the reconstruction
gain the most contrast inside a small region (a lesion-sized disc) that the perturbation itself
barely touches, under two threat models.

For a map f, sampling A, image x, region R (mean over R written <.>_R) and budget ||r|| <= rho:
maximise c(r) = <|f(A(x + r))|>_R - <|f(A x)|>_R, the contrast the output gains in R, by the
ascent of ``stability.perturbation.ascend`` on the ball, from random starts of both signs. The
contrast of the perturbed truth, <|x + r|>_R - <|x|>_R, is reported beside it: what the output
gains beyond it is invented. Several regions (a grid of discs) are screened with a short ascent
and the best are attacked in full. Gaussian perturbations of the same norm are the control.

Threat ``kspace`` (Genzel, Macdonald, Maerz, TPAMI 2022): e is added to the samples instead,
c(e) = <|f(A x + e)|>_R - <|f(A x)|>_R over ||e|| <= rho; beside it, the contrast of x + A^* e, the truth
plus the adjoint image of e: for one coil (A A^* = I) A^* e = A^+ e and x + A^* e is the image nearest x
whose samples are A x + e; for coil maps the least-norm image change A^+ e is ill-conditioned (coil
sensitivities overlap), so the adjoint image, of norm at most ||A|| ||e||, stands in for it. Antun et al., PNAS 2020; REFERENCE sections 5, 8 and 11.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .._progress import Progress
from .._validation import check_int, check_scalar
from .budget import check_norms, check_search
from .perturbation import (
    ReconstructionMap,
    Steps,
    _check,
    _finite,
    _output,
    ascend_batch,
    batches,
    outputs,
    seen,
)


def disc(shape: Sequence[int], centre: Sequence[float], radius: float) -> torch.Tensor:
    """The boolean disc {(i, j): (i - c_0)^2 + (j - c_1)^2 <= radius^2} in an image of ``shape``."""
    H, W = (check_int("shape", s, minimum=1) for s in shape)
    radius = check_scalar("radius", radius, positive=True)
    i = torch.arange(H, dtype=torch.float64)[:, None]
    j = torch.arange(W, dtype=torch.float64)[None, :]
    mask = (i - centre[0]) ** 2 + (j - centre[1]) ** 2 <= radius**2
    if not bool(mask.any()):
        raise ValueError(f"the disc of radius {radius} at {tuple(centre)} holds no pixel of a {H}x{W} image")
    return mask


def disc_grid(shape: Sequence[int], radius: float, per_side: int = 3) -> list[torch.Tensor]:
    """``per_side`` x ``per_side`` discs of ``radius`` centred on an even grid of the middle half of
    the image (where an object usually lies)."""
    H, W = (check_int("shape", s, minimum=1) for s in shape)
    per_side = check_int("per_side", per_side, minimum=1)
    rows = [H / 4 + (H / 2) * (k + 0.5) / per_side for k in range(per_side)]
    cols = [W / 4 + (W / 2) * (k + 0.5) / per_side for k in range(per_side)]
    return [disc((H, W), (r, c), radius) for r in rows for c in cols]


def lesion_regions(shape: Sequence[int]) -> list[torch.Tensor]:
    """The places a targeted attack screens: 3 x 3 discs of radius max(2, min(H, W) / 40) on the middle
    half of the image (a lesion of a few millimetres at typical MRI resolutions)."""
    return disc_grid(shape, max(2.0, min(shape) / 40), per_side=3)


TARGETED_THREATS = ("image", "kspace")  # where the targeted attack's perturbation lives


@dataclass(frozen=True, eq=False)
class RegionAttack:
    """The best perturbation found for one region and size."""

    region: torch.Tensor
    rho: float
    rho_rel: float  # rho / ||x|| (threat image), rho / ||A x|| (threat kspace)
    r: torch.Tensor  # the perturbation: of the image (threat image) or of the samples (threat kspace)
    recon: torch.Tensor
    contrast: float  # <|f(y)|>_R - <|f(Ax)|>_R with y = A(x + r) or A x + r
    input_contrast: float  # <|x + r_x|>_R - <|x|>_R, r_x = ``image_r``
    noise_contrast: float  # the same gain for Gaussian r of norm rho (the largest of the draws)
    iterations: int
    converged: bool
    starts: tuple[dict, ...] = ()
    threat: str = "image"
    image_r: torch.Tensor | None = None  # r in the image domain: r itself, or A^* r for threat kspace
    rho_over_x: float | None = None  # rho / ||x||

    @property
    def image_perturbation(self) -> torch.Tensor:
        """The perturbation as an image: r (threat image) or A^* e (threat kspace)."""
        return self.r if self.image_r is None else self.image_r

    @property
    def per_norm(self) -> float:
        """Contrast created per unit of ||r|| (rho absolute): contrast / rho."""
        return self.contrast / self.rho

    def summary(self) -> dict[str, Any]:
        rows, cols = torch.nonzero(self.region, as_tuple=True)
        return {"threat": self.threat, "rho": self.rho, "rho_rel": self.rho_rel,
                "rho_over_x": self.rho_rel if self.rho_over_x is None else self.rho_over_x, "contrast": self.contrast, "input_contrast": self.input_contrast,
                "noise_contrast": self.noise_contrast, "contrast_per_norm": self.per_norm,
                "region_centre": [float(rows.double().mean()), float(cols.double().mean())],
                "region_pixels": int(self.region.sum()), "iterations": self.iterations,
                "converged": self.converged, "starts": [dict(s) for s in self.starts]}


@dataclass(frozen=True, eq=False)
class HallucinationAttack:
    """Per size: the worst region's attack; the screening values of every region; settings."""

    x: torch.Tensor
    recon: torch.Tensor
    attacks: list[RegionAttack]
    screening: list[list[float]]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        return all(a.converged for a in self.attacks)

    @property
    def best(self) -> RegionAttack:
        """The attack, over the sizes, that created the most contrast: the one pages and rows report."""
        return max(self.attacks, key=lambda a: a.contrast)

    def summary(self) -> dict[str, Any]:
        return {"settings": self.settings, "converged": self.converged,
                "attacks": [a.summary() for a in self.attacks], "screening": self.screening}


def _regions(regions: Any, shape: tuple[int, ...]) -> list[torch.Tensor]:
    if isinstance(regions, torch.Tensor):
        regions = [regions]
    if not isinstance(regions, (list, tuple)) or not regions:
        raise ValueError("region must be a boolean (H, W) mask or a non-empty list of them")
    out = []
    for k, m in enumerate(regions):
        if not isinstance(m, torch.Tensor) or m.dtype != torch.bool:
            raise TypeError(f"region[{k}] must be a boolean torch.Tensor")
        if tuple(m.shape) != shape:
            raise ValueError(f"region[{k}] has shape {tuple(m.shape)}; the image is {shape}")
        if not bool(m.any()):
            raise ValueError(f"region[{k}] is empty")
        out.append(m)
    return out


def hallucination_attack(
    f: ReconstructionMap,
    A: Any,
    x: Any,
    region: Any,
    norms: Sequence[float],
    *,
    threat: str = "image",
    steps: int = 100,
    tol: float = 1e-3,
    patience: int = 10,
    restarts: int = 1,
    lr: float = 0.5,
    momentum: float = 0.5,
    screen_steps: int = 5,
    refine: int = 1,
    noise_trials: int = 3,
    seed: int = 0,
    progress: Progress | None = None,
) -> HallucinationAttack:
    """max over ||r|| <= rho of <|f(y)|>_R - <|f(A x)|>_R, y = A(x + r) (``threat`` image) or y = A x + r
    (``threat`` kspace), for each rho in ``norms`` (absolute).

    ``region``: a boolean (H, W) mask or a list of them. With several, each is screened by
    ``screen_steps`` ascent steps from one random start, and the ``refine`` best are attacked in
    full (``restarts`` random directions with both signs, the stopping rule of ``ascend``); the
    region with the largest contrast is reported per size.
    """
    x = _check(f, A, x)
    if threat not in TARGETED_THREATS:
        raise ValueError(f"threat must be one of {', '.join(TARGETED_THREATS)}; got {threat!r}")
    regions = _regions(region, tuple(x.shape))
    rhos = list(check_norms("norms", norms))
    search = check_search(steps=steps, tol=tol, patience=patience, restarts=restarts, lr=lr, momentum=momentum,
                          seed=seed, min_restarts=1)
    steps, tol, patience, restarts, lr, momentum = (search[k] for k in ("steps", "tol", "patience", "restarts", "lr",
                                                                         "momentum"))
    screen_steps = check_int("screen_steps", screen_steps, minimum=1)
    refine = min(check_int("refine", refine, minimum=1), len(regions))
    noise_trials = check_int("noise_trials", noise_trials, minimum=1)
    gen = torch.Generator(device="cpu").manual_seed(search["seed"])
    with torch.no_grad():
        y0 = A(x)
        fx = _output(f, y0).detach()
    in_samples = threat == "kspace"
    reference = float(torch.linalg.vector_norm(y0 if in_samples else x))  # what rho_rel is relative to
    if reference == 0:
        raise ValueError(f"{'A x' if in_samples else 'x'} is zero: the relative size of the perturbation is undefined")
    base = [float(fx.abs()[m].mean()) for m in regions]
    x_in = [float(x.abs()[m].mean()) for m in regions]
    total = len(rhos) * ((len(regions) * screen_steps if len(regions) > 1 else 0) + refine * 2 * restarts * steps)
    tick = Steps(progress, "hallucination attack (steps, at most)", total)

    def samples(r: torch.Tensor) -> torch.Tensor:
        return y0 + r if in_samples else A(x + r)

    def direction() -> torch.Tensor:
        """A random start: complex Gaussian on the samples, or an image's Gaussian in the range of A^*."""
        if in_samples:
            return torch.randn(y0.shape, generator=gen, dtype=y0.dtype).to(y0.device)
        return seen(A, torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device))

    probe = direction()  # a perturbation of the largest size: does f take batches and map each alone?
    with torch.no_grad():
        batched = batches(f, y0, samples(rhos[-1] * probe / torch.linalg.vector_norm(probe)), fx)
    gen.manual_seed(search["seed"])  # the starts' random directions as without the probe

    def objective(ks: Sequence[int], rho: float):
        """The contrast each start's region k gains, and its gradient, for the starts stacked in R: one
        batch through f (one pass per start where f does not take batches)."""
        masks = torch.stack([regions[k] for k in ks]).to(device=x.device, dtype=torch.float64)
        counts = masks.sum(dim=(-2, -1))
        bases = torch.tensor([base[k] for k in ks], dtype=torch.float64, device=x.device)

        def value_and_grad(R: torch.Tensor, index: list[int]) -> tuple[list[float], torch.Tensor]:
            R = R.detach().requires_grad_(True)
            out = outputs(f, samples(R), batched)
            c = (out.abs().to(torch.float64) * masks[index]).sum(dim=(-2, -1)) / counts[index] - bases[index]
            (G,) = torch.autograd.grad(c.sum(), R)
            values = [float(v) for v in c.detach()]
            if not (all(math.isfinite(v) for v in values) and _finite(G)):
                raise ValueError(f"f returned non-finite values under perturbation (region {ks[index[0]]}, "
                                 f"||r|| <= {rho:.4g})")
            return values, G

        return value_and_grad

    def noise(k: int, rho: float) -> float:
        best = -math.inf
        with torch.no_grad():
            for _ in range(noise_trials):
                g = (torch.randn(y0.shape, generator=gen, dtype=y0.dtype) if in_samples
                     else torch.randn(x.shape, generator=gen, dtype=x.dtype)).to(x.device)
                out = f(samples(rho * g / torch.linalg.vector_norm(g)))
                best = max(best, float(out.abs()[regions[k]].mean()) - base[k])
        return best

    attacks, screening = [], []
    for rho in rhos:
        if len(regions) > 1:
            ds = [direction() for _ in regions]
            found = ascend_batch(objective(range(len(regions)), rho),
                                 torch.stack([rho * d / torch.linalg.vector_norm(d) for d in ds]), rho,
                                 steps=screen_steps, tol=0.0, patience=screen_steps, lr=lr, momentum=momentum,
                                 ball=True, tick=tick)
            scores = [val for val, *_ in found]
            screening.append(scores)
            chosen = sorted(range(len(regions)), key=lambda k: -scores[k])[:refine]
        else:
            screening.append([])
            chosen = [0]
        best = None
        for k in chosen:
            log, top_k, starts = [], None, []
            for _ in range(restarts):
                d = direction()
                starts += [("random", d), ("random, negated", -d)]
            found = ascend_batch(objective([k] * len(starts), rho),
                                 torch.stack([rho * d / torch.linalg.vector_norm(d) for _, d in starts]), rho,
                                 steps=steps, tol=tol, patience=patience, lr=lr, momentum=momentum, ball=True,
                                 tick=tick)
            for (kind, _), (val, r, it, conv) in zip(starts, found, strict=True):
                log.append({"kind": kind, "contrast": val, "iterations": it, "converged": conv})
                if top_k is None or val > top_k[0]:
                    top_k = (val, r, it, conv)
            if best is None or top_k[0] > best[1][0]:
                best = (k, top_k, tuple(log))
        k, (val, r, it, conv), log = best
        r = r.detach()
        with torch.no_grad():
            out = f(samples(r)).detach()
        with torch.no_grad():
            r_x = A.adjoint(r).to(x.device) if in_samples else r
        attacks.append(RegionAttack(
            region=regions[k], rho=rho, rho_rel=rho / reference, r=r, recon=out,
            contrast=float(out.abs()[regions[k]].mean()) - base[k],
            input_contrast=float((x + r_x).abs()[regions[k]].mean()) - x_in[k], noise_contrast=noise(k, rho),
            iterations=it, converged=conv, starts=log, threat=threat, image_r=r_x if in_samples else None,
            rho_over_x=rho / float(torch.linalg.vector_norm(x))))
    settings = {"threat": threat, "norms": rhos, "regions": len(regions), "steps": steps, "tol": tol,
                "patience": patience, "restarts": restarts, "lr": lr, "momentum": momentum,
                "screen_steps": screen_steps, "refine": refine, "noise_trials": noise_trials, "seed": seed,
                "batched": batched}
    return HallucinationAttack(x.detach(), fx, attacks, screening, settings)
