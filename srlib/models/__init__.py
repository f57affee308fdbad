"""Model families, one file each. ``ARCHS`` maps the names used in params.yaml to generator classes.

:func:`save_generator` / :func:`load_generator` write and rebuild a generator from ``{arch, arch_kwargs,
state_dict, meta}`` (loading runs no pickled code: :func:`srlib.tracking.load_checkpoint`).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from srlib import tracking
from srlib.models.cut import NLayerDiscriminator, ResnetGenerator
from srlib.models.esrgan import RRDBNet, UNetDiscriminatorSN
from srlib.models.hallucination import HallucinationGenerator, PyramidDiscriminator
from srlib.models.pseudo_sr import CleaningGenerator, DegradationGenerator, PatchDiscriminator
from srlib.models.srgan import Discriminator, SRResNet
from srlib.models.srgan_modified import SRGANModifiedDiscriminator, SRGANModifiedGenerator
from srlib.models.srvgg import SRVGGNetCompact

ARCHS = {
    "srresnet": SRResNet,
    "srgan_modified": SRGANModifiedGenerator,
    "rrdbnet": RRDBNet,
    "cut_resnet_9blocks": ResnetGenerator,
    "srvgg_compact": SRVGGNetCompact,
    "hallucination": HallucinationGenerator,
    "pseudo_sr_cleaning": CleaningGenerator,
    "pseudo_sr_degradation": DegradationGenerator,
}
DISCRIMINATORS = {
    "srgan": Discriminator,
    "srgan_modified": SRGANModifiedDiscriminator,
    "unet_sn": UNetDiscriminatorSN,
    "cut_patchgan": NLayerDiscriminator,
    "hallucination_pyramid": PyramidDiscriminator,
    "pseudo_sr_patchgan": PatchDiscriminator,
}

__all__ = [
    "ARCHS",
    "CleaningGenerator",
    "DegradationGenerator",
    "DISCRIMINATORS",
    "Discriminator",
    "HallucinationGenerator",
    "NLayerDiscriminator",
    "PatchDiscriminator",
    "PyramidDiscriminator",
    "RRDBNet",
    "ResnetGenerator",
    "SRGANModifiedDiscriminator",
    "SRGANModifiedGenerator",
    "SRResNet",
    "UNetDiscriminatorSN",
]


# generator class -> its name in files and params.yaml (the inverse of ARCHS)
ARCH_NAMES = {cls: name for name, cls in ARCHS.items()}


def save_generator(path: str | Path, g: nn.Module, *, meta: dict | None = None) -> Path:
    """Generator weights plus what rebuilds them: ``{arch, arch_kwargs, state_dict, meta}``.

    ``arch`` is the class's name in :data:`ARCHS`; ``arch_kwargs`` are the constructor arguments the model recorded
    (:func:`srlib.models.common.records_arguments`).
    """
    if type(g) not in ARCH_NAMES or not hasattr(g, "arch_kwargs"):
        raise TypeError(
            f"save_generator: {type(g).__name__} is not a generator family of srlib.models.ARCHS"
        )
    return tracking.save_checkpoint(
        path,
        {
            "arch": ARCH_NAMES[type(g)],
            "arch_kwargs": dict(g.arch_kwargs),
            "state_dict": g.state_dict(),
            "meta": meta or {},
        },
    )


def load_generator(path: str | Path) -> tuple[nn.Module, dict]:
    state = tracking.load_checkpoint(path)
    if not {"arch", "arch_kwargs", "state_dict"} <= set(state):
        raise ValueError(
            f"{path} is not an srlib generator file (needs arch, arch_kwargs, state_dict)"
        )
    if state["arch"] not in ARCHS:
        raise ValueError(f"{path}: unknown arch {state['arch']!r}; known: {', '.join(ARCHS)}")
    built = f"{state['arch']}({state['arch_kwargs']})"
    try:
        g = ARCHS[state["arch"]](**state["arch_kwargs"])
    except (TypeError, ValueError) as exc:
        raise tracking.CheckpointError(f"{path}: cannot build {built}: {exc}") from None
    diff = tracking.state_dict_difference(g.state_dict(), state["state_dict"])
    if diff:
        raise tracking.CheckpointError(f"{path}: its weights do not fit {built}: {diff}")
    g.load_state_dict(state["state_dict"])
    return g.eval(), state
