"""Phantoms and loaders: determinism, ranges, details, and round trips through each file format
written by its library of record (NumPy, Pillow, pydicom, nibabel, h5py), plus bad input."""

from __future__ import annotations

import math
import re

import h5py
import nibabel
import numpy as np
import pydicom
import pytest
import torch
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid
from skimage.data import camera as sk_camera
from skimage.data import shepp_logan_phantom
from skimage.measure import label
from skimage.transform import resize

from firenets.data import (
    LoadedImage,
    PhantomDataset,
    camera,
    ellipses,
    ellipses_with_details,
    insert_detail,
    load,
    shepp_logan,
)
from firenets.operators import Fourier2D

# ---------------------------------------------------------------------------------------------
# phantoms


@pytest.mark.parametrize("shape", [16, 64, (96, 80)])
def test_ellipses_deterministic_range_and_max(shape):
    a = ellipses(shape, seed=5)
    b = ellipses(shape, seed=5)
    H, W = (shape, shape) if isinstance(shape, int) else shape
    assert a.shape == (H, W) and a.dtype == torch.float64
    assert torch.equal(a, b)
    assert a.min().item() >= 0.0 and a.max().item() == 1.0
    assert not torch.equal(a, ellipses(shape, seed=6))
    # background outside the head is zero: all four corners
    assert a[0, 0] == a[0, -1] == a[-1, 0] == a[-1, -1] == 0


def test_ellipses_seeds_differ_and_options():
    images = [ellipses(48, seed=s) for s in range(6)]
    for i in range(6):
        for j in range(i + 1, 6):
            assert not torch.equal(images[i], images[j])
    one = ellipses(48, seed=0, n_ellipses=1)
    many = ellipses(48, seed=0, n_ellipses=12)
    assert one.max() == 1 and many.max() == 1
    assert len(torch.unique(many)) > len(torch.unique(one))
    assert ellipses(48, seed=0, dtype=torch.float32).dtype == torch.float32


def _background(base: torch.Tensor) -> np.ndarray:
    """The zero pixels connected to the image corners: the outside of the head."""
    lab = label(base.numpy() == 0, connectivity=1)
    corners = {lab[0, 0], lab[0, -1], lab[-1, 0], lab[-1, -1]} - {0}
    return np.isin(lab, list(corners))


@pytest.mark.parametrize(("shape", "k", "seed"), [(64, 3, 0), (128, 5, 1), ((100, 140), 4, 2), (16, 1, 3)])
def test_details_are_inside_the_head_and_change_only_their_support(shape, k, seed):
    base = ellipses(shape, seed=seed)
    detailed = ellipses_with_details(shape, seed=seed, tumours=k)
    image, supports = detailed
    assert supports.shape == (k, *base.shape) and supports.dtype == torch.bool
    assert torch.equal(detailed.mask, supports.any(0))
    assert torch.equal(image, ellipses(shape, seed=seed, tumours=k))
    counts = supports.sum(dim=(1, 2))
    assert bool((counts > 0).all())
    assert int(supports.sum()) == int(detailed.mask.sum())  # pairwise disjoint
    side = min(base.shape)
    assert bool((counts <= math.pi * (0.03 * side + 1.5) ** 2 + 4 * side * 0.03 + 8).all())  # small
    outside = torch.from_numpy(_background(base))
    assert not bool((detailed.mask & outside).any())
    diff = (image - base).abs()
    assert bool((diff[detailed.mask] >= 0.1 - 1e-12).all())
    assert bool((diff[~detailed.mask] == 0).all())
    assert image.min() >= 0 and image.max() == 1


def test_phantom_errors():
    with pytest.raises(ValueError, match=r"shape must have sides in \[16, 1024\]; got \(15, 15\)"):
        ellipses(15, seed=0)
    with pytest.raises(ValueError, match="shape"):
        ellipses((64, 2000), seed=0)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        ellipses(64, seed=-1)
    with pytest.raises(TypeError, match="seed must be an integer"):
        ellipses(64, seed=1.5)
    with pytest.raises(ValueError, match="tumours"):
        ellipses(64, seed=0, tumours=-1)
    with pytest.raises(ValueError, match="do not fit"):
        ellipses(16, seed=0, tumours=40)
    with pytest.raises(TypeError, match="dtype"):
        ellipses(64, seed=0, dtype=torch.complex128)


def test_shepp_logan_equals_skimage():
    for shape in [(128, 96), (256, 256)]:
        expected = resize(shepp_logan_phantom(), shape, anti_aliasing=True)
        expected = expected / expected.max()
        got = shepp_logan(shape)
        assert got.dtype == torch.float64 and got.shape == shape
        np.testing.assert_array_equal(got.numpy(), expected)
    assert torch.equal(shepp_logan(), shepp_logan((256, 256)))
    assert shepp_logan(64).max() == 1


def test_insert_ellipse_detail():
    image = ellipses(64, seed=1)
    new, support = insert_detail(image, centre=(30, 20), size=3.0, intensity=-0.2)
    assert support.dtype == torch.bool and bool(support[30, 20])
    np.testing.assert_array_equal(new.numpy(), image.numpy() - 0.2 * support.numpy())
    assert torch.equal(new[~support], image[~support])
    rows, cols = np.nonzero(support.numpy())
    assert np.all((rows - 30) ** 2 + (cols - 20) ** 2 <= 9)
    r, c = np.mgrid[:64, :64]
    assert support.sum().item() == np.sum((r - 30) ** 2 + (c - 20) ** 2 <= 9)
    # an elongated, rotated ellipse: semi-axes (6, 2) turned by 90 degrees runs down the rows
    _, tall = insert_detail(image, centre=(32, 32), size=(6, 2), angle=math.pi / 2)
    rows, cols = np.nonzero(tall.numpy())
    assert np.ptp(rows) == 12 and np.ptp(cols) == 4
    # complex images keep their dtype
    z = image.to(torch.complex128)
    assert insert_detail(z)[0].dtype == torch.complex128


def test_insert_text_detail():
    image = torch.zeros(128, 128, dtype=torch.float64)
    new, support = insert_detail(image, "text", intensity=0.5)
    assert 20 < support.sum().item() < 128 * 128 // 4
    np.testing.assert_array_equal(new.numpy(), 0.5 * support.numpy())
    rows, cols = np.nonzero(support.numpy())
    assert abs(rows.mean() - 64) < 8 and abs(cols.mean() - 64) < 12
    _, other = insert_detail(image, "text", text="HELLO")
    assert not torch.equal(support, other)
    with pytest.raises(ValueError, match="does not fit"):
        insert_detail(image, "text", size=60)
    with pytest.raises(ValueError, match="kind must be 'ellipse' or 'text'"):
        insert_detail(image, "square")
    with pytest.raises(ValueError, match="centre must lie in the image"):
        insert_detail(image, centre=(200, 3))
    with pytest.raises(ValueError, match="image must be 2-D"):
        insert_detail(image[None])


def test_phantom_dataset():
    ds = PhantomDataset(32, 5, seed=3)
    assert len(ds) == 5
    assert ds[2].dtype == torch.float32 and ds[2].shape == (32, 32)
    assert torch.equal(ds[2], ds[2])
    assert torch.equal(ds[2], ellipses(32, seed=3 * 1_000_003 + 2, dtype=torch.float32))
    assert torch.equal(ds[-1], ds[4])
    assert not torch.equal(ds[0], ds[1])
    assert not torch.equal(ds[0], PhantomDataset(32, 5, seed=4)[0])
    with pytest.raises(IndexError, match="index 5 out of range"):
        ds[5]
    with pytest.raises(IndexError):
        ds[-6]
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=5)))
    assert batch.shape == (5, 32, 32)
    with_details = PhantomDataset(32, 2, seed=0, tumours=1, dtype=torch.float64)
    assert torch.equal(with_details[1], ellipses(32, seed=1, tumours=1))


# ---------------------------------------------------------------------------------------------
# loaders: round trips


def _image(shape=(24, 20), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.1, 3.0, shape)


def test_load_npy_real_complex_and_volume(tmp_path):
    x = _image()
    np.save(tmp_path / "a.npy", x)
    got = load(tmp_path / "a.npy")
    assert isinstance(got, LoadedImage) and got.kspace is None and got.reference is None
    assert got.image.dtype == torch.float64 and got.image.max() == 1
    np.testing.assert_allclose(got.image.numpy(), x / x.max(), rtol=0, atol=1e-15)
    assert got.meta["format"] == "npy" and got.meta["scale"] == x.max()
    assert got.source == str(tmp_path / "a.npy")

    z = x * np.exp(1j * _image(seed=1))
    np.save(tmp_path / "z.npy", z)
    got = load(str(tmp_path / "z.npy"))
    np.testing.assert_allclose(got.image.numpy(), np.abs(z) / np.abs(z).max(), rtol=0, atol=1e-15)

    vol = np.stack([_image(seed=s) for s in range(5)]).astype(np.float32)
    np.save(tmp_path / "v.npy", vol)
    mid = load(tmp_path / "v.npy")
    np.testing.assert_allclose(mid.image.numpy(), vol[2] / vol[2].max(), rtol=1e-7)
    assert mid.meta["slice"] == 2 and mid.meta["dtype"] == "float32"
    first = load(tmp_path / "v.npy", slice=0)
    np.testing.assert_allclose(first.image.numpy(), vol[0] / vol[0].max(), rtol=1e-7)

    np.save(tmp_path / "u.npy", (x * 50).astype(np.uint16))
    u = (x * 50).astype(np.uint16)
    np.testing.assert_array_equal(load(tmp_path / "u.npy").image.numpy(), u / u.max())


def test_load_npy_resized(tmp_path):
    x = _image((64, 64))
    np.save(tmp_path / "a.npy", x)
    got = load(tmp_path / "a.npy", shape=32)
    assert got.image.shape == (32, 32) and got.image.max() == 1
    expected = resize(x / x.max(), (32, 32), anti_aliasing=True)
    np.testing.assert_allclose(got.image.numpy(), expected / expected.max(), atol=1e-14)
    assert got.meta["resized_from"] == (64, 64)


def test_load_png_8_16_bit_and_rgb(tmp_path):
    rng = np.random.default_rng(2)
    g8 = rng.integers(1, 256, (30, 20), dtype=np.uint8)
    Image.fromarray(g8).save(tmp_path / "g8.png")
    got = load(tmp_path / "g8.png")
    np.testing.assert_array_equal(got.image.numpy(), g8 / g8.max())
    assert got.meta["mode"] == "L" and got.meta["format"] == "png"

    g16 = rng.integers(1, 60000, (30, 20), dtype=np.uint16)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    got = load(tmp_path / "g16.png")
    assert got.meta["mode"].startswith("I")
    np.testing.assert_array_equal(got.image.numpy(), g16 / g16.max())

    rgb = rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    luma = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    np.testing.assert_allclose(load(tmp_path / "rgb.png").image.numpy(), luma / luma.max(), atol=1e-15)

    rgba = np.concatenate([rgb, np.full((30, 20, 1), 128, np.uint8)], axis=2)
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    np.testing.assert_allclose(load(tmp_path / "rgba.png").image.numpy(), luma / luma.max(), atol=1e-15)

    Image.fromarray(g8).save(tmp_path / "g8.tif")
    np.testing.assert_array_equal(load(tmp_path / "g8.tif").image.numpy(), g8 / g8.max())


def _write_dicom(path, pixels: np.ndarray, slope: float, intercept: float) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_load_dicom_applies_rescale(tmp_path):
    pixels = np.random.default_rng(3).integers(0, 4000, (32, 24)).astype(np.uint16)
    _write_dicom(tmp_path / "a.dcm", pixels, 0.5, 10.0)
    assert pydicom.dcmread(tmp_path / "a.dcm").pixel_array.dtype == np.uint16
    got = load(tmp_path / "a.dcm")
    expected = pixels * 0.5 + 10.0
    np.testing.assert_allclose(got.image.numpy(), expected / expected.max(), rtol=0, atol=1e-15)
    assert got.meta["format"] == "dicom" and got.meta["dtype"] == "uint16"
    assert got.meta["scale"] == expected.max()


def test_load_nifti_volume_slices(tmp_path):
    vol = np.stack([_image((20, 16), seed=s) for s in range(5)], axis=-1).astype(np.float32)  # (20, 16, 5)
    for name in ("v.nii", "v.nii.gz"):
        nibabel.Nifti1Image(vol, np.eye(4)).to_filename(tmp_path / name)
        mid = load(tmp_path / name)
        assert mid.meta["slice"] == 2 and mid.image.shape == (20, 16)
        np.testing.assert_allclose(mid.image.numpy(), vol[..., 2] / vol[..., 2].max(), rtol=1e-6)
        one = load(tmp_path / name, slice=1)
        np.testing.assert_allclose(one.image.numpy(), vol[..., 1] / vol[..., 1].max(), rtol=1e-6)
    nibabel.Nifti1Image(vol[..., None], np.eye(4)).to_filename(tmp_path / "t.nii")  # (20, 16, 5, 1)
    np.testing.assert_allclose(load(tmp_path / "t.nii", slice=4).image.numpy(),
                               vol[..., 4] / vol[..., 4].max(), rtol=1e-6)


def _fc(x: np.ndarray) -> np.ndarray:
    axes = (-2, -1)
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=axes), axes=axes, norm="ortho"), axes=axes)


def _complex_images(n, shape, seed):
    rng = np.random.default_rng(seed)
    mag = np.stack([ellipses(shape, seed=seed + s).numpy() for s in range(n)])
    return mag * np.exp(1j * rng.uniform(-np.pi, np.pi, mag.shape)) * 1e-4  # fastMRI-like scale


@pytest.mark.parametrize("shape", [(32, 24), (31, 20)])
def test_load_fastmri_single_coil(tmp_path, shape):
    x = _complex_images(4, shape, seed=0)
    recon = np.abs(x[:, 4:-4, 4:-4])  # a stored, cropped reference
    with h5py.File(tmp_path / "sc.h5", "w") as f:
        f.create_dataset("kspace", data=_fc(x))  # complex128
        f.create_dataset("reconstruction_esc", data=recon)
        f.attrs["acquisition"] = "CORPD_FBK"
        f.attrs["max"] = float(recon.max())
    got = load(tmp_path / "sc.h5")
    assert got.meta["slice"] == 2 and got.meta["coils"] == 1
    assert got.meta["attrs"]["acquisition"] == "CORPD_FBK"
    scale = np.abs(x[2]).max()
    assert got.meta["scale"] == pytest.approx(scale, rel=1e-12)
    np.testing.assert_allclose(got.image.numpy(), np.abs(x[2]) / scale, rtol=0, atol=1e-12)
    assert got.kspace.dtype == torch.complex128 and got.kspace.shape == shape
    np.testing.assert_allclose(got.kspace.numpy(), _fc(x[2]) / scale, rtol=0, atol=1e-12)
    # the centred orthonormal operator of the library maps the complex image to the k-space
    F = Fourier2D(torch.ones(shape, dtype=torch.bool))
    k = F.kspace(torch.from_numpy(x[2] / scale))
    torch.testing.assert_close(k, got.kspace, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.reference.numpy(), recon[2] / scale, rtol=0, atol=1e-12)
    assert got.meta["reference"] == "reconstruction_esc"
    small = load(tmp_path / "sc.h5", shape=16)
    assert small.kspace is None and small.image.shape == (16, 16) and "kspace_dropped" in small.meta
    one = load(tmp_path / "sc.h5", slice=0)
    np.testing.assert_allclose(one.image.numpy(), np.abs(x[0]) / np.abs(x[0]).max(), atol=1e-12)


def test_load_fastmri_single_coil_complex64(tmp_path):
    x = _complex_images(3, (32, 32), seed=5)
    with h5py.File(tmp_path / "sc.h5", "w") as f:
        f.create_dataset("kspace", data=_fc(x).astype(np.complex64))
    got = load(tmp_path / "sc.h5", slice=1)
    np.testing.assert_allclose(got.image.numpy(), np.abs(x[1]) / np.abs(x[1]).max(), atol=1e-5)
    assert got.meta["dtype"] == "complex64"


def test_load_fastmri_multi_coil_rss(tmp_path):
    shape, coils = (32, 28), 4
    x = _complex_images(3, shape, seed=2)
    rng = np.random.default_rng(7)
    sens = rng.uniform(0.2, 1.0, (coils, *shape)) * np.exp(1j * rng.uniform(-np.pi, np.pi, (coils, *shape)))
    coil_images = x[:, None] * sens[None]  # (slices, coils, H, W)
    rss = np.sqrt((np.abs(coil_images) ** 2).sum(axis=1))
    with h5py.File(tmp_path / "mc.h5", "w") as f:
        f.create_dataset("kspace", data=_fc(coil_images))
        f.create_dataset("reconstruction_rss", data=rss[:, 2:-2, 2:-2])
    got = load(tmp_path / "mc.h5", slice=2)
    assert got.kspace.shape == (coils, *shape) and got.meta["coils"] == coils
    np.testing.assert_allclose(got.kspace.numpy(), _fc(coil_images[2]) / rss[2].max(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.image.numpy(), rss[2] / rss[2].max(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.reference.numpy(), rss[2, 2:-2, 2:-2] / rss[2].max(), atol=1e-12)


def test_load_fastmri_reconstruction_only(tmp_path):
    recon = np.stack([_image((20, 20), seed=s) for s in range(3)]).astype(np.float32)
    with h5py.File(tmp_path / "r.h5", "w") as f:
        f.create_dataset("reconstruction_rss", data=recon)
    got = load(tmp_path / "r.h5")
    assert got.kspace is None and got.meta["reconstruction"] == "reconstruction_rss"
    np.testing.assert_allclose(got.image.numpy(), recon[1] / recon[1].max(), rtol=1e-6)


def test_builtins():
    sl = load("shepp-logan")
    assert sl.kspace is None and sl.source == "shepp-logan"
    assert torch.equal(sl.image, shepp_logan(256))
    assert load("shepp-logan", shape=(64, 48)).image.shape == (64, 48)
    el = load("ellipses:3")
    assert torch.equal(el.image, ellipses(256, seed=3)) and el.meta["seed"] == 3
    assert torch.equal(load("ellipses:3", shape=64).image, ellipses(64, seed=3))


# ---------------------------------------------------------------------------------------------
# loaders: bad input


def _named(path) -> str:
    return re.escape(str(path))


def test_missing_file_and_unsupported_suffix(tmp_path):
    missing = tmp_path / "nothere.png"
    with pytest.raises(FileNotFoundError, match=_named(missing)):
        load(missing)
    with pytest.raises(FileNotFoundError, match=_named(missing)):
        load(str(missing))
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    with pytest.raises(ValueError, match=r"unsupported suffix '\.txt'.*\.npy.*\.png.*\.dcm.*\.nii\.gz.*\.h5"):
        load(txt)
    with pytest.raises(ValueError, match="is a directory"):
        load(tmp_path)
    with pytest.raises(TypeError, match="source must be a path"):
        load(3)


@pytest.mark.parametrize(
    "name", ["bad.png", "bad.dcm", "bad.h5", "bad.npy", "bad.nii", "bad.nii.gz", "bad.jpg"]
)
def test_random_bytes_are_refused(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match=f"cannot read {_named(path)}") as info:
        load(path)
    assert info.value.__cause__ is not None


def test_truncated_files_are_refused(tmp_path):
    x = (np.random.default_rng(0).uniform(0, 255, (64, 64))).astype(np.uint8)
    Image.fromarray(x).save(tmp_path / "t.png")
    np.save(tmp_path / "t.npy", x.astype(np.float64))
    with h5py.File(tmp_path / "t.h5", "w") as f:
        f.create_dataset("kspace", data=np.ones((2, 16, 16), np.complex64))
    _write_dicom(tmp_path / "t.dcm", x.astype(np.uint16), 1.0, 0.0)
    for name in ("t.png", "t.npy", "t.h5", "t.dcm"):
        path = tmp_path / name
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(ValueError, match=_named(path)):
            load(path)


def test_bad_contents(tmp_path):
    np.save(tmp_path / "one.npy", np.ones(5))
    with pytest.raises(ValueError, match=r"shape \(5,\); expected 2-D \(H, W\) or 3-D"):
        load(tmp_path / "one.npy")
    np.save(tmp_path / "four.npy", np.ones((2, 2, 4, 4)))
    with pytest.raises(ValueError, match="four.npy holds an array of shape"):
        load(tmp_path / "four.npy")
    np.save(tmp_path / "vol.npy", np.ones((3, 4, 4)))
    with pytest.raises(ValueError, match=r"slice 3 is out of range .* 3 slices .*valid 0\.\.2"):
        load(tmp_path / "vol.npy", slice=3)
    with pytest.raises(ValueError, match="slice -1 is out of range"):
        load(tmp_path / "vol.npy", slice=-1)
    with pytest.raises(TypeError, match="slice must be an integer"):
        load(tmp_path / "vol.npy", slice=1.0)
    np.save(tmp_path / "flat.npy", np.ones((4, 4)))
    with pytest.raises(ValueError, match="slice=0 was given but .*flat.npy holds one 2-D image"):
        load(tmp_path / "flat.npy", slice=0)
    np.save(tmp_path / "zero.npy", np.zeros((8, 8)))
    with pytest.raises(ValueError, match="zero.npy is all zero"):
        load(tmp_path / "zero.npy")
    bad = np.ones((8, 8))
    bad[2, 3], bad[4, 4] = np.nan, np.inf
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ValueError, match="nan.npy holds 2 NaN/Inf values"):
        load(tmp_path / "nan.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="cannot read .*obj.npy"):
        load(tmp_path / "obj.npy")
    np.save(tmp_path / "str.npy", np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match="str.npy holds data of dtype <U1"):
        load(tmp_path / "str.npy")
    nibabel.Nifti1Image(np.ones((4, 4, 3, 2), np.float32), np.eye(4)).to_filename(tmp_path / "t4.nii")
    with pytest.raises(ValueError, match=r"t4.nii holds a 4-D volume of shape \(4, 4, 3, 2\)"):
        load(tmp_path / "t4.nii")
    nibabel.Nifti1Image(np.ones((4, 4, 3), np.float32), np.eye(4)).to_filename(tmp_path / "t3.nii")
    with pytest.raises(ValueError, match="slice 7 is out of range"):
        load(tmp_path / "t3.nii", slice=7)


def test_bad_h5_contents(tmp_path):
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f.create_dataset("other", data=np.ones(3))
    with pytest.raises(ValueError, match=r"empty.h5 has neither a 'kspace' nor .*\['other'\]"):
        load(tmp_path / "empty.h5")
    with h5py.File(tmp_path / "real.h5", "w") as f:
        f.create_dataset("kspace", data=np.ones((2, 8, 8)))
    with pytest.raises(ValueError, match="'kspace' in .*real.h5 has dtype float64; expected complex"):
        load(tmp_path / "real.h5")
    with h5py.File(tmp_path / "sc.h5", "w") as f:
        f.create_dataset("kspace", data=np.ones((2, 8, 8), np.complex64))
    with pytest.raises(ValueError, match="slice 2 is out of range for .*sc.h5: it has 2 slices"):
        load(tmp_path / "sc.h5", slice=2)
    k = np.ones((2, 8, 8), np.complex128)
    k[1, 3, 3] = np.nan
    with h5py.File(tmp_path / "nan.h5", "w") as f:
        f.create_dataset("kspace", data=k)
    with pytest.raises(ValueError, match="k-space in .*nan.h5 holds 1 NaN/Inf"):
        load(tmp_path / "nan.h5", slice=1)


@pytest.mark.parametrize("name", ["ellipses:x", "ellipses", "ellipses:-1", "sheplogan", "brain"])
def test_unknown_builtin(name):
    with pytest.raises(ValueError, match=f"{re.escape(repr(name))} is neither .*shepp-logan, camera, ellipses:SEED"):
        load(name)


def test_camera_is_scikit_images_photograph():
    img = camera((64, 48))
    ref = resize(sk_camera().astype(float), (64, 48), anti_aliasing=True)
    assert torch.allclose(img, torch.from_numpy(ref / ref.max()), atol=1e-15)
    assert load("camera", shape=(32, 32)).image.shape == (32, 32)
