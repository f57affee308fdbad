"""Model families, one file each. ``ARCHS`` maps the names used in params.yaml to generator classes."""

from srlib.models.srgan import Discriminator, SRResNet

ARCHS = {"srresnet": SRResNet}
DISCRIMINATORS = {"srgan": Discriminator}

__all__ = ["ARCHS", "DISCRIMINATORS", "Discriminator", "SRResNet"]
