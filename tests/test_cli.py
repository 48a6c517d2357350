"""The command line: version, info, and the commands still to come."""

from __future__ import annotations

import subprocess
import sys

import pytest

import firenets
from firenets.cli import main


def test_version_and_info(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert firenets.__version__ in capsys.readouterr().out
    assert main(["info"]) == 0
    assert "torch" in capsys.readouterr().out


def test_pending_commands_fail_clearly(capsys):
    assert main(["demo"]) == 2
    assert "not available" in capsys.readouterr().err


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "firenets", "--help"], capture_output=True, text=True, check=True)
    assert "reconstruct" in out.stdout


def test_import_is_lazy():
    code = "import sys, firenets; print('cvxpy' in sys.modules, 'pywt' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
