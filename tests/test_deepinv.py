"""deepinv's reconstructors, called as model(y, physics): deepinv's MRI and MultiCoilMRI physics built from
our operator equal it on the same mask and maps (the conversion: zero-filled k-space, real and imaginary
parts first), an adjoint model is zero-filling with its known worst case, and a small MoDL is audited.
Skipped where deepinv is absent (pip install torch==2.14.1 torchvision==0.29.1, then the extra [deepinv])."""

from __future__ import annotations

import pytest
import torch

dinv = pytest.importorskip("deepinv", reason="deepinv is an optional extra: pip install -e '.[deepinv]'")

import firenets as fn  # noqa: E402
from firenets import coils, data  # noqa: E402
from firenets.acquisition import acquire  # noqa: E402
from firenets.nets.adapter import NetworkMap, deepinv_physics  # noqa: E402
from firenets.operators import MultiCoilFourier  # noqa: E402
from firenets.stability import Budget, perturbation  # noqa: E402


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


@pytest.fixture(scope="module")
def case():
    x = data.ellipses(32, seed=2).to(torch.complex128) * data.smooth_phase(32, seed=3)
    F = acquire(x, mask="cartesian", rate=0.3, seed=1).operator
    return x, F, MultiCoilFourier(coils.birdcage(4, (32, 32)), F.mask)


@pytest.mark.parametrize("coil", [False, True])
def test_deepinv_physics_is_our_operator(case, coil):
    x, F, S = case
    A = S if coil else F
    physics = deepinv_physics(A.mask, A.maps if coil else None, torch.float64)
    xd = torch.view_as_real(x)[None].movedim(-1, 1)  # (1, 2, H, W)
    ours = A.single._zero_fill(A(x)) if coil else F._zero_fill(F(x))  # P_M^* A x on the grid
    theirs = physics.A(xd)  # (1, 2[, C], H, W)
    assert _rel(torch.view_as_complex(theirs.movedim(1, -1).contiguous())[0], ours) <= 1e-6
    back = physics.A_adjoint(theirs)
    assert _rel(torch.view_as_complex(back.movedim(1, -1).contiguous())[0], A.adjoint(A(x))) <= 1e-6


@pytest.mark.parametrize("coil", [False, True])
def test_a_deepinv_adjoint_model_is_zero_filling(case, coil):
    x, F, S = case
    A = S if coil else F
    f = NetworkMap(lambda y, physics: physics.A_adjoint(y), A, "deepinv", dtype=torch.float64)
    assert _rel(f(A(x)), A.adjoint(A(x))) <= 1e-12
    p = perturbation(f, A, x, Budget(norms=(0.02,), steps=60))
    exact = fn.operators.power_iteration(A) ** 2 if coil else 1.0  # ||A^* A|| = ||A||^2
    assert 0.99 * exact <= p.max_ratio <= exact * (1 + 1e-6)


@pytest.mark.parametrize("coil", [False, True])
def test_a_small_modl_is_audited(case, coil):
    torch.manual_seed(0)
    net = dinv.models.MoDL(denoiser=dinv.models.DnCNN(in_channels=2, out_channels=2, depth=3, nf=8, pretrained=None),
                           num_iter=2).eval()
    x = case[0]
    r = fn.audit(net, {"x": x}, input="deepinv", name="MoDL",
                 acquisition=dict(coils=4, center_fraction=0.16) if coil else dict(mask="cartesian"),
                 stages=("accuracy", "perturbation"), threats=("image", "kspace"),
                 budget=Budget(norms=(0.02,), steps=10, noise_trials=1), kspace_norms=(0.02,))
    assert r.failures == {}
    assert r.settings["coils"] == (4 if coil else None) and r.settings["dtype"] == "float32"
    assert r.perturbation["MoDL"].max_ratio > 0 and "kspace" in r.threats
