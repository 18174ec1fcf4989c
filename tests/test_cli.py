"""The ``tinyvision`` command: help everywhere, one-line errors, train/eval round trip."""
import subprocess
import sys

import pytest

from tinyvision import cli


def run(*args):
    return subprocess.run([sys.executable, "-m", "tinyvision", *args], capture_output=True,
                          text=True, timeout=600)


@pytest.mark.parametrize("args", [[], ["train"], ["eval"], ["demo"], ["bench"], ["kernels"]])
def test_help_everywhere(args):
    res = run(*args, "--help")
    assert res.returncode == 0 and "usage: tinyvision" in res.stdout


@pytest.mark.parametrize("args,needle", [
    (["train", "nosuchnet", "--data", "digits"], "invalid choice"),
    (["train", "lenet5"], "--data"),
    (["train", "lenet5", "--data", "digits", "--epochs", "0"], "must be positive"),
    (["train", "lenet5", "--data", "digits", "--lr", "fast"], "expected a float"),
    (["demo", "mnist"], "invalid choice"),
    (["demo", "--out"], "expected one argument"),
])
def test_wrong_arguments_give_a_one_line_error(args, needle):
    res = run(*args)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert needle in res.stderr.strip().splitlines()[-1]


def test_eval_of_a_missing_or_bad_file_is_one_line(tmp_path, capsys):
    assert cli.main(["eval", str(tmp_path / "nope.npz")]) == 1
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    assert cli.main(["eval", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("tinyvision: error:") and len(err.splitlines()) == 1


def test_train_then_eval_round_trip(tmp_path, capsys):
    pytest.importorskip("sklearn", reason="digits() needs scikit-learn (the test extra has it)")
    assert cli.main(["train", "lenet5", "--data", "digits", "--epochs", "1",
                     "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out
    checkpoint = tmp_path / "lenet5-digits.npz"
    assert checkpoint.exists()
    assert (tmp_path / "lenet5-digits-predictions.png").exists()
    assert cli.main(["eval", str(checkpoint)]) == 0
    trained = float(out.split("test accuracy ")[1].split("%")[0])
    evaluated = float(capsys.readouterr().out.split("accuracy ")[1].split("%")[0])
    assert evaluated == pytest.approx(trained, abs=0.01)
