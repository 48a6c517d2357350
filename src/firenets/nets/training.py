"""Training of the learned reconstruction networks (UNet, DeepCascade) and their checkpoint files.

The networks learn x ~ f(A^* A x) for ground-truth images x (real, so the target is x + 0i)
with A = P_M F_c (``operators.Fourier2D``) for one mask, by Adam on the mean squared error of
the complex output, keeping the weights of the epoch with the lowest validation error.
A checkpoint is a dict of tensors and plain data, read with ``torch.load(weights_only=True)``:
{"format", "kind", "config", "state_dict", "training"}; a training run also keeps a resumable
state file (optimizer, epoch, best weights) written atomically after every epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import _progress
from .._io import atomic_write, load_tensors
from .._validation import check_int, check_scalar, check_seed
from ..operators import Fourier2D, MultiCoilFourier
from .adapter import NetworkMap, parameter_dtype, truth_for
from .learned import DeepCascade, UNet

FORMAT = 1
MAX_LR = 10.0
KINDS = ("unet", "cascade")
MULTIPLE = 16  # the shipped networks apply to images whose sides are multiples of 16
_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def shipped(kind: str) -> Path:
    """Path of the pretrained weights shipped with firenets for ``kind`` (unet or cascade)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    path = _WEIGHTS / f"{kind}-128-gaussian-25.pt"
    if not path.is_file():
        raise FileNotFoundError(f"the shipped {kind} weights are missing from the installation: {path}")
    return path


def build(kind: str, config: dict[str, Any], mask: Any = None) -> UNet | DeepCascade:
    """A fresh network of ``kind`` from its config (DeepCascade also needs the mask)."""
    if kind == "unet":
        return UNet(**config)
    if kind == "cascade":
        if mask is None:
            raise ValueError("a DeepCascade needs the sampling mask of the images it reconstructs")
        return DeepCascade(mask, **config)
    raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")


def save(path: str | Path, net: UNet | DeepCascade, training: dict[str, Any]) -> Path:
    """Write net's weights, config and training record to ``path`` atomically."""
    kind = "unet" if isinstance(net, UNet) else "cascade" if isinstance(net, DeepCascade) else None
    if kind is None:
        raise TypeError(f"net must be a UNet or DeepCascade; got {type(net).__name__}")
    payload = {
        "format": FORMAT,
        "kind": kind,
        "config": net.config,
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
        "training": training,
    }
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _read(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        payload = load_tensors(path)
    except ValueError as exc:  # corrupt, truncated, or not a weights-only torch file
        raise ValueError(f"weights file {path} cannot be read as a firenets checkpoint: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or not {
        "kind", "config", "state_dict", "training"
    } <= set(payload):
        raise ValueError(f"weights file {path} is not a firenets checkpoint (format {FORMAT})")
    return payload


CONFIG_KEYS = {"unet": {"levels", "features", "batchnorm", "residual", "seed"},
               "cascade": {"cascades", "layers", "features", "noise_level", "seed"}}
MAX_PARAMETERS_DEFAULT = 50_000_000  # 200 MB of float32 weights; the shipped U-Net has 1.1 million


def max_parameters() -> int:
    """The largest network a checkpoint may describe: 5e7 parameters unless FIRENETS_MAX_PARAMETERS says."""
    import os

    text = os.environ.get("FIRENETS_MAX_PARAMETERS", "")
    if not text:
        return MAX_PARAMETERS_DEFAULT
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"FIRENETS_MAX_PARAMETERS must be a positive integer; got {text!r}")
    return int(text)


def _check_config(path: Path, kind: str, config: Any, mask: Any) -> None:
    """Refuse a checkpoint's configuration before its network is built: only the architecture's keys,
    values its constructor accepts, and a parameter count (counted on the meta device, where nothing
    is allocated) within ``max_parameters()``."""
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise ValueError(f"weights file {path}: its config is not a mapping of names to values")
    unknown = sorted(set(config) - CONFIG_KEYS[kind])
    if unknown:
        raise ValueError(f"weights file {path}: its {kind} config has unknown keys {unknown}; "
                         f"allowed: {sorted(CONFIG_KEYS[kind])}")
    ones = None if mask is None else torch.ones(tuple(torch.as_tensor(mask).shape), dtype=torch.bool)
    try:
        with torch.device("meta"):
            meta = build(kind, config, ones)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"weights file {path}: its {kind} config is not valid: {exc}") from None
    n = sum(p.numel() for p in meta.parameters())
    if n > max_parameters():
        raise ValueError(f"weights file {path}: its config describes a {kind} of {n} parameters, more than the "
                         f"limit of {max_parameters()} (set FIRENETS_MAX_PARAMETERS to raise it)")


def load(path: str | Path, *, kind: str | None = None, mask: Any = None) -> tuple[UNet | DeepCascade, dict]:
    """(network, training record) from a checkpoint written by ``save`` / ``firenets train``.

    ``kind`` (when given) must match the file's. ``mask`` (a boolean (H, W) tensor) is the
    sampling pattern the network will be applied with: required for a cascade, checked for
    both: H and W must be multiples of 16 (the networks are fully convolutional with 4 poolings).
    """
    path = Path(path)
    payload = _read(path)
    if kind is not None and payload["kind"] != kind:
        raise ValueError(f"weights file {path} holds a {payload['kind']} network, not a {kind}")
    if mask is not None:
        shape = tuple(torch.as_tensor(mask).shape)
        if len(shape) != 2 or shape[0] % MULTIPLE or shape[1] % MULTIPLE:
            trained = payload["training"].get("size")
            raise ValueError(
                f"weights in {path} (trained at {trained}x{trained}) apply to images whose sides are "
                f"multiples of {MULTIPLE}; got an image of shape {shape}"
            )
    if payload["kind"] not in KINDS:
        raise ValueError(f"weights file {path} holds a network of kind {payload['kind']!r}; expected one of {KINDS}")
    _check_config(path, payload["kind"], payload["config"], mask if mask is not None or payload["kind"] != "cascade"
                  else torch.ones(MULTIPLE, MULTIPLE, dtype=torch.bool))
    net = build(payload["kind"], payload["config"], mask)
    try:
        net.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise ValueError(f"weights file {path} does not fit a {payload['kind']} with its config: {exc}") from exc
    net.eval()
    return net, payload["training"]


@dataclass(frozen=True)
class TrainingResult:
    """Per-epoch training and validation losses and the epoch whose weights were kept."""

    train_loss: list[float]
    val_loss: list[float]
    best_epoch: int
    epochs: int
    seconds: float


def train(
    net: UNet | DeepCascade,
    images: torch.Tensor,
    val_images: torch.Tensor,
    mask: torch.Tensor,
    *,
    epochs: int,
    batch: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    state_path: str | Path | None = None,
    resume: bool = False,
    progress: bool | _progress.Progress | None = True,
    on_epoch: Callable[[int, float, float], None] | None = None,
    input: str | None = None,
    maps: torch.Tensor | None = None,
) -> TrainingResult:
    """Adam on mean |f(A^* A x) - x|^2 over ``images`` (N, H, W); the best validation epoch is kept.

    Inputs are computed once; batches are shuffled with a generator seeded by (seed, epoch), so a
    resumed run (``resume`` with the ``state_path`` written after every epoch) repeats the
    uninterrupted one. Returns the loss history; ``net`` ends with the best weights, in eval mode.
    ``input``: a user's network, trained as the map f = ``nets.adapter.NetworkMap(net, A, input)`` of the
    samples y = A x (what the audit calls it with) instead of net(A^* y). ``progress``: True (a bar
    on the terminal), False/None, or a callable given ``Status("training <Name>", epochs done, epochs)``.
    ``maps``: coil maps (C, H, W); a user's network is then trained on SENSE samples
    (``operators.MultiCoilFourier``) of the images, which may be complex. A network that returns a
    magnitude (fastMRI's VarNet returns the RSS) is trained against |x|, one with a phase against x.
    """
    epochs = check_int("epochs", epochs, minimum=1)
    batch = check_int("batch", batch, minimum=1)
    lr = check_scalar("lr", lr, positive=True)
    if lr > MAX_LR:
        raise ValueError(f"lr must be at most {MAX_LR:g} (Adam moves each weight by about lr per step); got {lr:g}")
    seed = check_seed("seed", seed)
    report = _progress.callback(progress)
    if maps is not None and input is None:
        raise ValueError("maps apply to a user's network (input=...); the built-in networks are single-coil")
    for name, t in (("images", images), ("val_images", val_images)):
        if not isinstance(t, torch.Tensor) or t.ndim != 3 or not (t.is_floating_point() or
                                                                  (t.is_complex() and input is not None)):
            raise ValueError(f"{name} must be a real tensor of shape (N, H, W)"
                             + (" (complex for a user's network)" if input is None else " or a complex one"))
        if tuple(t.shape[1:]) != tuple(mask.shape):
            raise ValueError(f"{name} are {tuple(t.shape[1:])} but the mask is {tuple(mask.shape)}")
        if t.shape[0] == 0:
            raise ValueError(f"{name} is empty")
    params = list(net.parameters())
    if not params:
        raise ValueError("the network has no parameters to train")
    dtype = parameter_dtype(net)
    cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
    f = net
    if input is None:
        F = Fourier2D(mask, dtype=cdtype)
    else:  # called on the samples y in complex128, as the audit calls it
        F = Fourier2D(mask) if maps is None else MultiCoilFourier(maps, mask)
        f = NetworkMap(net, F, input, dtype=dtype)
    x0, target = _pairs(F, images, cdtype, samples=input is not None)
    v0, vtarget = _pairs(F, val_images, cdtype, samples=input is not None)

    opt = torch.optim.Adam(params, lr=lr)
    state = {"epoch": 0, "train": [], "val": [], "best_epoch": -1, "best_loss": math.inf,
             "best": None, "seconds": 0.0}
    state_path = Path(state_path) if state_path is not None else None
    if resume:
        if state_path is None:
            raise ValueError("resume needs state_path, the training state file to continue from")
        if not state_path.is_file():
            raise FileNotFoundError(f"resume asked but no training state at {state_path}")
        state = _load_state(state_path, net, opt)
    task = f"training {type(net).__name__}"
    if state["epoch"]:
        _progress.count(report, task, state["epoch"], epochs, "epoch")
    for epoch in range(state["epoch"], epochs):
        start = time.perf_counter()
        net.train()
        gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
        order = torch.randperm(x0.shape[0], generator=gen)
        total = 0.0
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            if len(idx) < 2 and (isinstance(net, UNet) or input is not None):
                continue  # BatchNorm needs more than one value per channel at the bottleneck
            out = f(x0[idx])
            loss = residual(f, out, target[idx]).abs().pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        train_loss = total / x0.shape[0]
        val_loss = evaluate_loss(f, v0, vtarget, batch)
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            raise FloatingPointError(f"training diverged in epoch {epoch + 1}: the loss is {train_loss:g} "
                                     f"(validation {val_loss:g}); lower lr (got {lr:g})")
        state["train"].append(train_loss)
        state["val"].append(val_loss)
        if val_loss < state["best_loss"]:
            state["best_loss"], state["best_epoch"] = val_loss, epoch
            state["best"] = {k: v.detach().clone() for k, v in net.state_dict().items()}
        state["epoch"] = epoch + 1
        state["seconds"] += time.perf_counter() - start
        if state_path is not None:
            _save_state(state_path, net, opt, state)
        _progress.count(report, task, state["epoch"], epochs, "epoch")
        if on_epoch is not None:
            on_epoch(epoch, train_loss, val_loss)
    net.load_state_dict(state["best"])
    net.eval()
    return TrainingResult(state["train"], state["val"], state["best_epoch"], state["epoch"], state["seconds"])


def _pairs(F: Fourier2D, images: torch.Tensor, cdtype: torch.dtype, *,
           samples: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(A^* A x, x) for the images x, or (A x, x) with ``samples``, in F's precision; targets in ``cdtype``."""
    target = images.to(cdtype)
    with torch.no_grad():
        batches = [images[i : i + 64].to(F.dtype) for i in range(0, images.shape[0], 64)]
        x0 = torch.cat([F(b) if samples else F.adjoint(F(b)).to(cdtype) for b in batches])
    return x0, target


def residual(f: Any, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """out - target; |out| - |target| for a network that returned a magnitude (``NetworkMap.returned_complex``
    False) of complex targets, whose phase it cannot give."""
    return out - truth_for(f, target)


def evaluate_loss(net: torch.nn.Module, x0: torch.Tensor, target: torch.Tensor, batch: int = 16) -> float:
    """Mean |net(x0) - target|^2 over a set (``residual``), in eval mode, without gradients."""
    was_training = net.training
    net.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, x0.shape[0], batch):
            total += float(residual(net, net(x0[i : i + batch]), target[i : i + batch]).abs().pow(2).sum())
    net.train(was_training)
    return total / target.numel()


def _save_state(path: Path, net: torch.nn.Module, opt: torch.optim.Optimizer, state: dict) -> None:
    payload = {
        "format": FORMAT,
        "net": net.state_dict(),
        "optimizer": opt.state_dict(),
        "epoch": state["epoch"],
        "train": list(state["train"]),
        "val": list(state["val"]),
        "best_epoch": state["best_epoch"],
        "best_loss": state["best_loss"],
        "best": state["best"],
        "seconds": state["seconds"],
    }
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _load_state(path: Path, net: torch.nn.Module, opt: torch.optim.Optimizer) -> dict:
    try:
        payload = load_tensors(path)
    except ValueError as exc:
        raise ValueError(f"training state {path} cannot be read: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "optimizer" not in payload:
        raise ValueError(f"{path} is not a firenets training state")
    try:
        net.load_state_dict(payload["net"])
        opt.load_state_dict(payload["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise ValueError(f"training state {path} belongs to another network: {exc}") from exc
    return {k: payload[k] for k in ("epoch", "train", "val", "best_epoch", "best_loss", "best", "seconds")}


def shipped_unet() -> UNet:
    """The shipped U-Net (``shipped("unet")``) as a factory: ``firenets audit --model
    firenets.nets.training:shipped_unet`` audits it as a user's network (input A^* y)."""
    net, _ = load(shipped("unet"), kind="unet")
    return net.eval()


__all__ = ["KINDS", "TrainingResult", "build", "evaluate_loss", "load", "save", "shipped", "shipped_unet", "train"]
