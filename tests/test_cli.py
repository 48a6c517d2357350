"""The command line: version, info, reconstruct, train, attack (table, demo, audit: their own files)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import firenets
from firenets.cli import main


def test_version_and_info(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert firenets.__version__ in capsys.readouterr().out
    assert main(["info"]) == 0
    assert "torch" in capsys.readouterr().out


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "firenets", "--help"], capture_output=True, text=True, check=True)
    assert "reconstruct" in out.stdout


def test_import_is_lazy():
    code = "import sys, firenets; print('cvxpy' in sys.modules, 'pywt' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------- reconstruct and train
def _npy_image(tmp_path, shape=(64, 64)):
    path = tmp_path / "img.npy"
    np.save(path, firenets.data.ellipses(shape, seed=4).numpy())
    return path


def test_reconstruct_writes_metrics_and_images(tmp_path, capsys):
    out = tmp_path / "rec"
    code = main(["reconstruct", str(_npy_image(tmp_path)), "--method", "firenet", "--mask", "radial",
                 "--rate", "0.3", "--noise", "0.001", "--out", str(out)])
    assert code == 0
    record = json.loads((out / "metrics.json").read_text())
    for key in ("psnr", "ssim", "nmse", "seconds", "certificate", "num_layers", "zero_filled"):
        assert key in record
    c = record["config"]
    assert record["mask"] == "radial" and record["noise"] == 0.001
    # the layers run: whole restarts of inner + 1 steps (adaptive), at most the maximum depth
    assert record["num_layers"] % (c["inner"] + 1) == 0 and record["num_layers"] <= c["restarts"] * (c["inner"] + 1)
    # the rule that ended the run: the maximum depth only where every restart ran
    stopped = record["certificate"]["stopped_by"]
    assert stopped in ("tol", "xtol", "restarts")
    assert (stopped == "restarts") == (record["num_layers"] == c["restarts"] * (c["inner"] + 1))
    if stopped == "tol":
        assert record["certificate"]["relative_gap"] <= c["tol"]
    recon = np.load(out / "recon.npy", allow_pickle=False)
    assert recon.shape == (64, 64) and np.iscomplexobj(recon)
    # the reported metrics are those of the saved reconstruction
    x = firenets.data.ellipses(64, seed=4).numpy()
    assert record["nmse"] == pytest.approx(np.sum((x - np.abs(recon)) ** 2) / np.sum(x**2), rel=1e-9)
    from PIL import Image

    with Image.open(out / "recon.png") as im:
        assert im.size == (64, 64) and im.mode == "L"
    with Image.open(out / "comparison.png") as im:
        assert im.size[0] > 3 * im.size[1]
    assert "PSNR" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "1.5"], "rate"),
        (["--rate", "nan"], "rate"),
        (["--mask", "spiral"], "mask"),
        (["--noise", "-1"], "noise"),
        (["--tol", "-1"], "--tol"),
        (["--xtol", "nan"], "--xtol"),
        (["--regulariser", "l2"], "--regulariser"),
        (["--dtype", "float16"], "--dtype"),
    ],
)
def test_reconstruct_refuses_bad_options(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        main(["reconstruct", "shepp-logan", "--out", str(tmp_path / "o"), *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_reconstruct_firenet_options_reach_the_network(tmp_path):
    out = tmp_path / "rec"
    code = main(["reconstruct", str(_npy_image(tmp_path, (32, 32))), "--regulariser", "tv", "--lam", "0.01",
                 "--restarts", "3", "--inner", "5", "--tol", "0", "--xtol", "0", "--dtype", "complex64",
                 "--out", str(out)])
    assert code == 0
    record = json.loads((out / "metrics.json").read_text())
    c = record["config"]
    assert (c["regulariser"], c["lam"], c["restarts"], c["inner"], c["tol"], c["xtol"], c["dtype"]) == (
        "tv", 0.01, 3, 5, 0.0, 0.0, "complex64")
    assert record["num_layers"] == 3 * 6  # no stopping rule: every restart ran (inner + 1 steps each)
    assert np.load(out / "recon.npy", allow_pickle=False).dtype == np.complex128


def test_reconstruct_firenet_options_refused_for_other_methods(tmp_path, capsys):
    out = tmp_path / "rec"
    assert main(["reconstruct", "shepp-logan", "--method", "zero-filled", "--xtol", "1e-3", "--out", str(out)]) == 2
    assert "--xtol" in capsys.readouterr().err and not out.exists()


def test_reconstruct_bad_files_write_nothing(tmp_path, capsys):
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    volume = tmp_path / "volume4d.npy"
    np.save(volume, np.ones((2, 2, 8, 8)))
    for source, message in [(corrupt, "broken.png"), (volume, "volume4d.npy"), (tmp_path / "none.npy", "none.npy")]:
        out = tmp_path / f"out-{source.stem}"
        assert main(["reconstruct", str(source), "--out", str(out)]) == 2
        assert message in capsys.readouterr().err
        assert not (out / "metrics.json").exists()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["reconstruct", "shepp-logan", "--out", str(blocker)]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_reconstruct_learned_network_on_other_size_fails_clearly(tmp_path, capsys):
    path = _npy_image(tmp_path, (72, 64))
    assert main(["reconstruct", str(path), "--method", "unet", "--out", str(tmp_path / "o")]) == 2
    assert "multiples of 16" in capsys.readouterr().err


def test_train_command(tmp_path, capsys):
    out = tmp_path / "c.pt"
    args = ["train", "cascade", "--size", "32", "--n-train", "6", "--n-val", "2", "--epochs", "1",
            "--features", "4", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    assert "validation PSNR" in capsys.readouterr().out
    record = torch.load(out, weights_only=True)["training"]
    assert record["size"] == 32 and record["command"].startswith("firenets train")
    assert main(args) == 2  # exists: refused without --force
    assert "--force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---------------------------------------------------------------- attack
def test_attack_writes_stages_controls_and_figures(tmp_path, capsys):
    out = tmp_path / "att"
    code = main(["attack", str(_npy_image(tmp_path)), "--method", "cascade", "--records", "3,6", "--lr", "0.01",
                 "--measurement", "0.02,0.05", "--measurement-steps", "3", "--no-progress", "--out", str(out)])
    assert code == 0
    record = json.loads((out / "attack.json").read_text())
    assert len(record["stages"]) == 2 and len(record["noise_control"]) == 2
    for stage in record["stages"]:
        assert stage.keys() >= {"r_norm", "r_rel", "out_diff", "ratio", "psnr"}
        assert stage["ratio"] == pytest.approx(stage["out_diff"] / stage["r_norm"], rel=1e-9)
    # the control has the same norms as the perturbations it controls
    assert [c["r_norm"] for c in record["noise_control"]] == pytest.approx([s["r_norm"] for s in record["stages"]])
    assert record["hallucination"]["unperturbed"]["measurement_norm"] >= 0
    budgets = record["measurement"]["budgets"]
    assert [b["rel"] for b in budgets] == [0.0, 0.02, 0.05]
    assert all(b["e_rel"] <= b["rel"] * (1 + 1e-12) for b in budgets)
    assert budgets[2]["error"] >= budgets[0]["error"]
    from PIL import Image

    for name in ("attack.png", "hallucination.png"):
        with Image.open(out / name) as im:
            assert im.size[0] > 100
    assert "ratio" in capsys.readouterr().out


def test_attack_norms_mode_and_firenet_comparison(tmp_path):
    out = tmp_path / "att"
    code = main(["attack", str(_npy_image(tmp_path, (32, 32))), "--method", "unet", "--norms", "0.01",
                 "--steps", "2", "--compare-firenet", "--no-progress", "--out", str(out)])
    assert code == 0
    record = json.loads((out / "attack.json").read_text())
    assert record["stages"][0]["r_rel"] == pytest.approx(0.01, rel=1e-9)
    fire = record["firenet_at_same_norms"]
    assert record["ratio_to_firenet"] == pytest.approx(record["stages"][0]["ratio"] / fire["stages"][0]["ratio"],
                                                       rel=1e-9)
    # FIRENET gets the same budget, and it is the fixed-depth reference network, not the stopping-rule defaults
    assert fire["settings"] == {**record["settings"]} and record["stages"][0]["converged"] is False  # cap 2
    c = fire["config"]
    assert (c["regulariser"], c["restarts"], c["inner"], c["tol"], c["xtol"]) == ("wavelet", 5, 5, 0, 0)


def test_attack_default_is_fixed_norm_and_modes_do_not_mix(tmp_path, capsys):
    out = tmp_path / "att"
    code = main(["attack", str(_npy_image(tmp_path, (32, 32))), "--method", "zero-filled", "--steps", "2",
                 "--no-progress", "--out", str(out)])
    assert code == 0
    record = json.loads((out / "attack.json").read_text())
    assert record["settings"]["mode"] == "fixed norms"
    assert [s["r_rel"] for s in record["stages"]] == pytest.approx([0.01, 0.02, 0.04], rel=1e-9)
    assert all(s["ratio"] <= 1 + 1e-9 for s in record["stages"])  # zero-filling is a projection
    capsys.readouterr()
    code = main(["attack", "shepp-logan", "--method", "unet", "--norms", "0.01", "--lam", "0.1",
                 "--out", str(tmp_path / "mixed")])
    assert code == 2 and "two different modes" in capsys.readouterr().err
    assert not (tmp_path / "mixed").exists()
    for args, message in [(["--method", "unet", "--lam", "0.1", "--steps", "5"], "--steps (fixed-norm ascent)"),
                          (["--method", "firenet", "--compare-firenet"], "the method is FIRENET"),
                          (["--method", "unet", "--momentum", "1.0"], "momentum in [0, 1)")]:
        with pytest.raises(SystemExit) if "momentum" in message else _nothing():
            code = main(["attack", "shepp-logan", *args, "--out", str(tmp_path / "bad")])
        err = capsys.readouterr().err
        assert message in err and not (tmp_path / "bad").exists()
    # "0.00" is a momentum of zero, accepted by the parser (then refused here by the mode check)
    assert main(["attack", "shepp-logan", "--method", "unet", "--momentum", "0.00", "--lam", "0.1", "--steps", "2",
                 "--out", str(tmp_path / "bad")]) == 2
    assert "--steps" in capsys.readouterr().err


def test_attack_bad_input(tmp_path, capsys):
    bad = tmp_path / "nan.npy"
    img = np.ones((32, 32))
    img[3, 3] = np.nan
    np.save(bad, img)
    assert main(["attack", str(bad), "--method", "unet", "--out", str(tmp_path / "a")]) == 2
    assert "nan.npy" in capsys.readouterr().err
    odd = _npy_image(tmp_path, (40, 32))
    assert main(["attack", str(odd), "--method", "unet", "--out", str(tmp_path / "b")]) == 2
    assert "multiples of 16" in capsys.readouterr().err
    assert not (tmp_path / "b" / "attack.json").exists()
    with pytest.raises(SystemExit):
        main(["attack", "shepp-logan", "--out", str(tmp_path / "c")])  # --method is required


def test_faithfulness_writes_the_interval_and_the_verdict(tmp_path, capsys):
    """firenets faithfulness on a reconstruction that is the truth: the interval holds its value, the
    JSON is the result's summary, and the region given as x,y,r is the disc at (row y, column x)."""
    img = _npy_image(tmp_path, (32, 32))
    x = np.load(img)
    np.save(tmp_path / "recon.npy", x.astype(np.complex128))
    out = tmp_path / "faith"
    code = main(["faithfulness", str(img), "--recon", str(tmp_path / "recon.npy"), "--region", "14,17,3",
                 "--noise", "0.001", "--prior", "box", "--out", str(out)])
    assert code == 0
    record = json.loads((out / "faithfulness.json").read_text())
    lo, hi = record["interval"]
    from firenets.stability.targeted import disc

    R = disc((32, 32), (17, 14), 3).numpy()
    assert record["pixels"] == int(R.sum())
    assert record["value"] == pytest.approx(float(x[R].mean()), abs=1e-12)
    assert lo <= record["value"] <= hi
    assert record["verdict"] in ("supported by the data", "not determined by the data")
    assert record["prior"] == "box" and record["eta_source"].startswith("noise 0.001")
    assert (out / "faithfulness.png").stat().st_size > 0
    assert record["verdict"] in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "1,2"], "x,y,r"),
        (["--region", "3,3,-1"], "radius"),
        (["--region", "3,3,2", "--prior", "wavelet", "--quantity", "modulus"], "box"),
        (["--region", "3,3,2", "--prior", "sparkle"], "prior"),
        (["--region", "300,300,2"], "holds no pixel"),
        (["--region-mask", "MASK"], "boolean"),
    ],
)
def test_faithfulness_refuses_bad_input_without_a_traceback(tmp_path, capsys, args, message):
    img = _npy_image(tmp_path, (16, 16))
    np.save(tmp_path / "recon.npy", np.load(img).astype(np.complex128))
    np.save(tmp_path / "mask.npy", np.ones((16, 16)))  # not boolean
    args = [a.replace("MASK", str(tmp_path / "mask.npy")) for a in args]
    out = tmp_path / "faith"
    try:
        code = main(["faithfulness", str(img), "--recon", str(tmp_path / "recon.npy"), *args, "--out", str(out)])
    except SystemExit as e:  # argparse's own refusals
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (out / "faithfulness.json").exists()


def test_faithfulness_refuses_a_recon_of_another_shape(tmp_path, capsys):
    img = _npy_image(tmp_path, (16, 16))
    np.save(tmp_path / "recon.npy", np.zeros((8, 8), dtype=np.complex128))
    code = main(["faithfulness", str(img), "--recon", str(tmp_path / "recon.npy"), "--region", "8,8,2",
                 "--out", str(tmp_path / "o")])
    assert code == 2
    assert "--recon" in capsys.readouterr().err
