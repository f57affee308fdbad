"""Data: image files (:mod:`~srlib.data.images`), the embedded default and prepared splits
(:mod:`~srlib.data.splits`), paired training crops (:mod:`~srlib.data.patches`), the papers' dataset recipes
(:mod:`~srlib.data.datasets`), the classic degradation model (:mod:`~srlib.data.degradations`) and Real-ESRGAN's
(:mod:`~srlib.data.degradations_realesrgan`, kernels in :mod:`~srlib.data.realesrgan_kernels`).
"""
