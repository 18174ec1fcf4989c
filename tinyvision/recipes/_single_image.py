"""What the localization and pose recipes share: both regress a few numbers per image with a
small CNN, trained by Adam with a cosine learning rate through ``Trainer`` (a validation
metric per epoch on the test split), and both save the channel statistics the images were
standardised with in the checkpoint's ``meta`` so that ``evaluate`` can rebuild the inputs."""
import os
import time

import numpy as np

from .. import data as D
from .. import load, optim
from ..training import Trainer


def fit(model, train_set, test_set, settings, loss_fn, metric_fn, meta, out, stem, seed,
        progress):
    """Train ``model`` on ``train_set`` (settings: lr, epochs, batch_size), validating on
    ``test_set`` after every epoch; with ``out``, the Trainer's checkpoint ``out/<stem>.npz``
    carries ``meta``. Returns (history, seconds, checkpoint path or None)."""
    opt = optim.Adam(model.parameters(), lr=settings["lr"])
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=settings["epochs"])
    checkpoint = None
    if out is not None:
        os.makedirs(out, exist_ok=True)
        checkpoint = os.path.join(out, f"{stem}.npz")
    trainer = Trainer(model, opt, loss_fn=loss_fn, metric_fn=metric_fn, scheduler=sched,
                      checkpoint=checkpoint, meta=meta, progress=progress)
    loader = D.DataLoader(train_set, batch_size=settings["batch_size"], shuffle=True,
                          generator=seed)
    start = time.perf_counter()
    history = trainer.fit(loader, D.DataLoader(test_set, batch_size=250),
                          epochs=settings["epochs"], seed=seed)
    return history, time.perf_counter() - start, checkpoint


def load_trained(checkpoint, build_model):
    """(model with the checkpoint's weights, its meta, mean, std as (1, 3, 1, 1) arrays) of a
    checkpoint ``fit`` wrote; ``build_model(settings)`` makes the untrained model."""
    state = load(checkpoint)
    meta = state["meta"]
    model = build_model(meta["settings"])
    model.load_state_dict(state["model"])
    mean, std = (np.asarray(meta[k], np.float32).reshape(1, 3, 1, 1) for k in ("mean", "std"))
    return model, meta, mean, std
