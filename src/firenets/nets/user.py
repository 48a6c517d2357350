"""A user's network, loaded safely: PKG.MODULE:FACTORY builds the module, a state_dict file (read with
``torch.load(..., weights_only=True)``) fills it."""

from __future__ import annotations

import importlib
from pathlib import Path

import torch

from .._io import load_tensors
from .._validation import ArgumentError

__all__ = ["load_model"]


def load_model(spec: str, weights: str | Path | None = None) -> torch.nn.Module:
    """The module built by FACTORY in PKG.MODULE (``spec`` = "PKG.MODULE:FACTORY"), ``weights`` (a state
    dict, or {"state_dict": ...}) loaded safely; in eval mode."""
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise ArgumentError("spec", f"must look like PKG.MODULE:FACTORY; got {spec!r}")
    module_name, factory_name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ArgumentError("spec", f"{spec}: cannot import {module_name!r}: {exc}") from exc
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise ArgumentError("spec", f"{spec}: {module_name} has no callable {factory_name!r}")
    try:
        net = factory()
    except Exception as exc:  # a factory that needs arguments, or fails
        raise ArgumentError("spec", f"{spec}: {spec}() failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(net, torch.nn.Module):
        raise ArgumentError("spec", f"{spec}: {spec}() returned {type(net).__name__}, not a torch.nn.Module")
    if weights is not None:
        try:
            state = load_tensors(weights)
        except ValueError as exc:
            raise ArgumentError("weights", f"{weights} cannot be read: {exc}") from None
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        try:
            net.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise ArgumentError("weights", f"{weights} do not fit the model: {exc}") from exc
    return net.eval()
