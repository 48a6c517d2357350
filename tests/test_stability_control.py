"""The positive control's construction (a real lesion in the kernel, its leak) and the theorem it
rests on: at the feasible r = A^*A (x' - x) every map's ratio is at least the accuracy-stability bound."""

from __future__ import annotations

import pytest
import torch

import firenets as fn
from firenets.operators import Fourier2D
from firenets.stability import control
from firenets.stability.targeted import disc

SHAPE = (32, 32)


@pytest.fixture(scope="module")
def setup():
    m = fn.masks.make("gaussian", SHAPE, 0.25, seed=0).mask
    A = Fourier2D(m)
    d, b = control.kernel_lesion(m, (12, 20), 2.0, 2.0)
    return m, A, d, b


def test_the_lesion_is_real_and_invisible_and_its_leak_is_measured(setup):
    m, A, d, b = setup
    assert not d.is_complex() and float(d.abs().max()) > 0.1
    # A d = 0 to rounding: the symmetrised mask covers both k and -k of a real image's spectrum
    assert float(torch.linalg.vector_norm(A(d.to(torch.complex128)))) < 1e-12 * float(torch.linalg.vector_norm(d))
    assert torch.equal(control.symmetrised(control.symmetrised(m)), control.symmetrised(m))
    for leak in (0.01, 0.1):
        dl = control.leaky(d, b, leak)
        got = float(torch.linalg.vector_norm(A(dl.to(torch.complex128))))
        assert got == pytest.approx(leak * float(torch.linalg.vector_norm(A(b.to(torch.complex128)))), rel=1e-10)
    images, has = control.lesion_images(SHAPE, 6, control.leaky(d, b, 0.05), seed=3)
    assert images.shape == (6, *SHAPE) and has.tolist() == [False, True] * 3
    plain = fn.data.PhantomDataset(SHAPE, 6, seed=3)
    torch.testing.assert_close(images[1] - plain[1], control.leaky(d, b, 0.05).to(images.dtype))


class Oracle(torch.nn.Module):
    """A map accurate on both x and x' = x + L: zero-filling plus the lesion's unmeasured part, switched
    on by its measured trace (the most accurate thing a network trained on such pairs can learn)."""

    def __init__(self, A, L, x):
        super().__init__()
        self.A, self.null = A, L - A.adjoint(A(L))
        self.u = A(L)  # the trace the lesion leaves in the samples
        self.t = float((self.u.conj() * A(x)).sum().real) + 0.5 * float(torch.linalg.vector_norm(self.u)) ** 2
        self.w = 0.02 * float(torch.linalg.vector_norm(self.u)) ** 2

    def forward(self, y):
        s = torch.sigmoid(((self.u.conj() * y).sum(-1).real - self.t) / self.w)
        return self.A.adjoint(y) + s[..., None, None] * self.null


def test_at_the_feasible_perturbation_every_map_reaches_the_bound(setup):
    m, A, d, b = setup
    x = fn.data.ellipses(SHAPE, seed=5)
    L = control.leaky(d, b, 0.05)
    region = disc(SHAPE, (12, 20), 2.0)
    for f in (Oracle(A, L.to(torch.complex128), x.to(torch.complex128)), fn.nets.adapter.zero_filled(A)):
        pc = control.positive_control(f, A, x, L, region)
        # ||f(A x') - f(A x)|| >= ||x' - x|| - 2 eta, divided by ||A (x' - x)||: the theorem, on this map
        assert pc.feasible_ratio >= pc.bound * (1 - 1e-9)
        assert pc.feasible_ratio >= pc.bound_difference * (1 - 1e-9)
        assert pc.r_rel == pytest.approx(float(torch.linalg.vector_norm(A(L.to(torch.complex128))))
                                         / float(torch.linalg.vector_norm(x)), rel=1e-9)
    oracle = control.positive_control(Oracle(A, L.to(torch.complex128), x.to(torch.complex128)), A, x, L, region)
    # the oracle's error (the unmeasured part of x) is the same on both images: the classical bound with
    # eta = that error is vacuous, the bound with the errors' difference is the kernel ratio, and r makes the
    # lesion appear in x and -r makes it vanish from x'
    ratio_kernel = float(torch.linalg.vector_norm(L)) / float(torch.linalg.vector_norm(A(L.to(torch.complex128))))
    assert oracle.bound == 0.0 and oracle.errors[0] == pytest.approx(oracle.errors[1], rel=1e-6)
    assert oracle.bound_difference == pytest.approx(ratio_kernel, rel=1e-3) and ratio_kernel > 5
    assert oracle.feasible_ratio == pytest.approx(ratio_kernel, rel=1e-3)
    assert oracle.appear > 0.9 * oracle.lesion_contrast and oracle.vanish < -0.9 * oracle.lesion_contrast
    assert oracle.attack_ratio > 0 and isinstance(oracle.attack_converged, bool)


def test_control_stage_on_a_small_trained_control_and_its_page_section(tmp_path):
    from firenets.experiments import control as shipped
    from firenets.experiments.maps import REFERENCE
    from firenets.report.sections import positive_control_section
    from firenets.report.sentences import control_sentence
    from firenets.stability.budget import Budget

    weights = tmp_path / "control.pt"
    shipped.train_control(weights, progress=False, size=32, centre=(12, 20), radius=2.0, n_train=8, n_val=4,
                          epochs=1, features=4)
    res = shipped.control_stage(weights=weights, budget=Budget(steps=8, patience=3))
    assert list(res.maps) == [shipped.CONTROL_LABEL, REFERENCE, "zero-filled"]
    zf = res.maps["zero-filled"]
    # zero-filling is the orthogonal projection A^*A: the feasible r lies in its range, so its ratio is
    # exactly 1 there and nowhere above 1; the attack reaches it
    assert zf.feasible_ratio == pytest.approx(1.0, abs=1e-9)
    assert zf.attack_ratio <= 1 + 1e-9 and zf.found
    torch.testing.assert_close(res.x_lesion - res.x, shipped.control_setup({"control": res.settings})[3].to(res.x.dtype))
    # the feasible r has the samples of x' - x: A(x + r) = A x'
    A = shipped.control_setup({"control": res.settings})[2]
    torch.testing.assert_close(A((res.x + res.r).to(torch.complex128)), A(res.x_lesion.to(torch.complex128)))
    for pc in res.maps.values():
        assert pc.feasible_ratio >= max(pc.bound, pc.bound_difference) * (1 - 1e-9)
        assert pc.found == (pc.attack_ratio >= pc.feasible_ratio * (1 - 1e-3))
    section = positive_control_section(res, tmp_path, title="control")
    section, record = section.as_dict(), section.record
    assert (tmp_path / "positive-control.png").is_file()
    assert record["maps"]["zero-filled"]["feasible_ratio"] == zf.feasible_ratio
    assert [r[0] for r in section["tables"][0]["rows"]] == list(res.maps)
    for label, pc in res.maps.items():
        sentence = control_sentence(label, pc)
        assert sentence in section["text"] and f"{pc.feasible_ratio:.3g}" in sentence and f"{pc.r_rel:.2%}" in sentence
    # the region bounds on the lesion's disc: zero-filling's output A^*A x' has exactly the samples
    # A(x + r) = A x' and sizes the prior, so it lies in the set and its mean inside the interval; its
    # mean from A x is A^*A x's
    from firenets.stability.faithfulness import VERDICTS

    assert list(res.faithfulness) == list(res.maps)
    zb = res.faithfulness["zero-filled"]
    xl, x0 = res.x_lesion.to(torch.complex128), res.x.to(torch.complex128)
    assert zb.value == pytest.approx(float(A.adjoint(A(xl)).real[res.region].mean()), abs=1e-12)
    assert zb.background == pytest.approx(float(A.adjoint(A(x0)).real[res.region].mean()), abs=1e-12)
    assert zb.eta == 0.0 and zb.interval[0] <= zb.value <= zb.interval[1] and zb.verdict != VERDICTS[2]
    assert [r[0] for r in section["tables"][1]["rows"]] == list(res.maps)
    for label, b in res.faithfulness.items():
        assert b.verdict in section["tables"][1]["rows"][list(res.maps).index(label)]
        assert record["faithfulness"][label]["interval"] == list(b.interval)
