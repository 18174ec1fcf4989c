"""What a training checkpoint holds, and the random-number state that makes resuming exact.

A checkpoint is one ``.npz`` written by ``tv.save`` (atomically; loading never unpickles):

    format      "tinyvision.training/1"
    epoch       epochs finished             step        optimizer steps taken
    model       model.state_dict()          optimizer   optimizer.state_dict()
    scheduler   scheduler.state_dict() (when there is one)
    history     the per-epoch lists         rng         the random generators' states
    meta        what the caller added (e.g. the model's name and arguments), when given

Resuming bit for bit needs every source of randomness as it was at the end of the epoch: the
global generator (``tv.manual_seed``: dropout, augmentation) and the data's own generator
(a DataLoader's ``generator``, which shuffles), saved as NumPy's ``bit_generator.state`` dicts.
"""
import numpy as np

from ..random import default_generator

FORMAT = "tinyvision.training/1"


def data_generator(data):
    """The ``numpy.random.Generator`` a data source shuffles with (a DataLoader's ``generator``
    attribute), or None."""
    gen = getattr(data, "generator", None)
    return gen if isinstance(gen, np.random.Generator) else None


def rng_state(train_data, val_data):
    """{name: bit_generator.state} of the global generator and the data's generators."""
    state = {"tinyvision": default_generator().bit_generator.state}
    for name, data in (("train_data", train_data), ("val_data", val_data)):
        gen = data_generator(data)
        if gen is not None:
            state[name] = gen.bit_generator.state
    return state


def restore_rng_state(state, train_data, val_data, path):
    """Put the saved generator states back, in place (objects holding a generator keep it)."""
    default_generator().bit_generator.state = state["tinyvision"]
    for name, data in (("train_data", train_data), ("val_data", val_data)):
        gen = data_generator(data)
        if (gen is None) != (name not in state):
            raise ValueError(f"Trainer: {path} was saved with {name} "
                             f"{'without' if gen is not None else 'with'} a random generator "
                             f"and is resumed {'with' if gen is not None else 'without'} one; "
                             f"resume with data built the same way")
        if gen is not None:
            gen.bit_generator.state = state[name]


def seed_everything(seed, train_data, val_data):
    """``tv.manual_seed(seed)`` and reseed the data's generators (each its own stream)."""
    from ..random import manual_seed
    manual_seed(seed)
    for i, data in enumerate((train_data, val_data), start=1):
        gen = data_generator(data)
        if gen is not None:   # a stream apart from the global one: SeedSequence([seed, i])
            gen.bit_generator.state = np.random.default_rng([seed, i]).bit_generator.state


def check_checkpoint(ckpt, path, has_scheduler):
    """Raise ValueError naming ``path`` unless ``ckpt`` is a Trainer checkpoint that fits."""
    fmt = ckpt.get("format")
    if fmt is None or str(fmt) != FORMAT:
        raise ValueError(f"Trainer: {path} is not a training checkpoint (its format is "
                         f"{None if fmt is None else str(fmt)!r}, expected {FORMAT!r}); a "
                         f"model-only file loads with model.load(path)")
    missing = [k for k in ("epoch", "step", "model", "optimizer", "history", "rng")
               if k not in ckpt]
    if missing:
        raise ValueError(f"Trainer: {path} lacks {missing}: it is damaged or was not written "
                         f"by Trainer")
    if has_scheduler != ("scheduler" in ckpt):
        raise ValueError(f"Trainer: {path} was saved {'with' if 'scheduler' in ckpt else 'without'}"
                         f" an lr scheduler and this Trainer has "
                         f"{'one' if has_scheduler else 'none'}; build it as the run was built")
