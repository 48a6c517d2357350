"""Image reconstruction from subsampled k-space: FIRENET for MRI and the learned networks as maps
y -> image, compared with the same metrics.

The acquisition y = P_M F_c x + e is ``firenets.acquisition`` (``acquire`` and ``Acquisition``
are importable from here too). FIRENET solves (P3) with an analysis regulariser (undecimated
wavelets, total variation, both) or, as in Colbrook, Antun, Hansen, PNAS 2022, in orthonormal
wavelet coefficients c = W x: min_c lam ||c||_{1,w} + ||P_M F_c W^* c - y||_2, x = W^* c. The
learned networks (``nets.UNet``, ``nets.DeepCascade``) map the zero-filled image A^* y.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import __version__, data, metrics
from . import masks as _masks
from ._io import atomic_write
from ._progress import Progress
from ._validation import as_tensor, check_int, check_pixels, check_scalar, check_seed
from .acquisition import MASKS, Acquisition, acquire, acquire_multicoil
from .coils import birdcage
from .metrics import volume_metrics
from .nets import training
from .nets.adapter import INPUTS, NetworkMap, zero_filled
from .nets.mri import (  # noqa: F401 (re-exported: the public names of FIRENET for MRI)
    FIRENET_DEFAULTS,
    METHODS,
    REFERENCE_FIRENET,
    REGULARISER_DEFAULTS,
    REGULARISERS,
    MRIFirenet,
    default_lam,
    lam_scale,
    reconstruction_map,
    regulariser_operator,
)
from .operators import Fourier2D, MultiCoilFourier

__all__ = [
    # defined here
    "EPOCHS",
    "MULTICOIL_METHODS",
    "NETWORK_DEFAULTS",
    "TRAINING_DEFAULTS",
    "MultiCoilReconstruction",
    "Reconstruction",
    "VolumeReconstruction",
    "centre_crop",
    "psnr_gain",
    "reconstruct",
    "reconstruct_multicoil",
    "reconstruct_volume",
    "train",
    "train_model",
    "volume_metrics",
    # re-exported: the measurement model, zero-filling and the public names of FIRENET for MRI
    "Acquisition",
    "acquire",
    "zero_filled",
    "FIRENET_DEFAULTS",
    "METHODS",
    "REFERENCE_FIRENET",
    "REGULARISERS",
    "REGULARISER_DEFAULTS",
    "MRIFirenet",
    "default_lam",
    "lam_scale",
    "reconstruction_map",
    "regulariser_operator",
]


@dataclass(frozen=True)
class Reconstruction:
    """A reconstruction, its ground truth and zero-filled baseline, metrics and provenance."""

    method: str
    image: torch.Tensor
    acquisition: Acquisition
    metrics: dict[str, float]
    zero_filled_metrics: dict[str, float]
    seconds: float
    certificate: dict[str, float] | None = None
    num_layers: int | None = None
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def magnitude(self) -> torch.Tensor:
        """|x^|, the image the metrics compare with the target."""
        return self.image.abs()

    @property
    def zero_filled(self) -> torch.Tensor:
        """The zero-filled baseline the metrics compare with the target."""
        return self.acquisition.zero_filled

    def summary(self) -> dict[str, Any]:
        """JSON-ready record: metrics (fastMRI conventions), time, certificate, layers, settings."""
        acq = self.acquisition
        out: dict[str, Any] = {
            "method": self.method,
            **self.metrics,
            "seconds": self.seconds,
            "zero_filled": self.zero_filled_metrics,
            "shape": list(acq.target.shape),
            "mask": acq.mask_kind,
            "rate": acq.rate,
            "seed": acq.seed,
            "noise": acq.noise,
            "kspace": "simulated" if acq.simulated else "measured",
            "config": self.config,
        }
        if self.certificate is not None:
            out["certificate"] = self.certificate
            out["num_layers"] = self.num_layers
        return out


def reconstruct(
    image: Any,
    method: str = "firenet",
    *,
    mask: str | torch.Tensor = "gaussian",
    rate: float = 0.25,
    seed: int = 0,
    noise: float = 0.0,
    kspace: torch.Tensor | None = None,
    weights: str | Path | None = None,
    center_fraction: float | None = None,
    maps_method: str = "espirit",
    **firenet_options: Any,
) -> Reconstruction:
    """Sample ``image`` (``acquire``), reconstruct with ``method``, and score it against |image|.

    ``image`` is an (H, W) tensor/array, a ``data.LoadedImage`` (its k-space is used when it has
    one, else its complex image when the file holds a phase) or a source for ``data.load`` (a file or a built-in phantom name). Metrics: PSNR, SSIM
    and NMSE of the magnitude with data_range = target max (``metrics``, fastMRI conventions).
    Multi-coil k-space (coils, H, W) goes to ``reconstruct_multicoil`` (maps by ``maps_method``);
    ``center_fraction`` is the fastMRI masks' fully sampled centre.
    """

    if isinstance(image, (str, Path)):
        image = data.load(image)
    multicoil = (kspace if kspace is not None else getattr(image, "kspace", None))
    if multicoil is not None and multicoil.ndim == 3:
        if weights is not None:
            raise ValueError("weights apply to the single-coil networks; multi-coil k-space is reconstructed by "
                             f"{' or '.join(MULTICOIL_METHODS)}")
        return reconstruct_multicoil(image if isinstance(image, data.LoadedImage) else multicoil, method, mask=mask,
                                     rate=rate, seed=seed, noise=noise, center_fraction=center_fraction,
                                     maps_method=maps_method, **firenet_options)
    if isinstance(image, data.LoadedImage):
        if kspace is None and image.kspace is not None:
            kspace = image.kspace
        image = image.with_phase if kspace is None else _image_from_kspace(kspace)
    acq = acquire(image, mask=mask, rate=rate, seed=seed, noise=noise, kspace=kspace, center_fraction=center_fraction)
    f = reconstruction_map(method, acq.operator, weights=weights, **firenet_options)
    cert = None
    start = time.perf_counter()
    with torch.no_grad():
        if method == "firenet":
            x, c = f(acq.y, return_certificate=True)
            cert = {
                "objective": float(c.objective),
                "dual_objective": float(c.dual_objective),
                "gap": float(c.gap),
                "relative_gap": float(c.relative_gap),
                "stopped_by": getattr(f, "last_stop", None),  # the rule that ended the run
            }
        else:
            x = f(acq.y)
    seconds = time.perf_counter() - start
    x = x.to(torch.complex128)
    if not bool(torch.isfinite(torch.view_as_real(x)).all()):
        raise RuntimeError(f"the {method} reconstruction is not finite")
    config = dict(getattr(f, "config", {}))
    if method in ("unet", "cascade"):
        config = {"weights": str(weights) if weights is not None else "shipped", **getattr(f.net, "config", {})}
    return Reconstruction(
        method=method,
        image=x,
        acquisition=acq,
        metrics=metrics.evaluate(acq.target, x.abs()),
        zero_filled_metrics=metrics.evaluate(acq.target, acq.zero_filled.abs()),
        seconds=seconds,
        certificate=cert,
        num_layers=getattr(f, "last_layers", None) or getattr(f, "num_layers", None),
        config=config,
    )


def centre_crop(image: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """The centred (h, w) block of an (..., H, W) image (fastMRI's crop to the reconstruction size)."""
    H, W = image.shape[-2:]
    h, w = shape
    if h > H or w > W:
        raise ValueError(f"cannot crop an image of {H}x{W} to {h}x{w}")
    r0, c0 = (H - h) // 2, (W - w) // 2
    return image[..., r0:r0 + h, c0:c0 + w]


@dataclass(frozen=True)
class MultiCoilReconstruction(Reconstruction):
    """A SENSE reconstruction at the k-space size; ``magnitude`` and ``zero_filled`` are cropped to the
    target's size (fastMRI: the reconstruction size) for the metrics."""

    maps: torch.Tensor | None = None

    @property
    def magnitude(self) -> torch.Tensor:
        return centre_crop(self.image.abs(), tuple(self.acquisition.target.shape))

    @property
    def zero_filled(self) -> torch.Tensor:
        return centre_crop(self.acquisition.zero_filled.abs(), tuple(self.acquisition.target.shape))

    def summary(self) -> dict[str, Any]:
        acq = self.acquisition
        out = super().summary()
        out.update(kspace="measured, retrospectively undersampled", coils=acq.operator.coils,
                   maps=acq.maps_method, calibration=list(acq.calibration), image_shape=list(self.image.shape))
        return out


MULTICOIL_METHODS = ("firenet", "zero-filled")


def reconstruct_multicoil(
    scan: Any,
    method: str = "firenet",
    *,
    mask: str | torch.Tensor = "fastmri-random",
    rate: float = 0.25,
    center_fraction: float | None = None,
    seed: int = 0,
    noise: float = 0.0,
    maps: Any = None,
    maps_method: str = "espirit",
    **firenet_options: Any,
) -> MultiCoilReconstruction:
    """FIRENET (SENSE, ``MRIFirenet`` through ``operators.MultiCoilFourier``) or the RSS of the
    zero-filled coil images from retrospectively undersampled multi-coil k-space: ``scan`` is a
    ``data.LoadedImage`` of a multi-coil file (its ``reference``, e.g. ``reconstruction_rss``, is the
    target) or k-space (coils, H, W). Maps: given, or ESPIRiT (``maps_method``) from the mask's fully
    sampled centre. Metrics with fastMRI's conventions on the centre crop to the target's size. The
    learned networks shipped are single-coil and are not offered here."""

    if method not in MULTICOIL_METHODS:
        raise ValueError(f"method {method!r} is single-coil only; multi-coil k-space is reconstructed by "
                         f"{' or '.join(MULTICOIL_METHODS)}")
    if method != "firenet" and firenet_options:
        raise ValueError(f"{', '.join(sorted(firenet_options))} apply to method 'firenet' only")
    reference = None
    if isinstance(scan, data.LoadedImage):
        k, reference = scan.kspace, scan.reference
    else:
        k = scan
    acq = acquire_multicoil(k, mask=mask, rate=rate, seed=seed, noise=noise, center_fraction=center_fraction,
                            maps=maps, maps_method=maps_method, reference=reference)
    start = time.perf_counter()
    cert, f = None, None
    with torch.no_grad():
        if method == "firenet":
            f = MRIFirenet(acq.operator, **firenet_options)
            x, c = f(acq.y, return_certificate=True)
            cert = {"objective": float(c.objective), "dual_objective": float(c.dual_objective), "gap": float(c.gap),
                    "relative_gap": float(c.relative_gap), "stopped_by": f.last_stop}
        else:
            x = acq.zero_filled
    seconds = time.perf_counter() - start
    x = x.to(torch.complex128)
    if not bool(torch.isfinite(torch.view_as_real(x)).all()):
        raise RuntimeError(f"the {method} reconstruction is not finite")
    target = acq.target
    crop = tuple(target.shape)
    zf = centre_crop(acq.zero_filled.abs(), crop)
    return MultiCoilReconstruction(
        method=method, image=x, acquisition=acq, metrics=metrics.evaluate(target, centre_crop(x.abs(), crop)),
        zero_filled_metrics=metrics.evaluate(target, zf), seconds=seconds, certificate=cert,
        num_layers=(getattr(f, "last_layers", None) or getattr(f, "num_layers", None)) if f is not None else None,
        config=dict(getattr(f, "config", {})) if f is not None else {}, maps=acq.operator.maps)


def _image_from_kspace(kspace: torch.Tensor) -> torch.Tensor:
    k = as_tensor("kspace", kspace, dtype=torch.complex128)
    if k.ndim != 2:
        raise ValueError(f"kspace must be 2-D (H, W); got shape {tuple(k.shape)}")
    full = torch.ones(k.shape, dtype=torch.bool)
    return Fourier2D(full).adjoint(k.reshape(-1))


# Settings of the shipped weights (`firenets train unet|cascade` with no options reproduces them).
TRAINING_DEFAULTS = {"size": 128, "mask": "gaussian", "rate": 0.25, "seed": 0, "n_train": 1500, "n_val": 100,
                     "batch": 16, "lr": 1e-3}
NETWORK_DEFAULTS = {"unet": {"levels": 4, "features": 12}, "cascade": {"cascades": 5, "layers": 5, "features": 16}}
EPOCHS = {"unet": 14, "cascade": 2}


def train(
    kind: str,
    out: str | Path,
    *,
    size: int = TRAINING_DEFAULTS["size"],
    mask: str = TRAINING_DEFAULTS["mask"],
    rate: float = TRAINING_DEFAULTS["rate"],
    seed: int = TRAINING_DEFAULTS["seed"],
    epochs: int | None = None,
    n_train: int = TRAINING_DEFAULTS["n_train"],
    n_val: int = TRAINING_DEFAULTS["n_val"],
    batch: int = TRAINING_DEFAULTS["batch"],
    lr: float = TRAINING_DEFAULTS["lr"],
    features: int | None = None,
    resume: bool = False,
    progress: bool | Progress | None = True,
    command: str | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train a UNet or DeepCascade on random-ellipse phantoms for one mask; write it to ``out``.

    Training images: ``data.PhantomDataset(size, n_train, seed=2 seed + 1)``; validation:
    ``n_val`` phantoms with seed 2 seed + 2 (held out: benchmarks use other seeds). The mask is
    ``masks.make(mask, (size, size), rate, seed=seed)``. The resumable state is kept in
    ``out`` + ".state" and removed when training ends; the file records every setting, the loss
    history, validation PSNR against zero-filling, and ``command``.
    """

    if kind not in training.KINDS:
        raise ValueError(f"kind must be one of {training.KINDS}; got {kind!r}")
    size = check_int("size", size, minimum=16)
    if size % training.MULTIPLE:
        raise ValueError(f"size must be a multiple of {training.MULTIPLE}; got {size}")
    epochs = check_int("epochs", EPOCHS[kind] if epochs is None else epochs, minimum=1)
    config = dict(NETWORK_DEFAULTS[kind])
    if features is not None:
        config["features"] = check_int("features", features, minimum=1)
    out = Path(out)
    size, rate, seed, m, images, val = _phantom_training(size, mask, rate, seed, n_train, n_val)
    net = training.build(kind, {**config, "seed": seed}, m)
    result = training.train(net, images, val, m, epochs=epochs, batch=batch, lr=lr, seed=seed,
                            state_path=out.with_name(out.name + ".state"), resume=resume, progress=progress)
    F = Fourier2D(m, dtype=torch.complex64)
    with torch.no_grad():
        zf = F.adjoint(F(val.to(torch.complex64)))
        rec = torch.cat([net(zf[i : i + batch]) for i in range(0, len(val), batch)])
    record = _training_record(result, val, rec, zf, m, command, kind=kind, size=size, mask=mask, rate=rate, seed=seed,
                              epochs=epochs, batch=batch, lr=lr, n_train=len(images), n_val=len(val))
    training.save(out, net, record)
    out.with_name(out.name + ".state").unlink(missing_ok=True)
    return net, record


TRAINING_MASKS = MASKS + _masks.FASTMRI_KINDS  # the masks networks are trained with (fastMRI's for coils)


def _phantom_training(size: int, mask: str, rate: float, seed: int, n_train: int, n_val: int, *,
                      min_size: int = 16) -> tuple:
    """The checked settings, the mask ``masks.make(mask, (size, size), rate, seed)`` and the phantoms of
    training (``data.PhantomDataset``, seeds 2 seed + 1) and validation (2 seed + 2)."""

    size = check_int("size", size, minimum=min_size)
    check_pixels("size", (size, size))
    if mask not in TRAINING_MASKS:
        raise ValueError(f"mask must be one of {TRAINING_MASKS}; got {mask!r}")
    rate = check_scalar("rate", rate, positive=True)
    if rate > 1:
        raise ValueError(f"rate must be in (0, 1]; got {rate}")
    seed = check_seed("seed", seed)
    n_train = check_int("n_train", n_train, minimum=2)
    n_val = check_int("n_val", n_val, minimum=1)
    m = _masks.make(mask, (size, size), rate, seed=seed).mask

    def stack(ds) -> torch.Tensor:
        return torch.stack([ds[i] for i in range(len(ds))])

    return (size, rate, seed, m, stack(data.PhantomDataset(size, n_train, seed=2 * seed + 1)),
            stack(data.PhantomDataset(size, n_val, seed=2 * seed + 2)))


def _training_record(result, val: torch.Tensor, rec: torch.Tensor, zf: torch.Tensor, m: torch.Tensor,
                     command: str | None, **settings: Any) -> dict[str, Any]:
    """What a trained network's file records: its settings, losses, validation PSNR (mean over the
    validation phantoms) against zero-filling's, seconds, the command and the versions."""

    n = len(val)
    seed = settings["seed"]
    return {
        **settings, "mask_rate": float(m.float().mean()), "data": "random ellipses (firenets.data.PhantomDataset)",
        "train_seed": 2 * seed + 1, "val_seed": 2 * seed + 2, "train_loss": result.train_loss,
        "val_loss": result.val_loss, "best_epoch": result.best_epoch,
        "val_psnr": float(sum(metrics.psnr(val[i].abs(), rec[i].abs()) for i in range(n)) / n),
        "val_psnr_zero_filled": float(sum(metrics.psnr(val[i].abs(), zf[i].abs()) for i in range(n)) / n),
        "seconds": result.seconds, "command": command or "", "firenets": __version__,
        "torch": str(torch.__version__), "python": platform.python_version(),
    }


def train_model(
    net: torch.nn.Module,
    out: str | Path,
    *,
    input: str = "adjoint",
    spec: str = "",
    size: int = TRAINING_DEFAULTS["size"],
    mask: str = TRAINING_DEFAULTS["mask"],
    rate: float = TRAINING_DEFAULTS["rate"],
    seed: int = TRAINING_DEFAULTS["seed"],
    epochs: int = 10,
    n_train: int = TRAINING_DEFAULTS["n_train"],
    n_val: int = TRAINING_DEFAULTS["n_val"],
    batch: int = TRAINING_DEFAULTS["batch"],
    lr: float = TRAINING_DEFAULTS["lr"],
    resume: bool = False,
    progress: bool | Progress | None = True,
    command: str | None = None,
    coils: int | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train a user's network ``net`` (built by ``spec`` = PKG.MODULE:FACTORY) on the phantoms and
    acquisition of ``train``, called as the audit calls it (``nets.adapter.NetworkMap`` with ``input``);
    write {"state_dict", "training"} to ``out``, which ``firenets audit --model SPEC --weights OUT``
    reads. The loop, seeds, validation and resumable state are ``train``'s. With ``coils``: complex
    phantoms (each with the smooth phase ``data.smooth_phase`` of its own seed) sampled through SENSE
    with ``coils.birdcage`` maps, so that a multi-coil network (fastMRI's VarNet) can be trained without data."""
    if input not in INPUTS:
        raise ValueError(f"input must be one of {', '.join(INPUTS)}; got {input!r}")
    epochs = check_int("epochs", epochs, minimum=1)
    out = Path(out)
    size, rate, seed, m, images, val = _phantom_training(size, mask, rate, seed, n_train, n_val, min_size=8)
    maps = None
    if coils is not None:
        maps = birdcage(check_int("coils", coils, minimum=1), (size, size))
        images, val = (t * torch.stack([data.smooth_phase((size, size), seed=offset + i) for i in range(len(t))])
                       for t, offset in ((images, (2 * seed + 1) * 2**20), (val, (2 * seed + 2) * 2**20)))
    torch.manual_seed(seed)  # the user's layers that draw (dropout) start from the run's seed
    result = training.train(net, images, val, m, epochs=epochs, batch=batch, lr=lr, seed=seed,
                            state_path=out.with_name(out.name + ".state"), resume=resume, progress=progress,
                            input=input, maps=maps)
    F = Fourier2D(m) if maps is None else MultiCoilFourier(maps, m)
    f = NetworkMap(net, F, input)
    with torch.no_grad():
        y = F(val.to(torch.complex128))
        rec = torch.cat([f(y[i : i + batch]) for i in range(0, len(val), batch)])
        zf = F.adjoint(y)
    record = _training_record(result, val, rec, zf, m, command, model=spec, input=input, size=size, mask=mask,
                              rate=rate, seed=seed, epochs=epochs, batch=batch, lr=lr, n_train=len(images),
                              n_val=len(val), coils=coils)
    payload = {"state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()}, "training": record}
    atomic_write(out, lambda tmp: torch.save(payload, tmp))
    out.with_name(out.name + ".state").unlink(missing_ok=True)
    return net, record


def psnr_gain(result: Reconstruction) -> float:
    """PSNR(method) - PSNR(zero-filled), in dB."""
    return result.metrics["psnr"] - result.zero_filled_metrics["psnr"]


@dataclass(frozen=True)
class VolumeReconstruction:
    """Every slice of a volume reconstructed alike, and fastMRI's volume metrics: NMSE over the volume,
    PSNR with the volume's maximum as data range, SSIM the mean over slices with that range, all on
    the original scale (each slice loads normalised to max 1; ``scales`` undo it)."""

    slices: list[Reconstruction]
    scales: list[float]
    metrics: dict[str, float]
    zero_filled_metrics: dict[str, float]

    def summary(self) -> dict[str, Any]:
        """JSON-ready: the volume's metrics, then every slice's record."""
        first = self.slices[0].summary()
        return {"method": first["method"], "volume": self.metrics, "zero_filled_volume": self.zero_filled_metrics,
                "slices": [{"slice": i, **r.summary()} for i, r in enumerate(self.slices)],
                "seconds": sum(r.seconds for r in self.slices)}


def reconstruct_volume(path: str | Path, method: str = "firenet", **options: Any) -> VolumeReconstruction:
    """``reconstruct`` every slice of an HDF5 volume (fastMRI layout) with the same ``options``, and the
    volume's metrics (``volume_metrics``) on the original scale."""

    n = data.count_slices(path)
    slices, scales = [], []
    for s in range(n):
        loaded = data.load(path, slice=s)
        slices.append(reconstruct(loaded, method, **options))
        scales.append(float(loaded.meta["scale"]))
    targets = [r.acquisition.target * c for r, c in zip(slices, scales, strict=True)]
    preds = [r.magnitude * c for r, c in zip(slices, scales, strict=True)]
    zfs = [r.zero_filled.abs() * c for r, c in zip(slices, scales, strict=True)]
    return VolumeReconstruction(slices, scales, volume_metrics(targets, preds), volume_metrics(targets, zfs))
