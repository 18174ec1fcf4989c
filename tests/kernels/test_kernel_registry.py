"""The registry in tinyvision.kernels: automatic choice, forcing (call, context manager,
environment variable), status(), last_used(), stale builds, clear errors for what cannot
run, and CuPy left alone for NumPy arrays."""
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from tinyvision import kernels

x = np.zeros((1, 1, 3, 3), np.float32)


class FakeGpuArray:
    """Stands for a CuPy array: all the registry looks at is this interface."""
    __cuda_array_interface__ = {}


def run_python(code, **environment):
    """Run code in a fresh interpreter (the registry reads the environment on import) that
    imports the same tinyvision as this one: same sys.path, and a working directory that
    holds no other copy of the package."""
    path = os.pathsep.join(entry or os.getcwd() for entry in sys.path)
    env = {**os.environ, "PYTHONPATH": path, **environment}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, cwd=os.path.dirname(__file__))


def test_automatic_choice_is_the_first_of_the_preference_table_that_loads(monkeypatch):
    with kernels.use(None):
        first = kernels.CPU_PREFERENCE["im2col"][0]
        assert kernels.get("im2col", x).__name__.endswith(kernels.MODULES[first])
        assert kernels.last_used("im2col") == first
        monkeypatch.setitem(kernels._loaded, ("im2col", first), ImportError("broken build"))
        second = kernels.CPU_PREFERENCE["im2col"][1]
        assert kernels.get("im2col", x).__name__.endswith(kernels.MODULES[second])
        assert kernels.last_used("im2col") == second


@pytest.mark.parametrize("name", ["reference", "cython", "numba"])
def test_use_as_context_manager_forces_and_restores(name):
    with kernels.use("reference"):
        with kernels.use(name):
            module = kernels.get("scatter_add", x)
            assert module.__name__ == f"tinyvision.kernels.scatter_add.{kernels.MODULES[name]}"
            assert kernels.last_used("scatter_add") == name
        kernels.get("scatter_add", x)
        assert kernels.last_used("scatter_add") == "reference"


def test_use_as_a_call_stays_until_changed():
    choice = kernels.use("numba")
    try:
        kernels.get("im2col", x)
        kernels.get("im2col", x)
        assert kernels.last_used("im2col") == "numba"
        kernels.use(None)
        kernels.get("im2col", x)
        assert kernels.last_used("im2col") == next(
            n for n in kernels.CPU_PREFERENCE["im2col"] if kernels.status()["im2col"][n] == "ok")
    finally:
        choice.__exit__(None, None, None)


def test_gpu_arrays_always_go_to_cuda(monkeypatch):
    fake_cuda = types.ModuleType("fake_cuda")
    monkeypatch.setitem(kernels._loaded, ("im2col", "cuda"), fake_cuda)
    with kernels.use("numba"):
        assert kernels.get("im2col", FakeGpuArray()) is fake_cuda
    assert kernels.last_used("im2col") == "cuda"


def test_forcing_an_implementation_that_did_not_load_names_it_and_why(monkeypatch):
    missing = ImportError("No module named 'numba'")
    monkeypatch.setitem(kernels._loaded, ("im2col", "numba"), missing)
    with kernels.use("numba"):
        with pytest.raises(kernels.KernelUnavailableError,
                           match="'numba' implementation of 'im2col' is not available: "
                                 "ImportError: No module named 'numba'"):
            kernels.get("im2col", x)


def test_status_reports_every_implementation_and_why_not():
    status = kernels.status()
    assert set(status) == set(kernels.CPU_PREFERENCE)
    for op, implementations in status.items():
        assert list(implementations) == list(kernels.MODULES)
        # The build must have worked for the package to count as installed.
        assert implementations["reference"] == implementations["cython"] == "ok"
        assert implementations["numba"] == "ok"
        cuda = implementations["cuda"]
        assert cuda == "ok" or cuda.startswith("ImportError: ")


def test_print_status_prints_one_line_per_implementation(capsys):
    kernels.print_status()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + len(kernels.CPU_PREFERENCE) * len(kernels.MODULES)
    assert sum("<- auto" in line for line in lines) == len(kernels.CPU_PREFERENCE)


def test_a_cython_build_older_than_its_source_counts_as_stale(tmp_path):
    built, source = tmp_path / "_cython.so", tmp_path / "im2col.pyx"
    built.write_text("")
    source.write_text("")
    os.utime(built, (1_000, 1_000))
    with pytest.raises(ImportError, match=r"stale build: .*im2col.pyx.*pip install -e \."):
        kernels._check_cython_build("im2col", types.SimpleNamespace(__file__=str(built)))
    os.utime(built, None)  # rebuilt after the edit: fine
    kernels._check_cython_build("im2col", types.SimpleNamespace(__file__=str(built)))


def test_bad_names_raise_clear_errors():
    with pytest.raises(ValueError, match="expected one of reference, cython, numba, cuda or None"):
        kernels.use("fortran")
    with pytest.raises(ValueError, match="unknown op 'conv9d'"):
        kernels.get("conv9d", x)


def test_environment_variable_sets_the_choice():
    code = ("import numpy as np; from tinyvision import kernels; "
            "kernels.get('im2col', np.zeros((1, 1, 2, 2))); print(kernels.last_used('im2col'))")
    result = run_python(code, TINYVISION_KERNELS="reference")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "reference"
    result = run_python(code, TINYVISION_KERNELS="nmba")
    assert result.returncode != 0
    expected = "TINYVISION_KERNELS='nmba' is not one of reference, cython, numba, cuda or auto"
    assert expected in result.stderr


def test_cupy_is_never_imported_for_numpy_arrays():
    code = ("import sys, numpy as np; from tinyvision import kernels; kernels.status(); "
            "x = np.ones((1, 1, 3, 3)); "
            "kernels.get('im2col', x).im2col(x, 2, 2, 1, 1, 0, 0, 1, 1); "
            "print('cupy' in sys.modules)")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
