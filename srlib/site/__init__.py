"""The results site: ``results/<profile>/site/index.html`` and one page per study, from the committed metrics
files and rendered notebooks; plain HTML, relative links, readable offline (:func:`build`, ``python -m srlib site``).
"""

from srlib.site.build import build, main

__all__ = ["build", "main"]
