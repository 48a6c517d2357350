"""The experiments layer: ``fn.audit`` in one call, its judgements and rows, one acquisition per image, the
page's summary lines chosen by subject, and the defects the layer's restructuring fixed (each test below
failed on 4d14d22 in its equivalent form there; the note of the change says how)."""

from __future__ import annotations

import json
import shlex
from types import SimpleNamespace

import pytest
import torch

import firenets as fn
from firenets import data
from firenets.acquisition import acquire
from firenets.cli import build_parser, main
from firenets.experiments import dataset_scorecard, stages
from firenets.nets.adapter import NetworkMap, zero_filled
from firenets.nets.user import load_model
from firenets.report.sections import hallucination_attack_section
from firenets.report.sentences import verdict_sentence
from firenets.stability import Budget, hallucination_attack, lesion_regions
from firenets.stability.control import PositiveControl, positive_control

SMALL = Budget(steps=3, patience=2)


class Smooth(torch.nn.Module):
    """A learnable smoothing of A^* y: complex (B, H, W) -> complex (B, H, W)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(2, 2, 3, padding=1, dtype=torch.float64)

    def forward(self, x):
        z = torch.view_as_real(x).permute(0, 3, 1, 2)
        z = z + 0.1 * self.conv(z)
        return torch.complex(z[:, 0].contiguous(), z[:, 1].contiguous())


def test_audit_in_one_call_carries_its_judgements_rows_and_page(tmp_path):
    result = fn.audit(Smooth(), data.ellipses(32, seed=1), stages=("accuracy", "perturbation"), budget=SMALL)
    assert result.subject == "Smooth" and result.completed == ["accuracy", "perturbation"]
    assert set(result.verdicts) == {"Smooth", "FIRENET (reference)"}  # every map but the control
    v = result.verdict
    assert v is result.verdicts["Smooth"] and v.unstable == (v.factor > v.threshold)
    # the control's worst case is exactly 1 (zero-filling is an orthogonal projection)
    assert v.control_ratio == pytest.approx(1.0, abs=1e-9)
    (row,) = result.rows()
    assert row["image"] == "image" and row["maps"]["Smooth"]["worst_ratio"] == pytest.approx(v.ratio, rel=1e-12)
    page = result.write(tmp_path)
    assert page.path == tmp_path / "index.html" and page.failures == {}
    assert json.loads((tmp_path / "results.json").read_text())["record"]["perturbation"]["verdicts"]["Smooth"] == \
        pytest.approx(v.summary())


def test_images_as_names_lists_and_dicts():
    x = data.ellipses(32, seed=1)
    assert list(stages.acquisitions({"a": x})) == ["a"]
    from firenets.experiments.audit import named_images

    assert list(named_images([x, x.clone()])) == ["image 0", "image 1"]
    assert list(named_images({"mine": x, "shepp-logan": "shepp-logan"}, size=32)) == ["mine", "shepp-logan"]
    assert named_images("ellipses:3", size=32)["ellipses:3"].shape == (32, 32)
    with pytest.raises(ValueError, match="given twice"):
        named_images(["ellipses:3", "ellipses:3"], size=32)
    with pytest.raises(ValueError, match="images must be"):
        named_images(3)


def test_every_image_is_acquired_once(monkeypatch):
    calls = []
    real = stages.acquire

    def counted(*args, **kwargs):
        calls.append(kwargs.get("noise"))
        return real(*args, **kwargs)

    monkeypatch.setattr(stages, "acquire", counted)
    fn.audit(Smooth(), {"a": data.ellipses(32, seed=1), "b": data.ellipses(32, seed=2)},
             stages=("accuracy", "perturbation", "hallucination"), budget=SMALL, acquisition={"noise": 0.01})
    assert len(calls) == 2  # once per image: accuracy, the model's check and the attacks share them


def test_the_attacks_perturb_the_image_the_accuracy_stage_reconstructs():
    # a complex image with a phase: the attacks used |x| while the accuracy stage sampled x itself
    x = data.ellipses(32, seed=1).to(torch.complex128) * torch.exp(1j * torch.linspace(0, 1, 32))[None, :]
    result = fn.audit(Smooth(), {"x": x}, stages=("accuracy", "perturbation", "hallucination"), budget=SMALL)
    for p in result.perturbation.values():
        assert torch.equal(p.worst.x, x)
    acq = acquire(x)
    torch.testing.assert_close(result.hallucination["zero-filled"].error, (acq.zero_filled - x).abs())


def test_a_model_labelled_like_a_built_in_map_is_refused_and_every_summary_line_is_its_own(tmp_path):
    with pytest.raises(ValueError, match="label of a map the audit puts beside yours"):
        fn.audit(Smooth(), data.ellipses(32, seed=1), name="zero-filled", stages=("accuracy",))
    # "FIRENET" begins the reference's label: the page's lines are still the model's own
    result = fn.audit(Smooth(), data.ellipses(32, seed=1), name="FIRENET", threats=("image",),
                      stages=("accuracy", "perturbation", "hallucination-attack", "hallucination"), budget=SMALL)
    page = result.write(tmp_path)
    assert [line.split(":")[0] for line in page.summary[:-1]] == ["FIRENET"] * 5  # the region bounds' too
    assert page.summary[1] == verdict_sentence(result.verdicts["FIRENET"])
    assert page.summary[-1] == "4 of 4 stages asked for completed."


def test_the_targeted_section_and_the_rows_report_the_same_attack(tmp_path):
    x = data.ellipses(32, seed=1)
    A = acquire(x).operator
    xn = float(torch.linalg.vector_norm(x))
    h = hallucination_attack(zero_filled(A), A, x, lesion_regions((32, 32)), [0.002 * xn, 0.05 * xn], steps=4,
                             patience=2)
    assert h.best is max(h.attacks, key=lambda a: a.contrast) and h.best is not h.attacks[0]
    section = hallucination_attack_section(SimpleNamespace(hallucination_attack={"zf": h}), tmp_path, title="t")
    assert section.tables[0].rows[0][3] == h.best.contrast
    bat = stages.BatteryResult({"attacked_image": "x", "maps": ["zf"], "stages": ["hallucination-attack"]},
                               hallucination_attack={"zf": h}, seconds={"hallucination-attack": 1.0})
    assert stages.image_row(bat)["maps"]["zf"]["contrast"] == h.best.contrast


def test_the_positive_control_is_found_within_the_budgets_own_tolerance():
    x = data.ellipses(32, seed=5)
    A = acquire(x).operator
    lesion = torch.zeros(32, 32, dtype=torch.float64)
    lesion[12:15, 18:21] = 1.0
    region = lesion > 0
    pc = positive_control(zero_filled(A), A, x, lesion, region, budget=Budget(steps=3, patience=2, tol=0.25))
    assert pc.tol == 0.25 and pc.found == (pc.attack_ratio >= pc.feasible_ratio * 0.75)
    short = {**{k: getattr(pc, k) for k in pc.__dataclass_fields__}, "attack_ratio": 0.9 * pc.feasible_ratio}
    assert PositiveControl(**{**short, "tol": 0.25}).found and not PositiveControl(**{**short, "tol": 1e-3}).found


def test_library_errors_name_the_python_arguments():
    acq = acquire(data.ellipses(32, seed=1))
    with pytest.raises(ValueError) as exc:
        load_model("no.such.module:build")
    assert str(exc.value).startswith("spec ") and "--" not in str(exc.value)
    with pytest.raises(ValueError) as exc:
        load_model("torch.nn:Identity", weights="/no/such/file.pt")
    assert str(exc.value).startswith("weights ") and "--" not in str(exc.value)
    for net, output in ((lambda x: x[:, :16], "auto"), (lambda x: x, "magnitude")):
        with pytest.raises(ValueError) as exc:
            NetworkMap(net, acq.operator, output=output)(acq.y)
        assert "--" not in str(exc.value)


def test_the_parsers_lists_are_the_librarys():
    from firenets.acquisition import MASKS
    from firenets.masks import FASTMRI_KINDS
    from firenets.nets.adapter import INPUTS, OUTPUTS
    from firenets.nets.mri import METHODS, REGULARISERS
    from firenets.nets.training import KINDS
    from firenets.reconstruction import TRAINING_MASKS

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices

    def option(command, dest):
        return next(a for a in sub[command]._actions if a.dest == dest)

    assert option("audit", "input").choices is INPUTS and option("train", "input").choices is INPUTS
    assert option("audit", "output").choices is OUTPUTS
    assert tuple(option("audit", "mask").choices) == MASKS + FASTMRI_KINDS
    assert option("reconstruct", "method").choices is METHODS and option("attack", "method").choices is METHODS
    assert option("reconstruct", "regulariser").choices is REGULARISERS
    assert option("train", "kind").choices is KINDS and option("train", "mask").choices is TRAINING_MASKS
    assert option("audit", "stages").type("accuracy,positive-control") == ("accuracy", "positive-control")
    for stage in stages.STAGES:
        assert option("audit", "stages").type(stage) == (stage,)


_NAN = '''
import torch


class NaNNet(torch.nn.Module):
    def forward(self, masked_kspace, mask, num_low_frequencies):
        return torch.full(masked_kspace.shape[:1] + masked_kspace.shape[2:4], float("nan"))


def build():
    return NaNNet()


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        z = torch.view_as_real(x).permute(0, 3, 1, 2)
        z = z + self.conv(z)
        return torch.complex(z[:, 0].contiguous(), z[:, 1].contiguous())


def tiny():
    return Tiny()
'''


def test_the_varnet_hint_advises_what_the_command_can_do(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "nanmodels.py").write_text(_NAN)
    code = main(["audit", "--model", "nanmodels:build", "--input", "fastmri", "ellipses:1", "--size", "32",
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "give a 2-D mask such as gaussian" in err and "complex images" not in err


def test_train_records_the_arguments_given_to_main(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "tinymodels.py").write_text(_NAN)
    out = tmp_path / "w.pt"
    argv = ["train", "--model", "tinymodels:tiny", "--size", "16", "--n-train", "4", "--n-val", "2", "--epochs", "1",
            "--batch", "2", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    record = torch.load(out, weights_only=True)["training"]
    assert record["command"] == "firenets " + " ".join(shlex.quote(a) for a in argv)


def test_channels_input_hands_the_real_and_imaginary_parts_and_reads_two_channels_back():
    x = data.ellipses(32, seed=1).to(torch.complex128) * torch.exp(1j * torch.linspace(0, 2, 32))[:, None]
    acq = acquire(x, seed=3)
    seen = {}

    def identity(z):
        seen["z"] = z
        return z

    f = NetworkMap(identity, acq.operator, "channels")
    torch.testing.assert_close(f(acq.y), acq.zero_filled, rtol=0, atol=1e-12)  # zero-filling, to rounding
    z, x0 = seen["z"], acq.zero_filled
    assert z.shape == (1, 2, 32, 32) and not z.is_complex()
    assert torch.equal(z[0, 0], x0.real) and torch.equal(z[0, 1], x0.imag)
    # a linear map of the channels is a linear map of y: its worst case is the zero-filling's, 1
    wc = fn.stability.perturbation(f, acq.operator, x, Budget(steps=5, norms=(0.01,)))
    assert wc.max_ratio == pytest.approx(1.0, abs=1e-9)
    # a magnitude network's (B, 1, H, W) answer is read as a real image
    g = NetworkMap(lambda z: z.square().sum(1, keepdim=True).sqrt(), acq.operator, "channels", output="magnitude")
    torch.testing.assert_close(g(acq.y), x0.abs().to(torch.complex128), rtol=0, atol=1e-12)


def test_fastmris_two_channel_unet_is_audited():
    models = pytest.importorskip("fastmri.models", reason="fastmri is not installed (an optional extra)")
    torch.manual_seed(0)
    unet = models.Unet(in_chans=2, out_chans=2, chans=4, num_pool_layers=2)
    result = fn.audit(unet, data.ellipses(32, seed=1), input="channels", name="Unet",
                      stages=("accuracy", "perturbation"), budget=Budget(steps=3, patience=2), device="cpu")
    assert result.completed == ["accuracy", "perturbation"] and result.verdict.ratio > 0
    assert result.settings["dtype"] == "float32"


def test_smooth_phase_is_a_unit_modulus_slowly_varying_field():
    p = data.smooth_phase((48, 40), seed=3)
    assert p.dtype == torch.complex128 and torch.allclose(p.abs(), torch.ones(48, 40, dtype=torch.float64))
    phi = torch.angle(p)
    assert float(phi.abs().max()) == pytest.approx(torch.pi, rel=1e-12)  # scaled to the peak
    # a quadratic: its second differences are constant along each axis
    d2 = phi[2:] - 2 * phi[1:-1] + phi[:-2]
    assert float((d2 - d2[0:1]).abs().max()) < 1e-12
    assert torch.equal(p, data.smooth_phase((48, 40), seed=3)) and not torch.equal(p, data.smooth_phase((48, 40), seed=4))
    with pytest.raises(ValueError, match="peak"):
        data.smooth_phase(8, peak=-1.0)


def test_files_keep_their_phase_and_built_ins_take_one_on_request(tmp_path):
    import numpy as np

    from firenets.experiments.audit import named_images

    z = data.ellipses(32, seed=2).numpy() * np.exp(1j * np.linspace(0, 2, 32))[None, :]
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "m.npy", np.abs(z))
    loaded = data.load(tmp_path / "z.npy")
    np.testing.assert_allclose(loaded.complex_image.numpy(), z / np.abs(z).max(), rtol=0, atol=1e-15)
    torch.testing.assert_close(loaded.complex_image.abs(), loaded.image, rtol=0, atol=1e-15)
    assert data.load(tmp_path / "m.npy").complex_image is None
    assert data.load(tmp_path / "z.npy", shape=16).complex_image is None  # resized: the phase is dropped, said
    zf, mf = str(tmp_path / "z.npy"), str(tmp_path / "m.npy")
    images = named_images([zf, mf, "ellipses:5"], size=32, phase=7)  # files named by their path
    assert images[zf].is_complex() and not images[mf].is_complex()
    torch.testing.assert_close(images["ellipses:5"], data.ellipses(32, seed=5) * data.smooth_phase(32, seed=7))
    result = fn.audit(Smooth(), images, stages=("accuracy",))
    assert result.settings["complex_images"] == [zf, "ellipses:5"]
    page = json.loads((result.write(tmp_path / "page").path.parent / "results.json").read_text())
    assert f"Magnitude images (the source holds no phase): {mf}." in page["sections"][0]["text"][0]


def test_the_audit_runs_the_k_space_threat_models_and_reports_every_normalisation(tmp_path):
    x = data.ellipses(32, seed=1).to(torch.complex128) * data.smooth_phase(32, seed=2)
    result = fn.audit(Smooth(), {"x": x}, stages=("perturbation",), threats=("image", "kspace", "full-kspace"),
                      kspace_norms=(0.01, 0.03), budget=Budget(steps=40, patience=5))
    assert list(result.threats) == ["kspace", "full-kspace"]
    assert set(result.threats["kspace"]) == {"Smooth", "FIRENET (reference)", "zero-filled"}
    A = acquire(x).operator
    null = float(torch.linalg.vector_norm(x - A.adjoint(A(x))))
    xn, yn = float(torch.linalg.vector_norm(x)), float(torch.linalg.vector_norm(A(x)))
    for threat, scale in (("kspace", yn), ("full-kspace", xn)):
        for row in result.threats[threat]["zero-filled"].rows():  # the known answer, inside the audit
            exact = (null**2 + (row["eta"] * scale) ** 2) ** 0.5 / xn
            assert 0.99 * exact <= row["error"] <= exact * (1 + 1e-9)
    (row,) = result.rows()
    assert row["maps"]["Smooth"]["kspace_error"] == result.threats["kspace"]["Smooth"].worst.relative_error
    # the row keeps every threat: a dataset of this one image judges each as the audit does
    card = result.scorecard()
    one = dataset_scorecard(SimpleNamespace(rows=[{**row, "page": None}], labels=list(row["maps"]), control=None))
    assert [k for k in one.measures if k.startswith("threat:")] == ["threat:kspace", "threat:full-kspace"]
    for m in row["maps"]:
        for k in ("threat:kspace", "threat:full-kspace"):
            assert one.cell(m, k).value == card.cell(m, k).value and one.cell(m, k).level == card.cell(m, k).level
            assert one.cell(m, k).converged == card.cell(m, k).converged
    page = result.write(tmp_path)
    titles = [s["title"] for s in json.loads((tmp_path / "results.json").read_text())["sections"]]
    assert titles[:2] == ["1. Worst-case perturbations", "2. Perturbations of the samples: the published threat models"]
    assert page.summary[1].startswith("Smooth, kspace threat: a perturbation of the samples of 3.00%")
    assert sum(line.startswith("Smooth, ") for line in result.text()) == 2
    with pytest.raises(ValueError, match="threats must be among"):
        fn.audit(Smooth(), {"x": x}, threats=("image", "pixels"))


def test_the_targeted_attack_also_perturbs_the_samples_when_the_k_space_threat_is_asked_for(tmp_path):
    x = data.ellipses(32, seed=1).to(torch.complex128) * data.smooth_phase(32, seed=2)
    result = fn.audit(Smooth(), {"x": x}, stages=("hallucination-attack",), threats=("image", "kspace"),
                      kspace_norms=(0.01, 0.03), budget=Budget(steps=40, patience=5))
    A = acquire(x).operator
    y0 = A(x)
    h = result.kspace_hallucination_attack["zero-filled"].best
    assert h.threat == "kspace" and h.rho_rel == pytest.approx(0.03)  # the largest k-space budget, of ||A x||
    assert float(torch.linalg.vector_norm(h.r)) <= 0.03 * float(torch.linalg.vector_norm(y0)) * (1 + 1e-12)
    # zero-filling, f = A^*: the gain in R is at most <|A^* e|>_R <= ||e|| ||1_R A^*|| / sqrt|R| (one coil, a mask:
    # ||1_R A^*|| <= 1), and the first-order direction A(1_R e^{i phase A^* y0}) is feasible
    R, rho = h.region, h.rho
    base = A.adjoint(y0)
    e = A(R.to(torch.complex128) * torch.exp(1j * torch.angle(base)))
    e = rho * e / torch.linalg.vector_norm(e)
    feasible = float(A.adjoint(y0 + e).abs()[R].mean() - base.abs()[R].mean())
    assert 0.99 * feasible <= h.contrast <= rho / float(R.sum()) ** 0.5 * (1 + 1e-9)
    # the truth beside it is x + A^* e (= A^+ e for one coil: the image nearest x with samples A x + e)
    assert h.input_contrast == pytest.approx(float((x + A.adjoint(h.r)).abs()[R].mean() - x.abs()[R].mean()))
    (row,) = result.rows()
    assert row["maps"]["Smooth"]["kspace_contrast"] == result.kspace_hallucination_attack["Smooth"].best.contrast
    assert result.hallucination_attack is not None  # the image-domain attack runs too
    result.write(tmp_path)
    titles = [s["title"] for s in json.loads((tmp_path / "results.json").read_text())["sections"]]
    assert titles[:2] == ["1. Targeted hallucination attack", "2. Targeted hallucination attack on the samples"]
    assert (tmp_path / "hallucination-attack-kspace.png").is_file()
    assert any(line.startswith("Smooth: a perturbation of the samples of 3.00% of ||A x||") for line in result.text())
