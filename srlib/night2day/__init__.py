"""Night→day multi-modality SR (Abedjooy & Ebrahimi): data and the paper's split (:mod:`~srlib.night2day.data`),
the synthetic-night proxy (:mod:`~srlib.night2day.proxy`), the split manifest (:mod:`~srlib.night2day.prepare`),
the M1 / M2 / M3 stage trainers (:mod:`~srlib.night2day.train`) and the phase evaluation and tables
(:mod:`~srlib.night2day.evaluate`).
"""
