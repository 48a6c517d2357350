"""Seeded k-space sampling patterns, as boolean masks with their sampling rate.

Every mask is centred like ``Fourier2D``: the zero frequency sits at (H // 2, W // 2). Each
pattern is built from one random ordering of its candidate samples, and a mask at rate r takes
the first samples of that ordering; so, for one seed, masks at increasing rates are nested
(``nested`` returns them together), which the "more samples" test needs.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from ._validation import check_int, check_pixels, check_scalar, check_seed, check_shape

KINDS = ("cartesian", "equispaced", "gaussian", "radial", "das")  # nested() takes these but equispaced


class SamplingMask(NamedTuple):
    """A boolean k-space mask (H, W) and the fraction of k-space it samples."""

    mask: torch.Tensor
    rate: float


def _rate(rate: Any) -> float:
    rate = check_scalar("rate", rate)
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"rate must be in (0, 1]; got {rate}")
    return rate


def _generator(seed: Any) -> torch.Generator:
    return torch.Generator().manual_seed(check_seed("seed", seed))


def _result(mask: torch.Tensor) -> SamplingMask:
    count = int(mask.sum().item())
    if count == 0:
        raise ValueError(f"the mask on a {tuple(mask.shape)} grid holds no sample at this rate; raise rate")
    return SamplingMask(mask, count / mask.numel())


def _centre_columns(W: int, count: int) -> torch.Tensor:
    start = W // 2 - count // 2
    return torch.arange(start, start + count)


def _column_mask(shape: tuple[int, int], cols: torch.Tensor) -> torch.Tensor:
    mask = torch.zeros(shape, dtype=torch.bool)
    mask[:, cols] = True
    return mask


def _default_centre(rate: float, center_fraction: float | None) -> float:
    if center_fraction is None:
        return 0.32 * rate  # fastMRI: 0.08 at 4x, 0.04 at 8x
    cf = check_scalar("center_fraction", center_fraction, nonnegative=True)
    if cf > rate:
        raise ValueError(f"center_fraction ({cf}) cannot exceed rate ({rate})")
    return cf


def _cartesian_order(W: int, n_centre: int, gen: torch.Generator) -> torch.Tensor:
    centre = _centre_columns(W, n_centre)
    others = torch.ones(W, dtype=torch.bool)
    others[centre] = False
    rest = torch.nonzero(others).reshape(-1)
    return torch.cat([centre, rest[torch.randperm(rest.numel(), generator=gen)]])


def cartesian(
    shape: Any, rate: float, *, center_fraction: float | None = None, seed: int = 0
) -> SamplingMask:
    """Random phase-encode lines (columns) with a fully sampled centre (fastMRI semantics).

    round(center_fraction * W) central columns are always taken (default 0.32 * rate: 0.08 at
    4x, 0.04 at 8x); the rest of the round(rate * W) columns are drawn uniformly at random.
    """
    return nested("cartesian", shape, [rate], center_fraction=center_fraction, seed=seed)[0]


def equispaced(
    shape: Any, rate: float, *, center_fraction: float | None = None, seed: int = 0
) -> SamplingMask:
    """Every (1/rate)-th column with a random offset, plus a fully sampled centre (fastMRI).

    As in fastMRI's equispaced masks, the spacing is chosen so that the total number of
    columns (centre included) is about rate * W.
    """
    H, W = check_pixels("shape", check_shape("shape", shape, ndim=2))
    rate = _rate(rate)
    cf = _default_centre(rate, center_fraction)
    gen = _generator(seed)
    n_centre = round(cf * W)
    target = max(round(rate * W), 1)
    if target <= n_centre:
        return _result(_column_mask((H, W), _centre_columns(W, n_centre)))
    spacing = max((W - n_centre) / (target - n_centre), 1.0)
    offset = torch.randint(0, max(int(round(spacing)), 1), (1,), generator=gen).item()
    cols = torch.unique(
        torch.cat([
            _centre_columns(W, n_centre),
            torch.round(torch.arange(offset, W, spacing, dtype=torch.float64)).long().clamp(max=W - 1),
        ])
    )
    return _result(_column_mask((H, W), cols))


def _radius(shape: tuple[int, int]) -> torch.Tensor:
    """Normalised distance to the k-space centre: 1 at the edge midpoints."""
    H, W = shape
    ky = (torch.arange(H, dtype=torch.float64) - H // 2) / max(H / 2, 1)
    kx = (torch.arange(W, dtype=torch.float64) - W // 2) / max(W / 2, 1)
    return torch.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)


def _gaussian_order(shape: tuple[int, int], sigma: float, gen: torch.Generator) -> torch.Tensor:
    # weighted sampling without replacement as one ordering: sort log p + Gumbel noise
    r = _radius(shape).reshape(-1)
    log_p = -(r**2) / (2 * sigma**2)
    u = torch.rand(r.numel(), generator=gen, dtype=torch.float64).clamp(1e-300, 1 - 1e-16)
    order = torch.argsort(log_p - torch.log(-torch.log(u)), descending=True)
    centre = shape[0] // 2 * shape[1] + shape[1] // 2
    return torch.cat([torch.tensor([centre]), order[order != centre]])


def gaussian(shape: Any, rate: float, *, sigma: float = 0.3, seed: int = 0) -> SamplingMask:
    """2-D variable-density random sampling: p(k) proportional to exp(-|k|^2 / (2 sigma^2)).

    |k| is the distance to the centre, 1 at the edge; exactly round(rate * H * W) distinct
    samples are drawn without replacement, the zero frequency always among them.
    """
    shape = check_shape("shape", shape, ndim=2)
    check_scalar("sigma", sigma, positive=True)
    return nested("gaussian", shape, [rate], sigma=sigma, seed=seed)[0]


def _line_pixels(shape: tuple[int, int], angle: float) -> torch.Tensor:
    H, W = shape
    R = math.hypot(H, W) / 2
    t = torch.arange(-R, R + 0.25, 0.25, dtype=torch.float64)
    rows = torch.round(H // 2 + t * math.sin(angle)).long()
    cols = torch.round(W // 2 + t * math.cos(angle)).long()
    keep = (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)
    return torch.unique(rows[keep] * W + cols[keep])


def radial(shape: Any, rate: float, *, seed: int = 0) -> SamplingMask:
    """Lines through the k-space centre at golden-angle increments from a random start angle.

    Lines are added until the sampled fraction reaches ``rate``.
    """
    return nested("radial", shape, [rate], seed=seed)[0]


def _das_levels(shape: tuple[int, int], n_levels: int) -> torch.Tensor:
    # dyadic rings in the max-norm, like wavelet scales: level 0 is the central square
    H, W = shape
    ky = (torch.arange(H) - H // 2).abs()[:, None] / max(H / 2, 1)
    kx = (torch.arange(W) - W // 2).abs()[None, :] / max(W / 2, 1)
    r = torch.maximum(ky, kx).to(torch.float64)
    edges = 2.0 ** torch.arange(-(n_levels - 1), 1, dtype=torch.float64)  # 2^-(L-1), ..., 1
    return torch.bucketize(r, edges[:-1], right=True)


def _das_counts(sizes: list[int], total: int, decay: float) -> list[int]:
    # densities p_l = min(1, c decay^l); c by bisection so that the counts add up to total
    def counts(c: float) -> list[int]:
        return [min(n, round(min(1.0, c * decay**level) * n)) for level, n in enumerate(sizes)]

    lo, hi = 0.0, decay ** -(len(sizes))
    for _ in range(200):
        mid = (lo + hi) / 2
        if sum(counts(mid)) < total:
            lo = mid
        else:
            hi = mid
    return counts(hi)


def das(
    shape: Any, rate: float, *, levels: int = 6, decay: float = 0.5, seed: int = 0
) -> SamplingMask:
    """Multilevel (DAS) sampling: dyadic levels in k-space, density p_l = min(1, c decay^l).

    Level 0 is the central square, level l the ring between 2^(l-levels) and 2^(l+1-levels)
    (max-norm, 1 at the edge); c is chosen so that the mask has round(rate * H * W) samples,
    drawn uniformly at random within each level. Reference: Adcock, Hansen, Poon, Roman,
    "Breaking the coherence barrier", Forum Math. Sigma 2017.
    """
    return nested("das", shape, [rate], levels=levels, decay=decay, seed=seed)[0]


def nested(kind: str, shape: Any, rates: Any, *, seed: int = 0, **options: Any) -> list[SamplingMask]:
    """Masks of one kind at several rates, each containing the masks at lower rates.

    kind: one of "cartesian", "gaussian", "radial", "das" (equispaced masks at different
    spacings are not nested, so they are refused here). options: that kind's keywords.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    if kind == "equispaced":
        raise ValueError("kind 'equispaced' cannot be nested: spacings 1/r do not contain each other")
    shape = check_pixels("shape", check_shape("shape", shape, ndim=2))
    H, W = shape
    rates = [_rate(r) for r in (rates if isinstance(rates, (list, tuple)) else [rates])]
    if not rates:
        raise ValueError("rates must hold at least one rate")
    gen = _generator(seed)
    out: list[SamplingMask] = []

    if kind == "cartesian":
        cf = _default_centre(min(rates), options.pop("center_fraction", None))
        _no_options(kind, options)
        order = _cartesian_order(W, round(cf * W), gen)
        for r in rates:
            k = min(max(round(r * W), round(cf * W), 1), W)
            out.append(_result(_column_mask(shape, order[:k])))
    elif kind == "gaussian":
        sigma = check_scalar("sigma", options.pop("sigma", 0.3), positive=True)
        _no_options(kind, options)
        order = _gaussian_order(shape, sigma, gen)
        for r in rates:
            out.append(_result(_from_flat(shape, order[: max(round(r * H * W), 1)])))
    elif kind == "radial":
        _no_options(kind, options)
        start = torch.rand(1, generator=gen, dtype=torch.float64).item() * math.pi
        golden = math.pi * (math.sqrt(5) - 1) / 2  # golden angle on [0, pi)
        flat = torch.zeros(H * W, dtype=torch.bool)
        line, max_lines = 0, 8 * (H + W)
        for r in sorted(rates):
            while flat.sum().item() < r * H * W - 0.5:
                if line == max_lines:
                    raise ValueError(
                        f"rate {r} is not reachable with radial lines on a {H}x{W} grid "
                        f"(reached {flat.sum().item() / (H * W):.3f} with {line} lines)"
                    )
                flat[_line_pixels(shape, start + line * golden)] = True
                line += 1
            out.append(_result(flat.reshape(shape).clone()))
        out = [out[sorted(rates).index(r)] for r in rates]
    else:  # das
        n_levels = check_int("levels", options.pop("levels", 6), minimum=1)
        decay = check_scalar("decay", options.pop("decay", 0.5), positive=True)
        if decay > 1:
            raise ValueError(f"decay must be in (0, 1]; got {decay}")
        _no_options(kind, options)
        level = _das_levels(shape, n_levels).reshape(-1)
        members = [torch.nonzero(level == lv).reshape(-1) for lv in range(n_levels)]
        members = [m[torch.randperm(m.numel(), generator=gen)] for m in members]
        sizes = [m.numel() for m in members]
        for r in rates:
            counts = _das_counts(sizes, max(round(r * H * W), 1), decay)
            idx = torch.cat([m[:c] for m, c in zip(members, counts, strict=True)])
            out.append(_result(_from_flat(shape, idx)))
    return out


def _from_flat(shape: tuple[int, int], idx: torch.Tensor) -> torch.Tensor:
    flat = torch.zeros(shape[0] * shape[1], dtype=torch.bool)
    flat[idx] = True
    return flat.reshape(shape)


def _no_options(kind: str, options: dict) -> None:
    if options:
        raise TypeError(f"unexpected option(s) for kind {kind!r}: {sorted(options)}")


def make(kind: str, shape: Any, rate: float, *, seed: int = 0, **options: Any) -> SamplingMask:
    """The mask of the given kind by name (the CLI's entry point); for the fastMRI kinds ``rate`` is
    1 / acceleration and ``center_fraction`` an option."""
    if kind == "equispaced":
        return equispaced(shape, rate, seed=seed, **options)
    if kind in FASTMRI_KINDS:
        rate = _rate(rate)
        make_mask = fastmri_random if kind == "fastmri-random" else fastmri_equispaced
        return make_mask(shape, 1 / rate, options.pop("center_fraction", FASTMRI_CENTRE.get(round(1 / rate), 0.08)),
                         seed=seed, **options)
    return nested(kind, shape, [rate], seed=seed, **options)[0]


# --- fastMRI's column masks (fastmri.data.subsample, version 0.3) ------------------------------

FASTMRI_KINDS = ("fastmri-random", "fastmri-equispaced")
FASTMRI_CENTRE = {4: 0.08, 8: 0.04}  # the standard pairs of acceleration and centre fraction


def _fastmri_centre(shape: Any, acceleration: float, center_fraction: float) -> tuple[int, int, torch.Tensor]:
    """(H, W, the fully sampled centre columns): round(W center_fraction) columns from (W - n + 1) // 2."""
    H, W = check_pixels("shape", check_shape("shape", shape, ndim=2))
    acceleration = check_scalar("acceleration", acceleration, positive=True)
    if acceleration < 1:
        raise ValueError(f"acceleration must be >= 1 (1 / the fraction of columns sampled); got {acceleration}")
    cf = check_scalar("center_fraction", center_fraction, positive=True)
    if not cf < 1:
        raise ValueError(f"center_fraction must be in (0, 1); got {center_fraction}")
    n_low = round(W * cf)
    if n_low > W / acceleration:
        raise ValueError(f"center_fraction {cf} gives {n_low} centre columns, more than the {W / acceleration:.4g} of "
                         f"all {W} columns that acceleration {acceleration} samples; lower it")
    if n_low < 1:
        raise ValueError(f"center_fraction {cf} of {W} columns rounds to no centre column; raise it")
    start = (W - n_low + 1) // 2
    return H, W, torch.arange(start, start + n_low)


def fastmri_random(shape: Any, acceleration: float, center_fraction: float, *, seed: int = 0) -> SamplingMask:
    """fastMRI's random column mask: the round(W center_fraction) centre columns, and every other column
    with probability (W / acceleration - n_low) / (W - n_low), so that the expected rate is 1 / acceleration.

    One uniform draw per column from ``seed``: masks with one seed at higher accelerations (and centres
    that nest, as 0.08 at 4x and 0.04 at 8x do) are contained in those at lower ones.
    """
    H, W, centre = _fastmri_centre(shape, acceleration, center_fraction)
    n_low = centre.numel()
    prob = (W / acceleration - n_low) / (W - n_low) if W > n_low else 0.0
    u = torch.rand(W, generator=_generator(seed), dtype=torch.float64)
    cols = u < prob
    cols[centre] = True
    return _result(_column_mask((H, W), torch.nonzero(cols).reshape(-1)))


def fastmri_equispaced(shape: Any, acceleration: float, center_fraction: float, *, seed: int = 0,
                       offset: int | None = None) -> SamplingMask:
    """fastMRI's equispaced column mask (its fraction variant): the centre columns, and columns
    round(offset + k a') for k = 0, 1, ... below W - 1, with the spacing
    a' = acceleration (n_low - W) / (n_low acceleration - W) chosen so that the rate is about
    1 / acceleration, and ``offset`` (default: drawn from ``seed``) in [0, round(acceleration))."""
    H, W, centre = _fastmri_centre(shape, acceleration, center_fraction)
    n_low = centre.numel()
    top = max(round(acceleration), 1)
    if offset is None:
        offset = int(torch.randint(0, top, (1,), generator=_generator(seed)).item())
    offset = check_int("offset", offset, minimum=0)
    if offset >= top:
        raise ValueError(f"offset must be in [0, {top}); got {offset}")
    cols = torch.zeros(W, dtype=torch.bool)
    if n_low * acceleration != W:
        spacing = acceleration * (n_low - W) / (n_low * acceleration - W)
        picks = torch.round(torch.arange(offset, W - 1, spacing, dtype=torch.float64)).long()
        cols[picks[picks < W]] = True
    cols[centre] = True
    return _result(_column_mask((H, W), torch.nonzero(cols).reshape(-1)))
