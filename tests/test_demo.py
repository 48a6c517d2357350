"""`firenets demo` end to end: the page, its figures and JSON, its claims, and the page rendered in
headless Chromium (every image loads, no console errors, a screenshot)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from browser import CHROMIUM, check_reader_view, probe, screenshot
from firenets import report
from firenets.cli import main


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--force", "--no-progress"]) == 0
    return out


def test_demo_page_is_complete_and_self_contained(demo_dir):
    page = (demo_dir / "index.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) >= 6
    for name in images:
        assert (demo_dir / name).is_file() and (demo_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        data = json.loads((demo_dir / name).with_suffix(".json").read_text())
        assert data["figure"] == name
    # nothing external: no scripts, no remote addresses
    assert "<script" not in page and "http://" not in page and "https://" not in page
    results = json.loads((demo_dir / "results.json").read_text())
    assert all(results["record"]["table"]["claims"].values())
    assert len(results["sections"]) == 9
    assert (demo_dir / "table" / "table.json").is_file()
    # the training-data barrier follows the impossibility table, every claim holding
    assert results["sections"][1]["title"].startswith("2. The rest of the barrier")
    assert all(results["record"]["barrier"]["claims"].values())
    assert (demo_dir / "barrier.png").is_file()


def test_demo_numbers_are_the_runs(demo_dir):
    import html

    results = json.loads((demo_dir / "results.json").read_text())
    rec = results["record"]["reconstruction"]["Shepp-Logan"]
    page = html.unescape((demo_dir / "index.html").read_text())
    for method in ("FIRENET", "U-Net", "deep cascade"):
        assert rec[method]["psnr"] > rec["zero-filled"]["psnr"] - 5  # sane, and shown on the page:
    assert f"{rec['FIRENET']['psnr']:.2f}" in page
    pert = results["record"]["perturbation"]
    maps = pert["maps"]
    assert set(maps) == {"FIRENET (reference)", "U-Net", "deep cascade", "zero-filled"}
    settings = {json.dumps(m["settings"], sort_keys=True) for m in maps.values()}
    assert len(settings) == 1  # one budget and stopping rule for every map
    for m in maps.values():
        for s in m["stages"]:
            assert s["ratio"] == pytest.approx(s["out_diff"] / s["r_norm"], rel=1e-9)
            assert isinstance(s["converged"], bool) and s["iteration"] >= 1
        assert [s["r_rel"] for s in m["stages"]] == pytest.approx([0.01, 0.02, 0.04], rel=1e-9)
    # zero-filling, the negative control, reaches its exact worst case 1 and never exceeds it
    assert all(0.99 <= s["ratio"] <= 1 + 1e-9 for s in maps["zero-filled"]["stages"])
    # a verdict per map, computed from its numbers, and its sentence on the page
    for label, v in pert["verdicts"].items():
        assert v["factor"] == pytest.approx(maps[label]["max_ratio"] / maps["zero-filled"]["max_ratio"], rel=1e-9)
        assert v["unstable"] == (v["factor"] > v["threshold"])
        head = "unstable at these sizes" if v["unstable"] else "no instability found at these sizes"
        assert f"{label}: {head}: worst-case ratio {v['ratio']:.3g}" in page
    # the targeted hallucination attack: every map, the same settings, the numbers on the page
    targeted = results["record"]["hallucination_attack"]
    assert set(targeted) == set(maps)
    assert len({json.dumps(t["settings"], sort_keys=True) for t in targeted.values()}) == 1
    for label, t in targeted.items():
        a = t["attacks"][0]
        assert a["rho_rel"] == pytest.approx(0.01, rel=1e-9) and isinstance(a["converged"], bool)
        assert f"{label}: a perturbation of 1.00% of ||x|| makes the output gain contrast {a['contrast']:.3g}" in page
        assert len(t["screening"][0]) == 9
    # the positive control, attacked with the same budget: the theorem holds at the feasible r for every
    # map, zero-filling's ratio there is exactly 1, and the page says what the attack found
    ctrl = results["record"]["positive_control"]
    assert ctrl["maps"]["zero-filled"]["feasible_ratio"] == pytest.approx(1.0, abs=1e-9)
    for label, pc in ctrl["maps"].items():
        assert pc["feasible_ratio"] >= max(pc["bound"], pc["bound_difference"]) * (1 - 1e-9)
        assert pc["found"] == (pc["attack_ratio"] >= pc["feasible_ratio"] * (1 - 1e-3))
        assert f"{label}: errors {pc['errors'][0]:.3g} on x" in page
    # the scorecard: every cell is the record's own number, and its verdict the record's
    card = results["scorecard"]
    assert [r["map"] for r in card["rows"]] == ["U-Net", "deep cascade", "FIRENET (reference)", "zero-filled",
                                                "U-Net (control)"]
    assert card["measures"] == ["accuracy", "worst_case", "invented", "in_data", "small_detail", "positive_control"]
    cells = {r["map"]: dict(zip(card["measures"], r["cells"], strict=True)) for r in card["rows"]}
    record = results["record"]
    for label in maps:
        c = cells[label]
        first = record["reconstruction"]["Shepp-Logan"]["FIRENET" if label == "FIRENET (reference)" else label]
        assert c["accuracy"]["value"] == pytest.approx(first["psnr"], rel=1e-12)
        assert c["worst_case"]["value"] == pytest.approx(maps[label]["max_ratio"], rel=1e-12)
        assert c["invented"]["value"] == pytest.approx(targeted[label]["attacks"][0]["contrast"], rel=1e-12)
        assert c["in_data"]["value"] == record["faithfulness"][label]["verdict"]
        assert c["small_detail"]["value"] == pytest.approx(record["structural"][label]["contrast"], rel=1e-12)
        if label != "zero-filled":
            v = pert["verdicts"][label]
            assert c["worst_case"]["level"] == ("fail" if v["unstable"] else "pass")
            assert c["worst_case"]["converged"] == v["converged"]
            assert c["small_detail"]["level"] == ("pass" if record["structural"][label]["recovered"] else "fail")
    for label, pc in ctrl["maps"].items():
        assert cells[label]["positive_control"]["value"] == pytest.approx(pc["attack_ratio"], rel=1e-12)
    assert cells["U-Net (control)"]["positive_control"]["level"] == ("pass" if ctrl["maps"]["U-Net (control)"]["found"]
                                                                     else "fail")
    assert all(s["lead"] for s in results["sections"])  # every section opens with its answer
    attack_settings = results["record"]["perturbation"]["maps"]["zero-filled"]["settings"]
    for key in ("steps", "tol", "patience", "restarts", "lr", "momentum", "seed"):
        assert ctrl["settings"]["budget"][key] == attack_settings[key]


def test_demo_refuses_a_directory_with_other_files(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["demo", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine" and not (tmp_path / "index.html").exists()


def test_report_write_on_its_own(tmp_path):
    report.save_image(tmp_path / "a.png", np.outer(np.arange(8.0), np.ones(8)))
    results = {"title": "T <1>", "summary": ["s & t"], "sections": [
        {"title": "one", "text": ["x < y"], "tables": [{"caption": "c", "columns": ["a", "b"], "rows": [[1, 2.5]]}],
         "figures": [{"file": "a.png", "caption": "an image", "data": {"v": 1.0}}]}]}
    path = report.write(results, tmp_path)
    page = path.read_text()
    assert "T &lt;1&gt;" in page and "x &lt; y" in page and '<img src="a.png"' in page
    assert json.loads((tmp_path / "a.json").read_text())["data"] == {"v": 1.0}
    bad = {"sections": [{"title": "x", "figures": [{"file": "../a.png"}]}]}
    with pytest.raises(ValueError, match="plain file name"):
        report.write(bad, tmp_path)
    with pytest.raises(ValueError, match="not in"):
        report.write({"sections": [{"title": "x", "figures": [{"file": "none.png"}]}]}, tmp_path)
    with pytest.raises(ValueError, match="cells"):
        report.write({"sections": [{"title": "x", "tables": [{"columns": ["a"], "rows": [[1, 2]]}]}]}, tmp_path)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
def test_page_renders_in_chromium(demo_dir, tmp_path):
    state = probe(demo_dir / "index.html", tmp_path / "profile")
    assert state["images"] >= 6 and state["broken"] == [] and state["errors"] == []
    check_reader_view(state, ["U-Net", "deep cascade", "FIRENET (reference)", "zero-filled", "U-Net (control)"])
    screenshot(demo_dir / "index.html", tmp_path / "profile2", "demo-page.png")


_MODEL = '''
import torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 2, 3, padding=1, dtype=torch.float64)

    def forward(self, x):
        z = torch.view_as_real(x).permute(0, 3, 1, 2)
        z = z + self.conv(z)
        return torch.complex(z[:, 0], z[:, 1])


def build():
    torch.manual_seed(0)
    return Net()


def not_a_module():
    return 3


def needs_args(width):
    return Net()
'''


AUDIT_MAPS = ["auditmodel:build", "FIRENET (reference)", "zero-filled", "U-Net (control)"]


def test_audit_command(tmp_path, monkeypatch, capsys):
    import torch

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "auditmodel.py").write_text(_MODEL)
    image = tmp_path / "img.npy"
    from firenets.data import ellipses

    np.save(image, ellipses(64, seed=2).numpy())
    import auditmodel

    weights = tmp_path / "w.pt"
    torch.save(auditmodel.build().state_dict(), weights)
    out = tmp_path / "audit"
    capsys.readouterr()
    assert main(["audit", "--model", "auditmodel:build", "--weights", str(weights), str(image),
                 "--out", str(out)]) == 0
    # the terminal: the scorecard within 100 columns, then a line per section with the file to open
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[0].startswith("Scorecard (the image ") and all(len(line) <= 100 for line in printed)
    assert printed[-2] == "11. Stages: index.html#s10" and printed[-1].startswith("wrote ")
    results = json.loads((out / "results.json").read_text())
    # the k-space threats and the targeted attack on the samples included
    assert len(results["sections"]) == 11 and results["sections"][-1]["title"] == "11. Stages"
    assert results["record"]["completed"] == list(results["record"]["settings"]["stages"])
    assert results["record"]["failures"] == {}
    maps = results["record"]["perturbation"]["maps"]
    assert list(maps) == ["auditmodel:build", "FIRENET (reference)", "zero-filled"]
    # perturbations of fixed relative sizes, every map attacked at the same ones with the same budget
    for m in maps.values():
        assert [s["r_rel"] for s in m["stages"]] == pytest.approx([0.01, 0.02, 0.04], rel=1e-9)
        assert m["settings"] == maps["FIRENET (reference)"]["settings"]
    verdict = results["record"]["perturbation"]["verdicts"]["auditmodel:build"]
    assert results["summary"][1].startswith("auditmodel:build: ")
    assert verdict["unstable"] == (verdict["factor"] > verdict["threshold"])
    page = (out / "index.html").read_text()
    for name in re.findall(r'<img src="([^"]+)"', page):
        assert (out / name).is_file()
    assert [r["map"] for r in results["scorecard"]["rows"]] == AUDIT_MAPS
    if CHROMIUM is not None:  # the page as a reader sees it at a laptop's width
        state = probe(out / "index.html", tmp_path / "profile")
        assert state["broken"] == [] and state["errors"] == []
        check_reader_view(state, AUDIT_MAPS)
        screenshot(out / "index.html", tmp_path / "profile2", "audit-page.png")
    # bad specifications and files: messages, no page
    for args, message in [
        (["--model", "auditmodel"], "PKG.MODULE:FACTORY"),
        (["--model", "nosuchmodule:build"], "cannot import"),
        (["--model", "auditmodel:not_a_module"], "not a torch.nn.Module"),
        (["--model", "auditmodel:build", "--weights", str(image)], "cannot be read"),
        (["--model", "auditmodel:build", "--input", "kspace"], "fails on the zero-filled k-space P_M^* y"),
        (["--model", "auditmodel:needs_args"], "needs_args() failed"),
    ]:
        target = tmp_path / f"bad{len(message)}"
        assert main(["audit", *args, str(image), "--out", str(target)]) == 2
        assert message in capsys.readouterr().err
        assert not (target / "index.html").exists()


def test_audit_stages_size_and_seed(tmp_path, monkeypatch, capsys):
    import torch

    from firenets.cli.audit import STAGES as STAGE_NAMES
    from firenets.experiments.stages import STAGES

    assert STAGE_NAMES == STAGES  # the parser's list is the battery's
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "auditmodel2.py").write_text(_MODEL)
    import auditmodel2

    torch.save(auditmodel2.build().state_dict(), tmp_path / "w.pt")
    out = tmp_path / "audit"
    assert main(["audit", "--model", "auditmodel2:build", "--weights", str(tmp_path / "w.pt"), "ellipses:4",
                 "--size", "48", "--seed", "3", "--stages", "accuracy,perturbation", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert [s["title"] for s in results["sections"]] == ["1. Accuracy", "2. Worst-case perturbations",
                                                         "3. Perturbations of the samples: the published threat models",
                                                         "4. Stages"]
    st = results["record"]["settings"]
    assert st["shape"] == [48, 48] and st["seed"] == 3 and st["stages"] == ["accuracy", "perturbation"]
    assert st["budget"]["seed"] == 3
    for args, message in ((["--stages", "accuracy,nonsense"], "expected stages among"),
                          (["--size", "48", str(tmp_path / "w.pt")], "--size applies to the built-in images")):
        try:
            code = main(["audit", "--model", "auditmodel2:build", *args, "--out", str(tmp_path / "bad")])
        except SystemExit as exc:
            code = exc.code
        assert code == 2 and message in capsys.readouterr().err
