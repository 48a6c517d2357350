"""A positive control: a network that must be unstable, because it is accurate on images whose
samples nearly coincide (the accuracy-stability bound, REFERENCE section 5).

The lesion: a real image d with A d = 0 exactly (a bump b minus its projection onto the samples
of the mask made conjugate-symmetric: a real image's k-space is conjugate-symmetric, so it vanishes
on the mask iff it vanishes on the symmetrised mask), plus a small measured leak,
d_leak = d + leak (b - d), so ||A d_leak|| = leak ||A b|| > 0. Training images are phantoms x with
and without d_leak. A map eta-accurate on x and x' = x + d_leak has local Lipschitz constant at least
(||x - x'|| - 2 eta) / ||A x - A x'|| (and, whatever its error elsewhere, at least
(||x - x'|| - ||e' - e||) / ||A x - A x'|| with e, e' its errors on x, x'), and r = A^*A (x' - x) is a perturbation of that norm with
A (x + r) = A x' exactly: the map's worst case on that sphere is at least the bound (the
random-start attack is reported as it is, beside the ratio at r), and that r makes the lesion
appear. Gottschling, Antun, Hansen, Adcock, "The troublesome kernel", SIAM Review 2025.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .._validation import check_int, check_scalar
from .hallucination import accuracy_stability_bound

# the shipped control: `python benchmarks/positive_control.py --train` reproduces it
CONTROL = {"size": 64, "mask": "gaussian", "rate": 0.25, "mask_seed": 0, "centre": (26, 40), "radius": 3.0,
           "amplitude": 6.0, "leak": 0.02, "n_train": 800, "n_val": 64, "epochs": 30, "seed": 0, "features": 12}


def symmetrised(mask: torch.Tensor) -> torch.Tensor:
    """mask | its mirror k -> -k in the centred k-space grid (index s -> (N - s) mod N per axis, which is
    the mirror for even sizes)."""
    if any(n % 2 for n in mask.shape):
        raise ValueError(f"the mask must have even sides (the centred grid's mirror); got {tuple(mask.shape)}")
    return mask | torch.roll(torch.flip(mask, (0, 1)), shifts=(1, 1), dims=(0, 1))


def kernel_lesion(mask: torch.Tensor, centre: tuple[float, float], radius: float,
                  amplitude: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(d, b): the bump b = amplitude on a disc, and d = b - A_s^* A_s b, real, with A d = 0."""
    from ..operators import Fourier2D
    from .targeted import disc

    radius = check_scalar("radius", radius, positive=True)
    amplitude = check_scalar("amplitude", amplitude, positive=True)
    b = disc(tuple(mask.shape), centre, radius).to(torch.float64) * amplitude
    As = Fourier2D(symmetrised(mask))
    d = b.to(torch.complex128) - As.adjoint(As(b.to(torch.complex128)))
    return d.real.contiguous(), b


def leaky(d: torch.Tensor, b: torch.Tensor, leak: float) -> torch.Tensor:
    """d_leak = d + leak (b - d): ||A d_leak|| = leak ||A b||."""
    leak = check_scalar("leak", leak, positive=True)
    return d + leak * (b - d)


def lesion_images(shape: int, n: int, lesion: torch.Tensor, *, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n phantoms (``data.PhantomDataset``), every second one with the lesion added; (images, has_lesion)."""
    from ..data import PhantomDataset

    n = check_int("n", n, minimum=2)
    ds = PhantomDataset(shape, n, seed=seed)
    has = torch.arange(n) % 2 == 1
    images = torch.stack([ds[i] + (lesion if has[i] else 0) for i in range(n)])
    return images, has


def train_control(out: str | Path, *, progress: bool = True, command: str = "", **overrides: Any):
    """Train the positive-control U-Net on phantoms with and without the leaky kernel lesion (CONTROL,
    with ``overrides``) and write it to ``out`` with its record."""
    import platform

    from .. import __version__, masks
    from ..nets import training

    c = {**CONTROL, **overrides}
    m = masks.make(c["mask"], (c["size"], c["size"]), c["rate"], seed=c["mask_seed"]).mask
    d, b = kernel_lesion(m, c["centre"], c["radius"], c["amplitude"])
    lesion = leaky(d, b, c["leak"])
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
class PositiveControl:
    """A map on a pair (x, x' = x + d_leak): its errors, the bound, the ratio at the feasible r, the
    attack's ratio at ||r||, and whether r makes the lesion appear (and -r, from x', vanish); ``partial``
    the lesion contrast t r already creates for t < 1."""

    errors: tuple[float, float]  # ||f(A x) - x||, ||f(A x') - x'||
    bound: float  # (||x - x'|| - 2 eta) / ||A x - A x'||, eta = max of the errors
    bound_difference: float  # (||x - x'|| - ||e' - e||) / ||A x - A x'||, e = f(A x) - x, e' = f(A x') - x'

    feasible_ratio: float  # ||f(A(x + r)) - f(A x)|| / ||r||, r = A^*A (x' - x)
    attack_ratio: float  # the worst case found on the sphere ||r||, from random starts
    attack_converged: bool
    r_rel: float  # ||r|| / ||x||
    appear: float  # <|f(A(x + r))|>_D - <|f(A x)|>_D over the lesion's disc D
    vanish: float  # <|f(A(x' - r))|>_D - <|f(A x')|>_D
    lesion_contrast: float  # <|x' - x|>_D
    lesion_norm: float  # ||x' - x||
    partial: tuple[tuple[float, float], ...]  # (t, <|f(A(x + t r))|>_D - <|f(A x)|>_D) for t in FRACTIONS
    images: dict[str, torch.Tensor] | None = None  # |f(A x)|, |f(A(x + r))|, |f(A x')|, |f(A(x' - r))|

    @property
    def found(self) -> bool:
        """The attack's worst case reaches the ratio at the known feasible r (within the stopping rule's 1e-3)."""
        return self.attack_ratio >= self.feasible_ratio * (1 - 1e-3)

    def summary(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in self.__dataclass_fields__ if k != "images"}, "found": self.found}


FRACTIONS = (0.1, 0.25, 0.5, 0.75)  # parts of the feasible r tried: how small a perturbation already shows the lesion


def positive_control(f, A, x: torch.Tensor, lesion: torch.Tensor, region: torch.Tensor, *,
                     budget: Any = None) -> PositiveControl:
    """Measure ``PositiveControl`` for map f on (x, x + lesion); ``budget`` a ``battery.Budget``."""
    from .battery import Budget
    from .perturbation import worst_case

    budget = budget or Budget()
    x = x.to(torch.complex128)
    xp = x + lesion.to(torch.complex128)
    with torch.no_grad():
        fx, fxp = f(A(x)), f(A(xp))
    errors = (float(torch.linalg.vector_norm(fx - x)), float(torch.linalg.vector_norm(fxp - xp)))
    bound = accuracy_stability_bound(A, x, xp, eta=max(errors))
    # the same triangle inequality with the errors' difference: a map whose error is the same on x and
    # x' (the lesion recovered, whatever else it gets wrong) must amplify A (x' - x) by nearly ||x' - x||
    gap = float(torch.linalg.vector_norm(xp - x)) - float(torch.linalg.vector_norm((fxp - xp) - (fx - x)))
    bound_difference = max(gap, 0.0) / float(torch.linalg.vector_norm(A(xp - x)))
    r = A.adjoint(A(xp - x))
    rho = float(torch.linalg.vector_norm(r))
    with torch.no_grad():
        fr, fxr = f(A(x + r)), f(A(xp - r))
    feasible = float(torch.linalg.vector_norm(fr - fx)) / rho
    wc = worst_case(f, A, x, norms=[rho], steps=budget.steps, tol=budget.tol, patience=budget.patience,
                    restarts=budget.restarts, lr=budget.lr, momentum=budget.momentum, seed=budget.seed)

    def mean(t: torch.Tensor) -> float:
        return float(t.abs()[region].mean())

    with torch.no_grad():
        partial = tuple((t, mean(f(A(x + t * r))) - mean(fx)) for t in FRACTIONS)
    images = {"f(Ax)": fx.abs(), "f(A(x+r))": fr.abs(), "f(Ax')": fxp.abs(), "f(A(x'-r))": fxr.abs()}
    return PositiveControl(errors, bound, bound_difference, feasible, wc.stages[0].ratio, bool(wc.converged),
                           rho / float(torch.linalg.vector_norm(x)), mean(fr) - mean(fx), mean(fxr) - mean(fxp),
                           mean(xp - x), float(torch.linalg.vector_norm(xp - x)), partial, images)


SHIPPED = "control-unet-64-gaussian-25.pt"
CONTROL_LABEL = "U-Net (control)"
PAIR_SEED = 30_000  # held-out phantoms ellipses:30000 + i: never in the control's training or validation sets


def shipped_control() -> Path:
    """Path of the positive-control U-Net shipped with firenets (``benchmarks/positive_control.py --train``)."""
    path = Path(__file__).resolve().parent.parent / "weights" / SHIPPED
    if not path.is_file():
        raise FileNotFoundError(f"the positive control's weights are missing from the installation: {path}")
    return path


@dataclass(frozen=True, eq=False)
class ControlResult:
    """The positive control on one held-out pair (x, x' = x + d_leak): its settings, the pair, the
    lesion's disc, and ``PositiveControl`` for the control network, the reference FIRENET and zero-filling."""

    settings: dict[str, Any]
    x: torch.Tensor
    x_lesion: torch.Tensor
    r: torch.Tensor  # the feasible perturbation A^*A (x' - x)
    region: torch.Tensor
    maps: dict[str, PositiveControl]

    def summary(self) -> dict[str, Any]:
        return {"settings": self.settings, "maps": {k: v.summary() for k, v in self.maps.items()}}


def control_setup(record: dict[str, Any]):
    """(config, mask, A, lesion, region) of a control from its training record."""
    from .. import masks
    from ..operators import Fourier2D
    from .targeted import disc

    c = {**CONTROL, **record.get("control", {})}
    m = masks.make(c["mask"], (c["size"], c["size"]), c["rate"], seed=c["mask_seed"]).mask
    d, b = kernel_lesion(m, tuple(c["centre"]), c["radius"], c["amplitude"])
    return c, m, Fourier2D(m), leaky(d, b, c["leak"]), disc(tuple(m.shape), tuple(c["centre"]), c["radius"])


def control_stage(*, weights: str | Path | None = None, pair: int = 0, budget: Any = None,
                  log: Any = None) -> ControlResult:
    """``positive_control`` of the control U-Net (``weights``, default the shipped one), the reference
    FIRENET and zero-filling on the held-out pair ellipses:(PAIR_SEED + pair), with and without the lesion."""
    from .. import data
    from ..nets import training
    from ..nets.mri import REFERENCE_FIRENET, AdjointInput, reconstruction_map
    from .battery import REFERENCE, Budget

    pair = check_int("pair", pair, minimum=0)
    budget = budget or Budget()
    net, record = training.load(weights or shipped_control(), kind="unet")
    c, m, A, lesion, region = control_setup(record)
    x = data.ellipses(c["size"], seed=PAIR_SEED + pair).to(torch.float64)
    maps = {CONTROL_LABEL: AdjointInput(net, A),
            REFERENCE: reconstruction_map("firenet", A, **REFERENCE_FIRENET),
            "zero-filled": reconstruction_map("zero-filled", A)}
    out = {}
    for label, f in maps.items():
        if log is not None:
            log(f"      positive control: {label} ...")
        out[label] = positive_control(f, A, x, lesion, region, budget=budget)
    L = lesion.to(torch.complex128)
    settings = {**{k: list(v) if isinstance(v, tuple) else v for k, v in c.items()}, "pair": f"ellipses:{PAIR_SEED + pair}",
                "leak_ratio": float(torch.linalg.vector_norm(A(L))) / float(torch.linalg.vector_norm(lesion)),
                "lesion_rel": float(torch.linalg.vector_norm(lesion)) / float(torch.linalg.vector_norm(x)),
                "weights": str(weights) if weights else SHIPPED, "trained": record.get("command", ""),
                "budget": budget.summary()}
    return ControlResult(settings, x, x + lesion, A.adjoint(A(L)), region, out)
