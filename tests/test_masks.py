"""Sampling masks: rates, nesting, seeding, structure, and bad input."""

from __future__ import annotations

import itertools

import pytest
import torch

from firenets import masks
from firenets.operators import Fourier2D

SHAPE = (128, 96)


@pytest.mark.parametrize("kind", ["cartesian", "gaussian", "radial", "das"])
@pytest.mark.parametrize("rate", [0.05, 0.15, 0.25, 0.5])
def test_rate_is_met(kind, rate):
    m = masks.make(kind, SHAPE, rate, seed=1)
    assert m.mask.dtype == torch.bool and tuple(m.mask.shape) == SHAPE
    assert m.rate == pytest.approx(m.mask.float().mean().item())
    if kind == "cartesian":  # whole columns: within one column of the target
        assert abs(m.rate - rate) <= 1 / SHAPE[1] + 1e-12
    elif kind == "radial":  # lines are added until the rate is reached
        assert rate <= m.rate <= rate + 0.02
    else:
        assert abs(m.rate - rate) <= 2 / (SHAPE[0] * SHAPE[1]) + 0.002


@pytest.mark.parametrize("kind", ["cartesian", "gaussian", "radial", "das"])
def test_nested_masks_contain_each_other(kind):
    rates = [0.05, 0.1, 0.2, 0.4, 0.8]
    ms = masks.nested(kind, SHAPE, rates, seed=7)
    for small, big in itertools.pairwise(ms):
        assert bool((small.mask <= big.mask).all())
        assert small.rate < big.rate
    # a single mask equals the nested one at that rate, for the same seed
    single = masks.make(kind, SHAPE, 0.2, seed=7)
    if kind != "cartesian":  # cartesian's default centre depends on the smallest rate asked
        assert torch.equal(single.mask, ms[2].mask)


@pytest.mark.parametrize("kind", ["cartesian", "equispaced", "gaussian", "radial", "das"])
def test_seeded_and_centre_sampled(kind):
    a = masks.make(kind, SHAPE, 0.2, seed=3)
    b = masks.make(kind, SHAPE, 0.2, seed=3)
    c = masks.make(kind, SHAPE, 0.2, seed=4)
    assert torch.equal(a.mask, b.mask)
    assert not torch.equal(a.mask, c.mask)
    assert bool(a.mask[SHAPE[0] // 2, SHAPE[1] // 2])
    Fourier2D(a.mask)  # usable as a measurement operator


def test_cartesian_has_full_columns_and_fastmri_centre():
    m = masks.cartesian((64, 320), 0.25, seed=0).mask
    cols = m.any(dim=0)
    assert torch.equal(m, cols[None, :].expand_as(m))
    n_centre = round(0.08 * 320)  # fastMRI: 8% centre at 4x
    centre = torch.arange(160 - n_centre // 2, 160 - n_centre // 2 + n_centre)
    assert bool(cols[centre].all())
    assert int(cols.sum()) == 80
    m8 = masks.cartesian((64, 320), 0.125, center_fraction=0.04, seed=0).mask
    assert int(m8.any(dim=0).sum()) == 40


def test_equispaced_spacing():
    m = masks.equispaced((32, 256), 0.25, center_fraction=0.0, seed=0).mask
    cols = torch.nonzero(m.any(dim=0)).reshape(-1)
    gaps = torch.diff(cols)
    assert set(gaps.tolist()) <= {4}
    assert len(cols) == 64


def test_gaussian_density_decreases_with_radius():
    m = masks.gaussian((256, 256), 0.2, seed=0).mask.double()
    r = masks._radius((256, 256))
    inner, outer = m[r < 0.25].mean(), m[(r > 0.6) & (r < 0.9)].mean()
    assert inner > 3 * outer


def test_das_density_decreases_by_level():
    m = masks.das((128, 128), 0.2, levels=5, seed=0).mask.reshape(-1).double()
    level = masks._das_levels((128, 128), 5).reshape(-1)
    density = [m[level == lv].mean().item() for lv in range(5)]
    assert density[0] == 1.0
    assert all(a >= b for a, b in itertools.pairwise(density))


def test_radial_lines_pass_through_centre():
    m = masks.radial((65, 65), 0.1, seed=2).mask
    # every sampled pixel lies on a line through the centre: its point reflection is sampled too,
    # up to rasterisation, so most reflections are present
    flipped = torch.flip(m, dims=(0, 1))
    assert (m & flipped).sum() >= 0.9 * m.sum()


def test_bad_mask_arguments():
    with pytest.raises(ValueError, match="rate must be in"):
        masks.gaussian(SHAPE, 0.0)
    with pytest.raises(ValueError, match="rate must be in"):
        masks.cartesian(SHAPE, 1.5)
    with pytest.raises(ValueError, match="shape must have 2 entries"):
        masks.gaussian((10, 10, 10), 0.2)
    with pytest.raises(ValueError, match="shape\\[0\\] must be >= 1"):
        masks.gaussian((0, 10), 0.2)
    with pytest.raises(ValueError, match="kind must be one of"):
        masks.nested("spiral", SHAPE, [0.1])
    with pytest.raises(ValueError, match="cannot be nested"):
        masks.nested("equispaced", SHAPE, [0.1, 0.2])
    with pytest.raises(TypeError, match="unexpected option"):
        masks.nested("radial", SHAPE, [0.1], sigma=0.2)
    with pytest.raises(ValueError, match="center_fraction"):
        masks.cartesian(SHAPE, 0.1, center_fraction=0.2)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        masks.gaussian(SHAPE, 0.1, seed=-1)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        masks.gaussian(SHAPE, 0.1, sigma=0)
