"""The impossibility table: its claims, its files, its command."""

from __future__ import annotations

import csv
import json
import math

import pytest

from firenets.barriers import omega, table
from firenets.cli import main

FIELDS = ["K", "n", "lista", "firenet", "interior_point", "published_lista", "published_firenet"]


@pytest.fixture(scope="module")
def result():
    # a reduced run (fewer epochs and training vectors); the conclusions are the same
    return table.run(Ks=(1, 3, 6), ns=(10, 30), epochs=20, training_size=2000, progress=False)


def test_claims_hold(result):
    claims = result.claims()
    assert all(claims.values()), claims
    for r in result.rows:
        gap = (omega.instance(r.K, r.n).minimiser - omega.instance(r.K, r.n).inexact_minimiser).norm().item()
        # every method is at least 10^-K away; FIRENET sits at the midpoint of the two minimisers
        assert min(r.lista, r.firenet, r.interior_point) > 10.0**-r.K
        assert r.firenet == pytest.approx(gap / 2, rel=1e-2)
        assert r.firenet < 10.0 ** -(r.K - 1)
        assert r.published_firenet is not None and r.published_lista is not None


def test_published_discrepancy_is_the_misplaced_minimiser(result):
    # the published K = 1, 3 FIRENET numbers measure the midpoint's distance to a misplaced
    # vector, sqrt(3) times its distance to the true minimiser (0.2598 = sqrt(1.5) * 0.2121 and
    # 0.2121 = sqrt(2) * 0.15): our correct distances are about 0.15 and 0.0015
    for r in result.rows:
        if r.K in (1, 3):
            assert r.published_firenet / r.firenet == pytest.approx(math.sqrt(3), rel=1e-2)
        else:
            assert r.published_firenet == pytest.approx(r.firenet, rel=1e-3)
    assert any("misplaced" in n for n in result.notes)
    assert any("yet no algorithm can compute" in n for n in result.notes)


def test_files_written_atomically(result, tmp_path):
    paths = table.write(result, tmp_path / "out")
    assert sorted(p.name for p in paths) == ["run.json", "table.csv", "table.json", "table.md"]
    rows = json.loads((tmp_path / "out" / "table.json").read_text())
    assert [list(r) for r in rows] == [FIELDS] * len(result.rows)
    with open(tmp_path / "out" / "table.csv") as fh:
        assert len(list(csv.DictReader(fh))) == len(result.rows)
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["config"]["epochs"] == 20 and all(run["claims"].values())
    assert "| K | n |" in (tmp_path / "out" / "table.md").read_text()
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]


def test_caption_dimensions_and_bad_values():
    res = table.run(Ks=(1,), ns=(10,), dims="caption", epochs=2, training_size=200, progress=False)
    assert (res.config["m"], res.config["N"]) == (19, 20)
    with pytest.raises(ValueError, match="dims must be one of"):
        table.run(dims="slide")
    with pytest.raises(ValueError, match="K must be >= 1"):
        table.run(Ks=(0,))
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        table.run(Ks=(1,), ns=(10,), epochs=0)


def test_command(tmp_path, capsys):
    out = tmp_path / "t"
    code = main(["table", "--K", "1,6", "--n", "10", "--epochs", "3", "--no-progress", "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "published LISTA" in text and "holds: no method within 10^-K" in text
    assert (out / "table.json").exists()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["table", "--out", str(blocker)]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err
    assert main(["table", "--K", "1", "--n", "10", "--epochs", "0", "--out", str(out), "--force"]) == 2
    assert "epochs must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["table", "--dims", "paper"])
