"""The stability battery: the stages of an audit, run on several reconstruction maps alike.

A map is given by its factory A -> f (an operator ``Fourier2D`` to a map y -> complex image), so
that stages which change the sampling (more samples, generalisation) can rebuild it. Every map
in one run gets the same images, masks, seeds and attack ``Budget`` (one stopping rule, one step
cap): their numbers compare like with like. Each stage returns result objects; rendering them
(figures, pages, JSON) is ``report``'s work. ``demo`` and ``audit`` are the two experiments the
command line runs; ``attack`` is the battery's perturbation stage for one map.
Antun et al., PNAS 2020; Bhadra et al., IEEE TMI 2021 (REFERENCE sections 5, 6, 8).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from .._validation import check_int, check_scalar
from .constrained import MeasurementAttack, measurement_attack
from .generalisation import Generalisation, generalisation
from .hallucination import HallucinationMaps, hallucination_maps
from .perturbation import RELATIVE_NORMS, NoiseControl, WorstCase, noise_control, worst_case
from .sampling import MoreSamples, more_samples
from .structural import StructuralChange, structural_change
from .targeted import HallucinationAttack, disc_grid, hallucination_attack

MapFactory = Callable[[Any], torch.nn.Module]
STAGES = ("accuracy", "perturbation", "hallucination-attack", "structural", "more-samples", "generalisation",
          "hallucination", "positive-control")
SAMPLE_RATES = (0.15, 0.2, 0.25, 0.3, 0.4)


def _say(log: Callable[[str], None] | None, text: str) -> None:
    if log is not None:
        log(text)


@dataclass(frozen=True)
class Budget:
    """The worst-case search every map of a comparison gets: sizes ||r|| = rho ||x|| for rho in
    ``norms``, and the fixed-norm ascent's step cap, stopping rule, restarts and steps
    (``stability.worst_case``); ``noise_trials`` Gaussian draws per size for the control."""

    norms: tuple[float, ...] = RELATIVE_NORMS
    steps: int = 100
    tol: float = 1e-3
    patience: int = 10
    restarts: int = 1
    lr: float = 0.5
    momentum: float = 0.5
    seed: int = 0
    noise_trials: int = 3

    def __post_init__(self) -> None:
        norms = tuple(check_scalar("norms", r, positive=True) for r in self.norms)
        if not norms or any(b <= a for a, b in zip(norms, norms[1:], strict=False)):
            raise ValueError(f"norms must be increasing positive numbers; got {list(self.norms)}")
        object.__setattr__(self, "norms", norms)
        check_int("steps", self.steps, minimum=1)
        check_int("patience", self.patience, minimum=1)
        check_int("restarts", self.restarts, minimum=0)
        check_int("noise_trials", self.noise_trials, minimum=1)
        check_scalar("tol", self.tol, nonnegative=True)
        check_scalar("lr", self.lr, positive=True)
        if not 0 <= check_scalar("momentum", self.momentum, nonnegative=True) < 1:
            raise ValueError(f"momentum must be in [0, 1); got {self.momentum}")

    def summary(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class Perturbation:
    """One map's worst case at the budget's sizes, the Gaussian control at the same sizes, and
    the unperturbed error ||f(A x) - x|| / ||x||."""

    worst: WorstCase
    noise: NoiseControl
    error: float
    config: dict | None = None  # the map's configuration, when it has one (an MRIFirenet's)

    @property
    def max_ratio(self) -> float:
        return self.worst.max_ratio

    @property
    def max_noise_ratio(self) -> float:
        return max(s.ratio for s in self.noise.stages)

    def summary(self) -> dict[str, Any]:
        return {**self.worst.summary(), "noise_control": self.noise.summary(), "max_ratio": self.max_ratio,
                "max_noise_ratio": self.max_noise_ratio, "error": self.error, "config": self.config}


@dataclass(frozen=True, eq=False)
class Accuracy:
    """Per image: its acquisition, and every map's reconstruction and metrics (zero-filled included)."""

    images: dict[str, torch.Tensor]
    recons: dict[str, dict[str, torch.Tensor]]
    metrics: dict[str, dict[str, dict[str, float]]]
    seconds: dict[str, dict[str, float]]

    def summary(self) -> dict[str, Any]:
        return {img: {m: {**v, "seconds": self.seconds[img][m]} for m, v in per.items()}
                for img, per in self.metrics.items()}


@dataclass(eq=False)
class BatteryResult:
    """The stages run on (maps, images): each stage's results per map, and the settings."""

    settings: dict[str, Any]
    accuracy: Accuracy | None = None
    perturbation: dict[str, Perturbation] | None = None
    hallucination_attack: dict[str, HallucinationAttack] | None = None
    structural: dict[str, StructuralChange] | None = None
    detail: tuple[torch.Tensor, torch.Tensor] | None = None  # the image with the detail, and its support
    more_samples: dict[str, MoreSamples] | None = None
    generalisation: dict[str, Generalisation] | None = None
    hallucination: dict[str, HallucinationMaps] | None = None
    positive_control: Any = None  # stability.control.ControlResult: the attack on a map unstable by theorem
    seconds: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # stage -> "ErrorType: message" of a stage that failed
    map_seconds: dict[str, dict[str, float]] = field(default_factory=dict)  # stage -> map -> seconds

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
        for name in ("perturbation", "hallucination_attack", "structural", "more_samples", "generalisation",
                     "hallucination"):
            part = getattr(self, name)
            if part is not None:
                out[name] = {m: r.summary() for m, r in part.items()}
        if self.positive_control is not None:
            out["positive_control"] = self.positive_control.summary()
        return out


def _acquire(x: torch.Tensor, mask: str | torch.Tensor, rate: float, seed: int, noise: float = 0.0):
    from ..acquisition import acquire

    return acquire(x, mask=mask, rate=rate, seed=seed, noise=noise)


def accuracy(makers: Mapping[str, MapFactory], images: Mapping[str, torch.Tensor], *,
             mask: str | torch.Tensor = "gaussian", rate: float = 0.25, seed: int = 0,
             noise: float = 0.0) -> Accuracy:
    """Every map's reconstruction of every image from the same samples, and the zero-filled image:
    PSNR, SSIM, NMSE (fastMRI conventions, ``metrics.evaluate``) and seconds."""
    from .. import metrics

    recons, mets, secs, truths = {}, {}, {}, {}
    for name, x in images.items():
        acq = _acquire(x, mask, rate, seed, noise)
        target = acq.target.abs()
        truths[name], recons[name], mets[name], secs[name] = target, {}, {}, {}
        for label, make in {"zero-filled": None, **makers}.items():
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
    return Accuracy(truths, recons, mets, secs)


def perturbation(f: torch.nn.Module, A: Any, x: torch.Tensor, budget: Budget = Budget(), *,
                 progress: Callable[[int, int], None] | None = None) -> Perturbation:
    """The worst case of f at ||r|| = rho ||x|| for the budget's rho, with its noise control."""
    xn = float(torch.linalg.vector_norm(x))
    norms = [rho * xn for rho in budget.norms]
    wc = worst_case(f, A, x, norms=norms, steps=budget.steps, tol=budget.tol, patience=budget.patience,
                    restarts=budget.restarts, lr=budget.lr, momentum=budget.momentum, seed=budget.seed,
                    progress=progress)
    nc = noise_control(f, A, x, norms, seed=budget.seed, trials=budget.noise_trials)
    error = float(torch.linalg.vector_norm(wc.recon - wc.x)) / xn
    return Perturbation(wc, nc, error, getattr(f, "config", None))


def perturbations(makers: Mapping[str, MapFactory], A: Any, x: torch.Tensor, budget: Budget = Budget(),
                  *, log: Callable[[str], None] | None = None,
                  seconds: dict[str, float] | None = None) -> dict[str, Perturbation]:
    """``perturbation`` for every map, with one budget (each map's wall seconds into ``seconds``)."""
    out = {}
    for label, make in makers.items():
        _say(log, f"      attacking {label} ...")
        t0 = time.perf_counter()
        out[label] = perturbation(make(A), A, x, budget)
        if seconds is not None:
            seconds[label] = time.perf_counter() - t0
    return out


def lesion_regions(shape: Sequence[int]) -> list[torch.Tensor]:
    """The places the targeted attack screens: 3 x 3 discs of radius max(2, min(H, W) / 40) on the
    middle half of the image (a lesion of a few millimetres at typical MRI resolutions)."""
    return disc_grid(shape, max(2.0, min(shape) / 40), per_side=3)


def hallucination_attacks(makers: Mapping[str, MapFactory], A: Any, x: torch.Tensor, budget: Budget = Budget(),
                          *, log: Callable[[str], None] | None = None,
                          seconds: dict[str, float] | None = None) -> dict[str, HallucinationAttack]:
    """The targeted hallucination attack of every map at the budget's smallest size, on the grid of
    ``lesion_regions`` (screened, the best attacked in full), with the budget's stopping rule."""
    rho = budget.norms[0] * float(torch.linalg.vector_norm(x))
    regions = lesion_regions(tuple(x.shape))
    out = {}
    for label, make in makers.items():
        _say(log, f"      hallucination attack on {label} ...")
        t0 = time.perf_counter()
        out[label] = hallucination_attack(make(A), A, x, regions, [rho], steps=budget.steps, tol=budget.tol,
                                          patience=budget.patience, restarts=max(budget.restarts, 1), lr=budget.lr,
                                          momentum=budget.momentum, noise_trials=budget.noise_trials,
                                          seed=budget.seed)
        if seconds is not None:
            seconds[label] = time.perf_counter() - t0
    return out


def structural_changes(makers: Mapping[str, MapFactory], A: Any, x: torch.Tensor, xd: torch.Tensor,
                       support: torch.Tensor) -> dict[str, StructuralChange]:
    """Whether each map recovers the detail xd - x (``stability.structural_change``)."""
    return {label: structural_change(make(A), A, x, xd, support) for label, make in makers.items()}


def sample_sweeps(makers: Mapping[str, MapFactory], x: torch.Tensor, *, mask: str = "gaussian",
                  rates: Sequence[float] = SAMPLE_RATES, seed: int = 0) -> dict[str, MoreSamples]:
    """Each map on nested masks at increasing rates (``stability.more_samples``)."""
    return {label: more_samples(make, x, kind=mask, rates=rates, seed=seed) for label, make in makers.items()}


def generalisations(makers: Mapping[str, MapFactory], images: Sequence[torch.Tensor], *, mask: str = "gaussian",
                    rate: float = 0.25, seed: int = 0, noise: float = 0.0) -> dict[str, Generalisation]:
    """Each map off its images (Shepp-Logan, the photograph) and off its acquisition (radial, a lower
    rate, noise), against the given images at the given mask and rate."""
    from .. import data

    shape = tuple(images[0].shape)
    others = {"shepp-logan": [data.shepp_logan(shape)], "camera": [data.camera(shape)]}
    # a given image is the reference set: the same picture again would only repeat its row
    others = {k: v for k, v in others.items()
              if not any(x.shape == v[0].shape and torch.equal(x.to(torch.float64), v[0]) for x in images)}
    acqs = {"radial": {"mask": "radial", "rate": rate, "seed": seed},
            "lower rate": {"mask": mask, "rate": round(rate * 0.6, 3), "seed": seed},
            f"noise {noise + 0.01:g}": {"mask": mask, "rate": rate, "noise": noise + 0.01, "seed": seed}}
    return {label: generalisation(make, list(images), others=others, acquisitions=acqs,
                                  baseline={"mask": mask, "rate": rate, "seed": seed, "noise": noise})
            for label, make in makers.items()}


def hallucinations(makers: Mapping[str, MapFactory], A: Any, x: torch.Tensor) -> dict[str, HallucinationMaps]:
    """Error, measurement-space and null-space maps of each map (``stability.hallucination_maps``)."""
    return {label: hallucination_maps(make(A), A, x) for label, make in makers.items()}


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
    budget: Budget = Budget(),
    detail: tuple[torch.Tensor, torch.Tensor] | None = None,
    log: Callable[[str], None] | None = None,
    keep_going: bool = False,
) -> BatteryResult:
    """The chosen ``stages`` on every map; the single-image stages use the first image.

    ``mask``: a kind drawn at ``rate`` with ``seed``, or a boolean (H, W) tensor (then the stages that
    draw masks at other rates, more-samples and generalisation, are refused). ``noise``: the standard
    deviation of complex Gaussian noise per sample in the accuracy and generalisation stages (the
    attacks perturb noiseless samples A x). With ``keep_going`` a stage that raises is recorded in
    ``failures`` (its type and message) and the next stage runs; KeyboardInterrupt always stops.

    "positive-control" checks the attack itself, with the same budget, on the shipped control network
    (unstable by theorem, ``stability.control``) beside the reference FIRENET and zero-filling; it does
    not use ``makers`` or ``images``. ``detail`` = (x with a detail, its support) for the structural stage (default: a small
    ellipse, ``data.insert_detail``, in the first image).
    """
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"stages must be among {STAGES}; got {unknown}")
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
    first = next(iter(images))
    acq = _acquire(xs[0], mask, rate, seed)
    A, x = acq.operator, acq.target
    settings = {"images": list(images), "shape": list(shape), "mask": "custom" if custom else mask,
                "rate": acq.rate if custom else rate, "seed": seed, "noise": noise, "maps": list(makers),
                "stages": [s for s in STAGES if s in stages], "budget": budget.summary(), "attacked_image": first}
    result = BatteryResult(settings)
    steps = settings["stages"]
    for i, stage in enumerate(steps, start=1):
        _say(log, f"[{i}/{len(steps)}] {stage} ...")
        t0 = time.perf_counter()
        try:
            _stage(result, stage, makers, images, xs, A, x, mask=mask, rate=rate, seed=seed, noise=noise,
                   budget=budget, detail=detail, log=log)
        except Exception as exc:  # recorded; the next stage still runs
            if not keep_going:
                raise
            result.failures[stage] = f"{type(exc).__name__}: {exc}"
            _say(log, f"      {stage} FAILED: {result.failures[stage]}")
        result.seconds[stage] = time.perf_counter() - t0
    return result


def _stage(result: BatteryResult, stage: str, makers, images, xs, A, x, *, mask, rate, seed, noise, budget,
           detail, log) -> None:
    """Run one stage of ``run`` into ``result``."""
    from .. import data

    if stage == "accuracy":
        result.accuracy = accuracy(makers, images, mask=mask, rate=rate, seed=seed, noise=noise)
    elif stage == "perturbation":
        result.perturbation = perturbations(makers, A, x, budget, log=log,
                                            seconds=result.map_seconds.setdefault(stage, {}))
    elif stage == "hallucination-attack":
        result.hallucination_attack = hallucination_attacks(makers, A, x, budget, log=log,
                                                            seconds=result.map_seconds.setdefault(stage, {}))
    elif stage == "structural":
        xd, support = detail if detail is not None else data.insert_detail(x.real, "ellipse")
        result.detail = (xd, support)
        result.structural = structural_changes(makers, A, x.real, xd, support)
    elif stage == "more-samples":
        result.more_samples = sample_sweeps(makers, x.real, mask=mask, seed=seed)
    elif stage == "generalisation":
        result.generalisation = generalisations(makers, xs, mask=mask, rate=rate, seed=seed, noise=noise)
    elif stage == "hallucination":
        result.hallucination = hallucinations(makers, A, x)
    elif stage == "positive-control":
        from .control import control_stage

        result.positive_control = control_stage(budget=budget, log=log)


ROW_KEYS = ("psnr", "ssim", "nmse", "worst_ratio", "noise_ratio", "noise_quotient", "contrast", "truth_contrast",
            "converged")


def image_row(result: BatteryResult) -> dict[str, Any]:
    """One audited image's numbers per map, JSON-ready: PSNR, SSIM, NMSE (accuracy), the largest
    worst-case ratio and Gaussian-noise ratio and their quotient (perturbation), the contrast the
    targeted attack created and the perturbed truth's own change (hallucination attack), whether every
    attack converged; the stages completed and failed, and seconds. Missing stages give None."""
    image = result.settings["attacked_image"]
    maps: dict[str, dict[str, Any]] = {}
    for label in dict.fromkeys(["zero-filled", *result.settings["maps"]]):
        row: dict[str, Any] = dict.fromkeys(ROW_KEYS)
        if result.accuracy is not None and label in result.accuracy.metrics.get(image, {}):
            row.update({k: result.accuracy.metrics[image][label][k] for k in ("psnr", "ssim", "nmse")})
        converged = []
        if result.perturbation is not None and label in result.perturbation:
            p = result.perturbation[label]
            row.update(worst_ratio=p.max_ratio, noise_ratio=p.max_noise_ratio,
                       noise_quotient=p.max_ratio / p.max_noise_ratio if p.max_noise_ratio > 0 else None)
            converged.append(bool(p.worst.converged))
        if result.hallucination_attack is not None and label in result.hallucination_attack:
            h = result.hallucination_attack[label]
            best = max(h.attacks, key=lambda a: a.contrast)
            row.update(contrast=best.contrast, truth_contrast=best.input_contrast)
            converged.append(bool(h.converged))
        row["converged"] = all(converged) if converged else None
        if any(v is not None for v in row.values()):
            maps[label] = row
    return {"image": image, "maps": maps, "completed": result.completed, "failures": dict(result.failures),
            "seconds": dict(result.seconds)}


UNSTABLE_FACTOR = 2.0  # a worst case more than this many times zero-filling's (exactly 1) counts as unstable


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


def verdicts(perts: Mapping[str, Perturbation], *, control: str = "zero-filled",
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
        factor = p.max_ratio / ref
        out[label] = Verdict(label, factor > threshold, factor, threshold, ref, s.ratio, c.ratio, s.r_rel,
                             s.out_diff / xn, s.error, s.error_perturbed, p.error, bool(p.worst.converged))
    return out


# --- the experiments of the command line -------------------------------------------------------

REFERENCE = "FIRENET (reference)"  # the label of ``nets.mri.REFERENCE_FIRENET`` on pages and records


def reference_makers() -> dict[str, MapFactory]:
    """The reference FIRENET (``nets.mri.REFERENCE_FIRENET``: fixed depth, what attacks differentiate),
    the shipped U-Net and deep cascade, and zero-filling (the negative control: worst case exactly 1)."""
    from ..nets.mri import REFERENCE_FIRENET, reconstruction_map

    return {REFERENCE: lambda F: reconstruction_map("firenet", F, **REFERENCE_FIRENET),
            "U-Net": lambda F: reconstruction_map("unet", F),
            "deep cascade": lambda F: reconstruction_map("cascade", F),
            "zero-filled": lambda F: reconstruction_map("zero-filled", F)}


@dataclass(eq=False)
class DemoResult:
    """The impossibility table (quick), reconstructions, the battery's attack, structural and
    hallucination stages on the shipped networks with FIRENET and zero-filling, and the positive control."""

    table: Any
    reconstructions: Accuracy
    battery: BatteryResult
    structural: BatteryResult
    seconds: dict[str, float]
    control: BatteryResult | None = None


def demo(*, progress: bool = True, log: Callable[[str], None] | None = None,
         budget: Budget = Budget()) -> DemoResult:
    """The whole story on built-in images: the table (quick), Shepp-Logan and the photograph at
    256x256 reconstructed from a Gaussian 25% mask, the attacks and hallucination maps on a
    held-out 128x128 phantom (the networks' training size), text inserted in Shepp-Logan, and the
    positive control (64x64) attacked with the same budget."""
    from .. import data
    from ..barriers import table
    from ..nets.mri import reconstruction_map

    seconds = {}
    makers = reference_makers()
    methods = {k: v for k, v in makers.items() if k != "zero-filled"}
    # the reconstructions a user gets: FIRENET with its defaults (depth by its stopping rules)
    defaults = {"FIRENET": lambda F: reconstruction_map("firenet", F),
                **{k: v for k, v in methods.items() if k != REFERENCE}}
    t0 = time.perf_counter()
    _say(log, "[1/5] impossibility table (quick: reduced LISTA training) ...")
    tab = table.run(quick=True, progress=progress)
    seconds["table"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _say(log, "[2/5] reconstructions of Shepp-Logan and the photograph (256x256, 25%) ...")
    recs = accuracy(defaults, {"Shepp-Logan": data.shepp_logan(256), "photograph": data.camera(256)})
    seconds["reconstruction"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _say(log, "[3/5] worst-case perturbations, hallucination attacks and maps (held-out phantom, 128x128) ...")
    bat = run(makers, {"ellipses:20000": data.ellipses(128, seed=20_000)},
              stages=("perturbation", "hallucination-attack", "hallucination"), budget=budget, log=log)
    seconds["battery"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _say(log, "[4/5] a small structural change (text in Shepp-Logan) ...")
    x = data.shepp_logan(256)
    detail = data.insert_detail(x, "text", text="CAN U SEE IT", centre=(150, 128), size=14, intensity=0.15)
    struct = run(methods, {"Shepp-Logan": x}, stages=("structural",), detail=detail)
    seconds["structural"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _say(log, "[5/5] the positive control: a network unstable by theorem, attacked with the same budget ...")
    ctrl = run(methods, {"Shepp-Logan": x}, stages=("positive-control",), budget=budget, log=log)
    seconds["positive-control"] = time.perf_counter() - t0
    return DemoResult(tab, recs, bat, struct, seconds, ctrl)


def audit(makers: Mapping[str, MapFactory], images: Mapping[str, torch.Tensor], *,
          mask: str | torch.Tensor = "gaussian", rate: float = 0.25, seed: int = 0, noise: float = 0.0,
          stages: Sequence[str] = STAGES, budget: Budget = Budget(), keep_going: bool = True,
          log: Callable[[str], None] | None = None) -> BatteryResult:
    """The battery on the given maps (a user's network first) with FIRENET at the reference depth and
    zero-filling beside them; a stage that fails is recorded and the others run (``keep_going``)."""
    ref = reference_makers()
    both = {**makers, REFERENCE: ref[REFERENCE], "zero-filled": ref["zero-filled"]}
    return run(both, images, stages=stages, mask=mask, rate=rate, seed=seed, noise=noise, budget=budget, log=log,
               keep_going=keep_going)


@dataclass(frozen=True, eq=False)
class AttackResult:
    """``firenets attack``: the map's worst case and noise control, hallucination maps unperturbed and
    under its worst perturbation, and optionally the measurement-domain attack and other maps
    attacked with the same budget at the same sizes."""

    perturbation: Perturbation
    maps: HallucinationMaps
    maps_worst: HallucinationMaps
    measurement: MeasurementAttack | None
    compared: dict[str, Perturbation]

    @property
    def worst(self) -> WorstCase:
        return self.perturbation.worst


def attack(f: torch.nn.Module, A: Any, x: torch.Tensor, *, budget: Budget | None = Budget(),
           penalised: dict[str, Any] | None = None, measurement: Sequence[float] = (),
           measurement_steps: int = 100, measurement_rule: Mapping[str, float] | None = None,
           compare: Mapping[str, MapFactory] | None = None,
           progress: Callable[[int, int], None] | None = None) -> AttackResult:
    """The perturbation stage for one map: with ``budget`` (fixed sizes, the default) or with
    ``penalised`` settings of the paper's penalised ascent (``stability.worst_case`` arguments lam,
    lr, momentum, records, seed), then the noise control at the sizes found. ``compare`` maps are
    attacked the same way with the same settings. ``measurement_rule``: tol and patience of the
    measurement-domain attack (default: the budget's)."""
    if (budget is None) == (penalised is None):
        raise ValueError("give exactly one of budget (fixed sizes) and penalised (the penalised ascent)")
    if measurement_rule is None:
        b = budget or Budget()
        measurement_rule = {"tol": b.tol, "patience": b.patience}
    def penalised_run(g: torch.nn.Module) -> Perturbation:
        wc = worst_case(g, A, x, progress=progress, **penalised)
        nc = noise_control(g, A, x, [s.r_norm for s in wc.stages], seed=penalised.get("seed", 0),
                           trials=Budget().noise_trials)
        xn = float(torch.linalg.vector_norm(wc.x))
        return Perturbation(wc, nc, float(torch.linalg.vector_norm(wc.recon - wc.x)) / xn, getattr(g, "config", None))

    # every compared map gets the attacked map's method and settings: the fixed-norm budget, or the
    # same penalised ascent (whose sizes then differ from map to map, as that ascent's do)
    run_one = (lambda g: perturbation(g, A, x, budget, progress=progress)) if budget is not None else penalised_run
    pert = run_one(f)
    wc = pert.worst
    maps = hallucination_maps(f, A, x)
    worst = max(wc.stages, key=lambda s: s.ratio)
    maps_worst = hallucination_maps(f, A, x + worst.r)
    ma = None
    if measurement:
        seed = budget.seed if budget is not None else penalised.get("seed", 0)
        ma = measurement_attack(f, A, x, rels=[0.0, *measurement], steps=measurement_steps, seed=seed,
                                progress=progress, **measurement_rule)
    compared = {label: run_one(make(A)) for label, make in (compare or {}).items()}
    return AttackResult(pert, maps, maps_worst, ma, compared)
