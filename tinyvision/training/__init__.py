"""Training: ``Trainer`` runs the epochs (progress bar, validation, history, checkpoints and
exact resume, NaN stop); ``accuracy`` is its default metric.

    from tinyvision.training import Trainer
    history = Trainer(model, optimizer, checkpoint="run.npz").fit(train, val, epochs=10, seed=0)

    trainer.py      the loop: Trainer, TrainingDiverged, accuracy
    checkpoint.py   what a checkpoint holds; the random state that makes resuming exact
"""
from .trainer import Trainer, TrainingDiverged, accuracy

__all__ = ["Trainer", "TrainingDiverged", "accuracy"]
