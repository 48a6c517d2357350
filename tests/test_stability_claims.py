"""What the stability battery shows on the shipped networks (held-out phantoms, the networks'
own mask and rate); the numbers of a larger run are in docs/stability.md."""

from __future__ import annotations

import pytest

import firenets as fn
from firenets.reconstruction import acquire, reconstruction_map


@pytest.fixture(scope="module")
def phantom():
    x = fn.data.ellipses(128, seed=20_000)
    return x, acquire(x, mask="gaussian", rate=0.25)


@pytest.mark.parametrize("method", ["unet", "cascade"])
def test_learned_networks_are_unstable_to_worst_case_not_to_random_perturbations(phantom, method):
    x, acq = phantom
    f = reconstruction_map(method, acq.operator)
    rho = 0.01 * float(x.norm())
    worst = fn.stability.worst_case(f, acq.operator, x, norms=[rho], steps=10, lr=0.5, momentum=0.5)
    noise = fn.stability.noise_control(f, acq.operator, x, [rho], trials=3)
    # a perturbation of 1% of ||x|| found by ascent moves the output several times more than
    # the largest of three Gaussian perturbations of the same norm (measured: 6.8x, 4.4x)
    assert worst.stages[0].ratio >= 3 * noise.stages[0].ratio
    # and more than the zero-filled image, whose worst case is exactly 1 (an orthogonal projection)
    assert worst.stages[0].ratio > 1.5


def test_more_samples_lower_the_unet_quality_but_not_firenets(phantom):
    x, _ = phantom
    rates = (0.15, 0.2, 0.25, 0.3, 0.4)
    unet = fn.stability.more_samples(lambda F: reconstruction_map("unet", F), x, rates=rates)
    fire = fn.stability.more_samples(lambda F: reconstruction_map("firenet", F, restarts=5, inner=10), x, rates=rates)
    assert not unet.stable  # trained at 25%: adding samples beyond 30% costs PSNR (measured 0.56 dB)
    assert any(b == 0.4 for _, b, _ in unet.drops)
    assert fire.stable
    psnr = [r["psnr"] for r in fire.results]
    assert psnr == sorted(psnr)


def test_learned_networks_lose_more_than_firenet_off_their_training_images():
    cam = fn.data.camera(128)
    gains = {}
    for method in ("firenet", "unet", "cascade"):
        res = fn.reconstruct(cam, method, rate=0.25, restarts=5, inner=10) if method == "firenet" else \
            fn.reconstruct(cam, method, rate=0.25)
        gains[method] = res.metrics["psnr"] - res.zero_filled_metrics["psnr"]
    assert gains["firenet"] > 1.0  # FIRENET improves on zero-filling on a photograph
    assert gains["firenet"] > gains["unet"] + 1.0 and gains["firenet"] > gains["cascade"] + 1.0
