"""L-BFGS with an optional strong-Wolfe line search, as ``torch.optim.LBFGS``.

All parameters are treated as one flat vector x with gradient g. Each iteration
k of one ``step(closure)``:

    s_{k−1} = x_k − x_{k−1},   y_{k−1} = g_k − g_{k−1},   ρ = 1 / (yᵀs)
    keep (s, y, ρ) for the last ``history_size`` pairs with yᵀs > 1e-10
    γ = sᵀy / yᵀy                                   initial inverse Hessian H₀ = γ·I
    d = −H·g   by the two-loop recursion            (Nocedal & Wright Alg. 7.4)
    x ← x + t·d, with t = lr, or t from the strong-Wolfe line search
                                                    (Nocedal & Wright Alg. 3.5, 3.6)

The very first iteration takes d = −g and t = lr·min(1, 1/‖g‖₁). The
strong-Wolfe conditions on φ(t) = f(x + t·d), with c₁ = 1e-4, c₂ = 0.9, are

    φ(t) ≤ φ(0) + c₁·t·φ'(0)        sufficient decrease (Armijo)
    |φ'(t)| ≤ c₂·|φ'(0)|            curvature

A step stops after ``max_iter`` iterations or ``max_eval`` closure calls, when
max|g| ≤ tolerance_grad, or when the step or the change in loss falls below
tolerance_change. The history is kept between calls of ``step``.

References
----------
- Nocedal & Wright (2006). Numerical Optimization, 2nd ed. Springer.
  Alg. 3.5 (line search), 3.6 (zoom), 7.4 (two-loop recursion), 7.5 (L-BFGS).
- Liu & Nocedal (1989). On the limited memory BFGS method for large scale
  optimization. Mathematical Programming 45.
- Schmidt, minFunc (the MATLAB code PyTorch's version follows); PyTorch
  documentation, ``torch.optim.LBFGS``.
"""
import numpy as np

from .optimizer import Optimizer, call_closure


def _to_float(loss):
    """The closure's loss (a 0-d Tensor, ndarray or number) as a Python float."""
    return float(loss.item()) if hasattr(loss, "item") else float(loss)


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2.

    Nocedal & Wright Eq. (3.59), clipped to ``bounds`` (default: [x1, x2]
    sorted). When the cubic has no minimiser (negative discriminant), return
    the midpoint of the bounds.
    """
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square < 0:
        return (lo + hi) / 2.0
    d2 = np.sqrt(d2_square)
    # Written from the larger of the two points so the formula is the same either way.
    if x1 <= x2:
        x_min = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x_min = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x_min, lo), hi)


def strong_wolfe(phi, f0, g0, gtd0, t, d, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Find t satisfying the strong-Wolfe conditions along direction d.

    Parameters
    ----------
    phi : callable t -> (f, g), the loss and flat gradient at x + t·d
    f0, g0, gtd0 : loss, flat gradient and slope gᵀd at t = 0 (gtd0 < 0)
    t : first trial step
    d : (n,) search direction
    max_ls : at most this many evaluations of phi

    Returns
    -------
    (f, g, t, n_evals) at the accepted step.
    """
    d_norm = np.abs(d).max()
    n_evals = 0

    def evaluate(t):
        nonlocal n_evals
        n_evals += 1
        f, g = phi(t)
        return f, g, g.dot(d)

    def armijo_fails(t, f):  # no sufficient decrease (written as PyTorch does, for NaN)
        return f > f0 + c1 * t * gtd0

    def curvature_ok(gtd):
        return abs(gtd) <= -c2 * gtd0

    # --- Bracketing phase (Nocedal & Wright Alg. 3.5). Grow t until the interval
    # [t_prev, t] must contain a strong-Wolfe point, or t itself is one.
    f, g, gtd = evaluate(t)
    t_prev, f_prev, g_prev, gtd_prev = 0, f0, g0, gtd0
    done = False
    ls_iter = 0
    bracket = None
    while ls_iter < max_ls:
        if armijo_fails(t, f) or (ls_iter > 1 and f >= f_prev):
            bracket = [(t_prev, f_prev, g_prev, gtd_prev), (t, f, g, gtd)]
            break
        if curvature_ok(gtd):
            bracket, done = [(t, f, g, gtd)], True
            break
        if gtd >= 0:  # went past a minimum: it lies in [t_prev, t]
            bracket = [(t_prev, f_prev, g_prev, gtd_prev), (t, f, g, gtd)]
            break
        # Extrapolate: cubic step, kept within [t + 0.01(t − t_prev), 10 t].
        t_next = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f, gtd,
                                   bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f, g, gtd
        t = t_next
        f, g, gtd = evaluate(t)
        ls_iter += 1
    if bracket is None:  # out of evaluations: fall back to [0, t]
        bracket = [(0, f0, g0, None), (t, f, g, None)]

    # --- Zoom phase (Nocedal & Wright Alg. 3.6). Shrink the bracket by cubic
    # interpolation; `low` is the end with the lower loss.
    low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    insufficient_progress = False
    while not done and ls_iter < max_ls:
        (a, f_a, _, gtd_a), (b, f_b, _, gtd_b) = bracket
        if abs(b - a) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(a, f_a, gtd_a, b, f_b, gtd_b)

        # Safeguard: a trial point within 10% of the bracket's ends makes
        # little progress. The first time, accept it; the second time in a row
        # (or when it falls on/outside an end), move it 10% inside.
        lo, hi = min(a, b), max(a, b)
        margin = 0.1 * (hi - lo)
        if min(hi - t, t - lo) < margin:
            if insufficient_progress or t >= hi or t <= lo:
                t = hi - margin if abs(t - hi) < abs(t - lo) else lo + margin
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False

        f, g, gtd = evaluate(t)
        ls_iter += 1
        if armijo_fails(t, f) or f >= bracket[low][1]:
            # t is no better than the low end: it becomes the high end.
            bracket[high] = (t, f, g, gtd)
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if curvature_ok(gtd):
                done = True
            elif gtd * (bracket[high][0] - bracket[low][0]) >= 0:
                # the slope at t points towards the high end: keep [t, old low]
                bracket[high] = bracket[low]
            bracket[low] = (t, f, g, gtd)

    t, f, g, _ = bracket[low]
    return f, g, t, n_evals


class LBFGS(Optimizer):
    """Limited-memory BFGS, as ``torch.optim.LBFGS``. One parameter group only.

    Parameters
    ----------
    params : iterable of Parameters
    lr : float, step length (the initial trial step with a line search) (default 1)
    max_iter : int, iterations per ``step`` (default 20)
    max_eval : int, closure calls per ``step`` (default max_iter·5//4)
    tolerance_grad : float, stop when max|g| ≤ this (default 1e-7)
    tolerance_change : float, stop when a step or loss change is below this (default 1e-9)
    history_size : int, number of (s, y) pairs kept (default 100)
    line_search_fn : None (fixed step t = lr) or ``'strong_wolfe'``

    ``step(closure)`` needs a closure that zeroes the gradients, computes the
    loss, calls ``backward()`` and returns the loss; it is called several times.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        self._params = self.param_groups[0]["params"]

    def _check_options(self, o):
        if not o["lr"] >= 0:
            self._fail("lr", ">= 0", o["lr"])
        for key in ("max_iter", "max_eval", "history_size"):
            if not o[key] >= 1:
                self._fail(key, ">= 1", o[key])
        if o["line_search_fn"] not in (None, "strong_wolfe"):
            self._fail("line_search_fn", "None or 'strong_wolfe'", o["line_search_fn"])

    def add_param_group(self, param_group):
        # All parameters form one vector x; per-group options would have no meaning.
        if self.param_groups:
            raise ValueError("LBFGS: does not support more than one parameter group")
        super().add_param_group(param_group)

    # ---- the parameters seen as one flat vector x
    def _flat_grad(self):
        return np.concatenate([np.zeros(p.data.size, p.data.dtype) if p.grad is None
                               else p.grad.reshape(-1) for p in self._params])

    def _add_to_params(self, t, d):
        """x ← x + t·d, writing into each parameter's array in place."""
        offset = 0
        for p in self._params:
            n = p.data.size
            p.data += t * d[offset:offset + n].reshape(p.data.shape)
            offset += n

    def _evaluate_at(self, closure, x0, t, d):
        """φ(t): loss and flat gradient at x0 + t·d; the parameters are put back to x0."""
        self._add_to_params(t, d)
        loss = _to_float(call_closure(closure))
        g = self._flat_grad()
        for p, p0 in zip(self._params, x0):
            p.data[...] = p0
        return loss, g

    def step(self, closure):
        """Run up to ``max_iter`` L-BFGS iterations; return the loss at the start."""
        if closure is None:
            raise TypeError("LBFGS.step: closure must be a function that re-evaluates "
                            "the loss and its gradients, got None")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]

        # All state is global; it lives under the first parameter, as in PyTorch.
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = call_closure(closure)
        loss = _to_float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if np.abs(g).max() <= tolerance_grad:
            return orig_loss  # already at a stationary point

        # Carried over from the previous call: last direction d and step t, the
        # (y, s, ρ) history (PyTorch's names: old_dirs = y's, old_stps = s's).
        d, t = state.get("d"), state.get("t")
        old_y, old_s, rho = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_g, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # ---- direction d ≈ −H·g
            if state["n_iter"] == 1:
                d = -g
                old_y, old_s, rho, H_diag = [], [], [], 1
            else:
                y = g - prev_g
                s = d * t
                ys = y.dot(s)
                # NOTE: keep a pair only if yᵀs > 0 (well, > 1e-10), else the
                # BFGS update would lose positive definiteness (N&W §6.1).
                if ys > 1e-10:
                    if len(old_y) == history_size:
                        old_y.pop(0), old_s.pop(0), rho.pop(0)
                    old_y.append(y)
                    old_s.append(s)
                    rho.append(1.0 / ys)
                    H_diag = ys / y.dot(y)  # γ = sᵀy / yᵀy, N&W Eq. (7.20)
                d = self._two_loop(-g, old_s, old_y, rho, H_diag)

            prev_g = g.copy()
            prev_loss = loss

            # ---- step length t
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / np.abs(g).sum()) * lr
            else:
                t = lr
            gtd = g.dot(d)  # directional derivative φ'(0)
            if gtd > -tolerance_change:
                break  # not a descent direction (any more)

            ls_evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                x0 = [p.data.copy() for p in self._params]

                def phi(t):
                    return self._evaluate_at(closure, x0, t, d)

                # NOTE: the line search uses its own fixed tolerance (1e-9),
                # not tolerance_change, as PyTorch does.
                loss, g, t, ls_evals = strong_wolfe(phi, loss, g, gtd, t, d,
                                                    max_ls=max_eval - current_evals)
                self._add_to_params(t, d)
                opt_cond = np.abs(g).max() <= tolerance_grad
            else:
                self._add_to_params(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    # Re-evaluate, except after the last iteration (in a
                    # stochastic setting the next step() evaluates anyway).
                    loss = _to_float(call_closure(closure))
                    g = self._flat_grad()
                    opt_cond = np.abs(g).max() <= tolerance_grad
                    ls_evals = 1
            current_evals += ls_evals
            state["func_evals"] += ls_evals

            # ---- stopping tests
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change:
                break  # the step is too small
            if abs(loss - prev_loss) < tolerance_change:
                break  # the loss no longer changes

        state.update(d=d, t=t, old_dirs=old_y, old_stps=old_s, ro=rho, H_diag=H_diag,
                     prev_flat_grad=prev_g, prev_loss=prev_loss)
        return orig_loss

    @staticmethod
    def _two_loop(q, old_s, old_y, rho, H_diag):
        """Return H·q, H the L-BFGS inverse-Hessian estimate (N&W Alg. 7.4).

        With q = −g this is the search direction d = −H·g.
        """
        q = q.copy()
        alpha = [0.0] * len(old_s)
        for i in reversed(range(len(old_s))):  # newest pair first
            alpha[i] = old_s[i].dot(q) * rho[i]
            q -= alpha[i] * old_y[i]
        r = q * H_diag  # H₀·q with H₀ = γ·I
        for i in range(len(old_s)):  # oldest pair first
            beta = old_y[i].dot(r) * rho[i]
            r += (alpha[i] - beta) * old_s[i]
        return r
