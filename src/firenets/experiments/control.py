"""The shipped positive control: a U-Net trained on phantoms with and without a lesion whose samples
almost vanish, so that the accuracy-stability bound proves it unstable (``stability.control``), and
the stage that attacks it, the reference FIRENET and zero-filling with one budget.
Gottschling, Antun, Hansen, Adcock, "The troublesome kernel", SIAM Review 2025 (REFERENCE section 5).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import __version__, data, masks
from .._progress import Progress, say
from .._validation import check_int
from ..nets import training
from ..nets.adapter import NetworkMap
from ..nets.mri import REFERENCE_FIRENET, reconstruction_map
from ..operators import Fourier2D
from ..stability.budget import Budget
from ..stability.control import PositiveControl, kernel_lesion, leaky, lesion_images, positive_control
from ..stability.faithfulness import RegionBounds, region_bounds
from ..stability.targeted import disc
from .maps import REFERENCE, ZERO_FILLED

__all__ = ["CONTROL", "CONTROL_LABEL", "PAIR_SEED", "SHIPPED", "ControlResult", "control_setup", "control_stage",
           "lesion_bounds", "shipped_control", "train_control"]

# the shipped control: `python benchmarks/positive_control.py --train` reproduces it
CONTROL = {"size": 64, "mask": "gaussian", "rate": 0.25, "mask_seed": 0, "centre": (26, 40), "radius": 3.0,
           "amplitude": 6.0, "leak": 0.02, "n_train": 800, "n_val": 64, "epochs": 30, "seed": 0, "features": 12}
SHIPPED = "control-unet-64-gaussian-25.pt"
CONTROL_LABEL = "U-Net (control)"
PAIR_SEED = 30_000  # held-out phantoms ellipses:30000 + i: never in the control's training or validation sets


def shipped_control() -> Path:
    """Path of the positive-control U-Net shipped with firenets (``benchmarks/positive_control.py --train``)."""
    path = Path(__file__).resolve().parent.parent / "weights" / SHIPPED
    if not path.is_file():
        raise FileNotFoundError(f"the positive control's weights are missing from the installation: {path}")
    return path


def control_setup(record: dict[str, Any]):
    """(config, mask, A, lesion, region) of a control from its training record."""
    c = {**CONTROL, **record.get("control", {})}
    m = masks.make(c["mask"], (c["size"], c["size"]), c["rate"], seed=c["mask_seed"]).mask
    d, b = kernel_lesion(m, tuple(c["centre"]), c["radius"], c["amplitude"])
    return c, m, Fourier2D(m), leaky(d, b, c["leak"]), disc(tuple(m.shape), tuple(c["centre"]), c["radius"])


def train_control(out: str | Path, *, progress: bool | Progress | None = True, command: str = "",
                  **overrides: Any):
    """Train the positive-control U-Net on phantoms with and without the leaky kernel lesion (CONTROL,
    with ``overrides``) and write it to ``out`` with its record."""
    c = {**CONTROL, **overrides}
    _, m, _, lesion, _ = control_setup({"control": c})
    images, _ = lesion_images(c["size"], c["n_train"], lesion, seed=2 * c["seed"] + 1)
    val, _ = lesion_images(c["size"], c["n_val"], lesion, seed=2 * c["seed"] + 2)
    net = training.build("unet", {"levels": 4, "features": c["features"], "seed": c["seed"]}, m)
    res = training.train(net, images.to(torch.float32), val.to(torch.float32), m, epochs=c["epochs"],
                         seed=c["seed"], progress=progress)
    record = {"kind": "unet", "size": c["size"], "mask": c["mask"], "rate": c["rate"], "seed": c["mask_seed"],
              "control": {k: list(v) if isinstance(v, tuple) else v for k, v in c.items()},
              "train_loss": res.train_loss, "val_loss": res.val_loss, "best_epoch": res.best_epoch,
              "seconds": res.seconds, "command": command, "firenets": __version__, "torch": str(torch.__version__),
              "python": platform.python_version(),
              "data": "random ellipses (firenets.data.PhantomDataset), every second one with the leaky kernel lesion"}
    training.save(out, net, record)
    return net, record


@dataclass(frozen=True, eq=False)
class ControlResult:
    """The positive control on one held-out pair (x, x' = x + d_leak): its settings, the pair, the
    lesion's disc, ``PositiveControl`` for the control network, the reference FIRENET and zero-filling,
    and per map the certified interval of the disc's mean that the samples A(x + r) allow
    (``lesion_bounds``): is the lesion each map shows there in the data?"""

    settings: dict[str, Any]
    x: torch.Tensor
    x_lesion: torch.Tensor
    r: torch.Tensor  # the feasible perturbation A^*A (x' - x)
    region: torch.Tensor
    maps: dict[str, PositiveControl]
    faithfulness: dict[str, RegionBounds] | None = None

    def summary(self) -> dict[str, Any]:
        out = {"settings": self.settings, "maps": {k: v.summary() for k, v in self.maps.items()}}
        if self.faithfulness is not None:
            out["faithfulness"] = {k: v.summary() for k, v in self.faithfulness.items()}
        return out


def lesion_bounds(f: Any, A: Any, x: torch.Tensor, r: torch.Tensor, region: torch.Tensor, *, tol: float = 1e-2,
                  iterations: int = 3000) -> RegionBounds:
    """``region_bounds`` of f(A(x + r)) on the lesion's disc from the noiseless samples A(x + r) (eta 0), the
    prior sized from that output, the background f(A x)'s mean on the disc: do the samples that make the
    map show the lesion allow the disc at the level the map gives it without them?"""
    x = x.to(torch.complex128)
    with torch.no_grad():
        y = A(x + r)
        shown, before = f(y).to(torch.complex128), f(A(x)).to(torch.complex128)
    return region_bounds(y, A, shown, region, eta=0.0, background=float(before.real[region].mean()),
                         background_source="the map's output without the lesion (f(A x)), its mean on the disc",
                         tol=tol, iterations=iterations)


def control_stage(*, weights: str | Path | None = None, pair: int = 0, budget: Budget | None = None,
                  progress: Progress | None = None) -> ControlResult:
    """``positive_control`` of the control U-Net (``weights``, default the shipped one), the reference
    FIRENET and zero-filling on the held-out pair ellipses:(PAIR_SEED + pair), with and without the lesion."""
    pair = check_int("pair", pair, minimum=0)
    budget = Budget() if budget is None else budget
    net, record = training.load(weights or shipped_control(), kind="unet")
    c, m, A, lesion, region = control_setup(record)
    x = data.ellipses(c["size"], seed=PAIR_SEED + pair).to(torch.float64)
    maps = {CONTROL_LABEL: NetworkMap(net.eval(), A, "adjoint", dtype=torch.float64),
            REFERENCE: reconstruction_map("firenet", A, **REFERENCE_FIRENET),
            ZERO_FILLED: reconstruction_map("zero-filled", A)}
    out, bounds = {}, {}
    L = lesion.to(torch.complex128)
    r = A.adjoint(A(L))
    for label, f in maps.items():
        say(progress, f"positive control: {label} ...")
        out[label] = positive_control(f, A, x, lesion, region, budget=budget)
        say(progress, f"positive control: region bounds on the lesion's disc of {label} ...")
        bounds[label] = lesion_bounds(f, A, x, r, region)
    settings = {**{k: list(v) if isinstance(v, tuple) else v for k, v in c.items()}, "pair": f"ellipses:{PAIR_SEED + pair}",
                "leak_ratio": float(torch.linalg.vector_norm(A(L))) / float(torch.linalg.vector_norm(lesion)),
                "lesion_rel": float(torch.linalg.vector_norm(lesion)) / float(torch.linalg.vector_norm(x)),
                "weights": str(weights) if weights else SHIPPED, "trained": record.get("command", ""),
                "budget": budget.summary()}
    return ControlResult(settings, x, x + lesion, r, region, out, bounds)
