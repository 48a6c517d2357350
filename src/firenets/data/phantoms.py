"""Test images: seeded random-ellipse phantoms with small details, and the Shepp-Logan phantom.

Random ellipses with random intensities inside a large "head" ellipse are the training and test
images of the ellipse experiments in Antun, Colbrook, Hansen, "The difficulty of computing
stable and accurate neural networks", PNAS 2022; small "tumour"-like ellipses and text are the
structural changes whose recovery the stability tests measure (``insert_detail``).

Every phantom is drawn on the CPU in float64 from a ``torch.Generator`` seeded with ``seed``,
so it is the same on every machine and device; cast or move it afterwards.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

import torch

from .._validation import check_int, check_pixels, check_scalar, check_seed, check_shape

MIN_SIDE, MAX_SIDE = 16, 1024


class DetailedPhantom(NamedTuple):
    """A phantom and the support of each detail inserted in it.

    image: (H, W) real tensor. supports: (k, H, W) boolean tensor, supports[i] the pixels that
    detail i changed (pairwise disjoint). ``mask`` is their union (H, W).
    """

    image: torch.Tensor
    supports: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        """Union of the detail supports, (H, W) boolean."""
        return self.supports.any(dim=0)


def _phantom_shape(shape: Any) -> tuple[int, int]:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (int(shape), int(shape))
    H, W = check_shape("shape", shape, ndim=2)
    if not (MIN_SIDE <= H <= MAX_SIDE and MIN_SIDE <= W <= MAX_SIDE):
        raise ValueError(f"shape must have sides in [{MIN_SIDE}, {MAX_SIDE}]; got {(H, W)}")
    return H, W


def _check_real_dtype(dtype: torch.dtype) -> torch.dtype:
    if dtype not in (torch.float64, torch.float32):
        raise TypeError(f"dtype must be torch.float64 or torch.float32; got {dtype}")
    return dtype


def _grid(shape: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates in [-1, 1]: y down the rows, x along the columns."""
    H, W = shape
    y = (2 * torch.arange(H, dtype=torch.float64) + 1) / H - 1
    x = (2 * torch.arange(W, dtype=torch.float64) + 1) / W - 1
    return y[:, None], x[None, :]


def _ellipse(grid, cy: float, cx: float, a: float, b: float, angle: float) -> torch.Tensor:
    """Boolean support of ((u / a)^2 + (v / b)^2 <= 1), (u, v) the rotated offsets from the centre."""
    y, x = grid
    c, s = math.cos(angle), math.sin(angle)
    u = c * (x - cx) + s * (y - cy)
    v = -s * (x - cx) + c * (y - cy)
    return (u / a) ** 2 + (v / b) ** 2 <= 1.0


def _uniform(gen: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * torch.rand(1, generator=gen, dtype=torch.float64).item()


def _base(shape, gen: torch.Generator, n_ellipses: int | None):
    """The head and the ellipses inside it, normalised to max 1; returns (image, head mask)."""
    grid = _grid(shape)
    hy, hx = _uniform(gen, -0.05, 0.05), _uniform(gen, -0.05, 0.05)
    ha, hb = _uniform(gen, 0.70, 0.90), _uniform(gen, 0.80, 0.95)  # semi-axes along x and y
    hangle = _uniform(gen, -math.pi / 12, math.pi / 12)
    head = _ellipse(grid, hy, hx, ha, hb, hangle)
    image = _uniform(gen, 0.3, 0.5) * head.to(torch.float64)
    n = int(torch.randint(3, 11, (1,), generator=gen).item())
    if n_ellipses is not None:
        n = n_ellipses
    c, s = math.cos(hangle), math.sin(hangle)
    for i in range(n):
        # centre at most 0.7 of the way to the head's boundary, in the head's own frame
        r, t = 0.7 * math.sqrt(_uniform(gen, 0, 1)), _uniform(gen, 0, 2 * math.pi)
        u, v = r * ha * math.cos(t), r * hb * math.sin(t)
        cx, cy = hx + c * u - s * v, hy + s * u + c * v
        a, b = _uniform(gen, 0.04, 0.3), _uniform(gen, 0.04, 0.3)
        angle = _uniform(gen, 0, math.pi)
        # the first inner ellipse is brighter than the head, so the maximum lies inside it
        value = _uniform(gen, 0.2, 0.6) if i == 0 else _uniform(gen, -0.25, 0.5)
        image = image + value * (_ellipse(grid, cy, cx, a, b, angle) & head)
    image = image.clamp(min=0.0)
    return image / image.max(), head


def _place_details(image, head, gen: torch.Generator, k: int) -> DetailedPhantom:
    """Add k small bright or dark ellipses, disjoint, inside the head, each changing every pixel
    of its support by at least 0.1 (clipped to [0, 1]) and leaving the maximum at 1."""
    shape = tuple(image.shape)
    grid = _grid(shape)
    side = min(shape)
    # head pixels whose 3x3 neighbourhood is in the head: a detail there keeps a rim of head
    inner = head.clone()
    inner[1:-1, 1:-1] &= head[:-2, 1:-1] & head[2:, 1:-1] & head[1:-1, :-2] & head[1:-1, 2:]
    inner[0, :] = inner[-1, :] = inner[:, 0] = inner[:, -1] = False
    rows, cols = torch.nonzero(inner, as_tuple=True)
    taken = torch.zeros(shape, dtype=torch.bool)
    supports = []
    out = image.clone()
    tries = 0
    while len(supports) < k:
        tries += 1
        if tries > 200 * (k + 1):
            raise ValueError(
                f"tumours={k} small details do not fit (disjointly) inside the head of a "
                f"{shape[0]}x{shape[1]} phantom; use fewer details or a larger shape"
            )
        j = int(torch.randint(0, rows.numel(), (1,), generator=gen).item())
        cy = (2 * rows[j].item() + 1) / shape[0] - 1
        cx = (2 * cols[j].item() + 1) / shape[1] - 1
        # radius 1-3% of the side, at least 1.5 pixels
        ra = max(_uniform(gen, 0.01, 0.03) * side, 1.5) * 2 / shape[1]
        rb = max(_uniform(gen, 0.01, 0.03) * side, 1.5) * 2 / shape[0]
        angle = _uniform(gen, 0, math.pi)
        contrast = _uniform(gen, 0.25, 0.5)
        bright = _uniform(gen, 0, 1) < 0.5
        sup = _ellipse(grid, cy, cx, ra, rb, angle)
        # disjoint from earlier details (with a one-pixel gap) and inside the head's interior
        grown = sup.clone()
        grown[1:, :] |= sup[:-1, :]
        grown[:-1, :] |= sup[1:, :]
        grown[:, 1:] |= sup[:, :-1]
        grown[:, :-1] |= sup[:, 1:]
        if not bool(sup.any()) or bool((sup & ~inner).any()) or bool((grown & taken).any()):
            continue
        vals = out[sup]
        room_up, room_down = 1.0 - vals.max().item(), vals.min().item()
        if vals.max().item() >= 1.0:  # a dark detail here could remove the maximum
            room_down = 0.0
        if (bright and room_up < 0.1) or (not bright and room_down < 0.1):
            bright = not bright
        room = room_up if bright else room_down
        if room < 0.1:
            continue
        step = min(contrast, room)
        out[sup] = vals + step if bright else vals - step
        taken |= sup
        supports.append(sup)
    stacked = torch.stack(supports) if supports else torch.zeros((0, *shape), dtype=torch.bool)
    return DetailedPhantom(out, stacked)


def _check_counts(n_ellipses: Any, tumours: Any) -> tuple[int | None, int]:
    if n_ellipses is not None:
        n_ellipses = check_int("n_ellipses", n_ellipses, minimum=1)
    return n_ellipses, check_int("tumours", tumours, minimum=0)


def ellipses_with_details(
    shape: Any,
    *,
    seed: int,
    tumours: int,
    n_ellipses: int | None = None,
    dtype: torch.dtype = torch.float64,
) -> DetailedPhantom:
    """``ellipses(shape, seed=seed)`` with ``tumours`` small details added, and their supports.

    Each detail is a small rotated ellipse (semi-axes 1-3% of the side, at least 1.5 pixels)
    strictly inside the head, disjoint from the others, that raises (bright) or lowers (dark)
    every pixel of its support by 0.1-0.5, staying in [0, 1]. Outside the supports the image
    equals the phantom without details, exactly.
    """
    shape = _phantom_shape(shape)
    seed = check_seed("seed", seed)
    n_ellipses, tumours = _check_counts(n_ellipses, tumours)
    dtype = _check_real_dtype(dtype)
    gen = torch.Generator().manual_seed(seed)
    image, head = _base(shape, gen, n_ellipses)
    out = _place_details(image, head, gen, tumours)
    return DetailedPhantom(out.image.to(dtype), out.supports)


def ellipses(
    shape: Any,
    *,
    seed: int,
    n_ellipses: int | None = None,
    tumours: int = 0,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """A random-ellipses phantom (H, W) in [0, 1] with maximum 1, the same for the same seed.

    A large "head" ellipse (intensity 0.3-0.5) holds ``n_ellipses`` (default: 3-10, drawn)
    smaller rotated ellipses whose random intensities (-0.25 to 0.6) add up; the sum is clipped
    at 0 and divided by its maximum. ``tumours`` small details as in ``ellipses_with_details``.
    shape: an int (square) or (H, W), sides 16 to 1024.
    """
    return ellipses_with_details(shape, seed=seed, tumours=tumours, n_ellipses=n_ellipses, dtype=dtype).image


def shepp_logan(shape: Any = 256, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """scikit-image's Shepp-Logan phantom (400 x 400), resized to (H, W) and normalised to max 1.

    ``skimage.transform.resize(skimage.data.shepp_logan_phantom(), (H, W), anti_aliasing=True)``
    divided by its maximum. Reference: Shepp, Logan, IEEE Trans. Nucl. Sci. 21 (1974).
    """
    from skimage.data import shepp_logan_phantom
    from skimage.transform import resize

    shape = _phantom_shape(shape)
    dtype = _check_real_dtype(dtype)
    image = resize(shepp_logan_phantom(), shape, anti_aliasing=True)
    return torch.from_numpy(image / image.max()).to(dtype)


def camera(shape: Any = 256, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """scikit-image's cameraman photograph (512 x 512), resized to (H, W), normalised to max 1.

    A natural image with textures and edges that phantoms lack; bundled with scikit-image.
    """
    from skimage.data import camera as _camera
    from skimage.transform import resize

    shape = _phantom_shape(shape)
    dtype = _check_real_dtype(dtype)
    image = resize(_camera().astype(float), shape, anti_aliasing=True)
    return torch.from_numpy(image / image.max()).to(dtype)


def smooth_phase(shape: Any, seed: int = 0, *, peak: float = math.pi) -> torch.Tensor:
    """exp(i phi), complex128 (H, W): phi a random quadratic without constant term in the normalised
    coordinates u, v in [-1, 1], phi = sum_{1 <= j + k <= 2} c_jk u^j v^k (c_jk uniform in [-1, 1] from
    ``seed``), scaled so that max |phi| = ``peak``: the slowly varying background phase of an MR image
    (B0 inhomogeneity, coil phase), for realistic complex phantoms."""
    H, W = check_pixels("shape", check_shape("shape", (shape, shape) if isinstance(shape, int) else shape, ndim=2))
    peak = check_scalar("peak", peak, nonnegative=True)
    gen = torch.Generator().manual_seed(check_seed("seed", seed))
    u = torch.linspace(-1, 1, H, dtype=torch.float64)[:, None]
    v = torch.linspace(-1, 1, W, dtype=torch.float64)[None, :]
    c = torch.rand(5, generator=gen, dtype=torch.float64) * 2 - 1
    phi = c[0] * u + c[1] * v + c[2] * u * u + c[3] * u * v + c[4] * v * v
    top = float(phi.abs().max())
    phi = phi * (peak / top) if top > 0 else phi
    return torch.polar(torch.ones_like(phi), phi)


def _text_support(shape: tuple[int, int], text: str, centre: tuple[float, float], size: int) -> torch.Tensor:
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # pragma: no cover - Pillow without FreeType
        font = ImageFont.load_default()
    canvas = Image.new("L", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    draw.fontmode = "1"  # no anti-aliasing: a detail is a set of pixels
    xy = (centre[1], centre[0])
    left, top, right, bottom = draw.textbbox(xy, text, font=font, anchor="mm")
    if left < 0 or top < 0 or right > shape[1] or bottom > shape[0]:
        raise ValueError(
            f"text {text!r} at size {size} centred at {centre} does not fit in a "
            f"{shape[0]}x{shape[1]} image (its box is {(left, top, right, bottom)}); use a smaller size"
        )
    draw.text(xy, text, fill=255, font=font, anchor="mm")
    return torch.from_numpy(np.asarray(canvas) > 127)


def insert_detail(
    image: torch.Tensor,
    kind: str = "ellipse",
    *,
    centre: tuple[float, float] | None = None,
    size: float | tuple[float, float] | None = None,
    intensity: float = 0.3,
    angle: float = 0.0,
    text: str = "CAN U SEE IT",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Add a small detail to an (H, W) image: x' = x + intensity * 1_S; returns (x', S).

    kind "ellipse": S the ellipse with semi-axes ``size`` = (a, b) pixels along the columns and
    rows before rotation by ``angle`` (radians), or a disc when ``size`` is one number (default
    2% of the shorter side, at least 1.5); kind "text": S the pixels of ``text`` rendered,
    without anti-aliasing, with Pillow's built-in font at ``size`` pixels (default H // 12).
    centre: (row, column) in pixels, default the image centre. intensity: signed (negative for
    a dark detail); no clipping, so x' - x is exactly intensity on S and 0 elsewhere.
    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor; got {type(image).__name__}")
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W); got shape {tuple(image.shape)}")
    if not (image.is_floating_point() or image.is_complex()):
        raise TypeError(f"image must be floating-point or complex; got {image.dtype}")
    H, W = image.shape
    intensity = check_scalar("intensity", intensity)
    if centre is None:
        centre = ((H - 1) / 2, (W - 1) / 2)
    try:
        cy, cx = (check_scalar(f"centre[{i}]", c) for i, c in enumerate(centre))
    except TypeError:
        raise TypeError(f"centre must be a (row, column) pair of numbers; got {centre!r}") from None
    except ValueError as exc:
        if "unpack" not in str(exc):
            raise
        raise ValueError(f"centre must be a (row, column) pair; got {centre!r}") from None
    if not (0 <= cy <= H - 1 and 0 <= cx <= W - 1):
        raise ValueError(
            f"centre must lie in the image, rows [0, {H - 1}], columns [0, {W - 1}]; got {centre}"
        )
    if kind == "ellipse":
        if size is None:
            a = b = max(0.02 * min(H, W), 1.5)
        elif isinstance(size, (tuple, list)):
            if len(size) != 2:
                raise ValueError(f"size must be a radius or a pair of semi-axes (pixels); got {size!r}")
            a, b = (check_scalar(f"size[{i}]", s, positive=True) for i, s in enumerate(size))
        else:
            a = b = check_scalar("size", size, positive=True)
        angle = check_scalar("angle", angle)
        rows = torch.arange(H, dtype=torch.float64)[:, None]
        cols = torch.arange(W, dtype=torch.float64)[None, :]
        support = _ellipse((rows, cols), cy, cx, a, b, angle)
    elif kind == "text":
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"text must be a non-empty string; got {text!r}")
        px = max(H // 12, 8) if size is None else check_int("size", size, minimum=4)
        support = _text_support((H, W), text, (cy, cx), int(px))
    else:
        raise ValueError(f"kind must be 'ellipse' or 'text'; got {kind!r}")
    support = support.to(image.device)
    if not bool(support.any()):
        raise ValueError(f"the {kind} detail covers no pixel; increase size (got {size})")
    return image + intensity * support.to(image.dtype), support


class PhantomDataset(torch.utils.data.Dataset):
    """``length`` random-ellipse phantoms; item i is ``ellipses(shape, seed=seed * 1_000_003 + i)``.

    Items are computed on demand and are the same on every call and in every worker process.
    """

    def __init__(
        self,
        shape: Any,
        length: int,
        *,
        seed: int = 0,
        tumours: int = 0,
        dtype: torch.dtype = torch.float32,
    ):
        self.shape = _phantom_shape(shape)
        self.length = check_int("length", length, minimum=0)
        self.seed = check_seed("seed", seed)
        self.tumours = check_int("tumours", tumours, minimum=0)
        self.dtype = _check_real_dtype(dtype)

    def __len__(self) -> int:
        return self.length

    def item_seed(self, index: int) -> int:
        """The phantom seed of item ``index`` (negative indices count from the end)."""
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"index must be an integer; got {type(index).__name__}")
        i = int(index)
        if i < 0:
            i += self.length
        if not 0 <= i < self.length:
            raise IndexError(f"index {index} out of range for a PhantomDataset of length {self.length}")
        return self.seed * 1_000_003 + i

    def __getitem__(self, index: int) -> torch.Tensor:
        return ellipses(self.shape, seed=self.item_seed(index), tumours=self.tumours, dtype=self.dtype)

    def __repr__(self) -> str:
        return (
            f"PhantomDataset(shape={self.shape}, length={self.length}, seed={self.seed}, "
            f"tumours={self.tumours}, dtype={self.dtype})"
        )
