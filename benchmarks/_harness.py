"""Shared pieces of the benchmark scripts: a case, a median timer, the PyTorch peer, a table.

A ``Case`` is one op at one shape, with a prepared zero-argument call per implementation
("reference", "cython", "numba", "auto", ... and "torch" for PyTorch when installed). The
scripts time every call the same way and print one row per (case, implementation), with
the ratio to the peer's time measured in the same run: PyTorch's, unless the case names
another run as its ``peer`` (e.g. "opencv" or "pycocotools").
"""
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

try:
    import torch
    torch.set_num_threads(2)
except ImportError:  # the tables then show tinyvision alone
    torch = None


@dataclass
class Case:
    op: str                                   # e.g. "conv2d 3x3 fwd+bwd"
    shape: str                                # e.g. "(32,64,32,32)->64"
    runs: Dict[str, Callable[[], object]]     # implementation -> prepared call
    flops: Optional[float] = None             # floating-point operations of one call
    notes: Dict[str, str] = field(default_factory=dict)
    peer: str = "torch"                       # the run the ratio column divides by


def median_ms(fn, repeats=7, min_seconds=0.05):
    """Median wall time of ``fn()`` in ms, over ``repeats`` samples after one warm-up call.

    Each sample runs ``fn`` enough times to last ``min_seconds`` (fast ops are timed in
    batches so the clock's resolution does not matter)."""
    fn()
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    inner = max(1, int(min_seconds / max(once, 1e-9)))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples) * 1e3


def run_cases(cases, repeats):
    """Time every implementation of every case; returns a list of result rows (dicts)."""
    rows = []
    for case in cases:
        times = {name: median_ms(fn, repeats) for name, fn in case.runs.items()}
        peer = times.get(case.peer)
        for name, ms in times.items():
            rows.append(dict(op=case.op, shape=case.shape, impl=name, ms=ms,
                             gflops=(case.flops / ms / 1e6) if case.flops else None,
                             ratio=(ms / peer) if peer else None, peer=case.peer,
                             note=case.notes.get(name, "")))
    return rows


def print_table(rows, markdown=False):
    torch_only = all(r.get("peer", "torch") == "torch" for r in rows)
    head = ("op", "shape", "implementation", "median ms", "GFLOP/s",
            "vs PyTorch" if torch_only else "vs peer")
    body = [(r["op"], r["shape"], r["impl"], f"{r['ms']:.2f}",
             "" if r["gflops"] is None else f"{r['gflops']:.0f}",
             "" if r["ratio"] is None else
             f"{r['ratio']:.2f}x" + ("" if torch_only else f" {r['peer']}")) for r in rows]
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for line in body:
            print("| " + " | ".join(line) + " |")
        return
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    for line in (head, *body):
        print("  ".join(str(x).ljust(w) if i < 3 else str(x).rjust(w)
                        for i, (x, w) in enumerate(zip(line, widths))))
