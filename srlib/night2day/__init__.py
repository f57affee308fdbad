"""Night→day multi-modality SR (Abedjooy & Ebrahimi).

Stage configs (:mod:`~srlib.night2day.config`); data and the paper's split (:mod:`~srlib.night2day.data`), the
synthetic-night proxy (:mod:`~srlib.night2day.proxy`), the split manifest (:mod:`~srlib.night2day.prepare`); the
training data adapters (:mod:`~srlib.night2day.pairs`), the M1 / M2 stage trainers (:mod:`~srlib.night2day.train`),
the end-to-end M3 (:mod:`~srlib.night2day.m3`) and one call per training stage (:mod:`~srlib.night2day.stages`);
the phase evaluation (:mod:`~srlib.night2day.evaluate`), tables, verdicts and findings
(:mod:`~srlib.night2day.report`) and the figures (:mod:`~srlib.night2day.figures`).
"""
