"""The scorecard: every cell is the result object's own number, judged by the rule stated under it
(each rule recomputed here from the raw results); the page draws it first and links every cell to
its section; the terminal prints it within 100 columns; a dataset's cells are the median and the
worst image of its rows."""

from __future__ import annotations

import html
import json
import statistics
from types import SimpleNamespace

import pytest
import torch

import firenets as fn
from firenets import data
from firenets.acquisition import acquire
from firenets.experiments import RULES, UNSTABLE_FACTOR, ZERO_FILLED, dataset_scorecard
from firenets.experiments.scorecard import threat_gain
from firenets.report.scorecard import scorecard_text
from test_experiments import SMALL, Smooth

TITLES = {"accuracy": "Accuracy", "worst_case": "Worst-case perturbations",
          "threat:kspace": "Perturbations of the samples: the published threat models",
          "invented": "Targeted hallucination attack", "invented:kspace": "Targeted hallucination attack on the samples",
          "in_data": "Is the attacked detail in the data? Region bounds",
          "small_detail": "Small structural change and more samples",
          "more_samples": "Small structural change and more samples", "generalisation": "Generalisation",
          "positive_control": "The positive control: is the attack able to find instability?"}



@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    result = fn.audit(Smooth(), data.ellipses(32, seed=1), budget=SMALL)
    out = tmp_path_factory.mktemp("audit")
    page = result.write(out)
    return result, page, out


def _expected(result, m: str, key: str):
    """(value, level) of one cell, recomputed from the raw results by the rule the scorecard prints."""
    zf = ZERO_FILLED
    if key == "accuracy":
        per = next(iter(result.accuracy.metrics.values()))
        below = any(p[m]["psnr"] < p[zf]["psnr"] for p in result.accuracy.metrics.values())
        return per[m]["psnr"], "info" if m == zf else ("fail" if below else "pass")
    if key == "worst_case":
        p, z = result.perturbation[m], result.perturbation[zf]
        return p.max_ratio, "info" if m == zf else ("fail" if p.max_ratio / z.max_ratio > UNSTABLE_FACTOR else "pass")
    if key.startswith("threat:"):
        t = result.threats[key.split(":", 1)[1]][m]
        e = float(torch.linalg.vector_norm(t.worst.e)) / t.x_norm
        rise = t.worst.relative_error - t.unperturbed
        return t.worst.relative_error, "info" if m == zf else ("fail" if rise > UNSTABLE_FACTOR * e else "pass")
    if key.startswith("invented"):
        atts = result.kspace_hallucination_attack if key == "invented:kspace" else result.hallucination_attack
        a, z = atts[m].best, atts[zf].best
        bad = a.contrast > UNSTABLE_FACTOR * z.contrast and a.contrast > a.input_contrast
        return a.contrast, "info" if m == zf else ("fail" if bad else "pass")
    if key == "in_data":
        v = result.faithfulness[m].verdict
        return v, {"supported by the data": "pass", "not determined by the data": "warn"}.get(v, "fail")
    if key == "small_detail":
        sc = result.structural[m]
        return sc.contrast, "pass" if sc.recovered else "fail"
    if key == "more_samples":
        ms = result.more_samples[m]
        return max([d[2] for d in ms.drops], default=0.0), "pass" if ms.stable else "fail"
    if key == "generalisation":
        table = result.generalisation[m].table()
        drop = max(r["psnr_drop"] for r in table if r["psnr_drop"] is not None)
        ref = {(r["images"], r["acquisition"]): r["psnr"] for r in result.generalisation[zf].table()}
        below = any(r["psnr"] < ref[(r["images"], r["acquisition"])] for r in table)
        return drop, "info" if m == zf else ("fail" if below else "pass")
    if key == "positive_control":
        pc = result.positive_control.maps[m]
        if max(pc.bound, pc.bound_difference) <= 1:
            return pc.attack_ratio, "info"
        return pc.attack_ratio, "pass" if pc.attack_ratio >= pc.feasible_ratio * (1 - pc.tol) else "fail"
    raise AssertionError(key)


def test_every_cell_is_the_results_own_judged_by_its_rule(audited):
    result, page, out = audited
    card = result.scorecard()
    assert card.maps == ["Smooth", "FIRENET (reference)", "zero-filled", "U-Net (control)"]
    assert card.measures == ["accuracy", "worst_case", "threat:kspace", "invented", "invented:kspace", "in_data",
                             "small_detail", "more_samples", "generalisation", "positive_control"]
    measured = 0
    for m in card.maps:
        for key in card.measures:
            cell = card.cell(m, key)
            if m == "U-Net (control)" and key != "positive_control" or m == "Smooth" and key == "positive_control":
                assert cell.level == "none"  # not measured on that map
                continue
            value, level = _expected(result, m, key)
            assert cell.value == (pytest.approx(value, rel=1e-12) if isinstance(value, float) else value), (m, key)
            assert cell.level == ("info" if m == ZERO_FILLED else level), (m, key, cell)  # the control: unjudged
            measured += 1
    assert measured == 3 * 9 + 3
    # the page's record is the card's, and every measured cell's text and word are on the page
    record = json.loads((out / "results.json").read_text())["scorecard"]
    page_html = (out / "index.html").read_text()
    assert page_html.index('id="scorecard"') < page_html.index('id="s0"')
    for row in record["rows"]:
        for key, cell in zip(record["measures"], row["cells"], strict=True):
            mine = card.cell(row["map"], key)
            assert (cell["text"], cell["word"], cell["level"]) == (mine.text, mine.word, mine.level)
            if cell["level"] != "none":
                assert html.escape(mine.text) in page_html and html.escape(mine.word) in page_html
                section = int(cell["href"][2:])  # the cell links to the section showing its measure
                title = json.loads((out / "results.json").read_text())["sections"][section]["title"]
                assert title.split(". ", 1)[1] == TITLES[key], (key, title)
    for rule in RULES:
        assert html.escape(rule) in page_html


def test_sections_open_with_their_answer(audited):
    result, page, out = audited
    sections = json.loads((out / "results.json").read_text())["sections"]
    worst = next(s for s in sections if s["title"].endswith("Worst-case perturbations"))
    v = result.verdicts["Smooth"]
    word = "unstable" if v.unstable else "none found"
    assert worst["lead"].startswith("Does some small perturbation of the image change the output")
    assert f"{word[0].upper()}{word[1:]}" in worst["lead"] or f"; {word}" in worst["lead"]
    assert "Smooth" in worst["lead"] and "zero-filled" not in worst["lead"]  # the control is not judged
    html_text = (out / "index.html").read_text()
    # the lead comes first in its section, before the tables and the explanations
    at = html_text.index(html.escape(worst["title"]))
    assert html_text.index('<p class="lead">', at) < html_text.index("<table>", at) < html_text.index(
        html.escape(worst["text"][0]), at)


def test_the_terminal_prints_the_scorecard_within_100_columns(audited):
    result, page, out = audited
    lines = page.terminal()
    assert all(len(line) <= 100 for text in lines for line in text.splitlines())
    text = "\n".join(lines)
    card = result.scorecard()
    for m in card.maps:
        assert m in text
    for m in card.maps:
        for key in card.measures:
            if card.cell(m, key).level != "none":
                assert card.cell(m, key).word.split()[0] in text
    # then one line per section, naming the file to open
    sections = json.loads((out / "results.json").read_text())["sections"]
    assert lines[-len(sections):] == [l for l in page.contents]  # noqa: E741
    assert all(f"index.html#s{i}" in line for i, line in enumerate(page.contents))
    record = json.loads((out / "results.json").read_text())["scorecard"]
    for width in (60, 80, 140):
        assert all(len(line) <= width for line in scorecard_text(record, width=width).splitlines())
    with pytest.raises(ValueError, match="width"):
        scorecard_text(record, width=40)


def test_the_threat_rule_never_flags_zero_filling():
    # zero-filling: f(Ax + e) - x = (A^*A x - x) + A^* e, orthogonal parts, so the error to the truth is
    # sqrt(u^2 + ||e||^2) <= u + ||e||: its rise per ||e|| is below 1, in closed form
    x = data.ellipses(32, seed=3).to(torch.float64)
    acq = acquire(x)
    A = acq.operator
    g = torch.Generator().manual_seed(0)
    xn = float(torch.linalg.vector_norm(x))
    u = float(torch.linalg.vector_norm(A.adjoint(A(x)) - x)) / xn
    for scale in (1e-3, 1e-2, 1e-1, 1.0):
        e = torch.randn(acq.y.shape, generator=g, dtype=torch.complex128)
        e = e * scale * float(torch.linalg.vector_norm(A(x))) / float(torch.linalg.vector_norm(e))
        err = float(torch.linalg.vector_norm(A.adjoint(A(x) + e) - x)) / xn
        eps = float(torch.linalg.vector_norm(e)) / xn
        assert err == pytest.approx((u * u + eps * eps) ** 0.5, rel=1e-10)
        gain = threat_gain(err, u, eps)
        assert gain == pytest.approx(((u * u + eps * eps) ** 0.5 - u) / eps, rel=1e-8) and gain <= 1
    assert threat_gain(0.5, 0.2, 0.1) == pytest.approx(3.0) and threat_gain(0.5, 0.2, 0.0) == 0.0


def _row(image: str, maps: dict) -> dict:
    return {"image": image, "page": f"images/{image}/index.html", "maps": maps}


def test_a_datasets_cells_are_the_median_and_the_worst_image():
    ratios = {"a": (3.0, 1.0), "b": (1.5, 1.0), "c": (9.0, 1.0), "d": (2.5, 1.25)}
    psnr = {"a": 30.0, "b": 20.0, "c": 25.0, "d": 28.0}
    rows = []
    for name, (r, z) in ratios.items():
        rows.append(_row(name, {
            "net": {"psnr": psnr[name], "worst_ratio": r, "contrast": 0.3, "truth_contrast": 0.1,
                    "faithfulness": "contradicted by the data" if name == "b" else "not determined by the data",
                    "converged": name != "d"},
            ZERO_FILLED: {"psnr": 22.0, "worst_ratio": z, "contrast": 0.1, "truth_contrast": 0.1,
                          "faithfulness": "supported by the data", "converged": True}}))
    res = SimpleNamespace(rows=rows, labels=["net", ZERO_FILLED], control=None)
    card = dataset_scorecard(res)
    assert card.maps == ["net", ZERO_FILLED] and card.measures == ["accuracy", "worst_case", "invented", "in_data"]
    acc = card.cell("net", "accuracy")
    assert acc.value == 20.0 and acc.worst == "b" and acc.worst_page == "images/b/index.html"
    assert f"median {statistics.median(psnr.values()):.2f}" in acc.text and acc.level == "fail"  # b below 22 dB
    wc = card.cell("net", "worst_case")
    assert wc.value == 9.0 and wc.worst == "c" and f"median {statistics.median([3.0, 1.5, 9.0, 2.5]):.3g}" in wc.text
    # unstable where the ratio exceeds twice zero-filling's on the same image: a (3 > 2), c (9 > 2); not b (1.5),
    # d (2.5 / 1.25 = 2, not above 2)
    assert wc.word == "unstable on 2 of 4" and wc.level == "fail" and wc.converged is False
    inv = card.cell("net", "invented")
    assert inv.word == "invents on 4 of 4" and inv.level == "fail"  # 0.3 > 2 x 0.1 and > the truth's 0.1
    faith = card.cell("net", "in_data")
    assert faith.value == 1 and faith.worst == "b" and faith.level == "fail"
    assert faith.text == "not determined 3, contradicted 1 of 4"
    assert card.cell(ZERO_FILLED, "worst_case").word == "control"
    assert card.cell(ZERO_FILLED, "in_data").word == "supported on 4"


def test_one_images_row_judges_as_its_audit(audited):
    # a dataset of one image: the dataset scorecard, built from the image's row alone, gives every
    # measure the audit's value, level and convergence (an independent path: the rows are plain numbers)
    result, _, _ = audited
    row = {**result.rows()[0], "page": "images/00000-image/index.html"}
    card = result.scorecard()
    labels = [m for m in card.maps if m in row["maps"]]
    one = dataset_scorecard(SimpleNamespace(rows=[json.loads(json.dumps(row))], labels=labels, control=None))
    assert one.measures == [k for k in card.measures if k != "positive_control"]
    for m in labels:
        for key in one.measures:
            mine, theirs = one.cell(m, key), card.cell(m, key)
            assert mine.level == theirs.level, (m, key, mine, theirs)
            if key != "in_data":
                assert mine.value == pytest.approx(theirs.value, rel=1e-12), (m, key)
                assert f"{'1 of 1' if mine.level == 'fail' else '1'}" in mine.word or mine.word == "control"
            else:
                assert mine.word.startswith(theirs.word)
            assert mine.converged == theirs.converged, (m, key)
            assert mine.worst == "image" and mine.worst_page == row["page"]


def test_a_datasets_every_threat_search_and_stage():
    nan = float("nan")

    def net(name, *, coil, conv_coil, gen_below, detail, stable):
        return {"psnr": 30.0, "threats": {"kspace": {"error": 0.10, "noise_error": 0.05, "unperturbed": 0.05,
                                                     "e_over_x": 0.05},
                                          "coil": {"error": coil[0], "noise_error": 0.05, "unperturbed": coil[1],
                                                   "e_over_x": 0.02}},
                "kspace_contrast": 0.5, "kspace_truth_contrast": 0.05, "converged": conv_coil,
                "converged_by": {"threat:kspace": True, "threat:coil": conv_coil, "invented:kspace": True},
                "detail_contrast": detail, "detail_recovered": detail >= 0.5, "samples_loss": 0.0 if stable else 1.5,
                "samples_stable": stable, "generalisation_drop": 2.0, "generalisation_below": gen_below}

    zf = {"psnr": 25.0, "threats": {"kspace": {"error": 0.1, "noise_error": 0.1, "unperturbed": 0.09,
                                               "e_over_x": 0.05},
                                    "coil": {"error": 0.1, "noise_error": 0.1, "unperturbed": 0.09, "e_over_x": 0.02}},
          "kspace_contrast": 0.1, "kspace_truth_contrast": 0.05, "detail_contrast": 0.2, "detail_recovered": False,
          "samples_loss": 0.0, "samples_stable": True, "generalisation_drop": 0.5}
    rows = [_row("a", {"net": net("a", coil=(0.40, 0.10), conv_coil=True, gen_below=0, detail=0.8, stable=True),
                       ZERO_FILLED: zf}),  # coil: error 0.40, rise 0.30 / 0.02 = 15 ||e||
            _row("b", {"net": net("b", coil=(0.50, 0.45), conv_coil=False, gen_below=2, detail=0.3, stable=False),
                       ZERO_FILLED: zf}),  # coil: the largest error, rise only 2.5 ||e||
            _row("c", {"net": net("c", coil=(nan, 0.1), conv_coil=True, gen_below=0, detail=0.9, stable=True),
                       ZERO_FILLED: zf})]
    card = dataset_scorecard(SimpleNamespace(rows=rows, labels=["net", ZERO_FILLED], control=None))
    assert card.measures == ["accuracy", "threat:kspace", "threat:coil", "invented:kspace", "small_detail",
                             "more_samples", "generalisation"]
    # one column per threat; the k-space one: rise (0.10 - 0.05) / 0.05 = 1 ||e|| on every image
    k = card.cell("net", "threat:kspace")
    assert k.word == "not amplified on 3" and k.level == "pass" and k.converged is True
    # a NaN on one image fails the cell, whatever the others say, and names that image
    coil = card.cell("net", "threat:coil")
    assert coil.word == "not finite on 1" and coil.level == "fail" and coil.worst == "c" and coil.converged is False
    rows[2]["maps"]["net"]["threats"]["coil"]["error"] = 0.2  # rise 0.1 / 0.02 = 5
    card = dataset_scorecard(SimpleNamespace(rows=rows, labels=["net", ZERO_FILLED], control=None))
    coil = card.cell("net", "threat:coil")
    # the worst image is the largest rise (a: 15), not the largest error (b: 0.50); b's rise 2.5 > 2 counts too
    assert coil.worst == "a" and coil.value == 0.40 and coil.word == "amplified on 3 of 3" and coil.level == "fail"
    assert "rise 15 ||e||" in coil.text and coil.converged is False and "not converged" in coil.text  # b's search
    assert card.cell(ZERO_FILLED, "threat:coil").word == "control"
    inv = card.cell("net", "invented:kspace")
    assert inv.word == "invents on 3 of 3" and inv.level == "fail" and inv.converged is True  # 0.5 > 2 x 0.1
    detail = card.cell("net", "small_detail")
    assert detail.word == "lost on 1 of 3" and detail.worst == "b" and detail.value == 0.3 and detail.level == "fail"
    more = card.cell("net", "more_samples")
    assert more.word == "loses PSNR on 1 of 3" and more.worst == "b" and more.value == 1.5
    gen = card.cell("net", "generalisation")
    assert gen.word == "below zero-filling on 1 of 3" and gen.level == "fail"
    # zero-filling: the control where the rule compares with it, else its own words, never judged
    assert card.cell(ZERO_FILLED, "generalisation").word == "control"
    assert (card.cell(ZERO_FILLED, "small_detail").word, card.cell(ZERO_FILLED, "small_detail").level) == \
        ("lost on 3 of 3", "info")
    # a NaN in zero-filling's PSNR leaves that image unjudged rather than passed
    rows[0]["maps"][ZERO_FILLED] = {**zf, "psnr": nan}
    acc = dataset_scorecard(SimpleNamespace(rows=rows, labels=["net", ZERO_FILLED], control=None)).cell("net",
                                                                                                      "accuracy")
    assert acc.word == "above zero-filling on 2" and acc.level == "pass"


def test_a_nan_fails_a_cell_on_one_image():
    from firenets.experiments.scorecard import battery_scorecard
    from firenets.experiments.stages import BatteryResult

    nan = float("nan")
    metrics = {"img": {"net": {"psnr": nan, "ssim": nan, "nmse": nan},
                       ZERO_FILLED: {"psnr": 20.0, "ssim": 0.5, "nmse": 0.1}}}
    sweep = SimpleNamespace(results=({"rate": 0.2, "psnr": 25.0}, {"rate": 0.3, "psnr": nan}), drops=(), stable=True)
    bat = BatteryResult({"maps": ["net"], "attacked_image": "img"}, accuracy=SimpleNamespace(metrics=metrics),
                        more_samples={"net": sweep})
    card = battery_scorecard(bat)
    for key in ("accuracy", "more_samples"):  # a NaN compares False with everything: it must not read as a pass
        assert (card.cell("net", key).word, card.cell("net", key).level) == ("not finite", "fail"), key
    assert card.cell(ZERO_FILLED, "accuracy").level == "info"
    # the dataset row of the same results, and its scorecard, say the same
    from firenets.experiments.stages import image_row

    bat.settings["stages"] = []
    row = {**image_row(bat), "page": None}
    assert row["maps"]["net"]["samples_loss"] != row["maps"]["net"]["samples_loss"]  # NaN, not 0
    one = dataset_scorecard(SimpleNamespace(rows=[row], labels=["net", ZERO_FILLED], control=None))
    for key in ("accuracy", "more_samples"):
        assert (one.cell("net", key).word, one.cell("net", key).level) == ("not finite on 1", "fail"), key
    # zero-filling's NaN: nothing to compare with, not a pass
    metrics["img"][ZERO_FILLED]["psnr"] = nan
    metrics["img"]["net"]["psnr"] = 30.0
    bat.more_samples = None
    assert battery_scorecard(bat).cell("net", "accuracy").word == "no control"


def test_rows_of_an_earlier_version_beside_new_ones():
    # a resumed run may hold rows written before the rows kept every threat: each row is read as it is
    old = _row("old", {"net": {"kspace_error": 0.9, "kspace_unperturbed": 0.1, "kspace_e_over_x": 0.01,
                               "kspace_threat": "kspace", "converged": False, "faithfulness": "supported by the data"},
                       ZERO_FILLED: {"kspace_error": 0.2}})
    new = _row("new", {"net": {"threats": {"kspace": {"error": 0.2, "unperturbed": 0.1, "e_over_x": 0.05}},
                               "kspace_error": 0.2, "converged_by": {"threat:kspace": True},
                               "truth_contrast": float("nan"), "contrast": 0.3},
                       ZERO_FILLED: {"contrast": 0.1}})
    card = dataset_scorecard(SimpleNamespace(rows=[old, new], labels=["net", ZERO_FILLED], control=None))
    t = card.cell("net", "threat:kspace")
    # the old row's rise is (0.9 - 0.1) / 0.01 = 80 ||e||: it is judged, and it is the worst
    assert t.word == "amplified on 1 of 2" and t.worst == "old" and t.converged is False
    # the old row's flag is its attacks', not the region bounds' solves: not reported for them
    assert card.cell("net", "in_data").converged is None
    # a NaN in the truth's own change fails the targeted attack's cell
    assert card.cell("net", "invented").word == "not finite on 1"
    # without any rise to rank by, the worst image is the largest error
    for r in (old, new):
        r["maps"]["net"].pop("threats", None)
        r["maps"]["net"].pop("kspace_unperturbed", None)
    plain = dataset_scorecard(SimpleNamespace(rows=[old, new], labels=["net", ZERO_FILLED], control=None))
    assert plain.cell("net", "threat:kspace").worst == "old" and plain.cell("net", "threat:kspace").word == \
        "not judged"


def test_a_scorecard_that_fails_costs_its_table_not_the_page(audited, tmp_path, monkeypatch):
    result, _, _ = audited

    def broken():
        raise RuntimeError("no cells")

    monkeypatch.setattr(result, "scorecard", broken)
    page = result.write(tmp_path)
    assert page.failures == {"scorecard": "judging the scorecard: RuntimeError: no cells"}
    html_text = (tmp_path / "index.html").read_text()
    assert 'id="scorecard"' not in html_text and "judging the scorecard: RuntimeError: no cells" in html_text
    assert page.terminal()[:len(page.summary)] == page.summary  # without a scorecard, the summary
