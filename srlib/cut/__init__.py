"""CUT / FastCUT (Park et al., ECCV 2020): contrastive unpaired translation -- training steps and fit
(:mod:`~srlib.cut.train`) and the unpaired image sets (:mod:`~srlib.cut.data`)."""
