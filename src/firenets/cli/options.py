"""The option types and option groups the commands share, and the protocol of their outputs: one
bounded-number type (``number``) and its list form, the sampling options (a mask kind or file, a rate
or an acceleration), ``--out``/``--force``, and the names the library's errors map to options."""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._io import run_directory
from ..acquisition import MASKS
from ..masks import FASTMRI_KINDS
from ..stability.budget import PRECISIONS, Budget

MASK_KINDS = MASKS + FASTMRI_KINDS
FORCE_HELP = ("write into an --out that holds other files (the previous run's completion files are removed "
              "first, this run's written last)")


def _interval(minimum: float | None, above: float | None, maximum: float | None, below: float | None) -> str:
    lo = f"[{minimum:g}" if minimum is not None else (f"({above:g}" if above is not None else None)
    hi = f"{maximum:g}]" if maximum is not None else (f"{below:g})" if below is not None else None)
    if lo and hi:
        return f"in {lo}, {hi}"
    if lo:
        return (">= " if lo[0] == "[" else "> ") + lo[1:]
    if hi:
        return ("<= " if hi[-1] == "]" else "< ") + hi[:-1]
    return ""


def number(kind: type = float, *, minimum: float | None = None, above: float | None = None,
           maximum: float | None = None, below: float | None = None, what: str | None = None
           ) -> Callable[[str], Any]:
    """The argparse type of a finite number of ``kind`` (int or float) within the bounds given (closed:
    ``minimum``/``maximum``; open: ``above``/``below``), with a message saying what was expected."""
    what = what or ("an integer" if kind is int else "a number")
    interval = _interval(minimum, above, maximum, below)

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        bad = (not math.isfinite(value) or (minimum is not None and value < minimum)
               or (above is not None and not value > above) or (maximum is not None and value > maximum)
               or (below is not None and not value < below))
        if bad:
            raise argparse.ArgumentTypeError(f"expected {what}{' ' + interval if interval else ''}, got "
                                             f"{text!r}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


def numbers(kind: type = float, **bounds: Any) -> Callable[[str], list]:
    """The argparse type of comma-separated ``number``s (at least one)."""
    one = number(kind, **bounds)

    def parse(text: str) -> list:
        values = [one(v) for v in text.split(",") if v.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
        return values

    return parse


positive = number(float, above=0)
nonnegative = number(float, minimum=0)
positive_int = number(int, minimum=1)
nonnegative_int = number(int, minimum=0)
rate = number(float, above=0, maximum=1, what="a sampling rate")
acceleration = number(float, minimum=1, what="an acceleration")
fraction = number(float, above=0, below=1, what="a fraction")
momentum = number(float, minimum=0, below=1, what="a momentum")
seed = number(int, minimum=0, maximum=2**63 - 1, what="a seed")


def choices(names: Sequence[str], what: str) -> Callable[[str], tuple[str, ...]]:
    """The argparse type of comma-separated names among ``names``."""
    def parse(text: str) -> tuple[str, ...]:
        picked = tuple(n.strip() for n in text.split(",") if n.strip())
        unknown = [n for n in picked if n not in names]
        if not picked or unknown:
            raise argparse.ArgumentTypeError(f"expected {what} among {', '.join(names)}; got {text!r}")
        return picked

    return parse


def out_path(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def add_output(parser: argparse.ArgumentParser, default: str, help: str = "output directory") -> None:
    """--out and --force."""
    parser.add_argument("--out", type=out_path, default=default, help=f"{help} (default {default})")
    parser.add_argument("--force", action="store_true", help=FORCE_HELP)


def add_sampling(parser: argparse.ArgumentParser, *, mask_help: str) -> None:
    """--mask, --mask-file, --rate, --acceleration, --center-fraction."""
    parser.add_argument("--mask", choices=MASK_KINDS, default=None, help=mask_help)
    parser.add_argument("--center-fraction", type=fraction, default=None,
                        help="column masks (cartesian, fastmri-*): the fully sampled centre's fraction of the columns "
                             "(fastMRI's default 0.08 at 4x, 0.04 at 8x; cartesian's 0.32 x rate)")
    parser.add_argument("--mask-file", default=None, help="a boolean (H, W) .npy file: your own mask")
    parser.add_argument("--rate", type=rate, default=None, help="fraction of k-space sampled (default 0.25)")
    parser.add_argument("--acceleration", type=acceleration, default=None,
                        help="instead of --rate: 1 / the fraction sampled (fastMRI's convention, e.g. 4 or 8)")


def add_budget(parser: argparse.ArgumentParser, *, penalised: bool = False) -> None:
    """The attack budget's options (``stability.Budget``): sizes, step cap, stopping rule, starts, step;
    with ``penalised`` the help also says what they mean for the penalised and measurement attacks."""
    mode = "fixed-norm ascent: " if penalised else ""
    parser.add_argument("--norms", type=numbers(float, above=0), default=None,
                        help=f"{mode}relative sizes ||r||/||x|| of the perturbations (default 0.01,0.02,0.04: "
                             "firenets.stability.RELATIVE_NORMS)")
    parser.add_argument("--steps", type=positive_int, default=None,
                        help=f"{mode}the step cap per start (default 100; a start that reaches it is reported as "
                             "not converged)")
    parser.add_argument("--tol", type=nonnegative, default=1e-3,
                        help="a start ends when its best ratio " + ("(or error, in the measurement attack) "
                                                                    if penalised else "")
                             + "rises by less than a factor 1 + TOL over --patience steps (default 1e-3)")
    parser.add_argument("--patience", type=positive_int, default=10, help="see --tol (default 10)")
    parser.add_argument("--random-starts", type=nonnegative_int, default=None,
                        help=f"{mode}random directions per size, each tried with both signs, besides the previous "
                             "size's best (default 1)")
    parser.add_argument("--lr", type=positive, default=None,
                        help="step: a fraction of ||r|| (default 0.5)" + (
                            " in the fixed-norm ascent, the gradient step (default 0.01) in the penalised one"
                            if penalised else ""))
    parser.add_argument("--momentum", type=momentum, default=None,
                        help="default 0.5" + (" (fixed-norm), 0.9 (penalised)" if penalised else ""))
    parser.add_argument("--directions", type=nonnegative_int, default=None,
                        help=f"{mode}top singular vectors of the Jacobian at the image tried first, each with both "
                             "signs (default 1; 0: random starts only)")
    parser.add_argument("--precision", choices=PRECISIONS, default=None,
                        help=f"{mode}the precision the worst-case search runs in; the ratios reported are "
                             "re-evaluated in complex128 (default complex64)")
    parser.add_argument("--reach", type=nonnegative, default=None,
                        help=f"{mode}an outer sphere of REACH x the largest size is searched, then every size again "
                             "from the next larger size's best direction (default 2; 0: none)")


BUDGET_OPTIONS = {"norms": "--norms", "steps": "--steps", "restarts": "--random-starts", "lr": "--lr",
                  "momentum": "--momentum", "tol": "--tol", "patience": "--patience", "seed": "--seed",
                  "directions": "--directions", "precision": "--precision", "reach": "--reach"}


def budget(args: argparse.Namespace) -> Budget:
    """The ``stability.Budget`` of the options (``add_budget``; the seed of the random starts is --seed)."""
    given = {"norms": tuple(args.norms) if args.norms else None, "steps": args.steps, "restarts": args.random_starts,
             "lr": args.lr, "momentum": args.momentum, "directions": args.directions, "precision": args.precision,
             "reach": args.reach}
    return Budget(tol=args.tol, patience=args.patience, seed=args.seed,
                  **{k: v for k, v in given.items() if v is not None})  # the others: Budget's defaults


def say(args: argparse.Namespace, text: str) -> None:
    """A line on stderr, prefixed by the command."""
    print(f"firenets {args.command}: {text}", file=sys.stderr, flush=True)


def output(args: argparse.Namespace, markers: tuple[str, ...]):
    """The output protocol (``_io.run_directory``) for ``--out`` of this command."""
    return run_directory(args.out, force=args.force, markers=markers, warn=lambda text: say(args, text))


def read_maps_file(path: str) -> torch.Tensor:
    """Complex coil maps (coils, H, W) from a .npy file (never unpickled)."""
    try:
        m = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ValueError(f"--maps {path} cannot be read as a .npy file: {exc}") from None
    if m.ndim != 3 or not (np.iscomplexobj(m) or np.issubdtype(m.dtype, np.floating)):
        raise ValueError(f"--maps {path} must hold complex coil maps (coils, H, W); got dtype {m.dtype}, shape {m.shape}")
    if not np.isfinite(m).all():
        raise ValueError(f"--maps {path} holds NaN or Inf values")
    return torch.from_numpy(m.astype(np.complex128))


def read_mask_file(path: str, option: str = "--mask-file") -> torch.Tensor:
    """A boolean (H, W) mask from a .npy file (never unpickled), given with ``option``."""
    try:
        m = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ValueError(f"{option} {path} cannot be read as a .npy file: {exc}") from None
    if m.dtype != np.bool_ or m.ndim != 2:
        raise ValueError(f"{option} {path} must hold a boolean (H, W) array; got dtype {m.dtype}, shape {m.shape}")
    if not m.any():
        raise ValueError(f"{option} {path} selects nothing")
    return torch.from_numpy(m.copy())


def sampling(args: argparse.Namespace, multicoil: bool = False) -> dict[str, Any]:
    """mask, rate and center_fraction from --mask/--mask-file, --rate/--acceleration, --center-fraction."""
    if args.rate is not None and args.acceleration is not None:
        raise ValueError("give --rate or --acceleration, not both")
    if args.mask_file is not None and args.mask is not None:
        raise ValueError("give --mask or --mask-file, not both")
    kind = args.mask or ("fastmri-random" if multicoil else "gaussian")
    centre = getattr(args, "center_fraction", None)
    if centre is not None and (args.mask_file is not None
                               or (args.mask is not None and args.mask != "cartesian" and not kind.startswith("fastmri"))):
        raise ValueError("--center-fraction applies to --mask cartesian, fastmri-random and fastmri-equispaced")
    r = 1 / args.acceleration if args.acceleration is not None else (0.25 if args.rate is None else args.rate)
    out = {"mask": kind, "rate": r, "center_fraction": centre}
    if args.mask_file is not None:
        out.update(mask=read_mask_file(args.mask_file), center_fraction=None)
    return out


def check_mask_shape(args: argparse.Namespace, mask: Any, shape: Sequence[int], where: str) -> None:
    """Refuse a --mask-file whose (H, W) is not the image's (``where`` names the image)."""
    if isinstance(mask, torch.Tensor) and tuple(mask.shape) != tuple(shape):
        raise ValueError(f"--mask-file {args.mask_file} is {tuple(mask.shape)} but {where} is {tuple(shape)}")


def unwritable(out: Path) -> str | None:
    """Why results cannot be written to the directory ``out`` (None when they can): checked by creating it
    and a probe file before any long computation."""
    if out.exists() and not out.is_dir():
        return "exists and is not a directory"
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".probe-"):
            pass
    except OSError as exc:
        return f"not writable ({exc.strerror or exc})"
    return None
