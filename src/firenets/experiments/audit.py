"""``fn.audit``: the stability battery on a user's network in one call, with the reference FIRENET and
zero-filling beside it under one attack budget; the result carries its verdicts, rows and page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch

from .. import data
from .._progress import Progress, callback
from .._validation import ArgumentError, as_tensor, check_int, check_scalar, check_seed
from ..acquisition import check_maps, estimate_maps, sampling_mask
from ..coils import birdcage, rss
from ..nets.adapter import INPUT_HELP, INPUTS, OUTPUTS, NetworkMap, parameter_dtype
from ..operators import ifft2c
from ..report import pages, sentences
from ..stability.budget import Budget, check_norms
from .maps import BUILT_IN, REFERENCE, ZERO_FILLED, MapFactory, reference_makers
from .scorecard import Scorecard, battery_scorecard
from .stages import (
    STAGES,
    BatteryResult,
    acquisitions,
    check_sampling,
    check_stages,
    check_threats,
    image_row,
    run,
)
from .verdicts import Verdict

__all__ = ["ACQUISITION_KEYS", "AuditResult", "Scan", "Setup", "audit", "coil_acquisition", "default_threats", "device_of",
           "load_image", "named_images", "probe", "run_setup", "sampling", "setup"]

ACQUISITION_KEYS = ("mask", "rate", "acceleration", "center_fraction", "seed", "noise", "coils", "maps")
AUDIT_THREATS = ("image", "kspace")  # the threat models an audit runs by default (with coils: ``default_threats``)


def default_threats(*, coils: bool, measured: bool) -> tuple[str, ...]:
    """The threat models an audit runs when none are asked for: image and kspace, the per-coil threat
    where there are coils, and the full-kspace threat where a file's fully sampled k-space is audited."""
    return AUDIT_THREATS + (("coil",) if coils else ()) + (("full-kspace",) if measured else ())


OBJECT = 0.05  # the object: pixels above this fraction of the peak magnitude (above a scan's noise floor)


@dataclass(eq=False)
class AuditResult(BatteryResult):
    """The battery of one audit: every stage's results for the user's map (``subject``), the reference
    FIRENET and zero-filling, the verdicts, the settings (model, input convention, device, dtype,
    acquisition, budget), seconds and failures. ``write(out)`` renders its page."""

    subject: str = "model"

    @property
    def verdict(self) -> Verdict | None:
        """The subject's perturbation verdict (None when that stage did not run or failed)."""
        return self.verdicts.get(self.subject)

    def rows(self) -> list[dict[str, Any]]:
        """One row per attacked image (``experiments.stages.image_row``): per map the accuracy, worst case,
        noise ratio, targeted-attack contrast and convergence."""
        return [image_row(self)]

    def summary(self) -> dict[str, Any]:
        return {"subject": self.subject, **super().summary()}

    def text(self) -> list[str]:
        """The subject's results in sentences: accuracy, the perturbation verdict and local worst case, the
        k-space threats, the targeted attack, and which stages completed (the page's summary, without
        its figures)."""
        lines = []
        if self.accuracy is not None:
            lines += [f"{self.subject} on {img}: PSNR {per[self.subject]['psnr']:.2f} dB, SSIM "
                      f"{per[self.subject]['ssim']:.3f} (zero-filled {per[ZERO_FILLED]['psnr']:.2f} dB)."
                      for img, per in self.accuracy.metrics.items()]
        if self.verdict is not None:
            lines.append(sentences.verdict_sentence(self.verdict))
        if self.perturbation is not None and self.subject in self.perturbation:
            local = sentences.local_sentence(self.subject, self.perturbation[self.subject].worst)
            lines += [local] if local else []
        lines += [sentences.threat_sentence(self.subject, per[self.subject]) for per in self.threats.values()
                  if self.subject in per]
        for attacks in (self.hallucination_attack, self.kspace_hallucination_attack):
            if attacks is not None and self.subject in attacks:
                h = attacks[self.subject]
                lines.append(sentences.lesion_sentence(self.subject, h.best, float(h.x.abs().max())))
        failed = [f"{stage} FAILED ({error})" for stage, error in self.failures.items()]
        lines.append(f"{len(self.completed)} of {len(self.settings['stages'])} stages asked for completed"
                     + (": " + "; ".join(failed) if failed else "."))
        return lines

    def scorecard(self) -> Scorecard:
        """The subject, the reference FIRENET and zero-filling (and the control network) on every measure
        that ran (``experiments.scorecard``)."""
        return battery_scorecard(self)

    def write(self, out: str | Path, *, seconds: float | None = None) -> pages.Page:
        """Write the audit page into the existing directory ``out``, its scorecard first (``index.html`` last)."""
        return pages.audit_page(self, out, seconds=seconds, card=self.scorecard)


def device_of(device: str | torch.device | None) -> torch.device:
    """The torch device named (default: cuda when available, else cpu); CUDA asked for where there is none
    is refused."""
    name = str(device) if device is not None else ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ArgumentError("device", f"must be cpu, cuda or cuda:N; got {name!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ArgumentError("device", f"{name}: CUDA is not available on this machine (torch {torch.__version__}, "
                                      f"built {'with' if torch.version.cuda else 'without'} CUDA)")
    return dev


def sampling(acquisition: Mapping[str, Any] | None) -> dict[str, Any]:
    """mask, rate, center_fraction, seed, noise, coils and maps of an ``acquisition`` dict (keys
    ``ACQUISITION_KEYS``; ``acceleration`` is 1 / rate): defaults gaussian for one coil and cartesian
    (nested columns, a fully sampled centre) with coils, 0.25, None, 0, 0, no coils."""
    acq = dict(acquisition or {})
    unknown = sorted(set(acq) - set(ACQUISITION_KEYS))
    if unknown:
        raise ArgumentError("acquisition", f"takes the keys {', '.join(ACQUISITION_KEYS)}; got {', '.join(unknown)}")
    if "rate" in acq and "acceleration" in acq:
        raise ArgumentError("acquisition", "takes rate or acceleration, not both")
    if "acceleration" in acq:
        a = check_scalar("acceleration", acq.pop("acceleration"), positive=True)
        if a < 1:
            raise ArgumentError("acceleration", f"must be at least 1; got {a:g}")
        acq["rate"] = 1 / a
    coils = acq.get("coils")
    if coils is not None:
        coils = check_int("coils", coils, minimum=1)
    maps = acq.get("maps")
    if maps is not None:
        if coils is not None:
            raise ArgumentError("acquisition", "takes coils (simulated maps) or maps, not both")
        maps = as_tensor("maps", maps, dtype=torch.complex128)
    mask = acq.get("mask")
    if mask is None:
        mask = None if coils is None and maps is None else "cartesian"  # None: chosen once the images are known
    out = {"mask": mask, "rate": check_scalar("rate", acq.get("rate", 0.25), positive=True),
           "center_fraction": None if acq.get("center_fraction") is None
           else check_scalar("center_fraction", acq["center_fraction"], positive=True),
           "seed": check_seed("seed", acq.get("seed", 0)),
           "noise": check_scalar("noise", acq.get("noise", 0.0), nonnegative=True), "coils": coils, "maps": maps}
    if out["rate"] > 1:
        raise ArgumentError("rate", f"must be in (0, 1]; got {out['rate']:g}")
    return out


@dataclass(frozen=True, eq=False)
class Scan:
    """A measured multi-coil acquisition: its fully sampled k-space (coils, H, W) and the file's own
    reconstruction (fastMRI's ``reconstruction_rss``, centre-cropped) when it has one."""

    kspace: torch.Tensor
    reference: torch.Tensor | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.kspace.shape[1:])


def coil_acquisition(acq: Mapping[str, Any], images: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict, dict]:
    """(images, the keywords of ``stages.run`` for them, settings: where the coil maps came from): for a multi-coil ``Scan``, the complex
    coil-combined image sum_c conj(S_c) F^* k_c with maps given or estimated by ESPIRiT from the mask's
    fully sampled centre (``acquisition.estimate_maps``), its k-space sampled as measured; with ``coils``,
    the birdcage maps (``coils.birdcage``) for the images' shape; with ``maps``, those (checked to cover
    the object). Single-coil: the images as given and the mask kind gaussian when none was asked for."""
    scans = {n: v for n, v in images.items() if isinstance(v, Scan)}
    kw = {k: acq[k] for k in ("mask", "rate", "center_fraction", "seed", "noise")}
    maps, coils = acq.get("maps"), acq.get("coils")
    if scans and kw["mask"] is None:
        kw["mask"] = "cartesian"
    if not scans and maps is None and coils is None:
        kw["mask"] = kw["mask"] or "gaussian"
        return dict(images), kw, {}
    shape = next(iter(images.values())).shape
    out: dict[str, torch.Tensor] = dict(images)
    objects = {n: v.abs() for n, v in images.items() if not isinstance(v, Scan)}  # what the maps must cover
    origin = "given"
    if scans:
        if len(images) > 1:
            raise ArgumentError("images", f"a multi-coil scan ({next(iter(scans))}) is audited alone, with its own "
                                          "coil maps; audit several as a dataset (--per-image, --slices)")
        if coils is not None:
            raise ArgumentError("coils", "simulates coils for images; a multi-coil scan has its own")
        (name, scan), = scans.items()
        k = scan.kspace
        if not bool(torch.isfinite(k).all()):
            raise ArgumentError("images", f"{name}: the k-space holds {int((~torch.isfinite(k)).sum())} NaN or Inf "
                                          "entries")
        empty = int((k.abs().sum(dim=(0, 1)) == 0).sum())
        if empty:
            raise ArgumentError("images", f"{name}: {empty} k-space columns hold only zeros, so the file is already "
                                          "undersampled (as fastMRI's test and challenge files are); the audit "
                                          "undersamples a fully sampled scan retrospectively, and the full-kspace "
                                          "threat needs the full k-space")
        if maps is not None and maps.shape[0] != k.shape[0]:
            raise ArgumentError("maps", f"hold {maps.shape[0]} coils but {name}'s k-space has {k.shape[0]}")
        if maps is None:
            m, _ = sampling_mask(kw["mask"], tuple(k.shape[1:]), rate=kw["rate"], seed=kw["seed"],
                                 center_fraction=kw["center_fraction"], what=name)
            origin = "ESPIRiT"
            try:
                maps, _ = estimate_maps(k, m)
            except ValueError as exc:
                raise ArgumentError("mask", f"the coil maps of {name} are estimated from the mask's fully sampled "
                                            f"centre: {exc}") from None
        maps = check_maps("maps", maps, tuple(k.shape[1:]))
        coil_images = ifft2c(k)
        out[name] = (maps.conj() * coil_images).sum(0)  # SENSE's coil combination of the full k-space
        objects[name] = rss(coil_images)
        kw["kspace"] = {name: k}
        if scan.reference is not None:
            kw["references"] = {name: scan.reference.to(torch.float64)}
    elif coils is not None:
        maps, origin = birdcage(coils, shape), "birdcage"
    maps = check_maps("maps", maps, tuple(shape))
    power = (maps.abs() ** 2).sum(0)
    for name, x in objects.items():
        if tuple(x.shape) != tuple(shape):
            raise ArgumentError("images", f"{name} is {tuple(x.shape)}; the coil maps are {tuple(shape)}")
        bare = (power < 0.5) & (x > OBJECT * float(x.max()))
        if bool(bare.any()):
            raise ArgumentError("maps", f"do not cover {name}: {int(bare.sum())} pixels of the object (above "
                                        f"{OBJECT:.0%} of its peak magnitude; a scan's RSS) have sum_c |S_c|^2 = 0")
    kw["maps"] = maps
    return out, kw, {"coil_maps": origin}


def load_image(source: str | Path, *, slice: int | None = None, size: int | None = None,
               phase: int | None = None) -> tuple[str, torch.Tensor | Scan]:
    """(the source's name, its image): a file's with its phase when it holds one (``data.load``), a
    multi-coil file's k-space as a ``Scan``, a built-in ``size`` wide with the smooth phase of seed ``phase``
    (``data.smooth_phase``) when given."""
    file = Path(source).exists()
    loaded = data.load(source, slice=slice, shape=size if not file else None)
    if loaded.kspace is not None and loaded.kspace.ndim == 3:  # multi-coil: combined once the maps are known
        return loaded.source, Scan(loaded.kspace, loaded.reference)
    image = loaded.with_phase
    if phase is not None and not file:
        image = image * data.smooth_phase(image.shape, seed=phase)
    return loaded.source, image


def named_images(images: Any, *, size: int | None = None, phase: int | None = None) -> dict[str, torch.Tensor | Scan]:
    """{name: (H, W) image} from a tensor ("image"), a path or built-in name (``data.load``: a file with a
    phase gives its complex image, built-ins are ``size`` wide and, with ``phase`` (a seed), multiplied by
    ``data.smooth_phase``), or a list or dict of them (list entries named by their source, or "image i")."""
    if isinstance(images, (torch.Tensor, str, Path)):
        images = [images]
    if isinstance(images, Mapping):
        items = list(images.items())
    elif isinstance(images, Sequence) and images:
        items = [(None, v) for v in images]
    else:
        raise ArgumentError("images", f"must be a tensor, a path or built-in name, or a non-empty list or dict of "
                                      f"them; got {type(images).__name__}")
    out: dict[str, torch.Tensor] = {}
    for i, (name, value) in enumerate(items):
        if isinstance(value, (str, Path)):
            source, value = load_image(value, size=size, phase=phase)
            name = name or source
        elif not isinstance(value, (torch.Tensor, Scan)):
            raise ArgumentError("images", f"entry {name or i} must be a tensor, a path or a built-in name; got "
                                          f"{type(value).__name__}")
        name = str(name) if name is not None else ("image" if len(items) == 1 else f"image {i}")
        if name in out:
            raise ArgumentError("images", f"{name!r} is given twice")
        out[name] = value
    return out


def probe(f: Any, acq: Any, *, input: str, label: str) -> None:
    """Call the map once on one acquisition's samples: a model that does not take what ``input`` hands it
    is named, with the reason, before any stage runs."""
    try:
        with torch.no_grad():
            f(acq.y)
    except Exception as exc:
        hint = ""
        maps = getattr(acq.operator, "maps", None)
        if input == "fastmri" and "NaN" in str(exc):
            hint = ("; fastMRI's VarNet divides each channel of its low-frequency image by its standard deviation, "
                    "and the imaginary part of a real image whose centre is sampled symmetrically is 0 (the "
                    "attacks' noiseless samples keep it 0): give a 2-D mask such as gaussian, the default")
        elif maps is not None and input in ("kspace", "fastmri", "deepinv"):
            hint = (f"; the samples have {maps.shape[0]} coils (the file's, --coils or the maps'): a model built for "
                    "another coil count cannot take them")
        raise ArgumentError("model", f"{label} fails on {INPUT_HELP[input]} (input {input!r}): "
                                     f"{type(exc).__name__}: {exc}{hint}") from None


@dataclass(frozen=True, eq=False)
class Setup:
    """A user's model ready to audit: its label, the maps (it, the reference FIRENET, zero-filling), the
    checked stages, budget and acquisition, and what the settings record about the model."""

    label: str
    makers: dict[str, MapFactory]
    input: str
    stages: tuple[str, ...]
    budget: Budget
    acquisition: dict[str, Any]
    about: dict[str, Any]
    threats: tuple[str, ...] | None = None  # None: ``default_threats`` of the acquisition
    kspace_norms: tuple[float, ...] | None = None


def setup(model: Any, *, name: str | None = None, input: str = "adjoint", output: str = "auto",
          acquisition: Mapping[str, Any] | None = None, stages: Sequence[str] = STAGES,
          budget: Budget | None = None, device: str | torch.device | None = None,
          dtype: torch.dtype | None = None, threats: Sequence[str] | None = None,
          kspace_norms: Sequence[float] | None = None) -> Setup:
    """Check the audit's arguments (``audit``), move the model to its device and dtype, and build the maps."""
    if input not in INPUTS:
        raise ArgumentError("input", f"must be one of {', '.join(INPUTS)}; got {input!r}")
    if output not in OUTPUTS:
        raise ArgumentError("output", f"must be one of {', '.join(OUTPUTS)}; got {output!r}")
    stages = check_stages(stages)
    threats = None if threats is None else check_threats(threats)
    kspace_norms = None if kspace_norms is None else check_norms("kspace_norms", kspace_norms)
    budget = Budget() if budget is None else budget
    acq_args = sampling(acquisition)
    check_sampling(stages, acq_args["mask"])
    label = name if name is not None else type(model).__name__
    if label in BUILT_IN:
        raise ArgumentError("name", f"{label!r} is the label of a map the audit puts beside yours; give another")
    dev = device_of(device)
    if dtype is not None and dtype not in (torch.float32, torch.float64):
        raise ArgumentError("dtype", f"must be torch.float32 or torch.float64; got {dtype}")
    if isinstance(model, torch.nn.Module):
        model = model.to(device=dev, dtype=dtype) if dtype is not None else model.to(device=dev)
    dtype = parameter_dtype(model) if dtype is None else dtype

    def make(F: Any) -> NetworkMap:
        return NetworkMap(model, F, input, output=output, device=dev, dtype=dtype)

    ref = reference_makers()
    makers: dict[str, MapFactory] = {label: make, REFERENCE: ref[REFERENCE], ZERO_FILLED: ref[ZERO_FILLED]}
    about = {"subject": label, "input": input, "output": output, "device": str(dev),
             "dtype": str(dtype).replace("torch.", "")}
    return Setup(label, makers, input, stages, budget, acq_args, about, threats, kspace_norms)


def run_setup(s: Setup, images: Mapping[str, torch.Tensor], *, stages: Sequence[str] | None = None,
              detail: tuple[torch.Tensor, torch.Tensor] | None = None, progress: Progress | None = None,
              keep_going: bool = True, check_model: bool = True) -> AuditResult:
    """The battery of ``s`` on ``images`` (all acquired once; the model first called on the first, unless
    ``check_model`` is False), as an ``AuditResult``."""
    images, kw, coil_settings = coil_acquisition(s.acquisition, images)
    references = kw.pop("references", None)  # the accuracy stage's, not the acquisition's
    acqs = acquisitions(images, **kw)
    if check_model:
        acq = next(iter(acqs.values()))
        probe(s.makers[s.label](acq.operator), acq, input=s.input, label=s.label)
    threats = s.threats if s.threats is not None else default_threats(coils=kw.get("maps") is not None,
                                                                      measured=bool(kw.get("kspace")))
    result = run(s.makers, images, stages=s.stages if stages is None else stages, budget=s.budget, detail=detail,
                 acqs=acqs, threats=threats, kspace_norms=s.kspace_norms, about={**s.about, **coil_settings},
                 references=references, progress=progress, keep_going=keep_going, **kw)
    return AuditResult(**{f.name: getattr(result, f.name) for f in fields(BatteryResult)}, subject=s.label)


def audit(
    model: Any,
    images: Any,
    *,
    name: str | None = None,
    input: str = "adjoint",
    output: str = "auto",
    acquisition: Mapping[str, Any] | None = None,
    stages: Sequence[str] = STAGES,
    budget: Budget | None = None,
    threats: Sequence[str] | None = None,
    kspace_norms: Sequence[float] | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    size: int | None = None,
    phase: int | None = None,
    detail: tuple[torch.Tensor, torch.Tensor] | None = None,
    progress: bool | Progress | None = False,
    keep_going: bool = True,
) -> AuditResult:
    """Audit ``model`` on ``images``: the chosen ``stages`` (default all, ``STAGES``) on the model, the
    reference FIRENET and zero-filling, with one acquisition and one attack ``budget``.

    ``model``: a torch module (or callable) called as ``input`` names (``nets.adapter.INPUTS``: adjoint,
    magnitude, channels, kspace, fastmri, deepinv), returning a real or complex image (``output``: auto, magnitude, complex);
    moved to ``device`` (default: cuda when available) and cast to ``dtype`` (default: its parameters'),
    in place as ``Module.to`` does. ``images``: a tensor (complex for an image with a phase), a path or
    built-in name (``data.load``: a file's phase is kept; built-ins at ``size``, with the smooth phase of
    seed ``phase`` when given), or a list or dict of them (a multi-coil fastMRI file alone: its own k-space,
    ESPIRiT maps); the single-image stages use the first. ``acquisition``: a dict of mask (a kind or a
    boolean (H, W) tensor), rate or acceleration, center_fraction, seed, noise, and coils (simulated
    birdcage maps) or maps ((C, H, W), sum_c |S_c|^2 = 1): every stage but the positive control then
    samples through SENSE (``coil_acquisition``). ``threats``: the
    threat models of the perturbation stage (``stability.THREATS``; default image and kspace, with coils also
    coil, for a measured file also full-kspace: ``default_threats``) and
    ``kspace_norms`` their budgets eta (default ``stability.THREAT_NORMS``). ``name`` labels
    the model on the page (default its class name). A stage that fails is recorded and the others run
    (``keep_going``). The answers: ``result.verdict``, ``result.verdicts``, ``result.rows()``,
    ``result.write(out)``. Antun et al., PNAS 2020 (REFERENCE sections 5 to 8).
    """
    s = setup(model, name=name, input=input, output=output, acquisition=acquisition, stages=stages, budget=budget,
              device=device, dtype=dtype, threats=threats, kspace_norms=kspace_norms)
    return run_setup(s, named_images(images, size=size, phase=phase), detail=detail, progress=callback(progress),
                     keep_going=keep_going)
