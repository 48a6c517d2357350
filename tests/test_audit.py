"""The audit of a user's network: what the model is handed (its acquisition), devices and precision,
bad models, stages that fail, datasets with results.jsonl and --resume, torchrun, training a user's
architecture, and fastMRI's models where fastmri is installed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from browser import CHROMIUM, check_reader_view, probe, screenshot
from firenets import data
from firenets.acquisition import acquire
from firenets.cli import main
from firenets.experiments import stages
from firenets.nets.adapter import NetworkMap, low_frequencies
from firenets.operators import Fourier2D, MultiCoilFourier, ifft2c
from firenets.stability import Budget, perturbation

MODELS = '''
import os
import torch


def _ifft(k):
    d = (-2, -1)
    return torch.fft.fftshift(torch.fft.ifft2(torch.fft.ifftshift(k, dim=d), norm="ortho"), dim=d)


class KSpace(torch.nn.Module):
    """net(k, mask): the inverse FFT of the zero-filled k-space, i.e. zero-filling, times a weight 1."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones((), dtype=torch.float64))
        self.masks = []

    def forward(self, k, mask):
        self.masks.append(mask.detach().cpu().clone())
        return self.w * _ifft(k)


class FastMRI(torch.nn.Module):
    """net(masked_kspace, mask, num_low_frequencies) in fastMRI's layout: the RSS of the coil images."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward(self, masked_kspace, mask, num_low_frequencies):
        assert masked_kspace.shape[-1] == 2 and mask.dtype == torch.bool
        return self.w * _ifft(torch.view_as_complex(masked_kspace)).abs().pow(2).sum(1).sqrt()


class Conv(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 1, 3, padding=1)

    def forward(self, x):
        z = torch.view_as_real(x).permute(0, 3, 1, 2).to(self.conv.weight.dtype)
        return x.abs() + 0.1 * self.conv(z)[:, 0]


class OnlyQuarter(torch.nn.Module):
    """Zero-filling that refuses every mask but one sampling 25% (a model that breaks when the mask changes)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward(self, k, mask):
        rate = float(mask.double().mean())
        if abs(rate - 0.25) > 0.02:
            raise RuntimeError(f"trained for 25% only; got a mask sampling {rate:.0%}")
        return self.w * _ifft(k)


def kspace():
    return KSpace()


def fastmri_layout():
    return FastMRI()


def conv():
    torch.manual_seed(0)
    return Conv()


def only_quarter():
    return OnlyQuarter()


def fails_on_rank_1():
    if os.environ.get("RANK") == "1":
        raise RuntimeError("this rank cannot build the model")
    torch.manual_seed(0)
    return Conv()
'''

QUICK = ["--steps", "3", "--size", "32"]


@pytest.fixture
def models(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "usermodels.py").write_text(MODELS)
    import importlib

    import usermodels

    importlib.reload(usermodels)
    return usermodels


def _ifft(k):
    return ifft2c(k)


# --- what the model is handed -------------------------------------------------------------------

def test_kspace_input_is_the_zero_filled_kspace_with_the_operators_mask(models):
    x = data.ellipses(32, seed=1)
    acq = acquire(x, mask="gaussian", rate=0.25, seed=2)
    net = models.KSpace()
    f = NetworkMap(net, acq.operator, "kspace")
    rec = f(acq.y)
    # the inverse FFT of P_M^* y is A^* y: the model is zero-filling, to rounding
    assert torch.allclose(rec, acq.zero_filled, atol=1e-12)
    assert torch.equal(net.masks[-1], acq.mask)
    # a worst case of zero-filling is exactly 1 (A^* is an isometry on the range of A^*)
    wc = perturbation(f, acq.operator, acq.target, Budget(steps=5))
    assert wc.max_ratio == pytest.approx(1.0, abs=1e-9)


def test_every_stage_that_changes_the_acquisition_hands_the_model_the_new_mask(models):
    x = data.ellipses(32, seed=1)
    net = models.KSpace()
    sweeps = stages.sample_sweeps({"k": lambda F: NetworkMap(net, F, "kspace")}, x, rates=(0.2, 0.3, 0.4), seed=1)
    rates = [round(float(m.double().mean()), 2) for m in net.masks]
    assert sorted(set(rates)) == pytest.approx([0.2, 0.3, 0.4], abs=0.02)
    assert sweeps["k"].summary()["results"][0]["psnr"] < sweeps["k"].summary()["results"][-1]["psnr"]


def test_fastmri_layout_and_low_frequencies():
    from firenets import masks

    m = masks.fastmri_equispaced((32, 40), acceleration=4, center_fraction=0.2, seed=0).mask
    centre = int(round(40 * 0.2))
    assert low_frequencies(m) == centre  # the fully sampled centre columns
    acq = acquire(data.ellipses((32, 40), seed=0), mask=m)
    f = NetworkMap(torch.nn.Identity(), acq.operator, "fastmri")
    k, mask, n = f.inputs(acq.y[None])
    assert k.shape == (1, 1, 32, 40, 2) and k.dtype == torch.float64
    assert mask.shape == (1, 1, 1, 40, 1) and torch.equal(mask[0, 0, 0, :, 0], m[0])
    assert torch.equal(torch.view_as_complex(k)[0, 0], acq.operator.zero_filled(acq.y))
    assert n == centre
    g = torch.zeros(16, 16, dtype=torch.bool)
    g[8, 5:12] = True
    g[3, 3] = True
    assert low_frequencies(g) == 7  # no full column: the run through the centre of the middle row
    f2 = NetworkMap(torch.nn.Identity(), Fourier2D(g), "fastmri")
    assert f2.fastmri_mask.shape == (1, 1, 16, 16, 1)


def test_fastmri_layout_reconstructs_the_rss_and_multicoil_kspace_carries_the_maps(models):
    x = data.ellipses(32, seed=3)
    acq = acquire(x, mask="fastmri-random", rate=0.25, seed=1)
    f = NetworkMap(models.FastMRI(), acq.operator, "fastmri", dtype=torch.float32)
    assert torch.allclose(f(acq.y), acq.zero_filled.abs().to(torch.complex128), atol=1e-5)
    from firenets import coils

    maps = coils.birdcage(4, (32, 32))
    A = MultiCoilFourier(maps, acq.mask)
    y = A(x.to(torch.complex128))
    seen = {}

    class Sense(torch.nn.Module):
        def forward(self, k, mask, s):
            seen.update(k=k, mask=mask, maps=s)
            return (_ifft(k) * s.conj()).sum(1)

    rec = NetworkMap(Sense(), A, "kspace")(y)
    assert seen["k"].shape == (1, 4, 32, 32) and torch.equal(seen["maps"], A.maps)
    assert torch.allclose(rec, A.adjoint(y), atol=1e-12)  # sum_c conj(S_c) F^* P^* y_c is A^* y
    rss = NetworkMap(models.FastMRI(), A, "fastmri")(y)
    assert torch.allclose(rss.real, A.coil_images(y).abs().pow(2).sum(0).sqrt(), atol=1e-5)


def test_bad_models_are_refused_with_the_reason(models):
    acq = acquire(data.ellipses(32, seed=1), mask="gaussian", rate=0.25)
    A = acq.operator

    class Lambda(torch.nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, x):
            return self.fn(x)

    def mutate(x):
        x.mul_(2)
        return x.clone()

    cases = [
        (Lambda(lambda x: x[:, :16]), "auto", "expected (1, 32, 32)"),
        (Lambda(lambda x: x), "magnitude", "returned a complex image"),
        (Lambda(lambda x: x.abs()), "complex", "returned a real image"),
        (Lambda(lambda x: x * float("nan")), "auto", "NaN or Inf"),
        (Lambda(mutate), "auto", "changed its input in place"),
        (Lambda(lambda x: [x]), "auto", "not a torch.Tensor"),
    ]
    for net, output, message in cases:
        with pytest.raises((ValueError, TypeError), match=re.escape(message)):
            NetworkMap(net, A, "adjoint", output=output)(acq.y)
    with pytest.raises(ValueError, match="input must be one of"):
        NetworkMap(Lambda(lambda x: x), A, "image")


def test_dtype_moves_the_models_inputs_and_outputs_come_back_in_complex128(models):
    acq = acquire(data.ellipses(32, seed=1), mask="gaussian", rate=0.25)
    got = {}

    class Rec(torch.nn.Module):
        def forward(self, x):
            got["dtype"] = x.dtype
            return x

    out = NetworkMap(Rec(), acq.operator, "adjoint", dtype=torch.float32)(acq.y)
    assert got["dtype"] == torch.complex64 and out.dtype == torch.complex128
    assert torch.allclose(out, acq.zero_filled, atol=1e-6)
    NetworkMap(Rec(), acq.operator, "magnitude", dtype=torch.float64)(acq.y)
    assert got["dtype"] == torch.float64


# --- the command ------------------------------------------------------------------------------------

def test_audit_cli_kspace_model_is_zero_filling_on_the_page(models, tmp_path, capsys):
    out = tmp_path / "a"
    assert main(["audit", "--model", "usermodels:kspace", "--input", "kspace", "ellipses:1", *QUICK,
                 "--stages", "accuracy,perturbation,more-samples", "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    maps = res["record"]["perturbation"]["maps"]
    assert maps["usermodels:kspace"]["max_ratio"] == pytest.approx(maps["zero-filled"]["max_ratio"], abs=1e-9)
    acc = res["record"]["accuracy"]
    assert acc["ellipses:1"]["usermodels:kspace"]["psnr"] == pytest.approx(acc["ellipses:1"]["zero-filled"]["psnr"],
                                                                           abs=1e-6)
    assert res["record"]["completed"] == ["accuracy", "perturbation", "more-samples"]
    assert "3 of 3 stages asked for completed." in res["summary"]
    # fastMRI's column masks, and the generalisation stage's other acquisitions, reach the model too
    out2 = tmp_path / "b"
    assert main(["audit", "--model", "usermodels:kspace", "--input", "kspace", "ellipses:1", *QUICK, "--mask",
                 "fastmri-random", "--acceleration", "4", "--stages", "accuracy,generalisation", "--out", str(out2)]) == 0
    res = json.loads((out2 / "results.json").read_text())
    assert res["record"]["settings"]["mask"] == "fastmri-random" and res["record"]["completed"] == [
        "accuracy", "generalisation"]
    cells = res["record"]["generalisation"]["usermodels:kspace"]["table"]
    zf = res["record"]["generalisation"]["zero-filled"]["table"]
    assert [c["psnr"] for c in cells] == pytest.approx([c["psnr"] for c in zf], abs=1e-6)  # zero-filling everywhere


def test_a_failing_stage_is_recorded_and_the_others_run(models, tmp_path, capsys):
    out = tmp_path / "a"
    code = main(["audit", "--model", "usermodels:only_quarter", "--input", "kspace", "ellipses:1", *QUICK,
                 "--stages", "accuracy,more-samples,hallucination", "--out", str(out)])
    assert code == 1  # a stage failed: not a success, but the page is written
    res = json.loads((out / "results.json").read_text())
    assert res["record"]["completed"] == ["accuracy", "hallucination"]
    assert "trained for 25% only" in res["record"]["failures"]["more-samples"]
    page = (out / "index.html").read_text()
    assert "FAILED" in page and "more-samples" in page
    assert "2 of 3 stages asked for completed; 1 failed: more-samples" in " ".join(res["summary"])


def test_audit_option_errors(models, tmp_path, capsys):
    mask = tmp_path / "m.npy"
    np.save(mask, np.ones((16, 16), dtype=bool))
    cases = [
        (["--mask-file", str(mask), "--stages", "accuracy,more-samples"], "draw masks at other rates"),
        (["--mask-file", str(mask), "--stages", "accuracy"], "is (16, 16) but the image is (32, 32)"),
        (["--mask", "gaussian", "--mask-file", str(mask)], "not both"),
        (["--rate", "0.3", "--acceleration", "4"], "not both"),
        (["--resume"], "--resume continues a dataset run"),
        (["--slices", "0", "--stages", "accuracy"], "--slices applies to HDF5 volumes"),
        (["--mask", "fastmri-random", "--stages", "accuracy,more-samples"], "needs nested masks"),
        (["--weights", str(tmp_path / "missing.pt")], "missing.pt: no such file"),
    ]
    img = tmp_path / "img.npy"
    np.save(img, data.ellipses(32, seed=0).numpy())
    for extra, message in cases:
        target = tmp_path / f"bad{len(message)}"
        assert main(["audit", "--model", "usermodels:conv", str(img), "--steps", "3", *extra,
                     "--out", str(target)]) == 2, extra
        assert message in capsys.readouterr().err
        assert not (target / "index.html").exists()
    if not torch.cuda.is_available():
        assert main(["audit", "--model", "usermodels:conv", "--device", "cuda", "--out", str(tmp_path / "c")]) == 2
        assert "--device cuda: CUDA is not available" in capsys.readouterr().err


def test_the_model_runs_in_the_dtype_asked_for(models, tmp_path, capsys):
    out = tmp_path / "a"
    assert main(["audit", "--model", "usermodels:conv", "--dtype", "float64", "ellipses:1", *QUICK,
                 "--stages", "accuracy", "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["record"]["settings"]["dtype"] == "float64"
    out2 = tmp_path / "b"
    assert main(["audit", "--model", "usermodels:conv", "ellipses:1", *QUICK, "--stages", "accuracy",
                 "--out", str(out2)]) == 0
    assert json.loads((out2 / "results.json").read_text())["record"]["settings"]["dtype"] == "float32"


# --- datasets ---------------------------------------------------------------------------------------

def _folder(path: Path, n: int, size: int = 32) -> Path:
    path.mkdir()
    for i in range(n):
        np.save(path / f"img{i}.npy", data.ellipses(size, seed=100 + i).numpy())
    return path


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


DATASET = ["--model", "usermodels:conv", "--steps", "3", "--stages", "accuracy,perturbation,hallucination-attack"]


def test_a_folder_is_audited_image_by_image_and_resumes(models, tmp_path, capsys):
    folder = _folder(tmp_path / "imgs", 3)
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "ds"
    assert main(["audit", *DATASET, str(folder), "--out", str(out)]) == 0
    rows = _rows(out)
    assert rows[0]["firenets"] == "audit" and rows[0]["settings"]["images"] == ["img0.npy", "img1.npy", "img2.npy"]
    assert [r["image"] for r in rows[1:]] == ["img0.npy", "img1.npy", "img2.npy"]
    for r in rows[1:]:
        assert (out / r["page"]).is_file()
        assert r["completed"] == ["accuracy", "perturbation", "hallucination-attack"] and r["failures"] == {}
        assert r["maps"]["zero-filled"]["worst_ratio"] == pytest.approx(1.0, abs=1e-9)
        assert set(r["maps"]) == {"usermodels:conv", "FIRENET (reference)", "zero-filled"}
    page = (out / "index.html").read_text()
    assert 'href="images/00000-img0-npy/index.html"' in page and "distributions.png" in page
    res = json.loads((out / "results.json").read_text())
    assert res["summary"][0] == "3 images audited."
    # the scorecard over the images: per map the median and the worst image, linked to its page
    card = res["scorecard"]
    assert [r["map"] for r in card["rows"]] == ["usermodels:conv", "FIRENET (reference)", "zero-filled"]
    mine = dict(zip(card["measures"], card["rows"][0]["cells"], strict=True))
    worst = max(rows[1:], key=lambda r: r["maps"]["usermodels:conv"]["worst_ratio"])
    assert mine["worst_case"]["value"] == worst["maps"]["usermodels:conv"]["worst_ratio"]
    assert mine["worst_case"]["worst"] == worst["image"] and mine["worst_case"]["worst_page"] == worst["page"]
    assert f'href="{worst["page"]}">worst: {worst["image"]}' in page
    # the region bounds' cell links to the table that holds every image's verdict, beside its searches
    faith = mine["in_data"]
    table = res["sections"][int(faith["href"][2:])]["tables"][0]
    at = {c: table["columns"].index(c) for c in ("image", "map", "in the data?", "converged")}
    verdicts = {(r[at["image"]]["text"], r[at["map"]]): r[at["in the data?"]] for r in table["rows"]}
    for r in rows[1:]:
        for m, v in r["maps"].items():
            assert verdicts[(r["image"], m)] == v["faithfulness"]
    assert faith["text"].endswith(f" of {len(rows) - 1}")
    assert {row[at["converged"]] for row in table["rows"]} <= {"yes"} | {
        "not: " + ", ".join(k for k, c in v["converged_by"].items() if not c) for r in rows[1:]
        for v in r["maps"].values() if v["converged_by"]}
    if CHROMIUM is not None:  # the page as a reader sees it at a laptop's width
        state = probe(out / "index.html", tmp_path / "profile")
        assert state["broken"] == [] and state["errors"] == []
        check_reader_view(state, ["usermodels:conv", "FIRENET (reference)", "zero-filled"])
        screenshot(out / "index.html", tmp_path / "profile2", "dataset-page.png")
    psnrs = sorted(r["maps"]["usermodels:conv"]["psnr"] for r in rows[1:])
    assert f"PSNR median {psnrs[1]:.2f} dB" in res["summary"][1]
    # an interrupted run: its last row lost, a torn line left behind; --resume does only that image
    before = rows[3]
    lines = (out / "results.jsonl").read_text().splitlines()
    (out / "results.jsonl").write_text("\n".join(lines[:3]) + '\n{"index": 2, "ima')
    (out / "index.html").unlink()
    capsys.readouterr()
    assert main(["audit", *DATASET, str(folder), "--out", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    assert "2 of 3 images done; 1 to go" in err and "image 1/1: img2.npy" in err
    again = _rows(out)
    assert [r["image"] for r in again[1:]] == ["img0.npy", "img1.npy", "img2.npy"]
    assert again[3]["maps"] == before["maps"]  # the same numbers as the uninterrupted run
    # options that differ from the run's are refused; so is a fresh run over it without --force
    assert main(["audit", *DATASET, str(folder), "--seed", "5", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "differ from those of the run" in err and "in: budget, seed" in err
    assert main(["audit", *DATASET, str(folder), "--out", str(out)]) == 2
    assert "use --force" in capsys.readouterr().err


def test_datasets_bad_input(models, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    assert main(["audit", *DATASET, str(empty), "--out", str(tmp_path / "o1")]) == 2
    assert "a folder with no readable images" in capsys.readouterr().err
    import h5py

    with h5py.File(tmp_path / "none.h5", "w") as f:
        f.create_dataset("reconstruction_esc", data=np.zeros((0, 32, 32), np.float32))
    assert main(["audit", *DATASET, str(tmp_path / "none.h5"), "--slices", "all", "--out", str(tmp_path / "o2")]) == 2
    assert "no slices" in capsys.readouterr().err
    folder = _folder(tmp_path / "imgs", 2)
    (folder / "broken.npy").write_bytes(b"not a numpy file")
    out = tmp_path / "o3"
    assert main(["audit", *DATASET, str(folder), "--out", str(out)]) == 1  # one image unreadable
    rows = _rows(out)
    broken = next(r for r in rows[1:] if r["image"] == "broken.npy")
    assert "load" in broken["failures"] and broken["maps"] == {}
    assert "1 with a failed stage or an unreadable file (broken.npy)" in json.loads(
        (out / "results.json").read_text())["summary"][0]


def test_a_volume_is_audited_slice_by_slice(models, tmp_path, capsys):
    import h5py

    vol = np.stack([data.ellipses(32, seed=s).numpy() for s in range(4)]).astype(np.float32)
    with h5py.File(tmp_path / "vol.h5", "w") as f:
        f.create_dataset("reconstruction_esc", data=vol)
    out = tmp_path / "v"
    assert main(["audit", *DATASET, str(tmp_path / "vol.h5"), "--slices", "1:3", "--out", str(out)]) == 0
    rows = _rows(out)
    assert [r["image"] for r in rows[1:]] == ["vol.h5[1]", "vol.h5[2]"] and [r["slice"] for r in rows[1:]] == [1, 2]
    assert main(["audit", *DATASET, str(tmp_path / "vol.h5"), "--slices", "7", "--out", str(tmp_path / "w")]) == 2
    assert "has 4 slices (0 to 3)" in capsys.readouterr().err


# --- torchrun ---------------------------------------------------------------------------------------

def _torchrun() -> list[str]:
    exe = Path(sys.executable).with_name("torchrun")
    if not exe.exists():
        pytest.skip("torchrun is not installed beside this Python")
    return [str(exe), "--nproc-per-node", "2", "--master-port", str(29500 + os.getpid() % 500), "--no-python",
            str(Path(sys.executable).with_name("firenets"))]


def _agree(b, a, where) -> None:
    """b is a: verdicts, flags and None exactly, numbers to 1e-9, dicts key by key."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(b) == set(a), where
        for k in a:
            _agree(b[k], a[k], (*where, k))
    elif a is None or isinstance(a, (str, bool)):
        assert b == a, where
    else:
        assert b == pytest.approx(a, rel=1e-9, abs=1e-12), where


def test_torchrun_shards_the_images_and_merges_what_one_process_computes(models, tmp_path, capsys):
    cmd = _torchrun()
    folder = _folder(tmp_path / "imgs", 3)
    one = tmp_path / "one"
    assert main(["audit", *DATASET, str(folder), "--out", str(one)]) == 0
    two = tmp_path / "two"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(tmp_path)}
    run = subprocess.run([*cmd, "audit", *DATASET, str(folder), "--out", str(two)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    a, b = _rows(one), _rows(two)
    assert a[0] == b[0]  # the same settings
    assert sorted(r["rank"] for r in b[1:]) == [0, 0, 1]
    for ra, rb in zip(a[1:], b[1:], strict=True):
        assert ra["image"] == rb["image"]
        for m in ra["maps"]:
            for k, v in ra["maps"][m].items():
                _agree(rb["maps"][m][k], v, (ra["image"], m, k))
    assert (two / "index.html").is_file() and not list(two.glob("results.rank-*.jsonl"))
    # a rank that fails: the run stops, nothing claims to be complete
    bad = tmp_path / "bad"
    run = subprocess.run([*cmd, "audit", *DATASET[2:], "--model", "usermodels:fails_on_rank_1", str(folder),
                          "--out", str(bad)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode != 0
    assert "this rank cannot build the model" in run.stderr
    assert "[rank 0] firenets audit: stopped by torchrun" in run.stderr  # the other rank says why it stops
    assert not (bad / "index.html").exists()


# --- training a user's architecture -----------------------------------------------------------------

def test_train_a_users_model_then_audit_it(models, tmp_path, capsys):
    w = tmp_path / "conv.pt"
    assert main(["train", "--model", "usermodels:conv", "--size", "32", "--n-train", "16", "--n-val", "4",
                 "--epochs", "2", "--batch", "8", "--out", str(w), "--no-progress"]) == 0
    from firenets._io import load_tensors
    from firenets.nets.user import load_model

    payload = load_tensors(w)
    rec = payload["training"]
    assert rec["model"] == "usermodels:conv" and rec["input"] == "adjoint" and len(rec["train_loss"]) == 2
    assert rec["command"].startswith("firenets train")  # from sys.argv: here pytest's
    net = load_model("usermodels:conv", w)
    trained = dict(net.state_dict())
    assert any(not torch.equal(trained[k], v) for k, v in models.conv().state_dict().items())
    # the weights are the best epoch's, scored as the audit would call the model
    assert rec["val_loss"][rec["best_epoch"]] == min(rec["val_loss"])
    assert main(["audit", "--model", "usermodels:conv", "--weights", str(w), "ellipses:1", *QUICK,
                 "--stages", "accuracy", "--out", str(tmp_path / "a")]) == 0
    for args, message in ((["unet", "--model", "usermodels:conv"], "one of them"),
                          (["unet", "--input", "kspace"], "--input applies to --model")):
        assert main(["train", *args, "--out", str(tmp_path / "x.pt")]) == 2
        assert message in capsys.readouterr().err


# --- fastMRI's models -------------------------------------------------------------------------------

FASTMRI_FACTORIES = '''
import fastmri.models
import torch


def varnet():
    torch.manual_seed(0)
    return fastmri.models.VarNet(num_cascades=2, sens_chans=4, sens_pools=2, chans=4, pools=2)


def unet():
    torch.manual_seed(0)
    return fastmri.models.Unet(in_chans=1, out_chans=1, chans=4, num_pool_layers=2)


class _NaNImage(torch.nn.Module):
    def forward(self, masked_kspace, mask, num_low_frequencies=None):  # VarNet's signature, a NaN image
        return torch.full((masked_kspace.shape[0], *masked_kspace.shape[2:4]), float("nan"))


def nan_image():
    return _NaNImage()
'''


def test_fastmri_varnet_and_unet_plug_in(tmp_path, monkeypatch, capsys):
    pytest.importorskip("fastmri.models", reason="fastmri is not installed (pip install --no-deps fastmri==0.3.0)")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "fm.py").write_text(FASTMRI_FACTORIES)
    for spec, mode in (("fm:varnet", "fastmri"), ("fm:unet", "magnitude")):
        out = tmp_path / spec.replace(":", "-")
        assert main(["audit", "--model", spec, "--input", mode, "ellipses:3", *QUICK,
                     "--stages", "accuracy,perturbation,more-samples", "--out", str(out)]) == 0, capsys.readouterr().err
        res = json.loads((out / "results.json").read_text())
        assert res["record"]["completed"] == ["accuracy", "perturbation", "more-samples"]
        assert res["record"]["perturbation"]["maps"][spec]["max_ratio"] > 0
    # a column mask on a real phantom: VarNet's normalisation divides the low-frequency image's imaginary part,
    # 0 up to the FFT's rounding, by its standard deviation; where that is exactly 0 the output is NaN and the
    # message says why (whether it is depends on the FFT library's rounding, so a model that gives NaN checks it)
    capsys.readouterr()
    code = main(["audit", "--model", "fm:varnet", "--input", "fastmri", "ellipses:3", *QUICK, "--mask",
                 "fastmri-equispaced", "--stages", "accuracy", "--out", str(tmp_path / "cols")])
    assert code == 0 or code == 2 and "imaginary part of a real image" in capsys.readouterr().err
    assert main(["audit", "--model", "fm:nan_image", "--input", "fastmri", "ellipses:3", *QUICK, "--mask",
                 "fastmri-equispaced", "--stages", "accuracy", "--out", str(tmp_path / "nan")]) == 2
    err = capsys.readouterr().err
    assert "NaN" in err and "imaginary part of a real image" in err and "Traceback" not in err


def test_the_shipped_unet_audited_as_a_users_model_is_the_built_in_one(tmp_path, capsys):
    from firenets.nets.mri import reconstruction_map

    x = data.ellipses(64, seed=7)
    acq = acquire(x, mask="gaussian", rate=0.25, seed=0)
    from firenets.nets.training import shipped_unet

    user = NetworkMap(shipped_unet(), acq.operator)(acq.y)
    built_in = reconstruction_map("unet", acq.operator)(acq.y)
    assert torch.allclose(user, built_in.to(torch.complex128), atol=1e-5)
    out = tmp_path / "a"
    assert main(["audit", "--model", "firenets.nets.training:shipped_unet", "ellipses:7", "--size", "64",
                 "--stages", "accuracy", "--out", str(out)]) == 0
    acc = json.loads((out / "results.json").read_text())["record"]["accuracy"]["ellipses:7"]
    from firenets import metrics

    assert acc["firenets.nets.training:shipped_unet"]["psnr"] == pytest.approx(
        metrics.evaluate(acq.target, built_in.abs())["psnr"], abs=1e-3)


def test_the_dataset_sentence_is_computed_from_the_rows():
    from firenets.experiments.verdicts import over_images
    from firenets.report.sentences import dataset_sentence

    def row(name, psnr, ratio, zf_ratio, converged):
        return {"image": name, "maps": {
            "net": {"psnr": psnr, "worst_ratio": ratio, "noise_quotient": ratio / 0.5, "contrast": 0.1,
                    "converged": converged},
            "zero-filled": {"psnr": 20.0, "worst_ratio": zf_ratio, "noise_quotient": 2.0, "contrast": 0.05,
                            "converged": True}}}

    rows = [row("a", 30.0, 1.5, 1.0, True), row("b", 32.0, 4.0, 1.0, False), row("c", 34.0, 2.5, 1.0, True)]
    text = dataset_sentence(over_images(rows, "net"))
    assert text.startswith("net on 3 images: PSNR median 32.00 dB (from 30.00 to 34.00)")
    assert "worst-case ratio median 2.5, largest 4 on b" in text and "5 times its Gaussian-noise ratio" in text
    assert "on 2 of 3 images" in text  # 4.0 and 2.5 exceed 2x zero-filling's 1, 1.5 does not
    assert "converged on 2 of 3 images (on the 1 other the step cap ended them" in text


def test_a_section_that_cannot_be_drawn_is_reported_and_the_result_is_left_alone(tmp_path, monkeypatch):
    import firenets as fn
    from firenets.report import pages

    net = torch.nn.Identity()
    result = fn.audit(net, {"e": data.ellipses(32, seed=1)}, name="id", stages=("accuracy", "hallucination"),
                      budget=Budget(steps=3))

    def broken(*args, **kwargs):
        raise RuntimeError("no figure today")

    monkeypatch.setattr(pages, "hallucination_section", broken)
    page = result.write(tmp_path)
    assert page.record["failures"] == {"hallucination": "drawing the page section: RuntimeError: no figure today"}
    assert page.record["completed"] == ["accuracy"]
    assert result.failures == {} and result.completed == ["accuracy", "hallucination"]  # rendering ran nothing
    assert "FAILED" in (tmp_path / "index.html").read_text()
