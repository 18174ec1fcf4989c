"""``gradcheck``: prove a backward against central differences, in float64.

For a function f with inputs x_1..x_k and a random projection v of its outputs, the scalar
s(x) = Σ v ⊙ f(x) has the analytic gradient ∂s/∂x_i = J_iᵀ v, one backward pass. Each
element j of x_i is then checked against the central difference

    (s(x + ε e_j) − s(x − ε e_j)) / 2ε  =  ∂s/∂x_ij + O(ε²).

A random v tests every row of the Jacobian at once (a wrong row changes J_iᵀ v with
probability 1). For big inputs, checking each element costs two forward passes per element;
``directional`` instead checks a few random directions u (Chainer's check_backward):
(s(x + εu) − s(x − εu)) / 2ε against ⟨∂s/∂x, u⟩.
"""
import numpy as np

from .autograd import grad_mode
from .tensor import Tensor


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the numeric one."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, directional=None, n_directions=3,
              seed=0):
    """Check ``fn``'s gradients at ``inputs``; return True or raise ``GradcheckError``.

    Parameters
    ----------
    fn : callable taking the inputs (Tensors) and returning a Tensor or a tuple of Tensors.
    inputs : sequence of Tensors (those with requires_grad=True are checked; they must be
        float64) and other arguments passed as they are. A float64 ndarray becomes a Tensor
        that requires grad.
    directional : None (auto: per element up to 1,000 elements per input, random directions
        above), True or False.
    """
    inputs = [Tensor(x, requires_grad=True) if isinstance(x, np.ndarray) and x.dtype == np.float64
              else x for x in (inputs if isinstance(inputs, (tuple, list)) else (inputs,))]
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad; pass float64 Tensors with "
                         "requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; use float64 "
                             "(central differences in float32 are too noisy)")
    rng = np.random.default_rng(seed)

    # Analytic: one backward of s = Σ v ⊙ f(x).
    for i in checked:
        inputs[i].grad = None
    outs = _outputs(fn, inputs)
    if not outs:
        raise ValueError("gradcheck: fn returned no floating-point Tensor")
    vs = [rng.standard_normal(o.shape) for o in outs]
    s = sum((o * v).sum() for o, v in zip(outs, vs) if o.requires_grad)
    if isinstance(s, Tensor) and s.requires_grad:
        s.backward()
    analytic = {i: (inputs[i].grad if inputs[i].grad is not None
                    else np.zeros(inputs[i].shape)) for i in checked}

    def projected():
        with grad_mode.no_grad():
            return float(sum((o.data * v).sum() for o, v in zip(_outputs(fn, inputs), vs)))

    for i in checked:
        x = inputs[i].data
        use_directions = directional if directional is not None else x.size > 1000
        if use_directions:
            for k in range(n_directions):
                u = rng.standard_normal(x.shape)
                orig = x.copy()
                x += eps * u
                plus = projected()
                x[...] = orig - eps * u
                minus = projected()
                x[...] = orig
                numeric = (plus - minus) / (2 * eps)
                exact = float((analytic[i] * u).sum())
                if not np.isclose(exact, numeric, rtol=rtol, atol=atol):
                    raise GradcheckError(
                        f"gradcheck: input {i}, random direction {k}: analytic {exact:.8g}, "
                        f"numeric {numeric:.8g} (atol {atol}, rtol {rtol})")
            continue
        flat = x.reshape(-1)  # a view: writing it perturbs the input in place
        if x.size and not np.shares_memory(flat, x):  # (an empty input has nothing to check)
            raise ValueError(f"gradcheck: input {i} must be a contiguous array")
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            plus = projected()
            flat[j] = old - eps
            minus = projected()
            flat[j] = old
            numeric = (plus - minus) / (2 * eps)
            exact = analytic[i].reshape(-1)[j]
            if not np.isclose(exact, numeric, rtol=rtol, atol=atol):
                index = np.unravel_index(j, x.shape)
                raise GradcheckError(
                    f"gradcheck: input {i}, element {tuple(int(k) for k in index)}: analytic "
                    f"{exact:.8g}, numeric {numeric:.8g} (atol {atol}, rtol {rtol})")
    return True


# ---- kernel parity: CUDA kernels on Numba's simulator ---------------------------------------
SIMULATOR_UNAVAILABLE = 77  # exit status of run_on_cuda_simulator when the simulator cannot run

_SIMULATOR_PROBE = '''
import sys
import numpy as np
try:
    from numba import cuda
    cuda.jit(lambda a: None)[1, 1](np.zeros(1))
except Exception as error:
    print(f"Numba's CUDA simulator cannot run: {type(error).__name__}: {error}")
    sys.exit(%d)
''' % SIMULATOR_UNAVAILABLE


def run_on_cuda_simulator(script, timeout=300):
    """Run ``script`` (Python source) in a fresh interpreter on Numba's CUDA simulator.

    The simulator must be switched on (NUMBA_ENABLE_CUDASIM=1) before Numba is imported, hence
    a new process; it gets this interpreter's sys.path and a neutral working directory, so it
    imports the same tinyvision. Returns the ``subprocess.CompletedProcess``; its returncode is
    ``SIMULATOR_UNAVAILABLE`` when the simulator itself cannot run (the caller skips then).
    """
    import os
    import subprocess
    import sys
    import tempfile
    path = os.pathsep.join(entry or os.getcwd() for entry in sys.path)
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": path}
    return subprocess.run([sys.executable, "-c", _SIMULATOR_PROBE + script], env=env,
                          capture_output=True, text=True, timeout=timeout,
                          cwd=tempfile.gettempdir())
