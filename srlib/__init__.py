"""srlib: a thin package for reproducing GAN super-resolution papers.

Conventions used everywhere in the package:

* image tensors are float32, ``(B, C, H, W)``, RGB, in ``[0, 1]``; named ``lq`` (low quality input),
  ``gt`` (ground truth) and ``sr`` (network output). ``lr`` always means a learning rate.
* every function that draws random numbers takes an explicit ``torch.Generator`` / seed.

**Warnings in notebooks.** Imported inside a Jupyter kernel (JupyterLab, or papermill under ``python -m srlib nb``),
srlib calls :func:`notebook_warnings` once: Python warnings then print as ``UserWarning: <message>``, without the
``/path/to/file.py:340:`` prefix and source line Python's default adds (a machine path in every committed
rendering), and each distinct message once per kernel (Python's own "once per location" restarts whenever a library
enters ``warnings.catch_warnings``, e.g. scipy's LinAlgWarning came six times in one cell). Only the display changes:
the filters (``ignore``, ``error``, ``pytest.warns``) work as before. Every notebook's first cell imports srlib, so
no notebook has to call it; outside a kernel (scripts, the CLI, pytest) nothing is changed.
"""

import sys
import warnings

__version__ = "0.1.0"


def notebook_warnings() -> None:
    """Show Python warnings as ``Category: message``, each distinct ``(category, message)`` once (idempotent)."""
    if getattr(warnings.showwarning, "_srlib", False):
        return
    seen: set[tuple[type, str]] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        key = (category, str(message))
        if key in seen:
            return
        seen.add(key)
        try:
            print(f"{category.__name__}: {message}", file=file or sys.stderr)
        except (
            OSError,
            ValueError,
        ):  # a closed stream: as warnings._showwarnmsg_impl, never raise from a warning
            pass

    show._srlib = True
    warnings.showwarning = show


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (ipykernel's shell has a ``kernel``; a terminal IPython has none)."""
    ipython = sys.modules.get("IPython")
    shell = (
        ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    )
    return getattr(shell, "kernel", None) is not None


if _in_kernel():
    notebook_warnings()
