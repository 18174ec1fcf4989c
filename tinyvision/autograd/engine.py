"""Reverse-mode differentiation: one topological sort, one reversed loop.

Every op's output keeps its backward node (``grad_fn``, a ``Context``) and the node keeps its
input Tensors. ``run_backward`` orders the nodes so that each runs after every node that
consumes its outputs, then walks them from the loss down, calling each Function's
``backward`` with the summed upstream gradient ``gy`` and handing the returned ``gx`` to the
inputs: into ``.grad`` for leaves (Parameters, user tensors), into the pending sums for
interior nodes. Once a node has run its saved arrays are released, unless ``retain_graph``.
"""
import numpy as np


def _topological_order(root):
    """Nodes reachable from ``root``, each listed after all nodes that feed it (iterative DFS).

    NOTE: a node is marked when it is expanded, not when it is pushed: marking on push lets a
    node shared by two paths (a diamond, a residual) be listed before a consumer reached
    later, and its backward would then run before all its gradient had arrived.
    """
    order, expanded = [], set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if node in expanded:
            continue
        expanded.add(node)
        if getattr(node, "released", False):
            raise RuntimeError(
                f"backward: the graph through {node.fn.__name__} was already freed by an earlier "
                "backward(); call backward(retain_graph=True) the first time to go through it twice")
        stack.append((node, True))
        for t in node.inputs:
            child = t.grad_fn if t is not None else None
            if child is not None and child not in expanded:
                stack.append((child, False))
    return order  # leaves-side first; the loss's node last


def _accumulate_leaf(t, g):
    if g.shape != t.data.shape:
        raise RuntimeError(f"backward: gradient of shape {g.shape} for a leaf of shape {t.data.shape}")
    if t.grad is None:
        # Own a copy: backward functions may hand the same array to several inputs.
        t.grad = np.array(g, dtype=t.data.dtype, copy=True)
    else:
        t.grad += g


def run_backward(tensor, gy, retain_graph=False):
    """Accumulate d(tensor)/d(leaf) · gy into ``.grad`` of every leaf that requires grad."""
    root = tensor.grad_fn
    if root is None:  # a leaf: its gradient is gy itself
        _accumulate_leaf(tensor, gy)
        return
    pending = {root: _empty_slots(root)}
    pending[root][tensor._output_index] = gy

    for node in reversed(_topological_order(root)):
        gys = pending.pop(node, None)
        if gys is None:
            continue
        gys = _materialize(node, gys)
        for index, ref in getattr(node, "retained", {}).items():
            kept = ref()
            if kept is not None:
                kept.grad = gys[index].copy() if kept.grad is None else kept.grad + gys[index]

        gxs = node.fn.backward(node, *gys)
        if not isinstance(gxs, tuple):
            gxs = (gxs,)
        if len(gxs) != len(node.inputs):
            raise RuntimeError(f"{node.fn.__name__}.backward returned {len(gxs)} gradients "
                               f"for {len(node.inputs)} inputs")
        for t, g in zip(node.inputs, gxs):
            if t is None or g is None:
                continue
            if t.grad_fn is None:
                _accumulate_leaf(t, g)
                continue
            slots = pending.get(t.grad_fn)
            if slots is None:
                slots = pending[t.grad_fn] = _empty_slots(t.grad_fn)
            i = t._output_index
            slots[i] = g if slots[i] is None else slots[i] + g
        if not retain_graph:
            node.release()


def _empty_slots(node):
    return [None] * len(getattr(node, "output_meta", (None,)))


def _materialize(node, gys):
    if all(g is not None for g in gys):
        return gys
    return [np.zeros(shape, dtype) if g is None else g
            for g, (shape, dtype) in zip(gys, node.output_meta)]
