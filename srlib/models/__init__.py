"""Model families, one file each. ``ARCHS`` maps the names used in params.yaml to generator classes."""

from srlib.models.cut import NLayerDiscriminator, ResnetGenerator
from srlib.models.esrgan import RRDBNet, UNetDiscriminatorSN
from srlib.models.srgan import Discriminator, SRResNet
from srlib.models.srgan_modified import SRGANModifiedDiscriminator, SRGANModifiedGenerator

ARCHS = {"srresnet": SRResNet, "srgan_modified": SRGANModifiedGenerator, "rrdbnet": RRDBNet,
         "cut_resnet_9blocks": ResnetGenerator}
DISCRIMINATORS = {"srgan": Discriminator, "srgan_modified": SRGANModifiedDiscriminator,
                  "unet_sn": UNetDiscriminatorSN, "cut_patchgan": NLayerDiscriminator}

__all__ = ["ARCHS", "DISCRIMINATORS", "Discriminator", "NLayerDiscriminator", "RRDBNet", "ResnetGenerator",
           "SRGANModifiedDiscriminator", "SRGANModifiedGenerator", "SRResNet", "UNetDiscriminatorSN"]
