"""The transform protocol and ``Compose``.

A transform is called as ``t(image, target)`` and returns ``(image, target)``; called with the
image alone, ``t(image)`` returns the image alone (as torchvision's v2 transforms), so the
same objects serve classification and detection. Subclasses write ``forward(image, target)``
(target may be None) and always return the pair.
"""
from .._util import as_generator

_MISSING = object()


class Transform:
    """Base class: ``__call__`` handles the optional target, ``forward`` does the work."""

    def __call__(self, image, target=_MISSING):
        out_image, out_target = self.forward(image, None if target is _MISSING else target)
        return out_image if target is _MISSING else (out_image, out_target)

    def forward(self, image, target):
        raise NotImplementedError(f"{type(self).__name__} must define forward(image, target)")

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class RandomTransform(Transform):
    """A transform that draws its parameters from ``generator`` (see ``_util.as_generator``:
    None follows ``tv.manual_seed``; an int seeds a private stream once)."""

    def __init__(self, generator=None):
        self._generator = None if generator is None else as_generator(generator, type(self).__name__)

    @property
    def rng(self):
        return as_generator(self._generator, type(self).__name__)


class Compose(Transform):
    """Apply transforms one after another; each must take and return ``(image, target)``."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for k, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"Compose: transform {k} is not callable: {t!r}")

    def forward(self, image, target):
        for t in self.transforms:
            image, target = t(image, target)
        return image, target

    def __repr__(self):
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"
