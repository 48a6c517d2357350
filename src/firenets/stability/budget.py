"""The attack budget: one search every map of a comparison gets (sizes, step cap, stopping rule,
starts, steps), checked once, here. Antun et al., PNAS 2020 (REFERENCE sections 5 and 6)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .._validation import check_int, check_scalar, check_seed

# the relative sizes ||r|| / ||x|| at which `firenets attack` and `firenets audit` seek worst-case
# perturbations by default: fixed sizes, so that maps and images of any scale compare alike
RELATIVE_NORMS = (0.01, 0.02, 0.04)
# the precisions the worst-case search runs in (``perturbation.worst_case``)
PRECISIONS = ("complex128", "complex64")


@dataclass(frozen=True)
class Budget:
    """The worst-case search of ``stability.worst_case`` in fixed-norm mode: sizes ||r|| = rho ||x||
    for rho in ``norms`` (increasing), the step cap per start, the stopping rule (a start ends when its
    best ratio rises by less than a factor 1 + ``tol`` over ``patience`` steps), ``restarts`` random
    directions per size (each with both signs), the step ``lr`` (a fraction of ||r||), ``momentum``,
    the ``seed`` of the random starts, ``noise_trials`` Gaussian draws per size for the control, the
    ``directions`` top singular vectors of the Jacobian at x tried (each with both signs) as the
    first size's first starts (``stability.local``; 0: random starts only), the ``precision`` the
    worst-case search runs in (every recorded ratio is re-evaluated in complex128), and ``reach``: an
    outer sphere of reach times the largest size, searched before each size is searched again from
    the next larger one's best direction (0 or 1: none)."""

    norms: tuple[float, ...] = RELATIVE_NORMS
    steps: int = 100
    tol: float = 1e-3
    patience: int = 10
    restarts: int = 1
    lr: float = 0.5
    momentum: float = 0.5
    seed: int = 0
    noise_trials: int = 3
    directions: int = 1
    precision: str = "complex64"
    reach: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "norms", check_norms("norms", self.norms))
        check_search(steps=self.steps, tol=self.tol, patience=self.patience, restarts=self.restarts, lr=self.lr,
                     momentum=self.momentum, seed=self.seed)
        check_int("noise_trials", self.noise_trials, minimum=1)
        check_int("directions", self.directions, minimum=0)
        check_scalar("reach", self.reach, nonnegative=True)
        check_precision(self.precision)

    def search(self) -> dict[str, Any]:
        """The keyword arguments of the fixed-norm ascent (``worst_case``, ``hallucination_attack``)
        but the sizes: steps, tol, patience, restarts, lr, momentum, seed."""
        return {"steps": self.steps, "tol": self.tol, "patience": self.patience, "restarts": self.restarts,
                "lr": self.lr, "momentum": self.momentum, "seed": self.seed}

    def sphere(self) -> dict[str, Any]:
        """The keyword arguments of ``worst_case``'s fixed-norm search but the sizes: ``search()``, the
        Jacobian's ``directions``, the search's ``precision`` and ``reach``."""
        return {**self.search(), "directions": self.directions, "precision": self.precision, "reach": self.reach}

    def summary(self) -> dict[str, Any]:
        return asdict(self)


def check_norms(name: str, norms: Any) -> tuple[float, ...]:
    """Increasing positive sizes (relative in a ``Budget``, absolute in an attack)."""
    try:
        out = tuple(check_scalar(name, r, positive=True) for r in norms)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of positive numbers; got {norms!r}") from None
    if not out or any(b <= a for a, b in zip(out, out[1:], strict=False)):
        raise ValueError(f"{name} must be increasing positive numbers; got {list(norms)}")
    return out


def check_search(*, steps: int, tol: float, patience: int, restarts: int, lr: float, momentum: float, seed: int,
                 min_restarts: int = 0) -> dict[str, Any]:
    """The one check of a fixed-norm search's settings (``Budget``, ``worst_case``, ``hallucination_attack``):
    steps, patience >= 1, restarts >= ``min_restarts``, tol >= 0, lr > 0, momentum in [0, 1), a seed."""
    lr, momentum = check_step(lr, momentum)
    return {"steps": check_int("steps", steps, minimum=1), "tol": check_scalar("tol", tol, nonnegative=True),
            "patience": check_int("patience", patience, minimum=1),
            "restarts": check_int("restarts", restarts, minimum=min_restarts), "lr": lr, "momentum": momentum,
            "seed": check_seed("seed", seed)}


def check_precision(precision: str) -> str:
    """The worst-case search's precision: one of ``PRECISIONS``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    return precision


def check_step(lr: float, momentum: float) -> tuple[float, float]:
    """An ascent's step and momentum: lr > 0, momentum in [0, 1)."""
    lr = check_scalar("lr", lr, positive=True)
    momentum = check_scalar("momentum", momentum, nonnegative=True)
    if momentum >= 1:
        raise ValueError(f"momentum must be in [0, 1); got {momentum}")
    return lr, momentum
