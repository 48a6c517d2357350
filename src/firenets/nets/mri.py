"""FIRENET for single-coil MRI and every reconstruction method as a map y -> complex image.

``MRIFirenet`` solves (P3) with an analysis regulariser (undecimated wavelets, total variation,
both) or in orthonormal wavelet coefficients (the synthesis form of Colbrook, Antun, Hansen,
PNAS 2022); ``reconstruction_map`` gives FIRENET, the shipped U-Net and cascade (checkpoints
through ``nets.training``) and zero-filling as torch modules of the samples y. The defaults and
their evidence: docs/imaging.md.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from .._validation import check_scalar, complex_dtype, real_dtype
from ..operators import Fourier2D, Gradient2D, MultiCoilFourier, Stack, UndecimatedWavelet2D, Wavelet2D
from ..problems import SRLasso, weights_in_levels
from .adapter import NetworkMap, zero_filled
from .firenet import FIRENET, output_certificate
from .training import load, shipped

METHODS = ("firenet", "unet", "cascade", "zero-filled")
# Imaging defaults (docs/imaging.md gives the evidence): the regulariser, depth and schedule the
# benchmark against BART and SigPy found best, and per regulariser the lam calibrated on images
# that no benchmark reports (benchmarks/calibrate_lam.py).
FIRENET_DEFAULTS = {"regulariser": "undecimated", "wavelet": "haar", "levels": 4, "restarts": 40, "inner": 25,
                    "delta": 1e-9, "schedule": "adaptive", "tol": 2e-2, "xtol": 2e-3}
# the FIRENET that demo, audit and attack differentiate beside the networks: the synthesis FIRENET of
# the paper (orthonormal Haar wavelets, its calibrated lam) at the depth the paper used for general
# images, 5 restarts x 5 layers, fixed (no stopping rule), so the map does not change its depth with
# the input. The frontier (docs/stability.md) shows no FIRENET that is both cheaper and more stable:
# 5 x 10 gains 1.25 dB at twice the cost of an attack step and a larger worst case.
REFERENCE_FIRENET = {"regulariser": "wavelet", "restarts": 5, "inner": 5, "tol": 0, "xtol": 0}

# lam = kappa sqrt(2 ln N / N) for an image of N pixels (``default_lam``); kappa per regulariser
REGULARISER_DEFAULTS = {
    # benchmarks/calibrate_lam.py at 256 x 256, 25% Gaussian, noise 0, 0.005, 0.02, on 3 phantoms
    # and 5 photographs no benchmark reports (docs/imaging.md): the centre of the plateau of
    # kappas within 0.05 dB of the best mean PSNR; for "wavelet" it is the paper's lam = 2.5e-4
    "wavelet": {"kappa": 0.0136},
    "undecimated": {"kappa": 0.0136},
    "tv": {"kappa": 0.24},
    "undecimated+tv": {"kappa": 0.0043, "tv_weight": 0.5},
}


def lam_scale(shape: tuple[int, ...]) -> float:
    """sqrt(2 ln N / N), N = the number of pixels: about ||A^* e||_inf / ||e|| for white noise e
    through A with orthonormal rows (the maximum of N Gaussians of variance ||e||^2 / N)."""
    n = math.prod(shape)
    return math.sqrt(2 * math.log(n) / n)


def default_lam(regulariser: str, shape: tuple[int, ...]) -> float:
    """The calibrated lam of ``regulariser`` for images of ``shape``: kappa sqrt(2 ln N / N).

    The square-root LASSO's lam is pivotal: the value that separates noise from signal scales
    with the noise's ||A^* e||_inf / ||e||, which does not depend on the noise level (Belloni,
    Chernozhukov, Wang, Biometrika 98, 2011). kappa comes from benchmarks/calibrate_lam.py
    (docs/imaging.md), on images no benchmark reports.
    """
    if regulariser not in REGULARISER_DEFAULTS:
        raise ValueError(f"regulariser must be one of {REGULARISERS}; got {regulariser!r}")
    return REGULARISER_DEFAULTS[regulariser]["kappa"] * lam_scale(shape)


REGULARISERS = ("wavelet", "undecimated", "tv", "undecimated+tv")


def regulariser_operator(
    regulariser: str, shape: tuple[int, int], *, wavelet: str = "haar", levels: int = 4, tv_weight: float = 1.0,
    dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu",
):
    """B of the analysis regulariser ``regulariser`` ("undecimated", "tv", "undecimated+tv") on images of ``shape``.

    undecimated: the detail channels of ``UndecimatedWavelet2D`` (the coarse approximation is not
    penalised); tv: isotropic ``Gradient2D``; undecimated+tv: their ``Stack`` with the gradient
    scaled by ``tv_weight`` (||B x||_1 = ||W_d x||_1 + tv_weight TV(x)).
    """
    if regulariser not in REGULARISERS[1:]:
        raise ValueError(f"regulariser must be one of {REGULARISERS}; got {regulariser!r}")
    tv_weight = check_scalar("tv_weight", tv_weight, positive=True)
    if regulariser == "tv":
        return Gradient2D(shape, dtype=dtype, device=device)
    W = UndecimatedWavelet2D(shape, wavelet=wavelet, levels=levels, approximation=False, dtype=dtype, device=device)
    if regulariser == "undecimated":
        return W
    return Stack([W, tv_weight * Gradient2D(shape, dtype=dtype, device=device)])


class MRIFirenet(torch.nn.Module):
    """Phi(y): FIRENET for single-coil k-space y = P_M F_c x, with a sparsity regulariser, output an image.

    regulariser:
    - "wavelet": the synthesis form of Colbrook, Antun, Hansen (PNAS 2022): (P3) in the coefficients
      of the orthonormal ``Wavelet2D``, min lam ||c||_{1,w} + ||P_M F_c W^* c - y||, x = W^* c;
    - "undecimated", "tv", "undecimated+tv": the analysis form min lam ||B x||_{1,w} + ||P_M F_c x - y||
      with B from ``regulariser_operator`` (shift-invariant wavelets, total variation, both).

    ``level_weights`` gives one weight per wavelet level (coarse first; "wavelet": the approximation
    and each detail level, "undecimated": each detail level). Depth: ``restarts`` blocks of ``inner``
    layers, or fewer when ``tol`` is met by the certificate or the output moves by less than
    ``xtol`` over a restart (``nets.FIRENET``; 0 turns a rule off, None takes FIRENET_DEFAULTS). ``dtype``
    complex64 runs the network in single precision (faster); the certificate is always computed in
    float64 (the network's output and dual point given to the float64 problem), and the output
    image is complex128. ``forward(y, return_certificate=True)`` also returns the certificate of
    the problem solved (coefficients c in the synthesis form, the image in the analysis form).
    """

    def __init__(self, operator: Fourier2D, *, regulariser: str | None = None, wavelet: str | None = None,
                 levels: int | None = None, lam: float | None = None, tv_weight: float | None = None,
                 level_weights: Any = None, restarts: int | None = None, inner: int | None = None,
                 delta: float | None = None, schedule: str | None = None, tol: float | None = None,
                 xtol: float | None = None, dtype: torch.dtype = torch.complex128):
        super().__init__()
        if not isinstance(operator, (Fourier2D, MultiCoilFourier)):
            raise TypeError("operator must be a firenets.operators.Fourier2D or MultiCoilFourier; got "
                            f"{type(operator).__name__}")
        regulariser = FIRENET_DEFAULTS["regulariser"] if regulariser is None else regulariser
        if regulariser not in REGULARISERS:
            raise ValueError(f"regulariser must be one of {REGULARISERS}; got {regulariser!r}")
        if dtype not in (torch.complex128, torch.complex64, torch.float64, torch.float32):
            raise TypeError(f"dtype must be complex128 or complex64 (float64/float32 name the same); got {dtype}")
        defaults = {**FIRENET_DEFAULTS, **REGULARISER_DEFAULTS[regulariser]}
        wavelet = defaults["wavelet"] if wavelet is None else wavelet
        lam = default_lam(regulariser, operator.in_shape) if lam is None else lam
        tv_weight = defaults.get("tv_weight", 1.0) if tv_weight is None else tv_weight
        restarts = defaults["restarts"] if restarts is None else restarts
        inner = defaults["inner"] if inner is None else inner
        delta = defaults["delta"] if delta is None else delta
        schedule = defaults["schedule"] if schedule is None else schedule
        # None: the default stopping rule; 0: run every restart
        tol = defaults["tol"] if tol is None else check_scalar("tol", tol, nonnegative=True)
        xtol = defaults["xtol"] if xtol is None else check_scalar("xtol", xtol, nonnegative=True)
        shape = operator.in_shape
        if levels is None:
            levels = min(defaults["levels"], _twos(shape[0]), _twos(shape[1]))
        if regulariser in ("tv",) and level_weights is not None:
            raise ValueError("level_weights apply to the wavelet regularisers, not to 'tv'")
        self.regulariser = regulariser
        self.dtype = complex_dtype(dtype)
        self.F = operator
        self.config = {"regulariser": regulariser, "wavelet": wavelet, "levels": levels, "lam": lam,
                       "tv_weight": tv_weight if regulariser == "undecimated+tv" else None,
                       "restarts": restarts, "inner": inner, "delta": delta, "schedule": schedule, "tol": tol, "xtol": xtol,
                       "dtype": str(self.dtype).replace("torch.", ""),
                       "level_weights": None if level_weights is None else list(level_weights)}
        self._build = {"wavelet": wavelet, "levels": levels, "tv_weight": tv_weight, "level_weights": level_weights}
        A, B, weights, L, self.W = self._operators(self.dtype)  # W: the DWT of the synthesis form, A = F W^*
        self.firenet = FIRENET(A, lam=lam, weights=weights, analysis=B, restarts=restarts, inner=inner, delta=delta,
                               schedule=schedule, L_A=L, tol=tol or None, xtol=xtol or None)
        self._exact = None  # the float64 problem's pieces, for certificates of a complex64 network

    def _operators(self, dtype: torch.dtype):
        """(A, B, weights, L_A, W) of the problem in precision ``dtype`` (W: the synthesis form's DWT)."""
        b = self._build
        rdt = real_dtype(dtype)
        F = self.F
        F = F.in_precision(dtype)
        shape = F.in_shape
        if self.regulariser == "wavelet":
            W = Wavelet2D(shape, wavelet=b["wavelet"], levels=b["levels"], dtype=rdt, device=F.device)
            weights = None if b["level_weights"] is None else weights_in_levels(W.level_index, b["level_weights"]).to(rdt)
            # one coil: orthonormal rows, ||A|| = 1; SENSE: ||A|| <= sqrt(max sum_c |S_c|^2), W unitary
            return F @ W.H, None, weights, 1.0 if isinstance(F, Fourier2D) else F.bound(), W
        B = regulariser_operator(self.regulariser, shape, wavelet=b["wavelet"], levels=b["levels"],
                                 tv_weight=b["tv_weight"], dtype=rdt, device=F.device)
        weights = None
        if b["level_weights"] is not None:
            W = B if self.regulariser == "undecimated" else B.operators[0]
            per_channel = weights_in_levels(W.level_index - 1, b["level_weights"])
            if self.regulariser == "undecimated+tv":
                per_channel = torch.cat([per_channel, torch.ones(2, dtype=per_channel.dtype, device=per_channel.device)])
            weights = per_channel.reshape(-1, 1, 1).expand(B.out_shape).to(rdt)
        L = None  # one coil: ||[A; B]|| from the Fourier symbols of both grams (nets.firenet.stacked_norm)
        if isinstance(F, MultiCoilFourier):
            symbol = B.gram_symbol()  # ||[A; B]||^2 <= ||A||^2 + ||B||^2, both bounds in closed form
            L = math.sqrt(F.bound() ** 2 + (float(symbol.max()) if symbol is not None else B.norm() ** 2))
        return F, B, weights, L, None

    def in_precision(self, dtype: torch.dtype) -> MRIFirenet:
        """The same network (operator, regulariser, lam, depth, schedule, stopping rule) run in ``dtype``
        (complex64: the attacks' single-precision search; its output is still complex128)."""
        dtype = complex_dtype(dtype)
        if dtype == self.dtype:
            return self
        twins = self.__dict__.setdefault("_twins", {})
        if dtype not in twins:
            c, b = self.config, self._build
            twins[dtype] = MRIFirenet(self.F, regulariser=c["regulariser"], wavelet=c["wavelet"], levels=c["levels"],
                                      lam=c["lam"], tv_weight=b["tv_weight"], level_weights=b["level_weights"],
                                      restarts=c["restarts"], inner=c["inner"], delta=c["delta"],
                                      schedule=c["schedule"], tol=c["tol"], xtol=c["xtol"], dtype=dtype)
        return twins[dtype]

    @property
    def num_layers(self) -> int:
        """The network's depth (``nets.FIRENET.num_layers``; ``last_layers`` is what the last call used)."""
        return self.firenet.num_layers

    @property
    def last_stop(self) -> str | None:
        """What ended the last call: "tol", "xtol" or "restarts" (``nets.FIRENET.last_stop``)."""
        return self.firenet.last_stop

    @property
    def last_layers(self) -> int | None:
        """Layers the last call ran (fewer than ``num_layers`` when ``tol`` stopped it)."""
        return self.firenet.last_layers

    def _image(self, c: torch.Tensor) -> torch.Tensor:
        return self.W.H(c) if self.W is not None else c

    def forward(self, y: torch.Tensor, *, x0: torch.Tensor | None = None, eps0: torch.Tensor | float | None = None,
                return_certificate: bool = False):
        """Image x (complex128) from samples y (m,) or (B, m); optionally with the certificate (float64).

        ``x0``: an image to start from (a network's output, say), with ``eps0`` the scale of its
        error for the first restart (``nets.FIRENET.forward``)."""
        y_in = y if y.dtype == self.dtype else y.to(self.dtype)
        if x0 is not None:
            x0 = x0.to(self.dtype)
            x0 = self.W(x0) if self.W is not None else x0  # the synthesis form starts from coefficients
        if not return_certificate:
            return self._image(self.firenet(y_in, x0, eps0=eps0)).to(torch.complex128)
        x, dual = self.firenet.solve(y_in, x0, eps0=eps0)
        with torch.no_grad():
            if self.dtype == torch.complex128:
                cert = output_certificate(self.firenet.problem(y_in), x.detach(), _detached(dual))
            else:
                cert = output_certificate(self._problem64(y.detach().to(torch.complex128)),
                                          x.detach().to(torch.complex128), _detached(dual, torch.complex128))
        return self._image(x).to(torch.complex128), cert

    def _problem64(self, y: torch.Tensor):
        """The problem this network solves, in float64 (for certificates of a single-precision network)."""
        if self._exact is None:
            self._exact = self._operators(torch.complex128)
        A, B, weights, _, _ = self._exact
        return SRLasso(A, y, lam=self.firenet.lam, weights=weights, analysis=B)


def _detached(dual, dtype: torch.dtype | None = None):
    if isinstance(dual, tuple):
        return tuple(_detached(d, dtype) for d in dual)
    dual = dual.detach()
    return dual if dtype is None else dual.to(dtype)


def _twos(n: int) -> int:
    return (n & -n).bit_length() - 1


class WarmStarted(torch.nn.Module):
    """f(y) = Phi(y; x0 = g(y)): FIRENET started at a network's reconstruction g(y), its first restart
    sized by the objective at the start, eps0 = lam ||B x0||_{1,w} + ||A x0 - y|| (an upper bound on
    the start's objective error; from x0 = 0 it is FIRENET's own ||y||). The data misfit alone would
    not do: a network with data-consistency layers fits the samples while its error lies in the
    null space. Colbrook, Antun, Hansen, PNAS 2022: a trained network as FIRENET's input.
    Differentiable through both."""

    def __init__(self, network: torch.nn.Module, firenet: MRIFirenet):
        super().__init__()
        if not isinstance(firenet, MRIFirenet):
            raise TypeError(f"firenet must be an MRIFirenet; got {type(firenet).__name__}")
        self.network, self.fire = network, firenet
        self.config = {**firenet.config, "warm_start": type(network).__name__}

    @property
    def num_layers(self) -> int:
        return self.fire.num_layers

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        x0 = self.network(y)
        start = x0.to(self.fire.dtype)
        start = self.fire.W(start) if self.fire.W is not None else start
        y_in = y.to(self.fire.dtype)
        eps0 = self.fire.firenet.problem(y_in).objective(start).real
        floor = 1e-12 * torch.linalg.vector_norm(y_in.detach(), dim=-1).real + torch.finfo(eps0.dtype).tiny
        eps0 = torch.maximum(eps0, floor)  # per sample; y = 0 gives the smallest positive eps
        return self.fire(y, x0=x0, eps0=eps0)


def reconstruction_map(
    method: str, operator: Fourier2D, *, weights: str | Path | None = None, **firenet_options: Any
) -> torch.nn.Module:
    """The map y -> complex image of ``method`` (firenet, unet, cascade, zero-filled) for ``operator``.

    unet and cascade load ``weights`` (a checkpoint written by ``firenets train``; default: the
    shipped 128x128 weights, ``nets.training.shipped``) and apply them to the operator's image size.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if method == "firenet":
        if weights is not None:
            raise ValueError("weights apply to unet and cascade only; FIRENET is computed, not trained")
        return MRIFirenet(operator, **firenet_options)
    if firenet_options:
        raise ValueError(f"options {sorted(firenet_options)} apply to method='firenet' only")
    if method == "zero-filled":
        if weights is not None:
            raise ValueError("weights apply to unet and cascade only")
        return zero_filled(operator)
    path = shipped(method) if weights is None else weights
    net, _ = load(path, kind=method, mask=operator.mask)
    net.eval()
    # handed A^* y in complex128: the built-in networks convert to their parameters' precision inside
    return NetworkMap(net, operator, "adjoint", dtype=torch.float64)
