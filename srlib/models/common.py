"""What every generator family shares: it records its constructor arguments (so a saved file can rebuild it)."""

from __future__ import annotations

import functools
import inspect


def records_arguments(cls):
    """Class decorator: after ``__init__``, ``self.arch_kwargs`` holds every constructor argument by name.

    :func:`srlib.models.save_generator` writes them beside the weights, so saving needs no hand-built dict and a
    loaded file is rebuilt with exactly the architecture that trained it.
    """
    init = cls.__init__
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        self.arch_kwargs = {k: v for k, v in bound.arguments.items() if k != "self"}

    cls.__init__ = __init__
    return cls
