"""Diverse hallucination SR (Abid, Hedhli, Gagné): one LR image, many HR versions.

``config`` (stage dataclasses), ``data`` (the x8 average-pooling pairs, CelebA crops), ``train`` (g_step / d_step /
fit and the 8x baselines), ``evaluate`` (Table 1, diversity, LR consistency, the alpha = 0 ablation), ``figures``.
"""
