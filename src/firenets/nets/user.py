"""A user's network as a reconstruction map, and loading it safely: PKG.MODULE:FACTORY builds the
module, a state_dict file (read with ``torch.load(..., weights_only=True)``) fills it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .._io import load_tensors


class UserMap(torch.nn.Module):
    """A user's network as a reconstruction map y -> complex image for the operator A.

    input "adjoint": net(A^* y) with A^* y complex (B, H, W); input "kspace": net(y) with y the
    (B, m) samples. A real output is read as a (magnitude) image.
    """

    def __init__(self, net: torch.nn.Module, A: Any, input: str = "adjoint"):
        super().__init__()
        if input not in ("adjoint", "kspace"):
            raise ValueError(f"input must be 'adjoint' or 'kspace'; got {input!r}")
        self.net, self.A, self.input = net, A, input

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        single = y.ndim == 1
        yb = y[None] if single else y
        out = self.net(self.A.adjoint(yb) if self.input == "adjoint" else yb)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"the model returned {type(out).__name__}, not a torch.Tensor")
        if out.ndim == 4 and out.shape[1] == 1:
            out = out[:, 0]
        if tuple(out.shape[-2:]) != tuple(self.A.in_shape):
            raise ValueError(f"the model returned shape {tuple(out.shape)}; expected (B, {self.A.in_shape[0]}, "
                             f"{self.A.in_shape[1]})")
        out = out.to(torch.complex128)  # a real output is an image with zero imaginary part
        return out[0] if single else out


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
