"""High-accuracy reference solutions of (P1), (P2), (P3) by an interior-point method.

CVXPY models the problem as a second-order cone program and Clarabel solves it with tight
tolerances. The interior-point answer is then polished on its support, where the optimality
conditions have a closed form (below), and the polished point is kept only where its
certificate is better. The answer comes with the duality-gap certificate of
``firenets.problems``, computed independently of the solver. The problem
is first rescaled (x = (b / c) u with c = ||A||, b = ||y||) so that the interior-point method sees
entries of order one whatever the scale of the data; the certificate is computed on the
original problem. Dense only: problems whose matrix has more than ``max_entries`` entries are
refused.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import torch

from ._validation import check_int, check_scalar
from .problems import QCBP, Certificate, Lasso, SRLasso, _Problem, group_segments


class ReferenceAccuracyWarning(UserWarning):
    """The reference solution's certificate is weaker than asked for."""


@dataclass(frozen=True)
class ReferenceSolution:
    """x: the minimiser (batched like y); objective F(x); certificate; solver status per instance."""

    x: torch.Tensor
    objective: torch.Tensor
    certificate: Certificate
    status: list[str]
    seconds: float


def solve(
    problem: _Problem,
    *,
    tol: float = 1e-11,
    max_entries: int = 4_000_000,
    warn_gap: float = 1e-8,
    max_iter: int = 500,
    polish: bool = True,
    verbose: bool = False,
) -> ReferenceSolution:
    """Solve (P1), (P2) or (P3) to high accuracy (CVXPY + Clarabel), with a certificate.

    tol: Clarabel's gap and feasibility tolerances (on the rescaled problem). A
    ``ReferenceAccuracyWarning`` is issued when the certified relative gap exceeds warn_gap.
    polish=False returns the interior-point answer as it is (still certified).
    """
    if not isinstance(problem, (SRLasso, Lasso, QCBP)):
        raise TypeError(f"problem must be an SRLasso, Lasso or QCBP; got {type(problem).__name__}")
    tol = check_scalar("tol", tol, positive=True)
    warn_gap = check_scalar("warn_gap", warn_gap, positive=True)
    max_iter = check_int("max_iter", max_iter, minimum=1, maximum=10**7)
    max_entries = check_int("max_entries", max_entries, minimum=1)
    import cvxpy as cp
    import numpy as np

    m, n = problem.A.shape
    if m * n > max_entries:
        raise ValueError(
            f"problem too large for the dense reference solver: A is {m} x {n} = {m * n:,} "
            f"entries (max_entries={max_entries:,}); use a smaller instance (e.g. a 32x32 image "
            "has N = 1024) or an iterative solver with its certificate"
        )
    if problem.is_analysis:
        M, N = problem.B.shape
        if M * N > max_entries:
            raise ValueError(
                f"problem too large for the dense reference solver: B is {M} x {N} = {M * N:,} entries "
                f"(max_entries={max_entries:,}); use a smaller image"
            )
    start = time.perf_counter()
    A = problem.A.to_dense(max_entries=max_entries).detach().cpu().numpy()
    c = float(np.linalg.norm(A, 2)) or 1.0
    is_complex = problem.is_complex
    w = problem.weights.detach().cpu().numpy().reshape(-1)
    Y = problem.y.detach().cpu().numpy().reshape(-1, m)
    if problem.is_analysis:
        Bd = problem.B.to_dense(max_entries=max_entries).detach().cpu().numpy()
        groups = _group_indices(problem)
    settings = dict(tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol, tol_ktratio=math.sqrt(tol), max_iter=max_iter)
    xs, zs, vs, status = [], [], [], []
    for y in Y:
        b = float(np.linalg.norm(y))
        if b == 0.0:  # y = 0: x = 0 is optimal for all three problems
            xs.append(np.zeros(n, dtype=np.complex128 if is_complex else np.float64))
            zs.append(np.zeros(m, dtype=xs[-1].dtype))
            if problem.is_analysis:
                vs.append(np.zeros(Bd.shape[0], dtype=xs[-1].dtype))
            status.append("trivial (y = 0)")
            continue
        u = cp.Variable(n, complex=is_complex)
        r = cp.Variable(m, complex=is_complex)
        residual = r == (A / c) @ u - y / b
        constraints = [residual]
        if problem.is_analysis:
            t = cp.Variable(Bd.shape[0], complex=is_complex)
            coefficients = t == Bd @ u
            constraints.append(coefficients)
            l1 = _grouped_l1(cp, t, w, groups, is_complex)
        else:
            l1 = cp.sum(cp.multiply(w, cp.abs(u)))
        if isinstance(problem, SRLasso):
            objective = (problem.lam / c) * l1 + cp.norm(r, 2)
        elif isinstance(problem, Lasso):
            objective = (problem.lam / (b * c)) * l1 + cp.sum_squares(r)
        else:
            objective = l1
            constraints.append(cp.norm(r, 2) <= problem.eta / b)
        prob = _clarabel(cp.Problem(cp.Minimize(objective), constraints), verbose, settings)
        # Clarabel's relative gap is relative to max(1, |objective|): a second solve with the
        # objective normalised to 1 keeps small optimal values (Omega_K at large K) accurate.
        if prob.value is not None and 0 < abs(prob.value) < 0.1:
            prob = _clarabel(cp.Problem(cp.Minimize(objective / abs(prob.value)), constraints), verbose, settings)
        status.append(prob.status)
        if u.value is None:
            raise RuntimeError(f"the interior-point solver returned no solution (status {prob.status})")
        xs.append(np.asarray(u.value) * (b / c))
        dual = residual.dual_value
        zs.append(np.zeros(m) if dual is None else np.asarray(dual).reshape(m))
        if problem.is_analysis:
            vdual = coefficients.dual_value
            vs.append(np.zeros(Bd.shape[0]) if vdual is None else np.asarray(vdual).reshape(-1))
    dtype = problem.dtype
    device = problem.A.device
    shape = (*problem.batch_shape, *problem.A.in_shape)
    x = torch.as_tensor(np.stack(xs)).to(dtype).reshape(shape).to(device)
    # the solver's dual direction, with either sign convention; the certificate scales it
    z = torch.as_tensor(np.stack(zs)).reshape(*problem.batch_shape, *problem.A.out_shape).to(device)
    z = z.to(torch.promote_types(z.dtype, problem.y.dtype))
    if problem.is_analysis:
        # the solver's duals (z, v) of the two equality constraints, in every sign convention;
        # the certificate makes each feasible and keeps the best
        # (on the rescaled problem (A / c)^* z = B^* v, so the pair of the original one is (z, c v))
        v = c * torch.as_tensor(np.stack(vs)).reshape(*problem.batch_shape, *problem.B.out_shape).to(device)
        v = v.to(torch.promote_types(v.dtype, problem.y.dtype))
        cert = problem.certificate(x, [(z, v), (-z, -v), (z, -v), (-z, v)])
    else:
        if polish:
            x = _polish(problem, torch.as_tensor(A).to(device), x, [z, -z])
        cert = problem.certificate(x, [z, -z])
    seconds = time.perf_counter() - start
    worst = cert.relative_gap.max().item()
    if worst > warn_gap or cert.relative_infeasibility.max().item() > warn_gap:
        warnings.warn(
            f"reference solution certified only to relative gap {worst:.2e} (asked for "
            f"{warn_gap:.0e}); relative infeasibility {cert.relative_infeasibility.max().item():.2e}; "
            f"status {status}",
            ReferenceAccuracyWarning,
            stacklevel=2,
        )
    return ReferenceSolution(x=x, objective=cert.objective, certificate=cert, status=status, seconds=seconds)


def _group_indices(problem: _Problem) -> list:
    """Flat indices of B x per group: arrays of shape (size, pixels) for each run of equal groups."""
    import numpy as np

    shape = problem.B.out_shape
    if problem.B.groups is None:
        return [np.arange(int(np.prod(shape))).reshape(1, -1)]
    pixels = int(np.prod(shape[1:]))
    out = []
    for start, count, size in group_segments(problem.B):
        for g in range(count):
            first = start + g * size
            out.append(np.stack([np.arange((first + k) * pixels, (first + k + 1) * pixels) for k in range(size)]))
    return out


def _grouped_l1(cp, t, w, groups: list, is_complex: bool):
    """sum_g w_g ||t_g|| in CVXPY, a group being the entries idx[:, p] of one column p."""
    terms = []
    for idx in groups:
        wg = w[idx[0]]
        if idx.shape[0] == 1:
            terms.append(cp.sum(cp.multiply(wg, cp.abs(t[idx[0]]))))
            continue
        parts = []
        for k in range(idx.shape[0]):
            parts += [cp.real(t[idx[k]]), cp.imag(t[idx[k]])] if is_complex else [t[idx[k]]]
        terms.append(cp.sum(cp.multiply(wg, cp.norm(cp.vstack(parts), 2, axis=0))))
    return cp.sum(terms) if len(terms) > 1 else terms[0]


def _clarabel(prob, verbose: bool, settings: dict):
    import cvxpy as cp

    with warnings.catch_warnings():
        # the status is reported and the answer certified afterwards, so CVXPY's own
        # "may be inaccurate" warning adds nothing
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        try:
            prob.solve(solver=cp.CLARABEL, verbose=verbose, **settings)
        except cp.error.SolverError as exc:
            raise RuntimeError(f"the interior-point solver failed: {exc}") from exc
    return prob


def _polish(problem: _Problem, D: torch.Tensor, x: torch.Tensor, duals: list[torch.Tensor]) -> torch.Tensor:
    """Refine x on candidate supports, keeping a candidate only where its duality gap is smaller.

    With A_S the columns on a support S, P = (A_S^* A_S)^{-1}, x_ls = P A_S^* y,
    r_ls = y - A_S x_ls and g = w_S sign(x_S), the stationary point on S is x_S = x_ls - c P g
    with c = lam / 2 (P2), c = lam ||r_ls|| / sqrt(1 - lam^2 g^* P g) (P3) and
    c = sqrt((eta^2 - ||r_ls||^2) / g^* P g) (P1, active constraint); the sign (phase) of x_S
    is updated a few times for complex data. Supports: {|x_i| > rel max|x|} for several rel,
    and, for small ones, each with one entry left out (the interior-point method cannot
    separate two nearly equivalent entries). The certificate decides, so this is safe.
    """
    m, n = D.shape
    dt = torch.promote_types(D.dtype, problem.y.dtype)
    D = D.to(dt)
    w = problem.weights.reshape(-1).to(D.device)
    xf = x.reshape(-1, n)
    Y = problem.y.reshape(-1, m)
    zf = [z.reshape(-1, m) for z in duals]
    out = xf.clone()
    for b in range(xf.shape[0]):
        single = problem._with_data(Y[b].reshape(problem.A.out_shape))
        zb = [z[b].reshape(problem.A.out_shape) for z in zf]

        best, best_merit = xf[b], _merit(single, xf[b], zb)
        scale = xf[b].abs().max()
        if scale == 0:
            continue
        supports: list[tuple[int, ...]] = []
        for rel in (1e-10, 1e-8, 1e-6, 1e-4, 1e-2):
            S = tuple(torch.nonzero(xf[b].abs() > rel * scale).reshape(-1).tolist())
            if 0 < len(S) <= m and S not in supports:
                supports.append(S)
                if 1 < len(S) <= 16:
                    supports.extend(S[:i] + S[i + 1 :] for i in range(len(S)))
        for S in dict.fromkeys(supports):
            cand = _stationary_on_support(problem, D, Y[b].to(dt), w, xf[b].to(dt), list(S))
            if cand is None:
                continue
            cand = cand.to(x.dtype)
            value = _merit(single, cand, zb)
            if value < best_merit:
                best, best_merit = cand, value
        out[b] = best
    return out.reshape(x.shape)


def _merit(problem: _Problem, x: torch.Tensor, duals: list[torch.Tensor]) -> float:
    """|gap| + ||z|| * constraint violation: the error of the Lagrangian bound.

    P1 candidates may be slightly infeasible, where the gap alone can be negative.
    """
    c = problem.certificate(x.reshape(problem.A.in_shape), duals)
    return abs(c.gap.item()) + torch.linalg.vector_norm(c.z).item() * c.infeasibility.item()


def _stationary_on_support(
    problem: _Problem, D: torch.Tensor, y: torch.Tensor, w: torch.Tensor, x: torch.Tensor, S: list[int]
) -> torch.Tensor | None:
    idx = torch.tensor(S, device=D.device)
    AS = D[:, idx]
    gram = AS.conj().T @ AS
    if torch.linalg.cond(gram).item() > 1e12:
        return None
    x_ls = torch.linalg.solve(gram, AS.conj().T @ y)
    r_ls = torch.linalg.vector_norm(y - AS @ x_ls)
    xs = x[idx]
    if bool((xs == 0).any()):
        return None
    for _ in range(5 if xs.is_complex() else 2):
        g = (w[idx] * xs / xs.abs()).to(D.dtype)
        Pg = torch.linalg.solve(gram, g)
        gPg = torch.real(torch.vdot(g, Pg))
        if isinstance(problem, Lasso):
            c = problem.lam / 2
        elif isinstance(problem, SRLasso):
            denom = 1 - problem.lam**2 * gPg
            if denom <= 0:
                return None
            c = problem.lam * r_ls / torch.sqrt(denom)
        else:
            c = torch.sqrt(torch.clamp(problem.eta**2 - r_ls**2, min=0.0) / gPg)
        new = x_ls - c * Pg
        if bool((new == 0).any()):
            return None
        xs = new
    out = torch.zeros_like(x)
    out[idx] = xs
    return out
