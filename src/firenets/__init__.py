"""firenets: stable and accurate neural networks for inverse problems, and the tests that tell
whether a reconstruction network can be trusted.

``import firenets as fn`` gives the operators, masks, problems and the inexact-input model;
``fn.reference`` (CVXPY), ``fn.barriers``, ``fn.data``, ``fn.metrics``, ``fn.reconstruction`` (with
``fn.reconstruct``), ``fn.stability``, ``fn.experiments`` (with ``fn.audit``) and ``fn.report`` load on
first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import inexact, masks, nets, operators, problems, solvers
from .nets import FIRENET
from .problems import QCBP, Lasso, SRLasso

__version__ = "0.1.0"

__all__ = [
    "FIRENET",
    "QCBP",
    "Lasso",
    "SRLasso",
    "audit",
    "barriers",
    "data",
    "experiments",
    "inexact",
    "masks",
    "metrics",
    "nets",
    "operators",
    "problems",
    "reconstruct",
    "reconstruction",
    "reference",
    "report",
    "solvers",
    "stability",
]

_LAZY = {"reference", "barriers", "data", "experiments", "metrics", "reconstruction", "report", "stability"}
_FUNCTIONS = {"reconstruct": "reconstruction", "audit": "experiments"}  # a function -> the module it lives in


def __getattr__(name: str) -> Any:
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(f".{_FUNCTIONS[name]}", __name__), name)
    if name in _LAZY:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'firenets' has no attribute {name!r}")
