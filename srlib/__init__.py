"""srlib: a thin package for reproducing GAN super-resolution papers.

Conventions used everywhere in the package:

* image tensors are float32, ``(B, C, H, W)``, RGB, in ``[0, 1]``; named ``lq`` (low quality input),
  ``gt`` (ground truth) and ``sr`` (network output). ``lr`` always means a learning rate.
* every function that draws random numbers takes an explicit ``torch.Generator`` / seed.
"""

__version__ = "0.1.0"
