"""Results on disk: JSON records and PNG images, written atomically and checked on reading."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from firenets import report


def test_write_json_converts_tensors_and_non_finite(tmp_path):
    path = report.write_json(tmp_path / "r.json", {
        "a": torch.tensor(1.5), "b": np.float64(2.0), "c": [torch.tensor([1, 2]), math.inf],
        "d": {"nested": float("nan")}, "e": "text", "f": None, "g": True,
    })
    data = json.loads(path.read_text())
    assert data == {"a": 1.5, "b": 2.0, "c": [[1, 2], None], "d": {"nested": None}, "e": "text", "f": None,
                    "g": True}
    assert not list(tmp_path.glob(".*tmp"))


def test_write_json_refuses_objects_and_keeps_the_old_file(tmp_path):
    path = report.write_json(tmp_path / "r.json", {"ok": 1})
    with pytest.raises(TypeError, match=r"record\.bad"):
        report.write_json(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"ok": 1}


def test_save_image_scales_to_8_bits(tmp_path):
    img = torch.tensor([[0.0, 0.5], [1.0, 2.0]], dtype=torch.float64)
    path = report.save_image(tmp_path / "i.png", img, vmax=1.0)
    with Image.open(path) as im:
        px = np.asarray(im)
    assert px.tolist() == [[0, 128], [255, 255]]  # 0.5 * 255 = 127.5 rounds to 128; 2 clips
    cplx = report.save_image(tmp_path / "c.png", torch.tensor([[3j, -4.0]], dtype=torch.complex128))
    with Image.open(cplx) as im:
        assert np.asarray(im).tolist() == [[191, 255]]  # |3i| / |-4| = 0.75


def test_images_must_be_2d_and_finite(tmp_path):
    with pytest.raises(ValueError, match="2-D"):
        report.save_image(tmp_path / "x.png", np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        report.save_image(tmp_path / "x.png", np.array([[np.nan, 1.0]]))
    assert not (tmp_path / "x.png").exists()


def test_reconstruction_figure(tmp_path):
    x = np.outer(np.hanning(32), np.hanning(32))
    path = report.reconstruction_figure(tmp_path / "f.png", x, x + 0.01, zero_filled=x * 0.5, title="net",
                                        metrics={"psnr": 30.0, "ssim": 0.9},
                                        zero_filled_metrics={"psnr": 20.0, "ssim": 0.5})
    with Image.open(path) as im:
        w, h = im.size
    assert w > 3 * h
    with pytest.raises(ValueError, match="recon has shape"):
        report.reconstruction_figure(tmp_path / "g.png", x, x[:16])
