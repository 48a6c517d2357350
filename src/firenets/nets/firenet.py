"""FIRENET: the restarted primal-dual iteration for (P1), (P2), (P3) unrolled into a network.

Each layer is one Chambolle-Pock step x+ = S_{tau lam w}(x - tau A^* z),
z+ = prox_{sigma H*}(z + sigma A(2 x+ - x)); ``inner`` layers form a block whose output is
the ergodic average of its x iterates; the dual variable is reset to 0 between blocks; and
``restarts`` blocks follow the schedule eps_k = e^-1 (delta + eps_{k-1}) with step sizes
tau = 1 / (L_A alpha), sigma = alpha / L_A, alpha = 2 L_A / (eps_k p) (``solvers.restart``).

What is guaranteed (Colbrook, Antun, Hansen, PNAS 2022, Theorem 2 and its proof): when A
satisfies the robust null space property in levels for the weights w and p is large enough
for its constants, the output psi after n restarts satisfies
||psi - x|| <= C (delta + e^-n eps_0 + noise level + best s-term error of x) for every x with
||A x - y|| <= noise level. It is an error to the ground truth, of order delta plus the noise
and the compressibility, not necessarily to the minimiser of the problem; with too few inner
steps for the problem's sharpness the schedule outruns the iteration and the output freezes.
Reference: Colbrook, Antun, Hansen, "The difficulty of computing stable and accurate neural
networks", PNAS 119(12), 2022.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .._validation import as_tensor, check_int, check_scalar, check_seed, real_dtype, split_batch
from ..operators import LinearOperator, as_operator, power_iteration
from ..problems import (
    QCBP,
    Certificate,
    Lasso,
    SRLasso,
    check_analysis,
    check_weights,
    group_segments,
    segment_weights,
)
from ..solvers.primal_dual import AnalysisSaddlePoint, SaddlePoint
from ..solvers.restart import next_eps

_PROBLEMS = {"srlasso": SRLasso, "lasso": Lasso, "qcbp": QCBP}
SCHEDULES = ("paper", "adaptive")
PAPER = {"restarts": 30, "inner": 50, "delta": 1e-6}
# Dykstra rounds that refine the analysis form's dual pair for the certificate ``forward`` returns
# (``problems._Problem.refine_dual``), where a round costs about a layer (``refines_cheaply``: a
# single-coil Fourier A); a round applies A, A^*, B, B^* once, as a layer does, and 20 give most of the gain
CERTIFICATE_ROUNDS = 20


class FIRENET(torch.nn.Module):
    """FIRENET for A: a stable, accurate unrolled network y -> x solving (P1), (P2) or (P3).

    problem: "srlasso" (P3, the paper's case), "lasso" (P2) or "qcbp" (P1, with ``eta``).
    Depth: explicit ``restarts``, ``inner`` and ``delta`` (the paper used 30, 50 and 1e-6), or
    ``eps``: the target relative accuracy on noiseless sparse data, from which the depth is
    chosen by calibration (see ``calibrate``). ``L_A`` defaults to ||A|| and ``eps0`` (the
    first accuracy level) to ||y|| per sample, as in the paper.

    schedule: "paper" (the default with explicit depth) is the paper's FIRENET: the dual is
    reset at each restart and the step ratio alpha follows eps_k = e^-1 (delta + eps_{k-1}).
    "adaptive" (the default with ``eps``) keeps the dual between restarts (as WARPd does),
    restarts at the block's average or at its last iterate, whichever is nearer a fixed point
    of the iteration (the fixed-point residual in the metric of the primal-dual step; one more
    step from the average measures it), and sets the step ratio from the last restart's
    movements, alpha <- alpha^(3/4) (||dz|| / ||dx||)^(1/4) with the ratio limited to a factor e
    of alpha (the primal weight of restarted PDHG, Applegate et al., Math. Program. 2023, with a
    stronger smoothing). Its first ratio is
    the paper's. It does not freeze when the schedule would outrun the iteration, so it reaches
    the minimiser also where the problem is not sharp (noisy data, P1 and P2); the paper's
    schedule stays the one the theory covers.

    tol: stop after the first restart whose output every sample certifies within relative
    duality gap tol (``Certificate.within``; the restarts are then a maximum, and
    ``last_layers`` says how many layers ran). xtol: stop, too, once every sample's output moved
    by at most xtol (relative) over the last restart: under linear convergence with rate q per
    restart that bounds the distance to the limit by xtol q / (1 - q) (a stopping rule, not a
    certificate; it matters where the certificate converges more slowly than the iterates, as
    for noiseless exact recovery).

    analysis: a LinearOperator B for the analysis form lam ||B x||_{1,w} + ||A x - y||_2 (and
    its P1, P2 variants): an undecimated wavelet frame, total variation (``Gradient2D``) or a
    ``Stack`` of them. The layers are then the steps of ``solvers.AnalysisSaddlePoint`` (dual
    variables for A and for B), ``weights`` have B's output shape, L_A defaults to
    ||[A; B]|| = ||A^* A + B^* B||^(1/2), and ``eps`` needs ``calibration`` images (their
    references are long runs of the same iteration).
    """

    def __init__(
        self,
        A: Any,
        *,
        lam: float | None = None,
        weights: Any = None,
        problem: str = "srlasso",
        eta: float = 0.0,
        restarts: int | None = None,
        inner: int | None = None,
        delta: float | None = None,
        eps: float | None = None,
        eps0: float | None = None,
        L_A: float | None = None,
        schedule: str | None = None,
        calibration: torch.Tensor | None = None,
        sparsity: int | None = None,
        seed: int = 0,
        analysis: Any = None,
        tol: float | None = None,
        xtol: float | None = None,
    ):
        super().__init__()
        if schedule is None:
            schedule = "adaptive" if eps is not None else "paper"
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}; got {schedule!r}")
        self.schedule = schedule
        if problem not in _PROBLEMS:
            raise ValueError(f"problem must be one of {sorted(_PROBLEMS)}; got {problem!r}")
        self.A = A = as_operator(A)
        self.kind = problem
        if problem == "qcbp":
            if lam is not None:
                raise ValueError("lam does not apply to problem='qcbp' (P1 has no lam; set eta)")
            self.lam = 1.0
        else:
            self.lam = check_scalar("lam", 1.0 if lam is None else lam, positive=True)
        self.eta = check_scalar("eta", eta, nonnegative=True)
        self.B = check_analysis(analysis, A)
        w = check_weights(weights, A, self.B)
        self.register_buffer("weights", w)
        self.weighted = weights is not None
        # lam w, broadcast against x; unweighted, one number (shape (1, ..., 1)), so that each
        # step's soft threshold reads one value per sample instead of an array the size of x
        thr = self.lam * w if weights is not None else torch.full((1,) * w.ndim, self.lam, dtype=w.dtype, device=w.device)
        self.register_buffer("thresholds", thr)
        if self.B is not None and eps is not None and calibration is None:
            raise ValueError("eps with analysis needs calibration images (the depth is calibrated on them)")
        if L_A is not None:
            self.L_A = check_scalar("L_A", L_A, positive=True)
        else:
            self.L_A = A.norm() if self.B is None else stacked_norm(A, self.B)
        if not self.L_A > 0:
            raise ValueError("A has zero norm: there is nothing to invert")
        self.eps0 = None if eps0 is None else check_scalar("eps0", eps0, positive=True)
        self.tol = None if tol is None else check_scalar("tol", tol, positive=True)
        self.xtol = None if xtol is None else check_scalar("xtol", xtol, positive=True)
        self.last_restarts = None
        self.last_stop: str | None = None  # what ended the last call: "tol", "xtol" or "restarts" (its maximum)
        self.seed = check_seed("seed", seed)

        if eps is not None:
            if restarts is not None or inner is not None:
                raise ValueError("give either eps (automatic depth) or restarts and inner, not both")
            eps = check_scalar("eps", eps)
            if not 0 < eps < 1:
                raise ValueError(f"eps must be in (0, 1); got {eps}")
            self.target = eps
            self.delta = check_scalar("delta", 0.0 if delta is None else delta, nonnegative=True)
            self.restarts, self.inner = 1, 1
            self.calibration_report = self.calibrate(eps, calibration=calibration, sparsity=sparsity)
        else:
            self.target = None
            self.restarts = check_int("restarts", PAPER["restarts"] if restarts is None else restarts, minimum=1)
            self.inner = check_int("inner", PAPER["inner"] if inner is None else inner, minimum=1)
            self.delta = check_scalar("delta", PAPER["delta"] if delta is None else delta, nonnegative=True)
            self.calibration_report = None

    # ------------------------------------------------------------------ structure
    @property
    def num_layers(self) -> int:
        """Number of primal-dual layers: restarts x inner, and with the adaptive schedule one more
        step per restart (from the block's average, to choose the restart point)."""
        return self.restarts * (self.inner + (self.schedule == "adaptive"))

    @property
    def last_layers(self) -> int | None:
        """Layers the last call ran (fewer than ``num_layers`` when ``tol`` stopped it early)."""
        if self.last_restarts is None:
            return None
        return self.last_restarts * (self.inner + (self.schedule == "adaptive"))

    @property
    def width(self) -> int:
        """Width of a layer: N + m (the primal and the dual variable), + the size of B x in the analysis form."""
        m, n = self.A.shape
        return n + m + (self.B.shape[0] if self.B is not None else 0)

    def _apply(self, fn, recurse=True):
        out = super()._apply(fn, recurse)
        self.A = self.A.to(self.weights.device)
        if self.B is not None:
            self.B = self.B.to(self.weights.device)
        return out

    def extra_repr(self) -> str:
        return (
            f"problem={self.kind!r}, lam={self.lam}, eta={self.eta}, restarts={self.restarts}, "
            f"inner={self.inner}, delta={self.delta}, L_A={self.L_A:.6g}, A={self.A!r}"
        )

    # ------------------------------------------------------------------ evaluation
    def _check_y(self, y: Any) -> torch.Tensor:
        y = as_tensor("y", y, device=self.A.device)
        if real_dtype(y.dtype) != real_dtype(self.A.dtype):
            raise TypeError(f"y has dtype {y.dtype} but A works in {real_dtype(self.A.dtype)} precision")
        split_batch("y", y, self.A.out_shape)
        return y

    def forward(
        self, y: torch.Tensor, x0: torch.Tensor | None = None, *, return_certificate: bool = False,
        eps0: torch.Tensor | float | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Certificate]:
        """x = Phi(y) for y of shape (*batch, *A.out_shape); x0: optional warm start.

        A warm start (another network's output, say) is only kept if the first restarts work at
        its accuracy: build the network with ``eps0`` of the order of x0's error, else the first
        blocks, sized for an error ||y||, move far from it. With ``return_certificate`` also
        returns the duality-gap certificate of the output (P2, P3), or its objective and
        constraint violation with a gap (P1), per sample; in the analysis form the last block's dual
        pair is refined by ``CERTIFICATE_ROUNDS`` rounds of Dykstra's projection onto the dual set
        where a round is cheap (``refines_cheaply``).
        ``eps0`` overrides the network's for this call (a number, or one per sample).
        """
        if not return_certificate:
            return self.solve(y, x0, eps0=eps0)[0]
        y = self._check_y(y)
        x, dual = self.solve(y, x0, eps0=eps0)
        with torch.no_grad():
            cert = output_certificate(self.problem(y), x.detach(), _detach(dual))
        return x, cert

    def solve(self, y: torch.Tensor, x0: torch.Tensor | None = None, *,
              eps0: torch.Tensor | float | None = None) -> tuple[torch.Tensor, Any]:
        """(x, dual): the output and the dual point of the last block, in the certificate's convention
        (``problems``: z, or the pair (z, v) in the analysis form), for certificates computed elsewhere."""
        y = self._check_y(y)
        x, zbar = self._run(y, x0, self.restarts, self.inner, eps0=eps0)
        if not bool(torch.isfinite(x.detach()).all()):
            raise FloatingPointError(
                f"FIRENET's output is not finite (L_A = {self.L_A:.3g}, max |y| = {float(y.detach().abs().max()):.3g}): "
                "the step sizes 1/L_A or the data's scale overflow float; give L_A >= ||A|| and data of a "
                "representable scale")
        # the saddle point's z maximises -H*(z): the dual problem's variable is -z
        return x, ((-zbar[0], zbar[1]) if isinstance(zbar, tuple) else -zbar)

    def restart_outputs(self, y: torch.Tensor, x0: torch.Tensor | None = None) -> list[torch.Tensor]:
        """[psi_1, ..., psi_n]: the output of every restart block (for convergence studies)."""
        y = self._check_y(y)
        outs: list[torch.Tensor] = []
        with torch.no_grad():
            self._run(y, x0, self.restarts, self.inner, trace=lambda k, x: outs.append(x))
        return outs

    def problem(self, y: torch.Tensor) -> SRLasso | Lasso | QCBP:
        """The optimisation problem this network solves for data y."""
        cls = _PROBLEMS[self.kind]
        if self.kind == "qcbp":
            return cls(self.A, y, eta=self.eta, weights=self.weights, analysis=self.B)
        return cls(self.A, y, lam=self.lam, weights=self.weights, analysis=self.B)

    def saddle_point(self, y: torch.Tensor) -> SaddlePoint | AnalysisSaddlePoint:
        """The primal-dual step of this network for data y."""
        if self.B is None:
            return SaddlePoint(self.A, y, self.thresholds, self.kind, self.eta)
        segments = group_segments(self.B)
        grouped = self.B.groups is not None
        if self.weighted:
            thresholds = [self.lam * w for w in segment_weights(self.weights, segments, grouped)]
        else:  # one number per segment
            thresholds = [self.thresholds.reshape(()).expand(()) for _ in segments]
        return AnalysisSaddlePoint(self.A, self.B, y, thresholds, segments, self.kind, self.eta)

    def _run(self, y, x0, restarts: int, inner: int, trace=None, schedule: str | None = None, eps0=None):
        A = self.A
        batch = y.shape[: y.ndim - len(A.out_shape)]
        x_dtype = A.dtype if A.is_complex else y.dtype
        if x0 is None:
            x = torch.zeros(*batch, *A.in_shape, dtype=x_dtype, device=A.device)
        else:
            x = as_tensor("x0", x0, device=A.device)
            if split_batch("x0", x, A.in_shape) != tuple(batch):
                raise ValueError(f"x0 must have shape {(*batch, *A.in_shape)}; got {tuple(x.shape)}")
            if x.is_complex() and not x_dtype.is_complex:
                raise TypeError("x0 is complex but the problem is real")
            x = x.to(x_dtype)
        z_dtype = torch.promote_types(x_dtype, A.dtype)
        sp = self.saddle_point(y)
        nout = len(A.out_shape)
        if eps0 is not None:  # this call's (a warm start's error scale, say)
            eps = torch.as_tensor(eps0, dtype=real_dtype(x_dtype), device=A.device).expand(batch).clone()
            if not bool(torch.isfinite(eps).all()) or bool((eps <= 0).any()):
                raise ValueError(f"eps0 must be finite and > 0; got {eps.detach().tolist()}")
        elif self.eps0 is None:
            norm_y = torch.linalg.vector_norm(y, dim=tuple(range(-nout, 0)))
            eps = torch.where(norm_y > 0, norm_y, torch.ones_like(norm_y))
        else:
            eps = torch.full(batch, self.eps0, dtype=real_dtype(x_dtype), device=A.device)
        if self.B is None:
            z = torch.zeros(*batch, *A.out_shape, dtype=z_dtype, device=A.device)
        else:
            z = sp.zeros(x)
        zbar = z
        eps = next_eps(eps, self.delta)
        alpha = 2 * self.L_A / (eps * inner)
        r = sp.residual(x)  # A x - y, carried from block to block (the residual of a block's average is the mean of its r_i)
        previous = x
        for k in range(restarts):
            if (schedule or self.schedule) == "paper":
                if k:
                    eps = next_eps(eps, self.delta)
                    alpha = 2 * self.L_A / (eps * inner)
                x, zbar, r = sp.inner(x, _zeros_like(z), 1.0 / (self.L_A * alpha), alpha / self.L_A, inner, r)
            else:
                tau, sigma = 1.0 / (self.L_A * alpha), alpha / self.L_A
                average, before, current = sp.inner(x, z, tau, sigma, inner, r, last=True)
                # restart at the average or at the last iterate, whichever is nearer a fixed point
                # of the iteration (one step from the average measures it)
                f_last = sp.fixed_point_residual(before, current, tau, sigma)
                f_avg = sp.fixed_point_residual(average, sp.step(average[0], average[1], tau, sigma, average[2]),
                                                tau, sigma)
                x_new, zbar, r = _select(f_avg <= f_last, average, current)
                alpha = _primal_weight(alpha, _norms(x_new - x, len(A.in_shape)), _dual_distance(zbar, z, sp),
                                       limit=_weight_limit(k))
                x, z = x_new, zbar
            if trace is not None:
                trace(k, x)
            stop = "restarts"
            if k + 1 < restarts:
                if self.xtol is not None and k and self._settled(x, previous):
                    stop = "xtol"
                    break
                if self.tol is not None and self._certified(y, x, zbar):
                    stop = "tol"
                    break
            previous = x
        self.last_restarts = k + 1 if restarts else 0
        self.last_stop = stop if restarts else "restarts"
        return x, zbar

    def _settled(self, x: torch.Tensor, previous: torch.Tensor) -> bool:
        """Whether every sample moved by at most xtol relative to its norm over the last restart."""
        with torch.no_grad():
            dims = tuple(range(-len(self.A.in_shape), 0))
            moved = torch.linalg.vector_norm(x - previous, dim=dims)
            return bool((moved <= self.xtol * torch.linalg.vector_norm(x, dim=dims)).all())

    def _certified(self, y: torch.Tensor, x: torch.Tensor, zbar) -> bool:
        """Whether every sample's certificate is within ``tol`` (relative gap and infeasibility)."""
        with torch.no_grad():
            dual = (-zbar[0], zbar[1]) if isinstance(zbar, tuple) else -zbar
            cert = self.problem(y).certificate(x.detach(), _detach(dual), support_dual=False)
        return cert.within(self.tol)

    # ------------------------------------------------------------------ automatic depth
    def calibrate(
        self,
        eps: float,
        *,
        calibration: torch.Tensor | None = None,
        sparsity: int | None = None,
        samples: int = 4,
        max_inner: int = 2048,
    ) -> dict:
        """Choose (restarts, inner) so that noiseless sparse data are recovered to relative error eps.

        Calibration signals: ``calibration`` (K, *A.in_shape), or ``samples`` random vectors
        with ``sparsity`` nonzeros (default m / (4 ln N)) drawn with ``seed``. For (P3), and
        for (P1) with eta = 0, their minimisers are the signals themselves (exact recovery);
        for (P2) and for (P1) with eta > 0 the reference is a long run of the same iteration.
        For p = 4, 8, 16, ... inner steps, the restarted iteration runs until every sample is
        within eps (success) or until it stops improving (the schedule has frozen it: p is
        too small for the problem's sharpness). After the first success p keeps doubling while
        that lowers the number of layers; the cheapest success is kept with a margin of 25% + 1
        restarts. Returns a report of the search.
        """
        A = self.A
        m, n = A.shape
        if calibration is None:
            gen = torch.Generator().manual_seed(self.seed)
            s = sparsity if sparsity is not None else max(1, int(m / (4 * math.log(max(n, 2)))))
            s = check_int("sparsity", s, minimum=1)
            if s > n:
                raise ValueError(f"sparsity must be <= N = {n}; got {s}")
            rdt = real_dtype(A.dtype)
            signals = torch.zeros(samples, n, dtype=A.dtype)
            for i in range(samples):
                idx = torch.randperm(n, generator=gen)[:s]
                vals = torch.randn(s, generator=gen, dtype=rdt)
                if A.is_complex:
                    vals = torch.complex(vals, torch.randn(s, generator=gen, dtype=rdt))
                signals[i, idx] = vals.to(A.dtype)
            signals = signals.reshape(samples, *A.in_shape).to(A.device)
        else:
            signals = as_tensor("calibration", calibration, device=A.device)
            split_batch("calibration", signals, A.in_shape)
            signals = signals.reshape(-1, *A.in_shape)
        with torch.no_grad():
            y = A(signals)
            exact = self.B is None and (self.kind == "srlasso" or (self.kind == "qcbp" and self.eta == 0))
            targets = signals if exact else self._long_run(y, eps)
            tnorm = torch.linalg.vector_norm(targets.reshape(targets.shape[0], -1), dim=-1)
            tried = []
            p = 4
            while p <= max_inner:
                errors: list[float] = []

                def trace(k, x, errors=errors):
                    d = torch.linalg.vector_norm((x - targets).reshape(x.shape[0], -1), dim=-1)
                    errors.append((d / tnorm).max().item())

                restarts_max = max(math.ceil(math.log(1 / eps)) + 15, math.ceil(3000 / p))
                self._run_until(y, p, restarts_max, eps, trace, errors)
                success = bool(errors) and errors[-1] <= eps
                tried.append({"inner": p, "restarts": len(errors), "error": errors[-1], "success": success,
                              "layers": len(errors) * p})
                wins = [t for t in tried if t["success"]]
                # after the first success, go on while doubling p lowers the layer count
                if wins and (not success or len(wins) >= 3 or (len(wins) > 1 and wins[-1]["layers"] >= wins[-2]["layers"])):
                    break
                p *= 2
            wins = [t for t in tried if t["success"]]
            if wins:
                best = min(wins, key=lambda t: t["layers"])
                # margins for signals other than the calibration ones
                self.restarts, self.inner = math.ceil(1.25 * best["restarts"]) + 1, best["inner"]
                return {"chosen": {"restarts": self.restarts, "inner": self.inner}, "tried": tried, "eps": eps}
        raise ValueError(
            f"no depth up to {max_inner} inner steps reached relative accuracy {eps} on the "
            "calibration signals: lam may be too large for exact recovery, the signals not sparse "
            "enough for A, or eps below what float64 resolves; give restarts and inner explicitly"
        )

    def _run_until(self, y, inner, restarts_max, eps, trace, errors) -> None:
        """Restart blocks until the error is <= eps, or has not improved for 5 restarts (frozen)."""

        class _Stop(Exception):
            pass

        best = [float("inf"), 0]

        def watch(k, x):
            trace(k, x)
            if errors[-1] <= eps:
                raise _Stop
            if errors[-1] < 0.7 * best[0]:
                best[:] = [errors[-1], 0]
            else:
                best[1] += 1
                if best[1] >= 5:
                    raise _Stop

        try:
            self._run(y, None, restarts_max, inner, trace=watch)
        except _Stop:
            pass

    def _long_run(self, y: torch.Tensor, eps: float) -> torch.Tensor:
        """A reference minimiser for calibration: many restarts with many inner steps."""
        restarts = math.ceil(math.log(1 / eps)) + 40
        x, _ = self._run(y, None, restarts, 256, schedule="adaptive")
        return x


def stacked_norm(A: LinearOperator, B: LinearOperator) -> float:
    """||[A; B]|| = ||A^* A + B^* B||^(1/2): from the Fourier symbols when both grams have one, else
    by power iteration on A^* A + B^* B (``operators.power_iteration``)."""
    sa, sb = A.gram_symbol(), B.gram_symbol()
    if sa is not None and sb is not None and tuple(sa.shape) == tuple(sb.shape):
        return math.sqrt(float((sa.to(torch.float64) + sb.to(torch.float64)).max()))
    return power_iteration(A, B)


def output_certificate(problem: Any, x: torch.Tensor, dual: Any) -> Any:
    """The certificate a network returns for its output x and last dual point: in the analysis form
    with the dual pair refined by ``CERTIFICATE_ROUNDS`` where a round is cheap (``refines_cheaply``)."""
    return problem.certificate(x, dual, refine=CERTIFICATE_ROUNDS if problem.refines_cheaply else 0)


def _detach(z):
    return tuple(t.detach() for t in z) if isinstance(z, tuple) else z.detach()


def _select(mask: torch.Tensor, a, b):
    """Per sample, the nested tensors of a where mask, else of b."""
    if isinstance(a, tuple):
        return tuple(_select(mask, u, v) for u, v in zip(a, b, strict=True))
    return torch.where(mask.reshape(*mask.shape, *([1] * (a.ndim - mask.ndim))), a, b)


def _zeros_like(z):
    return tuple(torch.zeros_like(t) for t in z) if isinstance(z, tuple) else torch.zeros_like(z)


def _norms(t: torch.Tensor, dims: int) -> torch.Tensor:
    return torch.linalg.vector_norm(t, dim=tuple(range(-dims, 0)))


def _dual_distance(z_new, z, sp) -> torch.Tensor:
    """||z_new - z|| per sample, over both blocks (z, v) of the analysis form."""
    if isinstance(z, tuple):
        return torch.sqrt(_norms(z_new[0] - z[0], sp.nout) ** 2 + _norms(z_new[1] - z[1], sp.nreg) ** 2)
    return _norms(z_new - z, sp.nout)


def _weight_limit(k: int, free: int = 40, settle: float = 8.0) -> float:
    """The largest |log| change of the primal weight after restart k: 1 for the first ``free`` restarts
    (the default depth's, so that runs of at most 40 restarts adapt as before), then
    1 / (1 + (k - free) / settle)^2, whose sum over the later restarts is finite (about 8.5 for settle
    8), so that the weight converges and the iteration becomes one fixed-step primal-dual iteration
    (docs/firenet.md, "Convergence")."""
    return 1.0 if k < free else 1.0 / (1.0 + (k - free) / settle) ** 2


def _primal_weight(alpha: torch.Tensor, nx: torch.Tensor, nz: torch.Tensor, smoothing: float = 0.25,
                   limit: float = 1.0) -> torch.Tensor:
    """alpha <- alpha^(1 - s) r^s, r = ||dz|| / ||dx|| limited to [alpha e^-b, alpha e^b], b = ``limit``;
    kept where either is 0.

    The smoothing s = 1/4 (PDLP uses 1/2) keeps the step ratio from oscillating between restarts
    near convergence, where the movements are small and their ratio noisy (docs/firenet.md);
    s = 0 freezes it. ``limit`` (``_weight_limit``) shrinks with the restarts so that the changes are
    summable.
    """
    ok = (nx > 0) & (nz > 0)
    ratio = torch.where(ok, nz / torch.where(ok, nx, torch.ones_like(nx)), alpha)
    low, high = (alpha / math.e, alpha * math.e) if limit == 1 else (alpha * math.exp(-limit), alpha * math.exp(limit))
    ratio = torch.minimum(torch.maximum(ratio, low), high)
    return alpha * (ratio / alpha) ** smoothing
