"""CUT / FastCUT (Park et al., ECCV 2020): contrastive unpaired translation (:mod:`~srlib.cut.train`)."""
