"""Hostile and careless input: bounded work, exact arithmetic at the edges, errors that name the
argument, and a command line that never shows a traceback for a user's mistake."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import firenets as fn
from firenets.cli import build_parser, main


def test_round_dyadic_is_exact_for_every_n():
    z = torch.tensor([0.1, 1 / 3, -2.7, 1e300, 5e-320, 0.0], dtype=torch.float64)
    for n in range(-60, 80):  # where 2^n z is representable: the textbook formula
        torch.testing.assert_close(fn.inexact.round_dyadic(z[:3], n), torch.round(z[:3] * 2.0**n) / 2.0**n,
                                   rtol=0, atol=0)
    for n in (1074, 1100, 2000):  # every float64 is a multiple of 2^-1074: unchanged, never inf
        assert torch.equal(fn.inexact.round_dyadic(z, n), z)
    # at n = 1023 (2^n finite, 2^n z not) the normal numbers stay and the subnormal one rounds to 0
    assert fn.inexact.round_dyadic(z, 1023).tolist() == [0.1, 1 / 3, -2.7, 1e300, 0.0, 0.0]
    assert torch.equal(fn.inexact.round_dyadic(z, -1100), torch.zeros_like(z))
    with pytest.raises(ValueError, match="n must be <= 2000"):
        fn.inexact.round_dyadic(z, 2001)


def test_table_refuses_an_n_at_which_the_input_is_exact(capsys):
    from firenets.barriers import table

    with pytest.raises(ValueError, match=r"n = 60 \(with K = 1\).*A_n = A and y_n = y bitwise.*take n <= 48"):
        table.run(Ks=[1], ns=[60], quick=True, progress=False)
    assert main(["table", "--K", "1", "--n", "60", "--quick", "--no-progress", "--out", "unused-out-dir"]) == 2
    assert "take n <= 48" in capsys.readouterr().err


def test_sizes_are_checked_before_anything_is_allocated(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="pixels, more than the limit of 16777216.*FIRENETS_MAX_PIXELS"):
        fn.masks.radial((20000, 20000), 0.25)
    with pytest.raises(ValueError, match="size .*more than the limit"):
        fn.reconstruction.train("unet", tmp_path / "w.pt", size=100_000, epochs=1)
    # a small PNG that decodes to 144 megapixels is refused from its header
    from PIL import Image

    Image.new("1", (12000, 12000)).save(tmp_path / "bomb.png")
    assert (tmp_path / "bomb.png").stat().st_size < 200_000
    with pytest.raises(ValueError, match="144000000 pixels"):
        fn.data.load(tmp_path / "bomb.png")
    monkeypatch.setenv("FIRENETS_MAX_PIXELS", str(200 * 10**6))  # the limit can be raised
    assert fn.masks.gaussian((64, 64), 0.25).mask.shape == (64, 64)
    monkeypatch.setenv("FIRENETS_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="FIRENETS_MAX_PIXELS must be a positive integer"):
        fn.masks.gaussian((64, 64), 0.25)


def test_a_tampered_checkpoint_is_refused_before_its_network_is_built(tmp_path):
    from firenets.nets import training

    payload = torch.load(training.shipped("unet"), weights_only=True)
    payload["config"]["features"] = 999  # 7.6e9 parameters: about 30 GB
    torch.save(payload, tmp_path / "big.pt")
    with pytest.raises(ValueError, match="7559078357 parameters, more than the limit"):
        training.load(tmp_path / "big.pt")
    payload["config"] = {**payload["config"], "features": 12, "__class__": "os.system"}
    torch.save(payload, tmp_path / "keys.pt")
    with pytest.raises(ValueError, match=r"unknown keys \['__class__'\]"):
        training.load(tmp_path / "keys.pt")


def test_pickled_objects_are_refused_without_advice_to_load_them_unsafely(tmp_path):
    from firenets.nets import training

    torch.save({"format": 1, "evil": fn.operators.Matrix(torch.eye(2, dtype=torch.float64))}, tmp_path / "obj.pt")
    with pytest.raises(ValueError) as err:
        training.load(tmp_path / "obj.pt")
    assert "pickled Python objects" in str(err.value) and "weights_only=False" not in str(err.value)


def test_masks_that_would_be_empty_and_seeds_that_overflow():
    with pytest.raises(ValueError, match="holds no sample at this rate"):
        fn.masks.radial((256, 256), 1e-6)
    with pytest.raises(ValueError, match="seed must be <= 9223372036854775807"):
        fn.masks.gaussian((64, 64), 0.25, seed=2**70)
    with pytest.raises(ValueError, match="seed must be <="):
        fn.data.ellipses(64, seed=2**70)


def test_parameters_that_make_the_computation_meaningless():
    from firenets import problems, reference
    from firenets.nets import FIRENET
    from firenets.stability.perturbation import worst_case

    g = torch.Generator().manual_seed(0)
    M = fn.operators.Matrix(torch.randn(10, 20, generator=g, dtype=torch.float64))
    y = torch.randn(10, generator=g, dtype=torch.float64)
    P = problems.SRLasso(M, y, lam=0.1)
    for kw, message in (({"max_iter": -1}, "max_iter must be >= 1"), ({"tol": -1}, "tol must be > 0"),
                        ({"tol": float("nan")}, "tol must be finite")):
        with pytest.raises(ValueError, match=message):
            reference.solve(P, **kw)
    for net, data in ((FIRENET(M, lam=0.1, L_A=1e-300), y), (FIRENET(M, lam=0.1), 1e300 * torch.ones(10, dtype=torch.float64))):
        with pytest.raises(FloatingPointError, match="left the floating-point range"):
            net(data)
    A = fn.operators.Fourier2D(fn.masks.gaussian((32, 32), 0.3).mask)
    with pytest.raises(TypeError, match="f must return a torch.Tensor .* returned ndarray"):
        worst_case(lambda v: np.zeros((32, 32)), A, fn.data.ellipses(32, seed=1), norms=[0.1])
    with pytest.raises(ValueError, match="noise = 1e\\+308 overflows the samples"):
        fn.acquisition.acquire(fn.data.ellipses(32, seed=1), mask="gaussian", rate=0.25, noise=1e308)


@pytest.mark.parametrize("op", [
    lambda: fn.operators.Matrix(torch.eye(4, dtype=torch.float64)),
    lambda: fn.operators.DCT(8),
    lambda: fn.operators.Wavelet2D((16, 16)),
    lambda: fn.operators.Fourier2D(torch.ones(8, 8, dtype=torch.bool)),
])
def test_operators_refuse_nan_input(op):
    A = op()
    x = torch.zeros(A.in_shape, dtype=torch.complex128 if A.is_complex else torch.float64)
    x.reshape(-1)[1] = float("nan")
    with pytest.raises(ValueError, match="x must be finite; it holds 1 NaN/Inf entries"):
        A(x)
    y = torch.zeros(A.out_shape, dtype=x.dtype if not A.is_complex else torch.complex128)
    y.reshape(-1)[0] = float("inf")
    with pytest.raises(ValueError, match="y must be finite"):
        A.adjoint(y)


def test_the_cli_reports_failures_in_one_line_and_debug_shows_the_traceback(tmp_path, capsys):
    args = ["train", "unet", "--size", "32", "--epochs", "1", "--n-train", "4", "--n-val", "2",
            "--out", str(tmp_path)]
    assert main(args) == 2  # a directory given as the weights file, refused before training
    assert "is a directory" in capsys.readouterr().err
    # an OS error (a place that cannot be written): one line, exit 1
    assert main(["table", "--quick", "--K", "1", "--n", "10", "--checkpoint", "/sys/no-such-place.pt",
                 "--no-progress", "--out", str(tmp_path / "t")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "/sys/" in err.strip().splitlines()[-1]
    with pytest.raises(OSError):
        main(["--debug", "table", "--quick", "--K", "1", "--n", "10", "--checkpoint", "/sys/no-such-place.pt",
              "--no-progress", "--out", str(tmp_path / "t2")])
    assert main(["reconstruct", "shepp-logan", "--method", "zero-filled", "--noise", "1e308",
                 "--out", str(tmp_path / "r")]) == 2
    assert "noise = 1e+308 overflows" in capsys.readouterr().err
    assert main(["train", "unet", "--lr", "1e300", "--out", str(tmp_path / "w.pt")]) == 2
    assert "lr must be at most 10" in capsys.readouterr().err


# --- property-based: random shapes, dtypes, magnitudes and options give documented errors only ---

DOCUMENTED = (ValueError, TypeError, FloatingPointError)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["cartesian", "gaussian", "radial", "das", "equispaced", "spiral"]),
       h=st.integers(-3, 5000), w=st.integers(-3, 5000), rate=st.floats(allow_nan=True, allow_infinity=True),
       seed=st.integers(-5, 2**80))
def test_masks_never_fail_otherwise(kind, h, w, rate, seed):
    try:
        m = fn.masks.make(kind, (h, w), rate, seed=seed)
    except DOCUMENTED:
        return
    assert m.mask.shape == (h, w) and m.mask.dtype == torch.bool and 0 < m.rate <= 1 and m.mask.any()


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(-2, 40), min_size=0, max_size=4),
       dtype=st.sampled_from([torch.float64, torch.float32, torch.complex128, torch.int64, torch.bool]),
       scale=st.sampled_from([0.0, 1.0, 1e-300, 1e300, float("nan"), float("inf")]),
       which=st.sampled_from(["matrix", "dct", "wavelet", "fourier"]))
def test_operators_never_fail_otherwise(shape, dtype, scale, which):
    try:
        if which == "matrix":
            A = fn.operators.Matrix(torch.ones(3, 4, dtype=torch.float64))
        elif which == "dct":
            A = fn.operators.DCT(8)
        elif which == "wavelet":
            A = fn.operators.Wavelet2D((16, 16))
        else:
            A = fn.operators.Fourier2D(torch.ones(8, 8, dtype=torch.bool))
        x = (torch.ones(shape, dtype=torch.float64) * scale).to(dtype) if all(s >= 0 for s in shape) else None
        if x is None:
            return
        out = A(x)
    except DOCUMENTED:
        return
    assert torch.isfinite(out).all() or scale in (1e300,)  # a huge but finite input may overflow in A x


_OPTIONS = {
    "reconstruct": ["--rate", "--noise", "--seed", "--restarts", "--inner", "--lam", "--tol", "--xtol", "--slice"],
    "attack": ["--rate", "--norms", "--steps", "--tol", "--patience", "--random-starts", "--lam", "--records",
               "--lr", "--momentum", "--measurement", "--measurement-steps", "--seed"],
    "train": ["--size", "--rate", "--epochs", "--n-train", "--n-val", "--batch", "--lr", "--features", "--seed"],
    "table": ["--K", "--n", "--epochs", "--seed"],
}


@settings(max_examples=150, deadline=None)
@given(command=st.sampled_from(sorted(_OPTIONS)), data=st.data())
def test_the_parser_never_crashes(command, data):
    options = data.draw(st.lists(st.sampled_from(_OPTIONS[command]), max_size=4, unique=True))
    values = [data.draw(st.sampled_from(["0", "-1", "1", "0.5", "1e308", "1e-320", "nan", "inf", "", "x", "1,2",
                                         "2,1", "99999999999999999999", "0,0.01"])) for _ in options]
    argv = [command] + (["shepp-logan"] if command in ("reconstruct", "attack") else []) + (
        ["unet"] if command == "train" else []) + (["--method", "zero-filled"] if command == "attack" else [])
    for o, v in zip(options, values, strict=True):
        argv += [o, v]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse's usage error: exit 2 with a message
        assert exc.code == 2


def test_a_reference_that_cannot_be_a_crop_of_the_image_is_refused(tmp_path):
    import h5py

    rng = np.random.default_rng(0)
    k = (rng.standard_normal((2, 64, 64)) + 1j * rng.standard_normal((2, 64, 64))).astype(np.complex64)
    for shape, ok in (((3, 3), False), ((64, 80), False), ((32, 32), True), ((64, 64), True)):
        with h5py.File(tmp_path / "sc.h5", "w") as f:
            f.create_dataset("kspace", data=k)
            f.create_dataset("reconstruction_esc", data=np.ones((2, *shape), dtype=np.float32))
        if ok:
            assert tuple(fn.data.load(tmp_path / "sc.h5").reference.shape) == shape
        else:
            with pytest.raises(ValueError, match=re.escape(f"has shape {shape} for k-space of (64, 64)")):
                fn.data.load(tmp_path / "sc.h5")


def test_os_errors_and_usage_errors_at_the_command_line(tmp_path, capsys, monkeypatch):
    import errno

    from firenets import report

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "r" / "recon.png"))

    monkeypatch.setattr(report, "save_image", full)
    assert main(["reconstruct", "shepp-logan", "--method", "zero-filled", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"firenets reconstruct: No space left on device: {tmp_path / 'r' / 'recon.png'}"
    assert not (tmp_path / "r").exists()  # nothing of the failed run is left
    monkeypatch.undo()
    (tmp_path / "weights").mkdir()
    assert main(["train", "unet", "--force", "--out", str(tmp_path / "weights")]) == 2
    assert "is a directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["attack", "shepp-logan", "--method", "zero-filled", "--measurement", "0.01", "--measurement-steps", "0"])
    assert exc.value.code == 2 and "argument --measurement-steps: expected an integer >= 1" in capsys.readouterr().err


def test_an_audited_model_that_returns_nan_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "nanmodel.py").write_text(
        "import torch\n\nclass Net(torch.nn.Module):\n    def forward(self, z):\n"
        "        return z * float('nan')\n\ndef build():\n    return Net()\n")
    assert main(["audit", "--model", "nanmodel:build", "ellipses:3", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "--model nanmodel:build fails on" in err and "the model returned NaN or Inf values" in err
    assert "pred must be" not in err
    assert not (tmp_path / "a").exists()


def test_an_absurd_step_fraction_does_not_produce_a_misleading_message(tmp_path, capsys):
    # the fixed-norm ascent's step is a fraction of ||r||, halved whenever it loses ratio: a huge one is
    # cut down and the run completes (zero-filling's worst case is still exactly 1)
    import json

    assert main(["attack", "shepp-logan", "--method", "zero-filled", "--lr", "1e300", "--norms", "0.01",
                 "--no-progress", "--out", str(tmp_path / "a")]) == 0
    rec = json.loads((tmp_path / "a" / "attack.json").read_text())
    assert 0.99 <= rec["stages"][0]["ratio"] <= 1 + 1e-9


def test_firenet_options_with_another_method_are_refused(tmp_path, capsys):
    assert main(["reconstruct", "shepp-logan", "--method", "unet", "--restarts", "3", "--out", str(tmp_path / "r")]) == 2
    assert "--restarts applies to --method firenet only" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_composite_operator_checks_its_input_once(monkeypatch):
    # the NaN check belongs to the public call, not to every part of a composition: FIRENET's synthesis
    # layer applies F @ W^* and must not pay a pass over the data per part
    import firenets.operators.base as base

    calls = []
    real = base.check_finite
    monkeypatch.setattr(base, "check_finite", lambda name, t: (calls.append(name), real(name, t))[1])
    F = fn.operators.Fourier2D(fn.masks.gaussian((32, 32), 0.3).mask)
    W = fn.operators.Wavelet2D((32, 32), levels=2)
    A = 2.0 * (F @ W.H)
    c = torch.zeros(W.out_shape, dtype=torch.complex128)
    y = A(c)
    A.adjoint(y)
    assert calls == ["x", "y"]
