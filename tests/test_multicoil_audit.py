"""Multi-coil (SENSE) audits against closed forms and independent references: A^+ by conjugate gradients
against torch.linalg.pinv of A's matrix; the measurement / null-space split of SENSE (Pythagoras); the SENSE
zero-filling's worst cases, ||A^* A|| (image-domain r, from the SVD of A's matrix) and the trust-region
maximum of ||b + A^* e|| (k-space e), reached to 0.99 and never exceeded; an audit of simulated coils and of a
multi-coil fastMRI-layout file through every stage; the coil data's bad input refused before any stage."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import firenets as fn
from firenets import coils, data
from firenets._validation import ArgumentError
from firenets.acquisition import acquire
from firenets.experiments.audit import Scan, audit, coil_acquisition, sampling
from firenets.nets.adapter import NetworkMap, zero_filled
from firenets.operators import MultiCoilFourier
from firenets.stability import Budget, hallucination_maps, perturbation, pseudo_inverse
from firenets.stability.threats import THREATS, threat_attack


def _matrix(A) -> torch.Tensor:
    """A's matrix (C m, H W), column j = A e_j."""
    n = A.in_shape[0] * A.in_shape[1]
    eye = torch.eye(n, dtype=torch.complex128).reshape(n, *A.in_shape)
    return A(eye).reshape(n, -1).T


@pytest.fixture(scope="module")
def small():
    """16 x 16 SENSE with 2 birdcage coils and a random mask of a quarter of k-space: fewer samples than
    pixels, so A has a null space."""
    gen = torch.Generator().manual_seed(0)
    mask = torch.rand(16, 16, generator=gen) < 0.25
    mask[8, 8] = True
    A = MultiCoilFourier(coils.birdcage(2, (16, 16)), mask)
    x = data.ellipses(16, seed=1).to(torch.complex128) * data.smooth_phase(16, seed=2) + 0.1
    return A, x, _matrix(A)


def test_pseudo_inverse_is_pinv_of_the_matrix_and_the_adjoint_for_orthonormal_rows(small):
    A, x, M = small
    y = A(x) + 0.1 * torch.randn(A.out_shape, dtype=torch.complex128, generator=torch.Generator().manual_seed(3))
    z, residual = pseudo_inverse(A, y)
    ref = (torch.linalg.pinv(M) @ y.reshape(-1)).reshape(A.in_shape)
    assert residual <= 1e-10
    assert float(torch.linalg.vector_norm(z - ref) / torch.linalg.vector_norm(ref)) <= 1e-8
    F = acquire(x, rate=0.3, seed=1).operator  # orthonormal rows: A^+ = A^*, no iteration
    zf, rf = pseudo_inverse(F, F(x))
    assert rf == 0.0 and torch.equal(zf, F.adjoint(F(x)))


def test_the_sense_split_is_orthogonal(small):
    A, x, M = small
    f = NetworkMap(lambda k, mask, maps: k.sum(1), A, "kspace")  # an image far from x, with a null-space part
    h = hallucination_maps(f, A, x)
    assert h.null_norm > 0.1 * h.error_norm
    assert h.error_norm**2 == pytest.approx(h.measurement_norm**2 + h.null_norm**2, rel=1e-9)
    P = torch.linalg.pinv(M) @ M  # the projection onto the range of A^*
    null = x.reshape(-1) - P @ x.reshape(-1)
    zf = hallucination_maps(zero_filled(A), A, x)
    rec = zf.recon.reshape(-1)
    assert zf.null_norm == pytest.approx(float(torch.linalg.vector_norm((rec - P @ rec) - null)), rel=1e-8)


def _trust_region_max(Mt: torch.Tensor, b: torch.Tensor, d: float) -> float:
    """max ||b + Mt e|| over ||e|| <= d: e = (mu I - Mt^* Mt)^{-1} Mt^* b with mu > sigma_1^2 solving ||e|| = d
    (bisection on the secular equation), or the top singular vector where Mt^* b has no part along it."""
    U, S, Vh = torch.linalg.svd(Mt, full_matrices=False)
    g = Vh @ (Mt.conj().T @ b)  # Mt^* b in the right singular basis
    s2 = S**2

    def norm_e(mu: float) -> float:
        return float(torch.linalg.vector_norm(g / (mu - s2)))

    lo, hi = float(s2[0]) * (1 + 1e-15), float(s2[0]) + float(torch.linalg.vector_norm(g)) / d + 1.0
    if norm_e(lo) < d:  # hard case: put the rest of the budget on the top singular vector
        e = Vh.conj().T @ (g / (lo - s2))
        e = e + math.sqrt(max(d**2 - float(torch.linalg.vector_norm(e)) ** 2, 0.0)) * Vh[0].conj()
        return float(torch.linalg.vector_norm(b + Mt @ e))
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if norm_e(mid) > d else (lo, mid)
    e = Vh.conj().T @ (g / (hi - s2))
    return float(torch.linalg.vector_norm(b + Mt @ e))


def test_sense_zero_fillings_worst_cases_are_reached_and_never_exceeded(small):
    A, x, M = small
    budget = Budget(norms=(0.05, 0.1), steps=200, patience=20)
    sigma = float(torch.linalg.matrix_norm(M, ord=2))  # ||A||
    p = perturbation(zero_filled(A), A, x, budget)
    exact = sigma**2  # ||A^* A r|| / ||r|| <= ||A^* A|| = ||A||^2
    assert 0.99 * exact <= p.max_ratio <= exact * (1 + 1e-9)
    assert p.worst.converged
    Mt = M.conj().T  # A^*
    b = (Mt @ (M @ x.reshape(-1))) - x.reshape(-1)  # the unperturbed error
    xn, yn = float(torch.linalg.vector_norm(x)), float(torch.linalg.vector_norm(A(x)))
    t = threat_attack(zero_filled(A), A, x, "kspace", budget, norms=(0.02, 0.1))
    assert [row["eta"] for row in t.rows()] == [0.02, 0.1]
    for row in t.rows():
        worst = _trust_region_max(Mt, b, row["eta"] * yn) / xn
        assert 0.99 * worst <= row["error"] <= worst * (1 + 1e-9)
        assert row["converged"]
    c = threat_attack(zero_filled(A), A, x, "coil", budget, norms=(0.1,))
    for row in c.rows():  # per coil ||e_c|| <= eta ||y_c||: within ||A^*|| times the whole budget
        assert row["error"] <= (float(torch.linalg.vector_norm(b)) + sigma * row["e_over_y"] * yn) / xn * (1 + 1e-9)


def test_a_k_space_model_that_inverts_its_input_exactly_has_worst_case_one():
    x = data.ellipses(16, seed=4).to(torch.complex128) * data.smooth_phase(16, seed=1)
    maps = coils.birdcage(4, (16, 16))
    A = MultiCoilFourier(maps, torch.ones(16, 16, dtype=torch.bool))  # fully sampled: A^* A = I

    def invert(k, mask, maps):  # sum_c conj(S_c) F^* k_c
        return (maps.conj() * fn.operators.ifft2c(k)).sum(1)

    p = perturbation(NetworkMap(invert, A, "kspace"), A, x, Budget(norms=(0.02,), steps=20))
    assert p.max_ratio == pytest.approx(1.0, abs=1e-9)


def test_an_audit_with_simulated_coils_runs_every_stage_with_sense():
    x = data.ellipses(64, seed=2).to(torch.complex128) * data.smooth_phase(64, seed=1)
    stages = ("accuracy", "perturbation", "hallucination-attack", "structural", "more-samples", "generalisation",
              "hallucination")
    r = audit(torch.nn.Identity(), {"x": x}, name="identity", acquisition=dict(coils=4, center_fraction=0.16),
              stages=stages, threats=("image", "kspace", "coil", "full-kspace"),
              budget=Budget(norms=(0.02,), steps=15, noise_trials=1), kspace_norms=(0.02,))
    assert r.failures == {} and r.completed == list(stages)
    st = r.settings
    assert st["coils"] == 4 and st["coil_maps"] == "birdcage" and st["mask"] == "cartesian"
    mask = acquire(x, mask="cartesian", seed=0, center_fraction=0.16).mask
    A = MultiCoilFourier(coils.birdcage(4, (64, 64)), mask)
    # the identity on A^* y is zero-filling: the same reconstruction, and the same threat rows
    zf = (A.adjoint(A(x))).abs()
    assert torch.allclose(r.accuracy.recons["x"]["identity"], zf, atol=1e-12)
    assert torch.allclose(r.accuracy.recons["x"]["zero-filled"], zf, atol=1e-12)
    assert set(r.threats) == {"kspace", "coil", "full-kspace"}
    sweep = r.more_samples["identity"].results
    assert [row["samples"] for row in sweep] == sorted(row["samples"] for row in sweep)  # nested column masks
    assert all(row["samples"] % 64 == 0 for row in sweep)  # whole columns, counted once for every coil
    names = [a for a in r.generalisation["identity"].acquisitions]
    assert "fastmri-equispaced, half the centre" in names and "radial" not in names
    text = "\n".join(r.text())
    assert "coil threat" in text


def test_a_multicoil_file_is_audited_from_its_own_kspace(tmp_path):
    x = data.ellipses(64, seed=5).to(torch.complex128) * data.smooth_phase(64, seed=2)
    data.simulate_multicoil(x, 6, path=tmp_path / "scan.h5")
    r = audit(torch.nn.Identity(), str(tmp_path / "scan.h5"), name="identity",
              acquisition=dict(center_fraction=0.2), stages=("accuracy", "perturbation", "hallucination"),
              threats=("full-kspace",), kspace_norms=(0.04,), budget=Budget(steps=5, noise_trials=1))
    assert r.failures == {}
    # the full-kspace threat is relative to the file's measured k-space, not to the truth's F S x
    k = float(torch.linalg.vector_norm(data.load(tmp_path / "scan.h5", slice=0).kspace))  # as loaded: max |x| = 1
    t = r.threats["full-kspace"]["zero-filled"]
    assert t.k_norm == pytest.approx(k, rel=1e-12) and r.settings["full_kspace"] == "the file's measured k-space"
    assert t.rows()[0]["e_over_k"] == pytest.approx(0.04, rel=1e-9)  # the worst e lies on the ball's boundary
    # unasked, the threats are those the data support: all four for a fully sampled multi-coil file, the
    # per-coil one for simulated coils, image and kspace for one coil
    for images, acq, expected in ((str(tmp_path / "scan.h5"), dict(center_fraction=0.2), THREATS),
                                  ({"x": x}, dict(coils=4, center_fraction=0.2), ("image", "kspace", "coil")),
                                  ({"x": x}, {}, ("image", "kspace"))):
        unasked = audit(torch.nn.Identity(), images, name="identity", acquisition=acq, stages=("accuracy",))
        assert unasked.settings["threats"] == list(expected)
    st = r.settings
    assert st["coils"] == 6 and st["coil_maps"] == "ESPIRiT" and st["measured_kspace"] == [str(tmp_path / "scan.h5")]
    # ESPIRiT recovers the birdcage maps up to one phase per pixel: the coil-combined truth's magnitude is the
    # RSS the file stores, so the metrics against that reference (whole image: no crop) agree
    name = str(tmp_path / "scan.h5")
    for label in ("identity", "zero-filled"):
        assert r.accuracy.reference[name][label]["psnr"] == pytest.approx(r.accuracy.metrics[name][label]["psnr"],
                                                                          abs=0.05)
    h = r.hallucination["identity"]
    assert h.projection_residual <= 1e-6


def test_coil_data_that_cannot_serve_is_refused_before_any_stage(tmp_path):
    x = data.ellipses(32, seed=5).to(torch.complex128)
    k = torch.from_numpy(data.simulate_multicoil(x, 4)["kspace"][0]).to(torch.complex128)
    kw = sampling(dict(center_fraction=0.25))
    with pytest.raises(ArgumentError, match="maps hold 3 coils but"):
        coil_acquisition({**kw, "maps": coils.birdcage(3, (32, 32))}, {"s": Scan(k)})
    bad = k.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ArgumentError, match="NaN or Inf"):
        coil_acquisition(kw, {"s": Scan(bad)})
    under = k.clone()
    under[:, :, ::3] = 0  # a file that was undersampled before it reached us
    with pytest.raises(ArgumentError, match="already undersampled"):
        coil_acquisition(kw, {"s": Scan(under)})
    with pytest.raises(ArgumentError, match="fully sampled centre"):
        coil_acquisition(sampling(dict(mask="gaussian")), {"s": Scan(k)})
    half = coils.birdcage(4, (32, 32))
    half[:, :, :16] = 0
    with pytest.raises(ArgumentError, match="do not cover"):
        coil_acquisition(sampling(dict(maps=half)), {"x": x})
    with pytest.raises(ArgumentError, match="sum_c"):
        coil_acquisition(sampling(dict(maps=2 * coils.birdcage(4, (32, 32)))), {"x": x})
    with pytest.raises(ArgumentError, match="coils"):
        coil_acquisition({**kw, "coils": 4}, {"s": Scan(k)})
    with pytest.raises(ArgumentError, match="the samples have 8 coils .* another coil count"):
        audit(_FourCoils(), {"x": x}, input="kspace", acquisition=dict(coils=8, center_fraction=0.25),
              stages=("accuracy",))
    np.save(tmp_path / "maps.npy", np.ones((2, 3), dtype=np.complex64))
    from firenets.cli import main
    assert main(["audit", "--model", "x:y", "ellipses:1", "--size", "32", "--maps", str(tmp_path / "maps.npy"),
                 "--out", str(tmp_path / "o")]) == 2


class _FourCoils(torch.nn.Module):
    """A k-space model built for 4 coils: a 1 x 1 convolution of their 8 real channels."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(8, 2, 1, dtype=torch.float64)

    def forward(self, k, mask, maps):
        z = torch.view_as_real(k).permute(0, 1, 4, 2, 3).reshape(k.shape[0], -1, *k.shape[-2:])
        out = self.conv(z)
        return torch.complex(out[:, 0], out[:, 1])


class _Scale(torch.nn.Module):
    """a A^* y, complex, or a |A^* y| (a magnitude, as fastMRI's VarNet returns): the optimum is a = 1 when
    A^* A = I (full sampling, sum_c |S_c|^2 = 1)."""

    def __init__(self, magnitude: bool):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(0.5, dtype=torch.float64))
        self.magnitude = magnitude

    def forward(self, z):
        return self.a * (z.abs() if self.magnitude else z)


@pytest.mark.parametrize("magnitude", [False, True])
def test_training_on_coils_reaches_the_known_optimum(tmp_path, magnitude):
    from firenets.reconstruction import train_model

    net = _Scale(magnitude)
    net, record = train_model(net, tmp_path / "s.pt", input="adjoint", size=16, mask="cartesian", rate=1.0, coils=4,
                              n_train=16, n_val=4, epochs=40, batch=8, lr=0.05, progress=False)
    assert float(net.a.detach()) == pytest.approx(1.0, abs=0.02)
    assert record["coils"] == 4 and record["val_psnr"] > 40  # the complex phantoms themselves, to 2%
    payload = torch.load(tmp_path / "s.pt", weights_only=True)
    assert payload["training"]["coils"] == 4
