"""``Trainer``: the training loop, written once, plainly, for every model of tinyvision.

What ``fit`` does, epoch after epoch (each line is a method or a few lines below):

    for epoch in 1 .. epochs:
        model.train()
        for inputs, targets in train_data:                      # one optimizer step
            losses = {name: 0-d Tensor}                         # loss_fn(model(x), y), or the
            loss = sum(losses.values())                         #   model's own dict of losses
            stop with TrainingDiverged if loss is NaN or inf   # before it reaches the weights
            optimizer.zero_grad(); loss.backward()
            clip the gradients' norm (optional); optimizer.step()
        scheduler.step() (optional, once per epoch)
        model.eval(); with no_grad(): mean loss and metric over val_data
        history[...].append(...); write the checkpoint (optional, atomic)

Two calling conventions, so classifiers and detectors share it:

- ``loss_fn`` given (default ``F.cross_entropy``): ``outputs = model(inputs)`` and
  ``loss_fn(outputs, targets)`` (a 0-d Tensor, or a dict of named ones that are summed).
- ``loss_fn=None``: the model computes its own losses, as torchvision's detectors do in train
  mode: ``model(inputs, targets)`` returns a dict of named 0-d Tensors (or one Tensor).

Every named loss is logged (``train_loss_classifier`` ...) beside their sum (``train_loss``).
Data is any re-iterable of ``(inputs, targets)`` batches: a DataLoader, a list of tuples.

``workers=2`` runs each epoch in two processes that split every batch and sum their
gradients before the step (``train_step`` with a ``data_parallel.Team``): on 2 cores it
trains the detectors 1.3-1.7x faster than one process with two threads.
"""
import contextlib
import math

import numpy as np
from tqdm import tqdm

from .. import functional as F
from ..autograd import no_grad
from ..nn.utils import clip_grad_norm_
from ..serialization import load, save
from ..tensor import Tensor
from . import data_parallel
from .checkpoint import (FORMAT, check_checkpoint, restore_rng_state, rng_state,
                         seed_everything)


class TrainingDiverged(FloatingPointError):
    """The loss (or the gradient norm) became NaN or inf; training stopped before the step.

    Attributes: ``epoch`` and ``step`` (1-based) where it happened and ``history`` up to the
    last finished epoch, so the caller can still plot it.
    """

    def __init__(self, message, epoch, step, history):
        super().__init__(message)
        self.epoch, self.step, self.history = epoch, step, history


def accuracy(outputs, targets):
    """Fraction of rows whose largest logit is the target class: (N, C), (N,) -> float."""
    logits = outputs.data if isinstance(outputs, Tensor) else np.asarray(outputs)
    labels = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
    return float((logits.argmax(axis=1) == labels).mean())


def _batch_size(inputs):
    return inputs.shape[0] if hasattr(inputs, "shape") else len(inputs)


def _as_losses(value, source):
    """A dict {name: 0-d Tensor} from a Tensor (named "loss") or a dict of them."""
    losses = value if isinstance(value, dict) else {"loss": value}
    for name, v in losses.items():
        if not (isinstance(v, Tensor) and v.ndim == 0):
            raise TypeError(f"Trainer: {source} must give a 0-d Tensor or a dict of them, "
                            f"got {name!r}: {type(v).__name__} of shape {getattr(v, 'shape', '')}")
    return losses


class Trainer:
    """Trains ``model`` with ``optimizer``; ``fit`` runs the epochs and returns the history.

    Parameters
    ----------
    model : Module
    optimizer : Optimizer over the model's parameters
    loss_fn : callable (outputs, targets) -> 0-d Tensor or dict of them; default
        ``F.cross_entropy``; None when the model returns its losses (see the module docstring)
    metric_fn : callable (outputs, targets) -> float, averaged over batches weighted by their
        size (its ``__name__`` names it in the history), or None. The default, "auto", is
        ``accuracy`` when ``loss_fn`` is given and None when the model returns its losses (a
        detector's outputs are not logits). With ``loss_fn=None`` it runs in validation only.
    scheduler : optional lr scheduler, stepped once after each epoch
    clip_grad_norm : optional max norm of all gradients together (``clip_grad_norm_``)
    checkpoint : optional path of an ``.npz`` rewritten (atomically) after every epoch
    meta : optional dict saved in each checkpoint (e.g. the model's name and arguments)
    progress : show a tqdm bar per epoch (loss and metric so far)
    workers : processes that share each batch (default 1); more than one runs every epoch
        data-parallel in forked processes, one gradient per step (data_parallel.py)

    Example
    -------
    >>> trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-3), checkpoint="run.npz")
    >>> history = trainer.fit(train_loader, val_loader, epochs=10, seed=0)
    >>> viz.plot_history(history, "curves.png")
    >>> Trainer(model, optimizer, checkpoint="run.npz").fit(..., epochs=20, resume="run.npz")
    """

    def __init__(self, model, optimizer, loss_fn=F.cross_entropy, metric_fn="auto",
                 scheduler=None, clip_grad_norm=None, checkpoint=None, meta=None, progress=True,
                 workers=1):
        if isinstance(metric_fn, str):
            if metric_fn != "auto":
                raise ValueError(f"Trainer: metric_fn must be a function, None or 'auto', "
                                 f"got {metric_fn!r}")
            metric_fn = accuracy if loss_fn is not None else None
        if clip_grad_norm is not None and not clip_grad_norm > 0:
            raise ValueError(f"Trainer: clip_grad_norm must be > 0 or None, got {clip_grad_norm!r}")
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.loss_fn, self.metric_fn = loss_fn, metric_fn
        name = getattr(metric_fn, "__name__", "<")
        self.metric_name = None if metric_fn is None else "metric" if name[0] == "<" else name
        self.clip_grad_norm, self.checkpoint, self.meta = clip_grad_norm, checkpoint, meta
        if not (isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1):
            raise ValueError(f"Trainer: workers must be an int >= 1, got {workers!r}")
        self.progress, self.workers = progress, workers
        self.epoch = 0      # epochs finished
        self.step = 0       # optimizer steps taken
        self.history = {}   # name -> one value per finished epoch
        self._data = (None, None)   # (train_data, val_data) of the current fit: their RNGs

    # ---- the loop ------------------------------------------------------------------------------
    def fit(self, train_data, val_data=None, epochs=1, resume=None, seed=None):
        """Train until ``epochs`` epochs are done in all, counting those of a resumed run.

        ``resume``: a checkpoint path; model, optimizer, scheduler, history and random state
        continue from it exactly (``seed`` is then ignored). ``seed``: reseed the global
        generator and the data's generator first, for a repeatable run. Returns the history;
        leaves the model in eval mode. Raises ``TrainingDiverged`` on a NaN/inf loss.
        """
        if not (isinstance(epochs, int) and epochs > 0):
            raise ValueError(f"Trainer.fit: epochs must be a positive int, got {epochs!r}")
        for name, data in (("train_data", train_data), ("val_data", val_data)):
            if data is not None and iter(data) is data:
                raise TypeError(f"Trainer.fit: {name} is an iterator, which can be read only "
                                f"once; pass a DataLoader, a list or another re-iterable of "
                                f"(inputs, targets) batches")
        self._data = (train_data, val_data)
        if resume is not None:
            self.load_checkpoint(resume)
        elif seed is not None:
            seed_everything(seed, train_data, val_data)
        while self.epoch < epochs:
            epoch = self.epoch + 1
            lr = self.optimizer.param_groups[0]["lr"]               # the lr this epoch uses
            bar = tqdm(total=len(train_data) if hasattr(train_data, "__len__") else None,
                       desc=f"epoch {epoch}/{epochs}", disable=not self.progress, leave=True,
                       mininterval=0.5, unit="batch")
            try:
                results = self.train_epoch(train_data, epoch, bar)
                if self.scheduler is not None:
                    self.scheduler.step()
                if val_data is not None:
                    results.update(self.evaluate(val_data))
                results["lr"] = lr
                bar.set_postfix_str(", ".join(f"{k} {v:.4g}" for k, v in results.items()))
            finally:
                bar.close()
            self.epoch = epoch
            self.history.setdefault("epoch", []).append(epoch)
            for key, value in results.items():
                self.history.setdefault(key, []).append(value)
            if self.checkpoint is not None:
                self.save_checkpoint(self.checkpoint)
        self.model.eval()
        return self.history

    def train_epoch(self, batches, epoch, bar=None):
        """One pass over the training batches: {"train_loss": mean, ...}, means weighted by
        batch size. ``bar``: an optional tqdm bar, advanced per batch, showing the means so far.
        With ``workers`` > 1 the epoch runs in that many processes (data_parallel.py)."""
        self.model.train()
        sums, seen = {}, 0
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        with (data_parallel.Team(params, self.workers) if self.workers > 1
              else contextlib.nullcontext()) as team:                 # team: None for one
            bar = bar if team is None or team.rank == 0 else None
            for i, batch in enumerate(batches, start=1):
                inputs, targets = self._unpack(batch, i)
                n = _batch_size(inputs)
                values = self.train_step(inputs, targets, epoch, i, team)
                seen += n
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v * n
                if bar is not None:
                    bar.set_postfix({k: f"{s / seen:.4f}" for k, s in sums.items()},
                                    refresh=False)
                    bar.update(1)
        if seen == 0:
            raise ValueError("Trainer.fit: train_data gave no batches")
        return {f"train_{k}": s / seen for k, s in sums.items()}

    def train_step(self, inputs, targets, epoch, i, team=None):
        """One optimizer step on a batch; returns the logged values ({"loss": ..., each named
        loss, the metric}). With a data-parallel ``team``, this process's share of the batch,
        and the gradients and values summed over the team before the step."""
        weight = 1.0
        if team is not None:
            inputs, targets, weight = team.share(inputs, targets)
        values, total, losses = {}, None, {}
        self.optimizer.zero_grad()
        if weight > 0:
            losses, outputs = self.compute_losses(inputs, targets)
            terms = list(losses.values())
            total = terms[0]
            for term in terms[1:]:                                  # a detector's named losses
                total = total + term
            values = {"loss": total.item()}
            if len(losses) > 1 or "loss" not in losses:
                values.update({k: v.item() for k, v in losses.items()})
            if self.metric_fn is not None and outputs is not None:
                values[self.metric_name] = float(self.metric_fn(outputs, targets))
            if team is None:
                self._check_finite(total, losses, epoch, i)
            total.backward()                                        # dL/dθ for every θ
        if team is not None:
            summed = team.all_reduce(weight, list(values.values()))
            # "loss" comes first; an idle rank (a batch smaller than the team) knows only it
            values = dict(zip(values, summed)) if values else {"loss": summed[0]}
            if not math.isfinite(values["loss"]):
                self._diverged(f"the loss became {values['loss']}", epoch, i)
        if self.clip_grad_norm is not None:
            norm = float(clip_grad_norm_(self.model.parameters(), self.clip_grad_norm).item())
            if not math.isfinite(norm):
                self._diverged(f"the gradient norm became {norm}", epoch, i)
        self.optimizer.step()
        self.step += 1
        return values

    def compute_losses(self, inputs, targets):
        """The named losses of one batch, and the model's outputs (None if it gave losses)."""
        if self.loss_fn is None:
            return _as_losses(self.model(inputs, targets), "the model (loss_fn=None)"), None
        outputs = self.model(inputs)
        return _as_losses(self.loss_fn(outputs, targets), "loss_fn"), outputs

    def evaluate(self, batches):
        """Mean loss and metric over ``batches`` in eval mode, without building a graph:
        {"val_loss": ..., "val_<metric>": ...}. Override it for data-set-level metrics (mAP)."""
        self.model.eval()
        sums, seen = {}, 0
        with no_grad():
            for i, batch in enumerate(batches, start=1):
                inputs, targets = self._unpack(batch, i)
                n = _batch_size(inputs)
                outputs = self.model(inputs)
                values = {}
                if self.loss_fn is not None:
                    losses = _as_losses(self.loss_fn(outputs, targets), "loss_fn")
                    values["loss"] = sum(v.item() for v in losses.values())
                if self.metric_fn is not None:
                    values[self.metric_name] = float(self.metric_fn(outputs, targets))
                seen += n
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v * n
        if seen == 0:
            raise ValueError("Trainer.fit: val_data gave no batches")
        return {f"val_{k}": s / seen for k, s in sums.items()}

    # ---- stopping on NaN -----------------------------------------------------------------------
    def _check_finite(self, total, losses, epoch, i):
        if math.isfinite(total.item()):
            return
        if len(losses) == 1:
            what = f"the loss became {total.item()}"
        else:
            what = ", ".join(f"{k} became {v.item()}" for k, v in losses.items()
                             if not math.isfinite(v.item()))
        self._diverged(what, epoch, i)

    def _diverged(self, what, epoch, i):
        last = (f"the last checkpoint (epoch {self.epoch}) is {self.checkpoint}"
                if self.checkpoint is not None and self.epoch > 0 else "no checkpoint was written")
        raise TrainingDiverged(
            f"Training stopped: {what} at epoch {epoch}, step {self.step + 1} (batch {i} of the "
            f"epoch). The parameters are as they were before this step; {last}. Try a smaller "
            f"learning rate, gradient clipping (clip_grad_norm=...) or check the data.",
            epoch, self.step + 1, self.history)

    @staticmethod
    def _unpack(batch, i):
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise TypeError(f"Trainer: batch {i} must be an (inputs, targets) pair, got "
                            f"{type(batch).__name__}"
                            f"{f' of length {len(batch)}' if hasattr(batch, '__len__') else ''}")
        return batch

    # ---- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self, path):
        """Write everything ``resume`` needs to ``path`` (atomically; see ``checkpoint.py``)."""
        train_data, val_data = self._data
        ckpt = {"format": FORMAT, "epoch": self.epoch, "step": self.step,
                "model": dict(self.model.state_dict()),
                "optimizer": self.optimizer.state_dict(),
                "history": self.history, "rng": rng_state(train_data, val_data)}
        if self.scheduler is not None:
            ckpt["scheduler"] = self.scheduler.state_dict()
        if self.meta is not None:
            ckpt["meta"] = self.meta
        save(ckpt, path)

    def load_checkpoint(self, path):
        """Restore model, optimizer, scheduler, counters, history and random state from
        ``path``. A missing file raises FileNotFoundError; a damaged one, or one from a run
        built differently (another model, no scheduler), ValueError naming the file."""
        ckpt = load(path)
        check_checkpoint(ckpt, path, self.scheduler is not None)
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(ckpt["scheduler"])
        train_data, val_data = self._data
        restore_rng_state(ckpt["rng"], train_data, val_data, path)
        self.epoch, self.step = int(ckpt["epoch"]), int(ckpt["step"])
        self.history = ckpt["history"]
        return ckpt
