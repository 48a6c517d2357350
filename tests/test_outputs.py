"""The output protocol of every command (``_io.run_directory``): a run's files appear only when it
completes, an interrupted or failed run leaves nothing that claims to be complete, a second run into
the same ``--out`` is refused while one runs, a non-empty ``--out`` needs ``--force``, and links
inside ``--out`` are never written through."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firenets._io import OutputError, run_directory
from firenets.cli import main


def _partials(out: Path) -> list[Path]:
    return list(out.absolute().parent.glob(f".{out.name}.partial-*"))


def test_a_completed_run_appears_at_once_and_leaves_nothing_else(tmp_path):
    out = tmp_path / "run"
    with run_directory(out, force=False, markers=("done.json",)) as staging:
        assert not out.exists() and staging.parent == tmp_path
        (staging / "a.npy").write_text("a")
        (staging / "sub").mkdir()
        (staging / "sub" / "b.txt").write_text("b")
        (staging / "done.json").write_text("{}")
    assert sorted(p.name for p in out.rglob("*")) == ["a.npy", "b.txt", "done.json", "sub"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no lock, no staging left


def test_a_failed_or_interrupted_run_leaves_no_marker(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "done.json").write_text('{"old": true}')
    (out / "a.npy").write_text("old")
    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)), run_directory(out, force=True, markers=("done.json",)) as staging:
            # the previous run's marker is gone before this run writes anything
            assert not (out / "done.json").exists()
            (staging / "done.json").write_text("{}")
            raise exc
        assert not (out / "done.json").exists() and (out / "a.npy").read_text() == "old"
        assert _partials(out) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_force_replaces_files_and_writes_the_marker_last(tmp_path, monkeypatch):
    out = tmp_path / "run"
    out.mkdir()
    (out / "a.npy").write_text("old")
    (out / "keep.txt").write_text("mine")
    moved = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (moved.append(Path(b).name), real(a, b))[1])
    with run_directory(out, force=True, markers=("done.json",)) as staging:
        for name in ("done.json", "a.npy", "z.png"):
            (staging / name).write_text("new")
    assert moved[-1] == "done.json" and set(moved) == {"done.json", "a.npy", "z.png"}
    assert (out / "a.npy").read_text() == "new" and (out / "keep.txt").read_text() == "mine"


def test_refusals(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "other.txt").write_text("x")
    with pytest.raises(OutputError, match="holds other files; use --force"):
        with run_directory(out, force=False, markers=()):
            pass
    with pytest.raises(OutputError, match="must not be empty"):
        with run_directory("", force=True, markers=()):
            pass
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is not a directory"):
        with run_directory(tmp_path / "file", force=True, markers=()):
            pass
    # a second run into the same place while the first holds it
    with run_directory(out, force=True, markers=()) as _:
        with pytest.raises(OutputError, match=f"another firenets run \\(pid {os.getpid()}\\)") as err:
            with run_directory(out, force=True, markers=()):
                pass
        assert err.value.usage is False


def test_links_inside_out_are_never_written_through(tmp_path):
    out, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    victim = elsewhere / "victim.json"
    victim.write_text("precious")
    (out / "done.json").symlink_to(victim)
    (out / "table").symlink_to(elsewhere, target_is_directory=True)
    with run_directory(out, force=True, markers=("done.json",)) as staging:
        (staging / "done.json").write_text("new")
    # the marker link was removed (not its target), and the new marker is a file in out
    assert victim.read_text() == "precious" and not (out / "done.json").is_symlink()
    assert (out / "done.json").read_text() == "new"
    with pytest.raises(OutputError, match="is a symbolic link"):
        with run_directory(out, force=True, markers=("done.json",)) as staging:
            (staging / "table").mkdir()
            (staging / "table" / "victim.json").write_text("overwritten")
    assert victim.read_text() == "precious"


def test_a_lock_left_by_a_dead_run_is_taken_over_and_reported(tmp_path):
    out = tmp_path / "run"
    code = ("import os, sys; from firenets._io import Lock; "
            f"Lock({str(tmp_path / '.run.firenets-lock')!r}, what='x'); "
            f"os.makedirs({str(tmp_path / '.run.partial-dead')!r}); os.kill(os.getpid(), 9)")
    proc = subprocess.Popen([sys.executable, "-c", code])
    assert proc.wait(timeout=60) == -signal.SIGKILL
    said = []
    with run_directory(out, force=False, markers=(), warn=said.append) as staging:
        (staging / "a").write_text("a")
    assert said == [f"--out {out}: an earlier run (pid {proc.pid}) into it was interrupted; its lock is taken over"]
    assert _partials(out) == [] and (out / "a").read_text() == "a"
    assert not (tmp_path / ".run.firenets-lock").exists()


def _firenets(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    # a shell starts background jobs with SIGINT ignored, and children inherit that: give the run the
    # default disposition, so that Python turns SIGINT into KeyboardInterrupt as it does in a terminal
    return subprocess.Popen([sys.executable, "-m", "firenets", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_lock(out: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    lock = out.absolute().parent / f".{out.name}.firenets-lock"
    t0 = time.monotonic()
    while not (lock.exists() and lock.read_text().strip()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout
        time.sleep(0.1)


def test_cli_interrupted_killed_and_concurrent_runs(tmp_path):
    out = tmp_path / "demo"
    out.mkdir()
    # an earlier, complete run's files
    for name in ("index.html", "results.json", "figure.json"):
        (out / name).write_text("{}")
    proc = _firenets("demo", "--out", str(out), "--force", "--no-progress")
    _wait_for_lock(out, proc)
    # a second run into the same --out is refused while the first runs
    assert main(["reconstruct", "shepp-logan", "--method", "zero-filled", "--out", str(out), "--force"]) == 1
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    # 130, or death by SIGINT, which is what Python itself ends with when the interrupt reaches its top
    # level while it finalises (a shell reports both as exit status 130)
    assert proc.returncode in (130, -signal.SIGINT), err
    assert "Traceback" not in err and "interrupted" in err.splitlines()[-1]
    # nothing claims completion: the old markers were removed first; nothing of the run is left over
    assert not (out / "index.html").exists() and not (out / "results.json").exists()
    assert (out / "figure.json").exists() and _partials(out) == []
    assert not (tmp_path / ".demo.firenets-lock").exists()
    # killed outright: the staging directory and the lock stay behind, but claim nothing; the next run
    # reports the dead run, cleans up, and completes
    proc = _firenets("demo", "--out", str(out), "--force", "--no-progress")
    _wait_for_lock(out, proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert not (out / "index.html").exists()
    rec = _firenets("reconstruct", "shepp-logan", "--method", "zero-filled", "--out", str(out), "--force")
    _, err = rec.communicate(timeout=300)
    assert rec.returncode == 0, err
    assert f"an earlier run (pid {proc.pid})" in err
    assert json.loads((out / "metrics.json").read_text())["method"] == "zero-filled"
    assert _partials(out) == [] and not (tmp_path / ".demo.firenets-lock").exists()


@pytest.mark.parametrize("command", [
    ["table", "--quick", "--K", "1", "--n", "10"],
    ["reconstruct", "shepp-logan", "--method", "zero-filled"],
    ["attack", "shepp-logan", "--method", "zero-filled"],
    ["demo"],
    ["audit", "--model", "x:y"],
])
def test_every_command_refuses_a_non_empty_out_without_force(tmp_path, capsys, command):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("x")
    assert main([*command, "--out", str(out)]) == 2
    assert "use --force" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]
    with pytest.raises(SystemExit) as exc:
        main([*command, "--out", ""])
    assert exc.value.code == 2


@pytest.mark.parametrize("command, target, markers", [
    (["table", "--quick", "--K", "1", "--n", "10"], ("firenets.barriers.table", "run"), ["run.json", "table.json"]),
    (["reconstruct", "shepp-logan"], ("firenets.cli.reconstruct", "reconstruct"), ["metrics.json"]),
    (["attack", "shepp-logan", "--method", "zero-filled"], ("firenets.cli.attack", "attack"), ["attack.json"]),
    (["demo"], ("firenets.cli.demo", "demo"), ["index.html", "results.json"]),
    (["audit", "--model", "x:y"], ("firenets.cli.audit", "load_model"), ["index.html", "results.json"]),
])
def test_every_command_interrupted_leaves_no_completion_marker(tmp_path, monkeypatch, capsys, command, target, markers):
    import importlib

    out = tmp_path / "out"
    out.mkdir()
    for name in markers + ["figure.png"]:
        (out / name).write_text("from an earlier run")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module(target[0]), target[1], interrupted)
    assert main([*command, "--out", str(out), "--force"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines()[-1].endswith("nothing of this run claims to be complete")
    assert sorted(p.name for p in out.iterdir()) == ["figure.png"]  # markers removed first, nothing half-written
    assert _partials(out) == [] and not (tmp_path / ".out.firenets-lock").exists()
