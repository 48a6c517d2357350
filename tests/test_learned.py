"""UNet and DeepCascade: shapes and dtypes, full convolution, residual identity, exact data
consistency, checkpoints without the mask, gradients w.r.t. the input, input checks."""

from __future__ import annotations

import json

import pytest
import torch

from firenets.nets import DeepCascade, UNet
from firenets.nets.learned import _to_channels, _to_complex, count_parameters
from firenets.operators import Fourier2D, fft2c, ifft2c

TOL = {torch.complex64: 1e-5, torch.complex128: 1e-12}


def _mask(shape, rate=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    m = torch.rand(shape, generator=g) < rate
    m[shape[0] // 2, shape[1] // 2] = True
    return m


def _image(shape, dtype=torch.complex128, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, dtype=dtype, generator=g)


def _zero_filled(mask, batch=(), seed=0):
    """x0 = A^* y for random samples y, and the operator A."""
    A = Fourier2D(mask)
    y = _image((*batch, A.out_shape[0]), seed=seed)
    return A.adjoint(y), y, A


def _unet(**kw):
    kw = {"levels": 2, "features": 4, **kw}
    return UNet(seed=0, **kw)


def _cascade(mask, **kw):
    kw = {"cascades": 2, "layers": 3, "features": 4, **kw}
    return DeepCascade(mask, seed=0, **kw)


def _randomise(net, seed=1):
    """Perturb all parameters and BatchNorm statistics, so that a round trip cannot pass by chance."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in list(net.parameters()) + [b for b in net.buffers() if b.is_floating_point()]:
            t.add_(0.1 * torch.randn(t.shape, generator=g, dtype=t.dtype))
        for mod in net.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_var.abs_().add_(0.5)
    return net


NETS = {
    "unet": lambda: _unet(),
    "unet-plain": lambda: _unet(batchnorm=False, residual=False),
    "cascade": lambda: _cascade(_mask((16, 16))),
    "cascade-noisy": lambda: _cascade(_mask((16, 16)), noise_level=0.3),
}


# ----------------------------------------------------------------------------------------------
# shapes, dtypes, batching


@pytest.mark.parametrize("kind", NETS)
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_shape_dtype_and_batched_equals_one_by_one(kind, dtype):
    net = _randomise(NETS[kind]()).eval()
    if dtype == torch.complex128:
        net = net.double()
        assert all(p.dtype == torch.float64 for p in net.parameters())
    x = _image((3, 16, 16), dtype=dtype, seed=2)
    with torch.no_grad():
        out = net(x)
        single = torch.stack([net(x[b]) for b in range(3)])
    assert out.shape == x.shape and out.dtype == dtype
    assert single.shape == x.shape and single.dtype == dtype
    assert not torch.equal(out, x)
    torch.testing.assert_close(out, single, rtol=0, atol=TOL[dtype] * float(out.abs().max()))


@pytest.mark.parametrize("kind", NETS)
def test_output_dtype_follows_the_input_not_the_parameters(kind):
    net = NETS[kind]().eval()  # float32 parameters
    x = _image((16, 16), dtype=torch.complex128)
    with torch.no_grad():
        out128 = net(x)
        out64 = net(x.to(torch.complex64))
        out_d = net.double()(x.to(torch.complex64))
    assert out128.dtype == torch.complex128 and out64.dtype == out_d.dtype == torch.complex64
    torch.testing.assert_close(out128.to(torch.complex64), out64, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out_d, out64, rtol=1e-4, atol=1e-4)


def test_channels_are_real_and_imaginary_parts():
    x = _image((2, 4, 6))
    z = _to_channels(x)
    assert z.shape == (2, 2, 4, 6)
    assert torch.equal(z[:, 0], x.real) and torch.equal(z[:, 1], x.imag)
    assert torch.equal(_to_complex(z), x)
    assert torch.equal(_to_channels(x.conj()), torch.stack([x.real, -x.imag], dim=1))


# ----------------------------------------------------------------------------------------------
# UNet


def test_unet_is_fully_convolutional():
    net = _randomise(_unet(levels=3, features=4)).eval()
    assert net.multiple == 8
    with torch.no_grad():
        for shape in [(32, 32), (64, 48), (2, 8, 40)]:
            x = _image(shape, dtype=torch.complex64, seed=3)
            out = net(x)
            assert out.shape == x.shape and bool(torch.isfinite(out).all())
    # the weights do not depend on the image size: a copy loads and agrees at another size
    other = UNet(**net.config)
    other.load_state_dict(net.state_dict())
    other.eval()
    x = _image((24, 56), dtype=torch.complex64, seed=4)
    with torch.no_grad():
        assert torch.equal(other(x), net(x))


@pytest.mark.parametrize("shape", [(100, 128), (128, 40), (3, 16, 24)])
def test_unet_bad_sizes_name_the_multiple(shape):
    net = _unet(levels=4, features=4)
    assert net.multiple == 16
    with pytest.raises(ValueError, match=r"multiples of 16; got \(\d+, \d+\)") as err:
        net(torch.zeros(shape, dtype=torch.complex64))
    assert str(tuple(shape[-2:])) in str(err.value)


@pytest.mark.parametrize("train", [False, True])
def test_residual_unet_with_last_conv_zeroed_is_the_identity(train):
    net = _randomise(_unet()).train(train)
    with torch.no_grad():
        net.final.weight.zero_()
        net.final.bias.zero_()
    for dtype in (torch.complex64, torch.complex128):
        x = _image((2, 16, 12), dtype=dtype, seed=5)
        assert torch.equal(net(x), x)
    # without the residual the same network outputs exactly zero
    plain = UNet(**{**net.config, "residual": False})
    plain.load_state_dict(net.state_dict())
    assert torch.equal(plain.train(train)(x), torch.zeros_like(x))


def test_unet_architecture():
    net = UNet(levels=2, features=4)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    ups = [m for m in net.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    # 2 per encoder level, 2 in the bottleneck, 2 per decoder level, the final 1x1
    assert len(convs) == 2 * 2 + 2 + 2 * 2 + 1 and len(ups) == 2 and len(bns) == len(convs) - 1
    assert convs[0].in_channels == 2 and net.final.out_channels == 2 and net.final.kernel_size == (1, 1)
    assert net.bottleneck[0].out_channels == 4 * 2**2
    assert all(c.bias is None for c in convs[:-1])  # BatchNorm follows: no bias
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in UNet(levels=2, features=4,
                                                                      batchnorm=False).modules())
    assert count_parameters(UNet(levels=1, features=1, batchnorm=False)) == (
        (2 * 9 + 1) + (9 + 1)  # encoder: 2 -> 1 -> 1
        + (2 * 9 + 2) + (4 * 9 + 2)  # bottleneck: 1 -> 2 -> 2
        + (2 * 4 + 1)  # transposed 2x2: 2 -> 1
        + (2 * 9 + 1) + (9 + 1)  # decoder: 2 -> 1 -> 1
        + (2 + 2)  # final 1x1: 1 -> 2
    )


# ----------------------------------------------------------------------------------------------
# DeepCascade


def test_centred_fft_matches_fourier2d():
    for shape in [(8, 6), (7, 9)]:
        A = Fourier2D(torch.ones(shape, dtype=torch.bool))
        x = _image((2, *shape))
        torch.testing.assert_close(fft2c(x), A.kspace(x), rtol=0, atol=1e-13)
        torch.testing.assert_close(ifft2c(fft2c(x)), x, rtol=0, atol=1e-13)


@pytest.mark.parametrize("shape", [(16, 16), (15, 18)])
def test_cascade_noiseless_data_consistency_is_exact(shape):
    mask = _mask(shape, seed=1)
    net = _randomise(_cascade(mask, cascades=3)).double()
    x0, y, A = _zero_filled(mask, batch=(2,), seed=6)
    out = net(x0)
    assert out.dtype == torch.complex128
    torch.testing.assert_close(A(out), y, rtol=0, atol=1e-12)
    # the network changed the image off the mask
    assert float((A.kspace(out) - A.kspace(x0))[..., ~mask].abs().max().detach()) > 1e-3
    # noise_level 0 is the noiseless rule
    net0 = DeepCascade(mask, **{**net.config, "noise_level": 0.0}).double()
    net0.load_state_dict(net.state_dict())
    assert torch.equal(net0(x0), out)


@pytest.mark.parametrize("noise_level", [None, 0.0, 0.25, 3.0])
def test_cascade_one_block_by_hand(noise_level):
    mask = _mask((12, 10), seed=2)
    net = _randomise(_cascade(mask, cascades=1, noise_level=noise_level)).double()
    x0, y, A = _zero_filled(mask, seed=7)
    x0 = x0 + 0.05 * _image(x0.shape, seed=8)  # also off-mask content in x0: only M k0 is used
    k0 = A.kspace(x0)
    with torch.no_grad():
        z = _to_channels(x0[None])
        cnn = (z + net.blocks[0].cnn(z))[0]
        k = A.kspace(torch.complex(cnn[0], cnn[1]))
        out = net(x0)
    kout = A.kspace(out)
    s = noise_level or 0.0
    expected_on = (s * k + k0) / (1 + s)
    torch.testing.assert_close(kout[mask], expected_on[mask], rtol=0, atol=1e-12)
    torch.testing.assert_close(kout[~mask], k[~mask], rtol=0, atol=1e-12)
    if s:  # the weighted average really differs from both ends
        assert float((kout[mask] - k0[mask]).abs().max()) > 1e-3
        assert float((kout[mask] - k[mask]).abs().max()) > 1e-3


def test_cascade_cnn_architecture():
    mask = _mask((8, 8))
    net = DeepCascade(mask, cascades=2, layers=4, features=5)
    seq = net.blocks[0].cnn
    convs = [m for m in seq if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(2, 5), (5, 5), (5, 5), (5, 2)]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert isinstance(seq[-1], torch.nn.Conv2d)  # no activation at the end
    assert sum(isinstance(m, torch.nn.ReLU) for m in seq) == 3
    assert len(net.blocks) == 2 and net.multiple == 1
    # D5-C5 with 64 features
    per = (2 * 9 * 64 + 64) + 3 * (64 * 9 * 64 + 64) + (64 * 9 * 2 + 2)
    assert count_parameters(DeepCascade(mask)) == 5 * per


def test_cascade_with_zero_cnn_returns_the_consistent_input():
    mask = _mask((16, 16))
    net = _cascade(mask).double()
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    x0, y, A = _zero_filled(mask, seed=9)
    torch.testing.assert_close(net(x0), x0, rtol=0, atol=1e-13)


# ----------------------------------------------------------------------------------------------
# checkpoints


@pytest.mark.parametrize("kind", ["unet", "cascade"])
def test_state_dict_round_trip(kind, tmp_path):
    net = _randomise(NETS[kind]()).eval()
    cfg = json.loads(json.dumps(net.config))
    assert cfg == net.config
    path = tmp_path / "net.pt"
    torch.save({"config": net.config, "state": net.state_dict()}, path)
    payload = torch.load(path, weights_only=True)
    if kind == "unet":
        other = UNet(**payload["config"])
    else:
        other = DeepCascade(net.mask, **payload["config"])
    other.load_state_dict(payload["state"])
    other.eval()
    x = _image((2, 16, 16), dtype=torch.complex64, seed=10)
    with torch.no_grad():
        assert torch.equal(other(x), net(x))


def test_cascade_weights_move_to_another_mask_and_size(tmp_path):
    net32 = _randomise(_cascade(_mask((32, 32), seed=3)))
    state = net32.state_dict()
    assert "mask" not in state and all(k.startswith("blocks.") for k in state)
    torch.save(state, tmp_path / "c.pt")
    mask64 = _mask((64, 64), seed=4)
    net64 = DeepCascade(mask64, **net32.config)
    net64.load_state_dict(torch.load(tmp_path / "c.pt", weights_only=True))  # strict
    assert torch.equal(net64.mask, mask64)
    for a, b in zip(net32.parameters(), net64.parameters(), strict=True):
        assert torch.equal(a, b)
    x0, y, A = _zero_filled(mask64, seed=11)
    out = net64.double()(x0)
    assert out.shape == (64, 64) and net64.mask.dtype == torch.bool
    torch.testing.assert_close(A(out), y, rtol=0, atol=1e-12)


def test_seed_makes_initialisation_reproducible_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = UNet(levels=1, features=2, seed=5), UNet(levels=1, features=2, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    c = UNet(levels=1, features=2, seed=6)
    assert not torch.equal(a.final.weight, c.final.weight)


# ----------------------------------------------------------------------------------------------
# gradients w.r.t. the input


def test_gradcheck_unet():
    torch.manual_seed(0)
    net = _randomise(UNet(levels=1, features=2, batchnorm=True, seed=1)).double().eval()
    x = _image((1, 4, 4), seed=12).requires_grad_()
    assert torch.autograd.gradcheck(net, (x,), eps=1e-6, atol=1e-6)


def test_gradcheck_cascade():
    mask = _mask((6, 5), rate=0.4, seed=5)
    net = _randomise(_cascade(mask, cascades=2, layers=2, features=3, noise_level=0.5)).double()
    x = _image((6, 5), seed=13).requires_grad_()
    assert torch.autograd.gradcheck(net, (x,), eps=1e-6, atol=1e-6, fast_mode=True)
    # and the noiseless network (the on-mask output is M F_c x0 exactly)
    net0 = DeepCascade(mask, **{**net.config, "noise_level": None}).double()
    net0.load_state_dict(net.state_dict())
    assert torch.autograd.gradcheck(net0, (x,), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["unet", "cascade"])
def test_float32_input_gradient_flows(kind):
    net = NETS[kind]().eval()
    x = _image((16, 16), dtype=torch.complex64, seed=14).requires_grad_()
    net(x).abs().pow(2).sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.complex64
    assert bool(torch.isfinite(x.grad).all()) and float(x.grad.abs().max()) > 0


# ----------------------------------------------------------------------------------------------
# input and argument checks


@pytest.mark.parametrize("kind", ["unet", "cascade"])
def test_input_checks(kind):
    net = NETS[kind]()
    with pytest.raises(TypeError, match="x0 must be complex"):
        net(torch.zeros(16, 16))
    with pytest.raises(TypeError, match="x0 must be a complex torch.Tensor"):
        net([[0j] * 16] * 16)
    with pytest.raises(ValueError, match=r"\(H, W\) or \(B, H, W\); got shape \(1, 1, 16, 16\)"):
        net(torch.zeros(1, 1, 16, 16, dtype=torch.complex64))
    with pytest.raises(ValueError, match=r"\(H, W\) or \(B, H, W\); got shape \(256,\)"):
        net(torch.zeros(256, dtype=torch.complex64))
    for bad in (float("nan"), float("inf")):
        x = torch.zeros(16, 16, dtype=torch.complex64)
        x[3, 4] = complex(0.0, bad)
        with pytest.raises(ValueError, match="x0 must be finite; it holds 1 NaN/Inf"):
            net(x)


def test_cascade_shape_must_match_the_mask():
    net = _cascade(_mask((16, 16)))
    with pytest.raises(ValueError, match=r"mask \(16, 16\).*got shape \(2, 16, 12\)"):
        net(torch.zeros(2, 16, 12, dtype=torch.complex64))


def test_constructor_checks():
    with pytest.raises(ValueError, match="levels must be >= 1; got 0"):
        UNet(levels=0)
    with pytest.raises(TypeError, match="features must be an integer"):
        UNet(features=2.5)
    with pytest.raises(TypeError, match="batchnorm must be a bool"):
        UNet(batchnorm=1)
    mask = _mask((8, 8))
    with pytest.raises(ValueError, match="noise_level must be >= 0; got -0.1"):
        DeepCascade(mask, noise_level=-0.1)
    with pytest.raises(ValueError, match="layers must be >= 2; got 1"):
        DeepCascade(mask, layers=1)
    with pytest.raises(TypeError, match="mask must be boolean"):
        DeepCascade(mask.to(torch.float32))
    with pytest.raises(ValueError, match="mask must be 2-D"):
        DeepCascade(mask[None])
    # a Fourier2D operator is accepted in place of its mask
    assert torch.equal(DeepCascade(Fourier2D(mask), cascades=1, layers=2, features=2).mask, mask)
