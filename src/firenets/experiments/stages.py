"""The stages of an audit, run on several reconstruction maps alike (the battery).

A map is given by its factory A -> f (an operator to a map y -> complex image), so that stages which
change the sampling (more samples, generalisation) can rebuild it. Every map in one run gets the same
images, acquisitions, seeds and attack ``Budget`` (one stopping rule, one step cap): their numbers
compare like with like. Every image is acquired once; the attacks perturb the image itself (complex
when it has a phase) through that acquisition's operator. ``run`` returns a ``BatteryResult`` holding
each stage's results and their verdicts; rendering them is ``report``'s work.
Antun et al., PNAS 2020; Bhadra et al., IEEE TMI 2021 (REFERENCE sections 5, 6, 8).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from .. import data, masks, metrics
from .._progress import Progress, indented, say
from .._validation import check_scalar
from ..acquisition import CENTRED_MASKS, Acquisition, acquire
from ..reconstruction import centre_crop
from ..stability.budget import Budget, check_norms
from ..stability.faithfulness import RegionBounds, attack_bounds, default_quantity
from ..stability.generalisation import Generalisation, generalisation
from ..stability.hallucination import HallucinationMaps, hallucination_maps
from ..stability.perturbation import Perturbation, perturbation
from ..stability.sampling import MoreSamples, more_samples
from ..stability.structural import StructuralChange, structural_change
from ..stability.targeted import HallucinationAttack, hallucination_attack, lesion_regions
from ..stability.threats import THREAT_NORMS, THREATS, ThreatAttack, threat_attack
from .control import ControlResult, control_stage
from .maps import ZERO_FILLED, MapFactory
from .verdicts import Verdict, verdicts

__all__ = ["ROW_KEYS", "SAMPLE_RATES", "STAGES", "Accuracy", "BatteryResult", "accuracy", "acquisitions",
           "check_sampling", "check_stages", "check_threats", "generalisations", "hallucination_attacks", "hallucinations",
           "image_row", "perturbations", "run", "sample_sweeps", "structural_changes", "threat_attacks"]

STAGES = ("accuracy", "perturbation", "hallucination-attack", "structural", "more-samples", "generalisation",
          "hallucination", "positive-control")
SAMPLE_RATES = (0.15, 0.2, 0.25, 0.3, 0.4)


@dataclass(frozen=True, eq=False)
class Accuracy:
    """Per image: the truth |x|, and every map's reconstruction magnitude and metrics (zero-filled included)."""

    images: dict[str, torch.Tensor]
    recons: dict[str, dict[str, torch.Tensor]]
    metrics: dict[str, dict[str, dict[str, float]]]
    seconds: dict[str, dict[str, float]]
    # image -> map -> metrics against the file's stored reconstruction (fastMRI's reconstruction_rss) on its crop
    reference: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {img: {m: {**v, "seconds": self.seconds[img][m],
                          **({"reference": self.reference[img][m]} if img in self.reference else {})}
                      for m, v in per.items()}
                for img, per in self.metrics.items()}


@dataclass(eq=False)
class BatteryResult:
    """The stages run on (maps, images): each stage's results per map, the verdicts of the perturbation
    stage (``experiments.verdicts``), the settings, seconds and the stages that failed."""

    settings: dict[str, Any]
    accuracy: Accuracy | None = None
    perturbation: dict[str, Perturbation] | None = None
    hallucination_attack: dict[str, HallucinationAttack] | None = None
    kspace_hallucination_attack: dict[str, HallucinationAttack] | None = None  # the same with e on the samples
    faithfulness: dict[str, RegionBounds] | None = None  # what the attacked samples allow on each map's attacked disc
    structural: dict[str, StructuralChange] | None = None
    detail: tuple[torch.Tensor, torch.Tensor] | None = None  # the image with the detail, and its support
    more_samples: dict[str, MoreSamples] | None = None
    generalisation: dict[str, Generalisation] | None = None
    hallucination: dict[str, HallucinationMaps] | None = None
    positive_control: ControlResult | None = None  # the attack on a map unstable by theorem
    seconds: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # stage -> "ErrorType: message" of a stage that failed
    map_seconds: dict[str, dict[str, float]] = field(default_factory=dict)  # stage -> map -> seconds
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # map -> its perturbation verdict
    threats: dict[str, dict[str, ThreatAttack]] = field(default_factory=dict)  # k-space threat -> map -> attack
    STAGES: ClassVar[tuple[str, ...]] = STAGES  # every stage there is, in order

    @property
    def completed(self) -> list[str]:
        """The stages asked for that ran to the end."""
        return self.completed_besides(self.failures)

    def completed_besides(self, failures: Mapping[str, str]) -> list[str]:
        """The stages asked for that ran and are not in ``failures`` (the run's, and a report's own)."""
        return [s for s in self.settings["stages"] if s in self.seconds and s not in failures]

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers of every stage that ran."""
        out: dict[str, Any] = {"settings": self.settings, "seconds": self.seconds, "completed": self.completed,
                               "failures": self.failures, "map_seconds": self.map_seconds}
        if self.accuracy is not None:
            out["accuracy"] = self.accuracy.summary()
        for name in ("perturbation", "hallucination_attack", "kspace_hallucination_attack", "faithfulness",
                     "structural", "more_samples", "generalisation", "hallucination"):
            part = getattr(self, name)
            if part is not None:
                out[name] = {m: r.summary() for m, r in part.items()}
        if self.verdicts:
            out["verdicts"] = {m: v.summary() for m, v in self.verdicts.items()}
        if self.threats:
            out["threats"] = {t: {m: r.summary() for m, r in per.items()} for t, per in self.threats.items()}
        if self.positive_control is not None:
            out["positive_control"] = self.positive_control.summary()
        return out


def acquisitions(images: Mapping[str, torch.Tensor], *, mask: str | torch.Tensor = "gaussian", rate: float = 0.25,
                 seed: int = 0, noise: float = 0.0, center_fraction: float | None = None,
                 maps: torch.Tensor | None = None,
                 kspace: Mapping[str, torch.Tensor] | None = None) -> dict[str, Acquisition]:
    """Every image acquired once (``acquisition.acquire``) with the same mask kind, rate, seed, noise and
    coil ``maps`` (SENSE, when given); an image with measured ``kspace`` is sampled from it."""
    kspace = kspace or {}
    options = {} if center_fraction is None else {"center_fraction": center_fraction}
    return {name: acquire(x, mask=mask, rate=rate, seed=seed, noise=noise, maps=maps, kspace=kspace.get(name),
                          **options)
            for name, x in images.items()}


def accuracy(makers: Mapping[str, MapFactory], acqs: Mapping[str, Acquisition],
             references: Mapping[str, torch.Tensor] | None = None) -> Accuracy:
    """Every map's reconstruction of every image from its samples, and the zero-filled image: PSNR,
    SSIM, NMSE of the magnitudes (fastMRI conventions, ``metrics.evaluate``) and seconds; for an image with
    a stored reconstruction in ``references`` (fastMRI's ``reconstruction_rss``), the same metrics of the
    magnitudes' centre crop to its size against it."""
    recons, mets, secs, truths, refs = {}, {}, {}, {}, {}
    for name, acq in acqs.items():
        target = acq.target.abs()
        truths[name], recons[name], mets[name], secs[name] = target, {}, {}, {}
        for label, make in {ZERO_FILLED: None, **makers}.items():
            t0 = time.perf_counter()
            if make is None:
                rec = acq.zero_filled
            else:
                with torch.no_grad():
                    rec = make(acq.operator)(acq.y)
                if not bool(torch.isfinite(rec).all()):
                    raise ValueError(f"{label} returned NaN or Inf values on {name} (its unperturbed samples)")
            secs[name][label] = time.perf_counter() - t0
            recons[name][label] = rec.abs()
            mets[name][label] = metrics.evaluate(target, rec.abs())
            if references and references.get(name) is not None:
                ref = references[name]
                refs.setdefault(name, {})[label] = metrics.evaluate(ref, centre_crop(rec.abs(), tuple(ref.shape)))
    return Accuracy(truths, recons, mets, secs, refs)


def _timed(makers: Mapping[str, MapFactory], run_one, progress: Progress | None, what: str,
           seconds: dict[str, float] | None) -> dict[str, Any]:
    """run_one(label, make) for every map, each map's wall seconds added to its seconds in ``seconds`` (a
    stage that runs several attacks counts them all)."""
    out = {}
    for label, make in makers.items():
        say(progress, f"{what} {label} ...")
        t0 = time.perf_counter()
        out[label] = run_one(label, make)
        if seconds is not None:
            seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - t0
    return out


def perturbations(makers: Mapping[str, MapFactory], A: Any, x: torch.Tensor, budget: Budget | None = None, *,
                  progress: Progress | None = None,
                  seconds: dict[str, float] | None = None) -> dict[str, Perturbation]:
    """``stability.perturbation`` (worst case and noise control) of every map, with one budget."""
    return _timed(makers, lambda label, make: perturbation(make(A), A, x, budget), progress, "attacking", seconds)


def threat_attacks(makers: Mapping[str, MapFactory], A: Any, x: torch.Tensor, threat: str,
                   budget: Budget | None = None, *, norms: Sequence[float] | None = None, k_norm: float | None = None,
                   progress: Progress | None = None, seconds: dict[str, float] | None = None) -> dict[str, ThreatAttack]:
    """``stability.threat_attack`` of every map under one k-space threat, with one budget (``k_norm``: the
    measured full k-space's norm, where there is one)."""
    return _timed(makers, lambda label, make: threat_attack(make(A), A, x, threat, budget, norms=norms,
                                                            k_norm=k_norm), progress, f"{threat} threat on", seconds)


def hallucination_attacks(makers: Mapping[str, MapFactory], A: Any, x: torch.Tensor, budget: Budget | None = None,
                          *, threat: str = "image", norms: Sequence[float] | None = None,
                          progress: Progress | None = None,
                          seconds: dict[str, float] | None = None) -> dict[str, HallucinationAttack]:
    """The targeted hallucination attack of every map on the grid of ``stability.targeted.lesion_regions``
    (screened, the best attacked in full), with the budget's stopping rule (at least one random direction):
    ``threat`` image at ||r|| = the budget's smallest size times ||x||; kspace at ||e|| = the largest of
    ``norms`` (default ``THREAT_NORMS["kspace"]``, the top of the published range) times ||A x||."""
    budget = Budget() if budget is None else budget
    if threat == "kspace":
        with torch.no_grad():
            rho = max(check_norms("norms", THREAT_NORMS["kspace"] if norms is None else norms)) * float(
                torch.linalg.vector_norm(A(x)))
    else:
        rho = budget.norms[0] * float(torch.linalg.vector_norm(x))
    regions = lesion_regions(tuple(x.shape))
    search = {**budget.search(), "restarts": max(budget.restarts, 1)}
    return _timed(makers, lambda label, make: hallucination_attack(make(A), A, x, regions, [rho], threat=threat,
                                                                   **search, noise_trials=budget.noise_trials),
                  progress, f"{'k-space ' if threat == 'kspace' else ''}hallucination attack on", seconds)


def region_checks(atts: Mapping[str, HallucinationAttack], A: Any, x: torch.Tensor, *, noise: float = 0.0,
                  progress: Progress | None = None,
                  seconds: dict[str, float] | None = None) -> dict[str, RegionBounds]:
    """For every map's targeted attack (its ``best``), the certified interval of the disc's mean over the
    images its perturbed samples allow, and the verdict (``stability.attack_bounds``): of Re z for a real
    image, of |z| for a complex one."""
    quantity = default_quantity(x)
    return _timed(atts, lambda label, h: attack_bounds(h.best, h.recon, A, x, noise=noise, quantity=quantity),
                  progress, "region bounds on the attacked disc of", seconds)


def structural_changes(makers: Mapping[str, MapFactory], A: Any, x: torch.Tensor, xd: torch.Tensor,
                       support: torch.Tensor) -> dict[str, StructuralChange]:
    """Whether each map recovers the detail xd - x (``stability.structural_change``)."""
    return {label: structural_change(make(A), A, x, xd, support) for label, make in makers.items()}


def sample_sweeps(makers: Mapping[str, MapFactory], x: torch.Tensor, *, mask: str = "gaussian",
                  rates: Sequence[float] = SAMPLE_RATES, seed: int = 0, center_fraction: float | None = None,
                  maps: torch.Tensor | None = None) -> dict[str, MoreSamples]:
    """Each map on nested masks at increasing rates (``stability.more_samples``), through the coil maps;
    a cartesian mask's centre fraction is kept (at most the lowest rate)."""
    if center_fraction is not None:
        rates = [r for r in rates if r >= center_fraction]
    return {label: more_samples(make, x, kind=mask, rates=rates, seed=seed, maps=maps, center_fraction=center_fraction)
            for label, make in makers.items()}


def generalisations(makers: Mapping[str, MapFactory], images: Sequence[torch.Tensor], *, mask: str = "gaussian",
                    rate: float = 0.25, seed: int = 0, noise: float = 0.0, center_fraction: float | None = None,
                    maps: torch.Tensor | None = None) -> dict[str, Generalisation]:
    """Each map off its images (Shepp-Logan, the photograph) and off its acquisition (a lower rate, noise,
    and radial lines, or for column masks, fastMRI's equispaced columns with half the centre), against the
    given images at the given mask and rate, through the coil maps when given."""
    shape = tuple(images[0].shape)
    others = {"shepp-logan": [data.shepp_logan(shape)], "camera": [data.camera(shape)]}
    # a given image is the reference set: the same picture again would only repeat its row
    others = {k: v for k, v in others.items()
              if not any(x.shape == v[0].shape and not x.is_complex() and torch.equal(x.to(torch.float64), v[0])
                      for x in images)}
    centre = {} if center_fraction is None else {"center_fraction": center_fraction}
    if mask in CENTRED_MASKS:  # the shifts a column-mask model meets: another pattern and centre, another rate
        half = round((center_fraction or masks.FASTMRI_CENTRE.get(round(1 / rate), 0.08)) / 2, 4)
        centre_lower = {} if center_fraction is None else {"center_fraction": min(center_fraction, round(rate * 0.6, 3))}
        other = {"fastmri-equispaced, half the centre": {"mask": "fastmri-equispaced", "rate": rate, "seed": seed,
                                                         "center_fraction": half}}
    else:
        other, centre_lower = {"radial": {"mask": "radial", "rate": rate, "seed": seed}}, {}
    acqs = {**other,
            "lower rate": {"mask": mask, "rate": round(rate * 0.6, 3), "seed": seed, **centre_lower},
            f"noise {noise + 0.01:g}": {"mask": mask, "rate": rate, "noise": noise + 0.01, "seed": seed, **centre}}
    return {label: generalisation(make, list(images), others=others, acquisitions=acqs,
                                  baseline={"mask": mask, "rate": rate, "seed": seed, "noise": noise, **centre},
                                  maps=maps)
            for label, make in makers.items()}


def hallucinations(makers: Mapping[str, MapFactory], A: Any, x: torch.Tensor) -> dict[str, HallucinationMaps]:
    """Error, measurement-space and null-space maps of each map (``stability.hallucination_maps``)."""
    return {label: hallucination_maps(make(A), A, x) for label, make in makers.items()}


def check_names(argument: str, names: Sequence[str] | str, known: Sequence[str]) -> tuple[str, ...]:
    """The names asked for (``argument``: stages, threats), in ``known``'s order; unknown ones refused."""
    names = (names,) if isinstance(names, str) else tuple(names)
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(f"{argument} must be among {', '.join(known)}; got {list(names)}")
    return tuple(n for n in known if n in names)


def check_threats(threats: Sequence[str] | str) -> tuple[str, ...]:
    """The threat models asked for, in ``stability.THREATS``' order."""
    return check_names("threats", threats, THREATS)


def check_stages(stages: Sequence[str] | str) -> tuple[str, ...]:
    """The stages asked for, in ``STAGES``' order."""
    return check_names("stages", stages, STAGES)


def check_sampling(stages: Sequence[str], mask: str | torch.Tensor) -> None:
    """Refuse stages the sampling cannot serve: more-samples and generalisation draw masks at other rates
    (a given mask tensor cannot), and more-samples needs nested masks (fastMRI's masks at other
    accelerations are not)."""
    drawn = [s for s in ("more-samples", "generalisation") if s in stages]
    if isinstance(mask, torch.Tensor) and drawn:
        raise ValueError(f"the stages {', '.join(drawn)} draw masks at other rates, which one given mask cannot "
                         "do; leave them out of the stages, or give a mask kind")
    if isinstance(mask, str) and mask.startswith("fastmri") and "more-samples" in stages:
        raise ValueError(f"the more-samples stage needs nested masks, and fastMRI's masks ({mask}) at other "
                         "accelerations do not contain each other; leave more-samples out of the stages, or give "
                         "the mask kind cartesian (random columns and a fully sampled centre, nested)")


def run(
    makers: Mapping[str, MapFactory],
    images: Mapping[str, torch.Tensor],
    *,
    stages: Sequence[str] = STAGES,
    mask: str | torch.Tensor = "gaussian",
    rate: float = 0.25,
    seed: int = 0,
    noise: float = 0.0,
    budget: Budget | None = None,
    detail: tuple[torch.Tensor, torch.Tensor] | None = None,
    acqs: Mapping[str, Acquisition] | None = None,
    center_fraction: float | None = None,
    maps: torch.Tensor | None = None,
    kspace: Mapping[str, torch.Tensor] | None = None,
    references: Mapping[str, torch.Tensor] | None = None,
    threats: Sequence[str] = ("image",),
    kspace_norms: Sequence[float] | None = None,
    about: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    keep_going: bool = False,
) -> BatteryResult:
    """The chosen ``stages`` on every map; the single-image stages use the first image.

    ``mask``: a kind drawn at ``rate`` with ``seed``, or a boolean (H, W) tensor (then the stages that
    draw masks at other rates, more-samples and generalisation, are refused). ``noise``: the standard
    deviation of complex Gaussian noise per sample in the accuracy and generalisation stages (the
    attacks perturb noiseless samples A x). ``center_fraction``: of the column masks (cartesian, fastMRI's). ``maps``: coil maps
    (C, H, W) with sum_c |S_c|^2 = 1 on the object; every stage then samples through SENSE
    (``operators.MultiCoilFourier``) except the positive control, which is single-coil. ``kspace``: an image's
    measured k-space ((C, H, W) with maps), sampled in the accuracy stage instead of A x; ``references``: an
    image's stored reconstruction, the accuracy stage's second target on its crop. ``acqs``: the
    images' acquisitions when already made (``acquisitions``). ``threats``: the threat models of the perturbation stage (``stability.THREATS``:
    image-domain worst case, and the k-space threats of the published studies at ``kspace_norms``, default
    ``stability.THREAT_NORMS``); with kspace among them the hallucination-attack stage also attacks the samples,
    at the largest k-space budget. ``about``: more settings to record (the maps' descriptions). With ``keep_going`` a stage that raises is recorded in ``failures`` (its type
    and message) and the next stage runs; KeyboardInterrupt always stops.

    "positive-control" checks the attack itself, with the same budget, on the shipped control network
    (unstable by theorem, ``experiments.control``) beside the reference FIRENET and zero-filling; it does
    not use ``makers`` or ``images``. ``detail`` = (x with a detail, its support) for the structural
    stage (default: a small ellipse, ``data.insert_detail``, in the first image).
    """
    stages = check_stages(stages)
    threats = check_threats(threats)
    budget = Budget() if budget is None else budget
    if not makers:
        raise ValueError("makers must hold at least one map")
    if not images:
        raise ValueError("images must hold at least one image")
    xs = list(images.values())
    shape = tuple(xs[0].shape)
    if any(tuple(x.shape) != shape for x in xs):
        raise ValueError(f"all images must have one shape for one map; got {[tuple(x.shape) for x in xs]}")
    check_sampling(stages, mask)
    custom = isinstance(mask, torch.Tensor)
    noise = check_scalar("noise", noise, nonnegative=True)
    acqs = (acquisitions(images, mask=mask, rate=rate, seed=seed, noise=noise, center_fraction=center_fraction,
                         maps=maps, kspace=kspace) if acqs is None else acqs)
    first = next(iter(images))
    A = acqs[first].operator
    x = xs[0].to(torch.complex128 if xs[0].is_complex() else torch.float64)  # the image itself, phase and all
    # the full-kspace threat is relative to the measured k-space where the file holds it, else to ||F S x||
    k_norm = float(torch.linalg.vector_norm(kspace[first])) if kspace and first in kspace else None
    settings = {"images": list(images), "shape": list(shape), "mask": "custom" if custom else mask,
                "rate": acqs[first].rate if custom else rate, "seed": seed, "noise": noise, "maps": list(makers),
                "center_fraction": center_fraction, "coils": getattr(A, "coils", None),
                "measured_kspace": sorted(kspace or {}),
                "stages": list(stages), "budget": budget.summary(), "attacked_image": first,
                "complex_images": [n for n, x in images.items() if x.is_complex()], "threats": list(threats),
                "kspace_norms": {t: list(THREAT_NORMS[t] if kspace_norms is None else kspace_norms)
                                 for t in threats if t != "image"},
                "full_kspace": "the file's measured k-space" if k_norm is not None else "the truth's, ||F S x||",
                **(about or {})}
    result = BatteryResult(settings)
    inner = indented(progress, "      ")
    for i, stage in enumerate(stages, start=1):
        say(progress, f"[{i}/{len(stages)}] {stage} ...")
        t0 = time.perf_counter()
        try:
            _stage(result, stage, makers, acqs, xs, A, x, mask=mask, rate=rate, seed=seed, noise=noise,
                   center_fraction=center_fraction, maps=maps, references=references, budget=budget, detail=detail,
                   threats=threats, kspace_norms=kspace_norms, k_norm=k_norm, progress=inner)
        except Exception as exc:  # recorded; the next stage still runs
            if not keep_going:
                raise
            result.failures[stage] = f"{type(exc).__name__}: {exc}"
            say(inner, f"{stage} FAILED: {result.failures[stage]}")
        result.seconds[stage] = time.perf_counter() - t0
    if result.perturbation is not None and ZERO_FILLED in result.perturbation:
        result.verdicts = verdicts(result.perturbation)
    return result


def _stage(result: BatteryResult, stage: str, makers, acqs, xs, A, x, *, mask, rate, seed, noise, center_fraction,
           maps, references, budget,
           detail, threats, kspace_norms, k_norm, progress) -> None:
    """Run one stage of ``run`` into ``result``."""
    if stage == "accuracy":
        result.accuracy = accuracy(makers, acqs, references)
    elif stage == "perturbation":
        seconds = result.map_seconds.setdefault(stage, {})
        if "image" in threats:
            result.perturbation = perturbations(makers, A, x, budget, progress=progress, seconds=seconds)
        for threat in (t for t in threats if t != "image"):
            result.threats[threat] = threat_attacks(makers, A, x, threat, budget, norms=kspace_norms, k_norm=k_norm,
                                                    progress=progress, seconds=seconds)
    elif stage == "hallucination-attack":  # in the image, and on the samples when the k-space threat is asked for
        seconds = result.map_seconds.setdefault(stage, {})
        if "image" in threats or "kspace" not in threats:
            result.hallucination_attack = hallucination_attacks(makers, A, x, budget, progress=progress,
                                                                seconds=seconds)
            result.faithfulness = region_checks(result.hallucination_attack, A, x, noise=noise, progress=progress,
                                                seconds=seconds)
        if "kspace" in threats:
            result.kspace_hallucination_attack = hallucination_attacks(makers, A, x, budget, threat="kspace",
                                                                       norms=kspace_norms, progress=progress,
                                                                       seconds=seconds)
    elif stage == "structural":
        xd, support = detail if detail is not None else data.insert_detail(x, "ellipse")
        result.detail = (xd, support)
        result.structural = structural_changes(makers, A, x, xd, support)
    elif stage == "more-samples":
        result.more_samples = sample_sweeps(makers, x, mask=mask, seed=seed, maps=maps, center_fraction=center_fraction)
    elif stage == "generalisation":
        result.generalisation = generalisations(makers, xs, mask=mask, rate=rate, seed=seed, noise=noise,
                                                center_fraction=center_fraction, maps=maps)
    elif stage == "hallucination":
        result.hallucination = hallucinations(makers, A, x)
    elif stage == "positive-control":
        result.positive_control = control_stage(budget=budget, progress=progress)


ROW_KEYS = ("psnr", "ssim", "nmse", "worst_ratio", "local_ratio", "noise_ratio", "noise_quotient", "contrast", "truth_contrast",
            "faithfulness",
            "kspace_error", "kspace_noise_error", "kspace_unperturbed", "kspace_e_over_x", "kspace_threat",
            "kspace_contrast", "kspace_truth_contrast", "converged", "converged_by", "threats",
            "detail_contrast", "detail_recovered", "samples_loss", "samples_stable", "samples_psnr",
            "generalisation_drop", "generalisation_below", "generalisation_sets")


def image_row(result: BatteryResult) -> dict[str, Any]:
    """One audited image's numbers per map, JSON-ready: PSNR, SSIM, NMSE (accuracy), the largest
    worst-case ratio, the local worst case sigma_max of the Jacobian at x, the Gaussian-noise ratio and
    the quotient of the two ratios (perturbation), the error to the truth
    under the first k-space threat at its largest budget and under Gaussian e of that norm (with the
    unperturbed error, ||e|| / ||x|| and the threat's name), the contrast the
    targeted attack created and the perturbed truth's own change (``HallucinationAttack.best``), the verdict
    of the region bounds on its disc (faithfulness: supported, not determined or contradicted by the
    samples the map was given), the same
    for the targeted attack on the samples, whether every attack converged (``converged``) and each search
    (``converged_by``, keyed by the scorecard's measure); every k-space threat at its largest budget
    (``threats``); the small detail's recovered contrast and verdict; more samples' largest PSNR loss, verdict
    and PSNR per rate; generalisation's worst PSNR drop and the number of (image set, acquisition) cells
    below zero-filling's PSNR of the same cell; the stages completed and failed, and seconds. Missing stages
    give None."""
    image = result.settings["attacked_image"]
    maps: dict[str, dict[str, Any]] = {}
    for label in dict.fromkeys([ZERO_FILLED, *result.settings["maps"]]):
        row: dict[str, Any] = dict.fromkeys(ROW_KEYS)
        if result.accuracy is not None and label in result.accuracy.metrics.get(image, {}):
            row.update({k: result.accuracy.metrics[image][label][k] for k in ("psnr", "ssim", "nmse")})
        converged: dict[str, bool] = {}
        if result.perturbation is not None and label in result.perturbation:
            p = result.perturbation[label]
            row.update(worst_ratio=p.max_ratio, noise_ratio=p.max_noise_ratio,
                       noise_quotient=p.max_ratio / p.max_noise_ratio if p.max_noise_ratio > 0 else None,
                       local_ratio=None if p.worst.local is None else p.worst.local.sigma)
            converged["worst_case"] = bool(p.worst.converged)
        threats = {}
        for name, per in result.threats.items():  # every k-space threat at its largest budget
            if label in per:
                top = per[label].rows()[-1]
                threats[name] = {k: top[k] for k in ("error", "noise_error", "unperturbed", "e_over_x")}
                converged[f"threat:{name}"] = bool(per[label].converged)
        if threats:
            name, top = next(iter(threats.items()))  # the first, under the keys of earlier rows
            row.update(threats=threats, kspace_error=top["error"], kspace_noise_error=top["noise_error"],
                       kspace_unperturbed=top["unperturbed"], kspace_e_over_x=top["e_over_x"], kspace_threat=name)
        if result.hallucination_attack is not None and label in result.hallucination_attack:
            h = result.hallucination_attack[label]
            row.update(contrast=h.best.contrast, truth_contrast=h.best.input_contrast)
            converged["invented"] = bool(h.converged)
        if result.faithfulness is not None and label in result.faithfulness:
            row["faithfulness"] = result.faithfulness[label].verdict
        if result.kspace_hallucination_attack is not None and label in result.kspace_hallucination_attack:
            h = result.kspace_hallucination_attack[label]
            row.update(kspace_contrast=h.best.contrast, kspace_truth_contrast=h.best.input_contrast)
            converged["invented:kspace"] = bool(h.converged)
        row["converged"] = all(converged.values()) if converged else None  # the attacks
        if row["faithfulness"] is not None and result.faithfulness[label].converged is not None:
            converged["in_data"] = bool(result.faithfulness[label].converged)  # the region bounds' solves
        row["converged_by"] = converged or None
        if result.structural:
            sc = result.structural.get(label)
            if sc is not None:
                row.update(detail_contrast=sc.contrast, detail_recovered=sc.recovered)
            elif label == ZERO_FILLED:
                first_sc = next(iter(result.structural.values()))
                row.update(detail_contrast=first_sc.zero_filled_contrast,
                           detail_recovered=first_sc.zero_filled_recovered)
        if result.more_samples is not None and label in result.more_samples:
            ms = result.more_samples[label]
            nan = any(r["psnr"] != r["psnr"] for r in ms.results)  # a NaN PSNR makes no drop: it must show
            row.update(samples_loss=float("nan") if nan else max((d[2] for d in ms.drops), default=0.0),
                       samples_stable=ms.stable,
                       samples_psnr={f"{r['rate']:g}": r["psnr"] for r in ms.results})
        if result.generalisation is not None and label in result.generalisation:
            table = result.generalisation[label].table()
            drops = [r["psnr_drop"] for r in table if r["psnr_drop"] is not None]
            worst = float("nan") if any(d != d for d in drops) else max(drops, default=None)  # a NaN shows
            row.update(generalisation_drop=worst, generalisation_sets=len(table))
            if label != ZERO_FILLED and ZERO_FILLED in result.generalisation:
                zf = {(r["images"], r["acquisition"]): r["psnr"] for r in result.generalisation[ZERO_FILLED].table()}
                judged = [(r["psnr"], zf[k]) for r in table
                          if (k := (r["images"], r["acquisition"])) in zf and zf[k] == zf[k]]  # not NaN
                row["generalisation_below"] = sum(p < z for p, z in judged) if judged else None
        if any(v is not None for v in row.values()):
            maps[label] = row
    return {"image": image, "maps": maps, "completed": result.completed, "failures": dict(result.failures),
            "seconds": dict(result.seconds)}
