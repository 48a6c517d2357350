"""FIRENET against the reference solver, the ground truth, and its own theory."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import firenets as fn
from firenets import reference
from firenets.operators import Matrix
from firenets.solvers.prox import project_ball, soft_threshold


def gaussian_instance(m=96, N=256, s=5, batch=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    M = torch.randn(m, N, generator=g, dtype=torch.float64) / math.sqrt(m)
    X = torch.zeros(batch, N, dtype=torch.float64)
    for b in range(batch):
        X[b, torch.randperm(N, generator=g)[:s]] = torch.randn(s, generator=g, dtype=torch.float64)
    return M, X


def dft_instance(m=80, N=256, s=5, batch=3, seed=0):
    """Rows of the unitary DFT at random frequencies: a complex subsampled-Fourier matrix."""
    g = torch.Generator().manual_seed(seed)
    F = torch.fft.fft(torch.eye(N, dtype=torch.complex128), norm="ortho")
    rows = torch.randperm(N, generator=g)[:m]
    X = torch.zeros(batch, N, dtype=torch.complex128)
    for b in range(batch):
        vals = torch.complex(torch.randn(s, generator=g, dtype=torch.float64), torch.randn(s, generator=g, dtype=torch.float64))
        X[b, torch.randperm(N, generator=g)[:s]] = vals
    return F[rows], X


def rel(a, b):
    return (torch.linalg.vector_norm(a - b, dim=-1) / torch.linalg.vector_norm(b, dim=-1)).max().item()


@pytest.mark.parametrize("maker", [gaussian_instance, dft_instance], ids=["gaussian", "dft-complex"])
def test_noiseless_sparse_recovered_to_1e9(maker):
    M, X = maker()
    net = fn.FIRENET(M, lam=0.05, eps=1e-10)
    x, cert = net(X @ M.T, return_certificate=True)
    assert x.dtype == X.dtype
    assert rel(x, X) < 1e-9
    assert (cert.relative_gap < 1e-8).all()
    # adaptive schedule: one more step per restart chooses the restart point
    assert net.num_layers == net.restarts * (net.inner + 1) and net.width == sum(M.shape)


def test_paper_settings_and_delta_floor():
    M, X = gaussian_instance()
    net = fn.FIRENET(M, lam=0.05)  # 30 restarts x 50 inner, delta = 1e-6
    assert (net.restarts, net.inner, net.delta, net.num_layers) == (30, 50, 1e-6, 1500)
    err = rel(net(X @ M.T), X)
    # the schedule settles at delta / (e - 1): the error is of order delta, not below it
    assert 1e-9 < err < 1e-5


def test_error_decreases_geometrically_in_restarts():
    M, X = gaussian_instance(batch=1)
    net = fn.FIRENET(M, lam=0.05, restarts=16, inner=40, delta=0.0)
    outs = net.restart_outputs(X @ M.T)
    errs = np.array([rel(o, X) for o in outs])
    k = np.arange(len(errs))
    slope = np.polyfit(k[3:], np.log(errs[3:]), 1)[0]
    # the error follows eps_k = e^-k eps_0: slope -1 on a natural-log scale
    assert -1.15 < slope < -0.85
    assert errs[-1] < 1e-6 * errs[0]


def test_automatic_depth_with_noise_is_as_accurate_as_the_minimiser():
    M, X = gaussian_instance(batch=2, seed=3)
    g = torch.Generator().manual_seed(4)
    Y = X @ M.T + 1e-2 * torch.randn(2, M.shape[0], generator=g, dtype=torch.float64)
    sol = reference.solve(fn.SRLasso(M, Y, lam=0.1))
    net = fn.FIRENET(M, lam=0.1, eps=1e-8)
    assert net.schedule == "adaptive" and net.calibration_report["chosen"]["inner"] == net.inner
    err_net = torch.linalg.vector_norm(net(Y) - X, dim=1)
    err_min = torch.linalg.vector_norm(sol.x - X, dim=1)
    assert (err_net <= 1.5 * err_min).all()


def test_noisy_error_within_small_factor_of_minimiser():
    M, X = gaussian_instance(batch=2, seed=3)
    g = torch.Generator().manual_seed(9)
    noise = torch.randn(2, M.shape[0], generator=g, dtype=torch.float64)
    Y = X @ M.T + 1e-2 * noise / noise.norm(dim=1, keepdim=True)
    lam = 0.1
    sol = reference.solve(fn.SRLasso(M, Y, lam=lam))
    net = fn.FIRENET(M, lam=lam, restarts=25, inner=40, delta=1e-10)
    x = net(Y)
    err_net = torch.linalg.vector_norm(x - X, dim=1)
    err_min = torch.linalg.vector_norm(sol.x - X, dim=1)
    assert (err_net <= 1.5 * err_min + 1e-8).all()
    # the guarantee is an error to the ground truth of the order of the noise, not convergence
    # to the minimiser: the objective is close to optimal, the point only near the minimiser
    assert ((fn.SRLasso(M, Y, lam=lam).objective(x) / sol.objective - 1) < 1e-3).all()
    assert rel(x, sol.x) < 1e-2


def test_batched_equals_one_by_one():
    M, X = dft_instance(batch=4)
    net = fn.FIRENET(M, lam=0.05, restarts=6, inner=20)
    Y = X @ M.T
    xb = net(Y)
    for b in range(4):
        torch.testing.assert_close(xb[b], net(Y[b]), rtol=0, atol=1e-13)


@pytest.mark.parametrize("schedule", ["paper", "adaptive"])
def test_stability_to_data_perturbations(schedule):
    M, X = gaussian_instance(batch=1, seed=5)
    net = fn.FIRENET(M, lam=0.05, restarts=25, inner=40, delta=1e-12, schedule=schedule)
    y = (X @ M.T)[0]
    x = net(y)
    g = torch.Generator().manual_seed(1)
    ratios = []
    for size in (1e-8, 1e-6, 1e-4, 1e-2):
        e = torch.randn(y.shape, generator=g, dtype=torch.float64)
        e *= size / e.norm()
        ratios.append((torch.linalg.vector_norm(net(y + e) - x) / size).item())
    # a Lipschitz bound of the order of the null-space-property constant, at every scale
    assert max(ratios) < 10.0


@pytest.mark.parametrize("kind", ["lasso", "qcbp"])
def test_lasso_and_qcbp_against_cvxpy(kind):
    M, X = gaussian_instance(batch=2, seed=7)
    g = torch.Generator().manual_seed(2)
    Y = X @ M.T + 1e-3 * torch.randn(2, M.shape[0], generator=g, dtype=torch.float64)
    if kind == "lasso":
        P = fn.Lasso(M, Y, lam=0.01)
        opts = {"lam": 0.01, "problem": "lasso"}
    else:
        P = fn.QCBP(M, Y, eta=0.02)
        opts = {"problem": "qcbp", "eta": 0.02}
    sol = reference.solve(P)
    net = fn.FIRENET(M, restarts=40, inner=60, schedule="adaptive", **opts)
    x, cert = net(Y, return_certificate=True)
    assert rel(x, sol.x) < 1e-9
    assert (cert.relative_gap.abs() < 1e-10).all()
    assert (cert.relative_infeasibility < 1e-10).all()
    # with noise these minimisers are not sharp points: the paper's schedule, whose step ratio
    # follows eps_k -> delta whatever the iteration does, freezes well before them
    paper = fn.FIRENET(M, restarts=40, inner=60, delta=1e-12, schedule="paper", **opts)
    assert rel(paper(Y), sol.x) > 1e-7


def test_srlasso_step_ratio_equals_the_papers_rescaling():
    # psi_k = Inner(alpha y, alpha psi_{k-1}) / alpha with tau = sigma = 1 / L_A, written out here
    M, X = gaussian_instance(batch=1, seed=4)
    y = (X @ M.T)[0]
    lam, restarts, p, delta = 0.05, 5, 12, 1e-6
    L = torch.linalg.matrix_norm(M, ord=2).item()
    psi, eps = torch.zeros(M.shape[1], dtype=torch.float64), y.norm().item()
    for _ in range(restarts):
        eps = math.exp(-1) * (delta + eps)
        alpha = 1 / ((eps / (2 * L)) * p)
        yy, x, z = alpha * y, alpha * psi, torch.zeros_like(y)
        acc = torch.zeros_like(psi)
        for _ in range(p):
            x_new = soft_threshold(x - M.T @ z / L, lam / L)
            z = project_ball(z + (M @ (2 * x_new - x)) / L - yy / L, 1.0, 1)
            x = x_new
            acc += x
        psi = acc / p / alpha
    net = fn.FIRENET(M, lam=lam, restarts=restarts, inner=p, delta=delta, L_A=L)
    torch.testing.assert_close(net(y), psi, rtol=0, atol=1e-12)


@pytest.mark.parametrize("maker", [gaussian_instance, dft_instance])
@pytest.mark.parametrize("kind", ["srlasso", "lasso", "qcbp"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("schedule", ["paper", "adaptive"])
def test_inference_path_equals_differentiable_path(maker, kind, weighted, schedule):
    # without autograd the steps threshold in place (and an unweighted network's threshold is one
    # number per sample); with y requiring grad every step is out of place: the outputs must agree
    M, X = maker(m=40, N=90, s=4, batch=3, seed=11)
    y = X @ M.T + 1e-3 * torch.randn(3, 40, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    w = torch.linspace(0.5, 2.0, 90, dtype=torch.float64) if weighted else None
    opts = {"eta": 0.05} if kind == "qcbp" else {"lam": 0.05}
    net = fn.FIRENET(M, problem=kind, weights=w, restarts=4, inner=15, schedule=schedule, **opts)
    with torch.no_grad():
        fast = net(y)
    slow = net(y.clone().requires_grad_(True))
    assert slow.requires_grad
    torch.testing.assert_close(fast, slow.detach(), rtol=0, atol=1e-13)
    assert torch.linalg.vector_norm(fast) > 0.5 * torch.linalg.vector_norm(X)  # not a trivial output


def test_warm_start_and_gradients():
    M, X = gaussian_instance(batch=1, m=30, N=60, s=3, seed=8)
    y = (X @ M.T)[0]
    net = fn.FIRENET(M, lam=0.05, restarts=20, inner=40, delta=0.0)
    x = net(y)
    short = fn.FIRENET(M, lam=0.05, restarts=2, inner=40, delta=0.0, eps0=1e-6)
    # started at the answer with a matching accuracy level, two blocks keep it
    assert rel(short(y, x0=x), x[None]) < 1e-6
    assert rel(short(y), x[None]) > 1e-3  # from zero, the same two blocks are far from it
    tiny = fn.FIRENET(M, lam=0.05, restarts=2, inner=3)
    yy = y.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: tiny(t), (yy,), eps=1e-7, atol=1e-6)


def test_complex_network_second_derivatives():
    # iterations start from zero, where the complex threshold is not smooth in |v|: the graph
    # of its backward pass must still give finite, correct second derivatives in y
    M, X = dft_instance(m=6, N=12, s=2, batch=1, seed=3)
    y = (X @ M.T)[0].clone().requires_grad_(True)
    tiny = fn.FIRENET(M, lam=0.05, restarts=2, inner=3)
    assert torch.autograd.gradgradcheck(lambda t: torch.view_as_real(tiny(t)), (y,), eps=1e-7, atol=1e-5)


def test_saddle_point_step_converts_real_iterates_for_a_complex_operator():
    from firenets.solvers.primal_dual import SaddlePoint

    M, X = dft_instance(m=20, N=40, s=3, batch=2, seed=5)
    sp = SaddlePoint(Matrix(M), X @ M.T, torch.full((40,), 0.05, dtype=torch.float64), "srlasso")
    g = torch.Generator().manual_seed(0)
    x0, z0 = torch.randn(2, 40, generator=g, dtype=torch.float64), torch.randn(2, 20, generator=g, dtype=torch.float64)
    x, z = x0, z0
    for _ in range(2):
        x, z, r = sp.step(x, z, 0.5, 0.5)
    xc, zc = x0.to(torch.complex128), z0.to(torch.complex128)
    for _ in range(2):
        xc, zc, rc = sp.step(xc, zc, 0.5, 0.5)
    torch.testing.assert_close(x, xc, rtol=0, atol=1e-15)
    torch.testing.assert_close(r, xc @ M.T - sp.y, rtol=0, atol=1e-14)
    assert torch.linalg.vector_norm(x) > 0


def test_real_operator_with_complex_data_and_device_move():
    M, X = gaussian_instance(batch=1)
    Xc = X.to(torch.complex128) * (1 + 1j)
    net = fn.FIRENET(M, lam=0.05, restarts=20, inner=40, delta=0.0).to("cpu")
    x = net(Xc @ M.T.to(torch.complex128))
    assert x.dtype == torch.complex128 and rel(x, Xc) < 1e-6
    assert isinstance(net.A, Matrix)


def test_firenet_bad_input():
    M = torch.randn(10, 20, dtype=torch.float64)
    net = fn.FIRENET(M, restarts=2, inner=2)
    with pytest.raises(ValueError, match="y must be finite"):
        net(torch.full((10,), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="y must have trailing shape"):
        net(torch.ones(11, dtype=torch.float64))
    with pytest.raises(TypeError, match="y has dtype torch.float32"):
        net(torch.ones(10))
    with pytest.raises(ValueError, match="x0 must have shape"):
        net(torch.ones(10, dtype=torch.float64), x0=torch.zeros(3, 20, dtype=torch.float64))
    with pytest.raises(ValueError, match="zero norm"):
        fn.FIRENET(torch.zeros(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="lam must be > 0"):
        fn.FIRENET(M, lam=0.0)
    with pytest.raises(ValueError, match="eps must be in"):
        fn.FIRENET(M, eps=1.5)
    with pytest.raises(ValueError, match="eps must be in"):
        fn.FIRENET(M, eps=0.0)
    with pytest.raises(ValueError, match="not both"):
        fn.FIRENET(M, eps=1e-3, restarts=3)
    with pytest.raises(ValueError, match="problem must be one of"):
        fn.FIRENET(M, problem="tv")
    with pytest.raises(ValueError, match="lam does not apply"):
        fn.FIRENET(M, problem="qcbp", lam=0.5)
    with pytest.raises(ValueError, match="restarts must be >= 1"):
        fn.FIRENET(M, restarts=0, inner=3)
    with pytest.raises(ValueError, match="weights must be > 0"):
        fn.FIRENET(M, weights=-torch.ones(20, dtype=torch.float64))


def test_wavelet_fourier_image_with_weights_in_levels():
    from firenets.operators import Fourier2D, Wavelet2D
    from firenets.problems import sparsity_weights

    W = Wavelet2D((16, 16), wavelet="db2", levels=2)
    F = Fourier2D(fn.masks.gaussian((16, 16), 0.5, seed=1).mask)
    A = F @ W.H
    g = torch.Generator().manual_seed(3)
    c = torch.zeros(16, 16, dtype=torch.float64)
    c[:4, :4] = torch.randn(4, 4, generator=g, dtype=torch.float64)
    c[5, 9], c[12, 3] = 1.0, -0.5
    y = A(c) + 1e-3 * torch.complex(torch.randn(A.out_shape, generator=g, dtype=torch.float64),
                                    torch.randn(A.out_shape, generator=g, dtype=torch.float64))
    w = sparsity_weights(W.level_index, [16.0, 2.0, 2.0])
    sol = reference.solve(fn.SRLasso(A, y, lam=0.02, weights=w))
    net = fn.FIRENET(A, lam=0.02, weights=w, restarts=60, inner=40, schedule="adaptive")
    x, cert = net(y, return_certificate=True)
    assert x.shape == (16, 16) and x.dtype == torch.complex128
    assert (torch.linalg.vector_norm(x - sol.x) / torch.linalg.vector_norm(sol.x)).item() < 1e-8
    assert cert.relative_gap.item() < 1e-8


def test_xtol_stops_when_the_output_settles():
    M, X = gaussian_instance()
    Y = X @ M.T
    full = fn.FIRENET(M, lam=0.05, restarts=60, inner=20, schedule="adaptive")
    net = fn.FIRENET(M, lam=0.05, restarts=60, inner=20, schedule="adaptive", xtol=1e-6)
    x = net(Y)
    assert net.last_restarts < 60 and net.last_layers == net.last_restarts * 21
    # the last restart moved every sample by at most xtol; one restart fewer had not settled
    outs = full.restart_outputs(Y)
    k = net.last_restarts
    torch.testing.assert_close(x, outs[k - 1], rtol=0, atol=0)
    moved = (outs[k - 1] - outs[k - 2]).norm(dim=-1) / outs[k - 1].norm(dim=-1)
    assert (moved <= 1e-6).all()
    before = (outs[k - 2] - outs[k - 3]).norm(dim=-1) / outs[k - 2].norm(dim=-1)
    assert (before > 1e-6).any()
    with pytest.raises(ValueError, match="xtol"):
        fn.FIRENET(M, lam=0.05, xtol=0.0)
