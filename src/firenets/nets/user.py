"""A user's network as a reconstruction map, and loading it safely: PKG.MODULE:FACTORY builds the
module, a state_dict file (read with ``torch.load(..., weights_only=True)``) fills it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .._io import load_tensors

INPUTS = ("adjoint", "magnitude", "kspace", "fastmri")
OUTPUTS = ("auto", "magnitude", "complex")
INPUT_HELP = {
    "adjoint": "the zero-filled image A^* y, complex (B, H, W)",
    "magnitude": "its magnitude |A^* y|, real (B, 1, H, W)",
    "kspace": "the zero-filled k-space P_M^* y, complex (B, H, W) or (B, coils, H, W), and the mask (H, W) "
              "(and the maps (coils, H, W) with coils)",
    "fastmri": "fastMRI's layout: masked_kspace (B, coils, H, W, 2) real, mask (1, 1, H or 1, W, 1) bool and "
               "num_low_frequencies",
}


def low_frequencies(mask: torch.Tensor) -> int:
    """The number of k-space columns around W // 2 sampled in every row (fastMRI's fully sampled centre);
    for a mask without such columns (a 2-D pattern), the sampled run around the centre of the middle row."""
    H, W = mask.shape
    full = mask.all(0)
    row = full if bool(full[W // 2]) else mask[H // 2]
    if not bool(row[W // 2]):
        return 0
    lo = W // 2
    while lo > 0 and bool(row[lo - 1]):
        lo -= 1
    hi = W // 2
    while hi < W - 1 and bool(row[hi + 1]):
        hi += 1
    return hi - lo + 1


def parameter_dtype(net: torch.nn.Module) -> torch.dtype:
    """The real floating dtype of a network's first floating (or complex) parameter or buffer; float64
    for a network without any."""
    for p in [*net.parameters(), *net.buffers()]:
        if p.is_floating_point():
            return p.dtype
        if p.is_complex():
            return torch.float32 if p.dtype == torch.complex64 else torch.float64
    return torch.float64


class UserMap(torch.nn.Module):
    """A user's network as a reconstruction map y -> complex image for the operator A (``Fourier2D`` or
    ``MultiCoilFourier``), handed what ``input`` names (``INPUT_HELP``) for A's own mask and maps, so a
    stage that changes the acquisition changes what the network sees.

    The network runs on ``device`` (default A's) in ``dtype`` (float32 or float64, default its
    parameters', ``parameter_dtype``; complex inputs in the matching complex type); its output comes back as complex128 on A's device, so the attacks around it keep
    float64. ``output``: "magnitude" refuses a complex output, "complex" a real one, "auto" takes both
    (a real output is an image with zero imaginary part). Outputs of the wrong shape, NaN or Inf, and a
    network that changes its input in place are refused with the reason.
    """

    def __init__(self, net: torch.nn.Module, A: Any, input: str = "adjoint", *, output: str = "auto",
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        dtype = parameter_dtype(net) if dtype is None else dtype
        if input not in INPUTS:
            raise ValueError(f"input must be one of {', '.join(INPUTS)}; got {input!r}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}; got {output!r}")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64; got {dtype}")
        self.net, self.A, self.input, self.output = net, A, input, output
        self.device = torch.device(device) if device is not None else A.device
        self.dtype = dtype
        self.cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        self.coils = getattr(A, "coils", None)  # None: single-coil Fourier2D
        mask = A.mask.to(self.device)
        self.mask = mask
        self.maps = A.maps.to(device=self.device, dtype=self.cdtype) if self.coils is not None else None
        H, W = mask.shape
        columns = bool((mask == mask[:1]).all())  # every row alike: fastMRI's column mask
        self.fastmri_mask = (mask[:1] if columns else mask).reshape(1, 1, -1, W, 1)
        self.num_low_frequencies = low_frequencies(mask.cpu())

    def _kspace(self, y: torch.Tensor) -> torch.Tensor:
        """P_M^* y: the samples in the k-space grid, zeros elsewhere, (B, H, W) or (B, C, H, W)."""
        F = self.A.single if self.coils is not None else self.A
        return F._zero_fill(y)

    def _inputs(self, yb: torch.Tensor) -> tuple:
        if self.input in ("adjoint", "magnitude"):
            x0 = self.A.adjoint(yb).to(device=self.device, dtype=self.cdtype)
            return (x0,) if self.input == "adjoint" else (x0.abs()[:, None],)
        k = self._kspace(yb).to(device=self.device, dtype=self.cdtype)
        if self.input == "kspace":
            return (k, self.mask) if self.coils is None else (k, self.mask, self.maps)
        k = k[:, None] if self.coils is None else k
        return (torch.view_as_real(k), self.fastmri_mask, self.num_low_frequencies)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        single = y.ndim == len(self.A.out_shape)
        yb = y[None] if single else y
        args = self._inputs(yb)
        kept = [a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args]
        out = self.net(*args)
        for a, b in zip(args, kept, strict=True):
            if isinstance(a, torch.Tensor) and not torch.equal(a.detach(), b):
                raise ValueError("the model changed its input in place; it must leave the tensors it is given "
                                 "unchanged (the attacks reuse them)")
        out = self._image(out, yb.shape[0])
        return out[0] if single else out

    def _image(self, out: Any, batch: int) -> torch.Tensor:
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"the model returned {type(out).__name__}, not a torch.Tensor")
        H, W = self.A.in_shape
        if out.ndim == 4 and out.shape[1] == 1:
            out = out[:, 0]
        if tuple(out.shape) != (batch, H, W):
            raise ValueError(f"the model returned shape {tuple(out.shape)}; expected ({batch}, {H}, {W}) or "
                             f"({batch}, 1, {H}, {W}) for --input {self.input}")
        if out.is_complex() and self.output == "magnitude":
            raise ValueError(f"the model returned a complex image ({out.dtype}) but --output magnitude expects "
                             "a real one")
        if not out.is_complex() and self.output == "complex":
            raise ValueError(f"the model returned a real image ({out.dtype}) but --output complex expects a "
                             "complex one")
        if not (out.is_complex() or out.is_floating_point()):
            raise TypeError(f"the model returned dtype {out.dtype}; expected a floating or complex image")
        if not bool(torch.isfinite(out).all()):
            raise ValueError("the model returned NaN or Inf values")
        return out.to(device=self.A.device, dtype=torch.complex128)  # real: zero imaginary part


def load_model(spec: str, weights: str | Path | None = None) -> torch.nn.Module:
    """The module built by FACTORY in PKG.MODULE (``spec`` = "PKG.MODULE:FACTORY"), weights loaded safely."""
    import importlib

    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise ValueError(f"--model must look like PKG.MODULE:FACTORY; got {spec!r}")
    module_name, factory_name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"--model: cannot import {module_name!r}: {exc}") from exc
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise ValueError(f"--model: {module_name} has no callable {factory_name!r}")
    try:
        net = factory()
    except Exception as exc:  # a factory that needs arguments, or fails
        raise ValueError(f"--model: {spec}() failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(net, torch.nn.Module):
        raise ValueError(f"--model: {spec}() returned {type(net).__name__}, not a torch.nn.Module")
    if weights is not None:
        try:
            state = load_tensors(weights)
        except ValueError as exc:
            raise ValueError(f"--weights {weights} cannot be read: {exc}") from None
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        try:
            net.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise ValueError(f"--weights {weights} do not fit the model: {exc}") from exc
    return net.eval()
