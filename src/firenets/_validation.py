"""Argument checks shared by the public boundary of every module."""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch


class ArgumentError(ValueError):
    """A bad value of the argument ``argument`` (the Python parameter's name): the message is
    "ARGUMENT DETAIL", and a command line can name its own option for the argument instead."""

    def __init__(self, argument: str, detail: str):
        super().__init__(f"{argument} {detail}")
        self.argument, self.detail = argument, detail


_REAL_OF = {
    torch.float64: torch.float64,
    torch.float32: torch.float32,
    torch.complex128: torch.float64,
    torch.complex64: torch.float32,
}
_COMPLEX_OF = {torch.float64: torch.complex128, torch.float32: torch.complex64}


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """Real dtype of the same precision (complex128 -> float64)."""
    return _REAL_OF[dtype]


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    """Complex dtype of the same precision (float64 -> complex128)."""
    return _COMPLEX_OF[real_dtype(dtype)]


def check_float_dtype(name: str, dtype: torch.dtype) -> torch.dtype:
    """Accept float32/float64/complex64/complex128 only."""
    if dtype not in _REAL_OF:
        raise TypeError(
            f"{name} must have dtype float64, complex128, float32 or complex64; got {dtype}"
        )
    return dtype


def as_tensor(
    name: str,
    value: Any,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    finite: bool = True,
) -> torch.Tensor:
    """Convert a tensor or array to a floating/complex torch tensor, with clear errors.

    Integer, boolean and object data are refused rather than cast. NumPy arrays are converted
    (the only place NumPy enters); ``dtype`` casts between precisions only when given.
    """
    if isinstance(value, torch.Tensor):
        t = value
    else:
        try:
            import numpy as np
        except ImportError:  # pragma: no cover - numpy is a dependency
            np = None
        if np is not None and isinstance(value, np.ndarray):
            if value.dtype.kind not in "fc":
                raise TypeError(
                    f"{name} must be a floating-point or complex array; got dtype {value.dtype}"
                )
            t = torch.from_numpy(np.ascontiguousarray(value))
        else:
            raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray; got {type(value).__name__}")
    if t.dtype not in _REAL_OF:
        raise TypeError(
            f"{name} must be floating-point or complex (float64/complex128 for accuracy); got {t.dtype}"
        )
    if dtype is not None and t.dtype != dtype:
        t = t.to(dtype)
    if device is not None:
        t = t.to(device)
    if finite:
        check_finite(name, t)
    return t


def check_finite(name: str, t: torch.Tensor) -> None:
    """Raise ValueError if t holds NaN or Inf."""
    if not bool(torch.isfinite(t).all()):
        bad = (~torch.isfinite(t)).sum().item()
        raise ValueError(f"{name} must be finite; it holds {bad} NaN/Inf entries")


def check_scalar(
    name: str,
    value: Any,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    below: float | None = None,
) -> float:
    """A finite real number, optionally > 0, >= 0 or < below."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar; got a tensor of shape {tuple(value.shape)}")
        if value.is_complex():
            raise TypeError(f"{name} must be real; got {value.dtype}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite; got {v}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be > 0; got {v}")
    if nonnegative and v < 0:
        raise ValueError(f"{name} must be >= 0; got {v}")
    if below is not None and v >= below:
        raise ValueError(f"{name} must be < {below}; got {v}")
    return v


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer (not a bool), optionally in [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {type(value).__name__} {value!r}")
    v = int(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {v}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {v}")
    return v


SEED_MAX = 2**63 - 1  # torch.Generator.manual_seed takes 64-bit seeds


def check_seed(name: str, value: Any) -> int:
    """A seed for ``torch.Generator.manual_seed``: an integer in [0, 2^63 - 1]."""
    return check_int(name, value, minimum=0, maximum=SEED_MAX)


MAX_PIXELS_DEFAULT = 4096 * 4096


def max_pixels() -> int:
    """The largest image (pixels) firenets builds: 4096 x 4096 unless the environment variable
    FIRENETS_MAX_PIXELS says otherwise. A complex128 image of 4096 x 4096 takes 268 MB and a FIRENET
    keeps about 20 of them; the limit stops a mistyped size from exhausting memory before any check."""
    import os

    text = os.environ.get("FIRENETS_MAX_PIXELS", "")
    if not text:
        return MAX_PIXELS_DEFAULT
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"FIRENETS_MAX_PIXELS must be a positive integer; got {text!r}") from None
    if value < 1:
        raise ValueError(f"FIRENETS_MAX_PIXELS must be a positive integer; got {text!r}")
    return value


def check_pixels(name: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Refuse an image shape of more than ``max_pixels()`` pixels, before anything is allocated."""
    n = math.prod(int(s) for s in shape)
    limit = max_pixels()
    if n > limit:
        raise ValueError(f"{name} {tuple(shape)} has {n} pixels, more than the limit of {limit} "
                         "(set the environment variable FIRENETS_MAX_PIXELS to raise it)")
    return tuple(shape)


def check_shape(name: str, shape: Any, *, ndim: int | None = None) -> tuple[int, ...]:
    """A tuple of positive ints (an int is read as a 1-tuple)."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (int(shape),)
    try:
        out = tuple(check_int(f"{name}[{i}]", s, minimum=1) for i, s in enumerate(shape))
    except TypeError as exc:
        if "integer" in str(exc):
            raise
        raise TypeError(f"{name} must be a tuple of positive integers; got {shape!r}") from None
    if ndim is not None and len(out) != ndim:
        raise ValueError(f"{name} must have {ndim} entries; got {out}")
    return out


def split_batch(name: str, t: torch.Tensor, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Leading (batch) dimensions of t, whose trailing dimensions must equal shape exactly."""
    k = len(shape)
    if t.ndim < k or tuple(t.shape[t.ndim - k :]) != tuple(shape):
        raise ValueError(
            f"{name} must have trailing shape {tuple(shape)} (optionally with leading batch "
            f"dimensions); got shape {tuple(t.shape)}"
        )
    return tuple(t.shape[: t.ndim - k])
