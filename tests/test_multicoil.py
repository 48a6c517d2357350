"""Multi-coil MRI: the SENSE operator against its definition and its single-coil special case, its
norm, coil maps against SigPy's ESPIRiT on simulated data with known maps, and fastMRI's masks."""

from __future__ import annotations

import math

import pytest
import torch

import firenets as fn
from firenets import coils
from firenets.operators import Fourier2D, MultiCoilFourier, dottest, ifft2c


@pytest.fixture(scope="module")
def maps():
    g = torch.Generator().manual_seed(0)
    return torch.complex(torch.randn(4, 24, 32, generator=g, dtype=torch.float64),
                         torch.randn(4, 24, 32, generator=g, dtype=torch.float64))


def test_sense_matches_its_definition_coil_by_coil(maps):
    mask = fn.masks.gaussian((24, 32), 0.3, seed=2).mask
    A, F = MultiCoilFourier(maps, mask), Fourier2D(mask)
    g = torch.Generator().manual_seed(1)
    x = torch.complex(torch.randn(2, 24, 32, generator=g, dtype=torch.float64),
                      torch.randn(2, 24, 32, generator=g, dtype=torch.float64))
    y = A(x)
    assert y.shape == (2, 4, int(mask.sum()))
    for c in range(4):
        torch.testing.assert_close(y[:, c], F(x * maps[c]), rtol=0, atol=1e-12)
    z = torch.complex(torch.randn(2, 4, int(mask.sum()), generator=g, dtype=torch.float64),
                      torch.randn(2, 4, int(mask.sum()), generator=g, dtype=torch.float64))
    want = sum(maps[c].conj() * F.adjoint(z[:, c]) for c in range(4))
    torch.testing.assert_close(A.adjoint(z), want, rtol=0, atol=1e-12)
    assert dottest(A) < 1e-12
    # one autograd node: the gradient of <A x, z> is A^* z
    xg = x.clone().requires_grad_(True)
    (A(xg).conj() * z).sum().real.backward()
    torch.testing.assert_close(xg.grad, A.adjoint(z), rtol=0, atol=1e-12)


def test_one_coil_of_ones_is_fourier2d():
    mask = fn.masks.radial((32, 32), 0.2, seed=1).mask
    A, F = MultiCoilFourier(torch.ones(1, 32, 32, dtype=torch.complex128), mask), Fourier2D(mask)
    x = fn.data.ellipses(32, seed=4).to(torch.complex128)
    torch.testing.assert_close(A(x)[0], F(x), rtol=0, atol=0)
    torch.testing.assert_close(A.adjoint(A(x)), F.adjoint(F(x)), rtol=0, atol=0)
    assert A.norm() == 1.0


def test_norm_and_its_closed_form_bound(maps):
    full = MultiCoilFourier(maps, torch.ones(24, 32, dtype=torch.bool))
    # fully sampled: A^*A = diag(sum_c |S_c|^2), ||A||^2 is its maximum
    x = fn.data.ellipses((24, 32), seed=3).to(torch.complex128)
    torch.testing.assert_close(full.adjoint(full(x)), (maps.abs() ** 2).sum(0) * x, rtol=0, atol=1e-12)
    assert full.norm() == pytest.approx(math.sqrt(float((maps.abs() ** 2).sum(0).max())), rel=1e-15)
    # subsampled: the bound holds, power iteration gives ||A|| (checked against the dense matrix)
    mask = fn.masks.gaussian((24, 32), 0.3, seed=2).mask
    A = MultiCoilFourier(maps, mask)
    eye = torch.eye(24 * 32, dtype=torch.complex128).reshape(-1, 24, 32)
    dense = A(eye).reshape(24 * 32, -1).T
    sigma = float(torch.linalg.matrix_norm(dense, ord=2))
    assert A.norm() == pytest.approx(sigma, rel=1e-8) and sigma <= A.bound() * (1 + 1e-12)


def test_bad_maps_and_masks():
    mask = torch.ones(16, 16, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"maps are \(16, 12\) per coil but the mask is \(16, 16\)"):
        MultiCoilFourier(torch.ones(2, 16, 12, dtype=torch.complex128), mask)
    with pytest.raises(ValueError, match=r"maps must have shape \(coils, H, W\)"):
        MultiCoilFourier(torch.ones(16, 16, dtype=torch.complex128), mask)
    with pytest.raises(ValueError, match="maps must be finite"):
        MultiCoilFourier(torch.full((2, 16, 16), float("nan"), dtype=torch.complex128), mask)


@pytest.fixture(scope="module")
def scan():
    S = coils.birdcage(8, (64, 64))
    x = fn.data.shepp_logan(64).to(torch.complex128)
    k = MultiCoilFourier(S, torch.ones(64, 64, dtype=torch.bool)).kspace(x)
    return S, x, k


def _agreement(a, b, where):
    """min over pixels of |<a(p), b(p)>| / (|a(p)| |b(p)|): 1 when the maps agree up to a phase per pixel."""
    inner = (a.conj() * b).sum(0).abs()
    return float((inner / (coils.rss(a) * coils.rss(b)).clamp_min(1e-300))[where].min())


def test_birdcage_maps_are_normalised(scan):
    S, _, _ = scan
    torch.testing.assert_close(coils.rss(S), torch.ones(64, 64, dtype=torch.float64), rtol=0, atol=1e-12)


def test_espirit_against_sigpy_and_the_true_maps(scan):
    S, x, k = scan
    mine = coils.espirit(k, 24)
    where = x.abs() > 0.05
    assert _agreement(mine, S, where) > 0.999  # the simulated maps, up to a phase per pixel
    sigpy = pytest.importorskip("sigpy.mri")
    import numpy as np

    ref = torch.from_numpy(np.asarray(sigpy.app.EspiritCalib(k.numpy(), calib_width=24, show_pbar=False).run()))
    assert _agreement(mine, ref, where) > 1 - 1e-6
    # the low-resolution estimate is the cruder baseline
    assert 0.9 < _agreement(coils.lowres(k, 24), S, where) < _agreement(mine, S, where)


def test_calibration_errors(scan):
    _, _, k = scan
    with pytest.raises(ValueError, match="kernel 6 does not fit in the calibration region 4x4"):
        coils.espirit(k, 4)
    holed = k.clone()
    holed[:, :, 33] = 0  # a column of the calibration region not acquired
    with pytest.raises(ValueError, match="not fully sampled: 1 of its columns"):
        coils.espirit(holed, 24)


@pytest.mark.parametrize("acceleration, centre", [(4, 0.08), (8, 0.04)])
def test_fastmri_masks_follow_fastmris_semantics(acceleration, centre):
    H, W = 64, 368
    n_low = round(W * centre)
    start = (W - n_low + 1) // 2
    rates = []
    for seed in range(300):
        m = fn.masks.fastmri_random((H, W), acceleration, centre, seed=seed).mask
        assert bool((m == m[:1]).all())  # whole columns
        assert bool(m[0, start:start + n_low].all())  # the fully sampled centre
        rates.append(float(m[0].double().mean()))
    mean = sum(rates) / len(rates)
    # each column outside the centre is kept with probability (W/a - n_low) / (W - n_low): the mean
    # rate is 1/a, within 4 standard errors of 300 masks
    p = (W / acceleration - n_low) / (W - n_low)
    se = math.sqrt(p * (1 - p) * (W - n_low)) / W / math.sqrt(len(rates))
    assert abs(mean - 1 / acceleration) < 4 * se
    eq = fn.masks.fastmri_equispaced((H, W), acceleration, centre, seed=0)
    assert bool(eq.mask[0, start:start + n_low].all()) and abs(eq.rate - 1 / acceleration) < 2 / W


def test_fastmri_random_masks_nest_across_accelerations():
    for seed in range(20):
        m4 = fn.masks.fastmri_random((8, 368), 4, 0.08, seed=seed).mask
        m8 = fn.masks.fastmri_random((8, 368), 8, 0.04, seed=seed).mask
        assert bool((m8 <= m4).all())


def test_fastmri_mask_errors():
    with pytest.raises(ValueError, match="acceleration must be >= 1"):
        fn.masks.fastmri_random((64, 64), 0.5, 0.08)
    with pytest.raises(ValueError, match=r"center_fraction must be in \(0, 1\)"):
        fn.masks.fastmri_random((64, 64), 4, 1.5)
    with pytest.raises(ValueError, match="center_fraction must be > 0"):
        fn.masks.fastmri_equispaced((64, 64), 4, 0.0)
    with pytest.raises(ValueError, match="more than the"):
        fn.masks.fastmri_random((64, 64), 8, 0.5)


def test_fastmri_masks_against_fastmri_where_installed():
    subsample = pytest.importorskip("fastmri.data.subsample")
    import numpy as np

    W = 368
    for acceleration, centre in ((4, 0.08), (8, 0.04)):
        theirs = subsample.RandomMaskFunc([centre], [acceleration], seed=0)
        counts = [int(np.asarray(theirs((1, 640, W, 2), seed=s)[0]).sum()) for s in range(200)]
        ours = [int(fn.masks.fastmri_random((1, W), acceleration, centre, seed=s).mask.sum()) for s in range(200)]
        # the same distribution of the number of columns (different generators): means within 4 s.e.
        sd = float(np.std(counts)) + 1e-9
        assert abs(np.mean(counts) - np.mean(ours)) < 4 * sd * math.sqrt(2 / 200)


# --- multi-coil data, acquisition and FIRENET ---------------------------------------------------

def test_a_fastmri_multicoil_file_loads_with_its_kspace_reference_and_sizes(tmp_path):
    import h5py
    import numpy as np

    images = torch.stack([fn.data.shepp_logan((48, 40)), fn.data.ellipses((48, 40), seed=2)])
    out = fn.data.simulate_multicoil(images, 6, path=tmp_path / "mc.h5", recon_size=(32, 32))
    with h5py.File(tmp_path / "mc.h5") as f:  # fastMRI's layout
        assert f["kspace"].dtype == np.complex64 and f["kspace"].shape == (2, 6, 48, 40)
        assert f["reconstruction_rss"].shape == (2, 32, 32) and f.attrs["max"] > 0
    got = fn.data.load(tmp_path / "mc.h5", slice=0)
    assert got.kspace.shape == (6, 48, 40) and got.meta["coils"] == 6
    assert got.meta["encoding_size"] == (48, 40, 1) and got.meta["recon_size"] == (32, 32, 1)
    # the RSS of the fully sampled coil images, centre-cropped, is the stored reference
    from firenets.reconstruction import centre_crop

    full = ifft2c(got.kspace)
    torch.testing.assert_close(centre_crop(coils.rss(full), (32, 32)), got.reference, rtol=0, atol=1e-6)
    # and the coil images are the maps times the image (complex64 storage: 1e-6)
    S = coils.birdcage(6, (48, 40))
    torch.testing.assert_close(full, (S * images[0] / got.meta["scale"]).to(torch.complex128), rtol=0, atol=2e-6)
    assert out["attrs"]["coils"] == 6


def test_firenet_recovers_a_sparse_image_from_noiseless_multicoil_samples():
    # an image exactly sparse in Haar wavelets, 8 coils, 4x fastMRI sampling with the true maps
    from firenets.operators import Wavelet2D

    W = Wavelet2D((64, 64), wavelet="haar", levels=4)
    c = torch.zeros(W.out_shape, dtype=torch.float64)
    g = torch.Generator().manual_seed(3)
    idx = torch.randperm(c.numel(), generator=g)[:80]
    c.reshape(-1)[idx] = torch.randn(80, generator=g, dtype=torch.float64)
    c.reshape(-1)[:16] += 4.0  # a coarse approximation
    x = W.H(c)
    S = coils.birdcage(8, (64, 64))
    k = MultiCoilFourier(S, torch.ones(64, 64, dtype=torch.bool)).kspace(x.to(torch.complex128))
    res = fn.reconstruction.reconstruct_multicoil(k, "firenet", mask="fastmri-random", rate=0.25, maps=S,
                                                  regulariser="wavelet", tol=1e-10, xtol=0, restarts=300)
    # noiseless and exactly sparse: the square-root LASSO's minimiser is x, and FIRENET certifies its gap
    err = float(torch.linalg.vector_norm(res.image - x) / torch.linalg.vector_norm(x))
    assert res.certificate["relative_gap"] <= 1e-10 and err < 1e-8, (err, res.certificate)
    zf = fn.reconstruction.reconstruct_multicoil(k, "zero-filled", mask="fastmri-random", rate=0.25, maps=S)
    assert res.metrics["psnr"] > zf.metrics["psnr"] + 40


def test_multicoil_reconstruction_from_a_file_with_estimated_maps(tmp_path):
    fn.data.simulate_multicoil(fn.data.shepp_logan(128), 8, path=tmp_path / "mc.h5")
    scan = fn.data.load(tmp_path / "mc.h5")
    fire = fn.reconstruct(scan, "firenet", mask="fastmri-random", rate=0.25)
    zf = fn.reconstruct(scan, "zero-filled", mask="fastmri-random", rate=0.25)
    assert fire.acquisition.maps_method == "espirit" and fire.acquisition.operator.coils == 8
    assert fire.metrics["psnr"] > zf.metrics["psnr"] + 15 and fire.metrics["ssim"] > zf.metrics["ssim"] + 0.4
    assert fire.summary()["coils"] == 8
    with pytest.raises(ValueError, match="single-coil only"):
        fn.reconstruct(scan, "unet", mask="fastmri-random", rate=0.25)


def test_multicoil_bad_input(tmp_path):
    from firenets.acquisition import acquire_multicoil

    S = coils.birdcage(4, (64, 64))
    k = MultiCoilFourier(S, torch.ones(64, 64, dtype=torch.bool)).kspace(fn.data.shepp_logan(64).to(torch.complex128))
    with pytest.raises(ValueError, match=r"maps hold 3 coils but the k-space 4"):
        acquire_multicoil(k, maps=S[:3])
    with pytest.raises(ValueError, match=r"maps must be \(coils, 64, 64\)"):
        acquire_multicoil(k, maps=S[:, :32])
    with pytest.raises(ValueError, match="too small to calibrate coil maps"):
        acquire_multicoil(k, mask="fastmri-random", rate=0.25, center_fraction=0.05)
    with pytest.raises(ValueError, match=r"mask has shape \(32, 32\) but the k-space is \(64, 64\)"):
        acquire_multicoil(k, mask=torch.ones(32, 32, dtype=torch.bool))
    import h5py

    with h5py.File(tmp_path / "nok.h5", "w") as f:
        f.create_dataset("something", data=[1, 2, 3])
    with pytest.raises(ValueError, match="neither a 'kspace' nor a reconstruction"):
        fn.data.load(tmp_path / "nok.h5")


def test_the_cli_reconstructs_a_synthetic_multicoil_file(tmp_path, capsys):
    import json

    import numpy as np

    from firenets.cli import main

    fn.data.simulate_multicoil(fn.data.shepp_logan(128), 8, path=tmp_path / "scan.h5")
    assert main(["reconstruct", str(tmp_path / "scan.h5"), "--method", "firenet", "--mask", "fastmri-random",
                 "--acceleration", "4", "--center-fraction", "0.08", "--out", str(tmp_path / "r")]) == 0
    rec = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert rec["coils"] == 8 and rec["maps"] == "espirit" and rec["mask"] == "fastmri-random"
    assert rec["psnr"] > rec["zero_filled"]["psnr"] + 15
    assert np.load(tmp_path / "r" / "maps.npy").shape == (8, 128, 128)
    np.save(tmp_path / "m.npy", np.ones((64, 64)))
    for args, message in (
        (["--mask-file", str(tmp_path / "m.npy")], "must hold a boolean (H, W) array"),
        (["--rate", "0.25", "--acceleration", "4"], "give --rate or --acceleration, not both"),
        (["--mask", "gaussian", "--center-fraction", "0.08"], "--center-fraction applies to --mask cartesian, fastmri"),
        (["--method", "unet"], "the shipped unet is single-coil"),
    ):
        assert main(["reconstruct", str(tmp_path / "scan.h5"), *args, "--out", str(tmp_path / "bad")]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "bad").exists()
    np.save(tmp_path / "m2.npy", np.ones((64, 64), dtype=bool))
    assert main(["reconstruct", str(tmp_path / "scan.h5"), "--mask-file", str(tmp_path / "m2.npy"),
                 "--out", str(tmp_path / "bad")]) == 2
    assert "is (64, 64) but the image is (128, 128)" in capsys.readouterr().err


def test_a_volume_every_slice_and_fastmris_volume_metrics(tmp_path, capsys):
    import json

    import h5py
    import numpy as np

    from firenets.cli import main

    images = torch.stack([fn.data.ellipses(128, seed=s) * (1 + s) for s in range(3)])  # slices of different scale
    fn.data.simulate_multicoil(images, 8, path=tmp_path / "vol.h5", recon_size=(96, 96))
    assert fn.data.count_slices(tmp_path / "vol.h5") == 3
    vol = fn.reconstruction.reconstruct_volume(tmp_path / "vol.h5", "zero-filled", mask="fastmri-random", rate=0.25)
    with h5py.File(tmp_path / "vol.h5") as f:
        stored = f["reconstruction_rss"][()]
    # each slice loads normalised to max 1; on the original scale the targets are the stored reference
    for s, r in enumerate(vol.slices):
        np.testing.assert_allclose((r.acquisition.target * vol.scales[s]).numpy(), stored[s], rtol=1e-5, atol=1e-6)
    # the volume's NMSE is the per-slice NMSEs weighted by each slice's energy on the original scale
    energy = [float(np.sum(stored[s].astype(np.float64) ** 2)) for s in range(3)]
    weighted = sum(r.zero_filled_metrics["nmse"] * e for r, e in zip(vol.slices, energy, strict=True)) / sum(energy)
    assert vol.metrics["nmse"] == pytest.approx(weighted, rel=1e-4)
    # the PSNR uses the volume's maximum: the brightest slice sets the range for all
    assert vol.metrics["psnr"] != pytest.approx(np.mean([r.metrics["psnr"] for r in vol.slices]), abs=1e-3)
    assert main(["reconstruct", str(tmp_path / "vol.h5"), "--slice", "all", "--method", "firenet",
                 "--acceleration", "4", "--out", str(tmp_path / "r")]) == 0
    rec = json.loads((tmp_path / "r" / "metrics.json").read_text())
    # (accuracy is tested above; here the plumbing) every slice and the volume above zero-filling
    assert len(rec["slices"]) == 3 and rec["volume"]["psnr"] > rec["zero_filled_volume"]["psnr"]
    assert all(r["psnr"] > r["zero_filled"]["psnr"] for r in rec["slices"])
    assert np.load(tmp_path / "r" / "recon.npy").shape == (3, 128, 128)
    assert main(["reconstruct", "shepp-logan", "--slice", "all", "--out", str(tmp_path / "x")]) == 2
    assert "is not one" in capsys.readouterr().err


def test_a_file_in_fastmris_oversampled_layout_written_with_h5py(tmp_path):
    """kspace (slices, coils, 640, 368) complex64 with readout oversampling, reconstruction_rss
    (slices, 320, 320) = the RSS of the fully sampled coil images cropped: it loads, the RSS of its
    k-space matches the stored reference, and a reconstruction is scored on the 320 x 320 crop."""
    import h5py
    import numpy as np

    H, W, C = 640, 368, 4
    x = fn.data.ellipses((H // 2, W), seed=5).numpy()
    obj = np.zeros((H, W))
    obj[H // 4:H // 4 + H // 2] = x  # the object in the middle half of the oversampled readout
    S = coils.birdcage(C, (H, W)).numpy()
    k = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(S * obj, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    img = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    rss = np.sqrt((np.abs(img) ** 2).sum(0))
    ref = rss[H // 2 - 160:H // 2 + 160, W // 2 - 160:W // 2 + 160]
    with h5py.File(tmp_path / "knee.h5", "w") as f:
        f.create_dataset("kspace", data=np.stack([k, k]).astype(np.complex64))
        f.create_dataset("reconstruction_rss", data=np.stack([ref, ref]).astype(np.float32))
        f.attrs["acquisition"] = "CORPD_FBK"
        f.attrs["max"] = float(ref.max())
        f.attrs["norm"] = float(np.linalg.norm(ref))
    got = fn.data.load(tmp_path / "knee.h5", slice=1)
    assert got.kspace.shape == (C, H, W) and got.reference.shape == (320, 320)
    assert got.meta["attrs"]["acquisition"] == "CORPD_FBK"
    from firenets.reconstruction import centre_crop

    full_rss = coils.rss(ifft2c(got.kspace))
    torch.testing.assert_close(centre_crop(full_rss, (320, 320)), got.reference, rtol=0, atol=1e-5)
    zf = fn.reconstruct(got, "zero-filled", mask="fastmri-random", rate=0.25)
    assert zf.magnitude.shape == (320, 320) and zf.image.shape == (H, W)
    assert zf.metrics["psnr"] == pytest.approx(float(fn.metrics.psnr(got.reference, zf.magnitude)), rel=1e-12)
