"""Inference on images of any size: tiling and precision (:mod:`~srlib.inference.tiling`), image files
(:mod:`~srlib.inference.images`) and the ``python -m srlib upscale`` command (:mod:`~srlib.inference.cli`).
"""
