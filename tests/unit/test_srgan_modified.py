"""Modified SRGAN (seed port): layout, padding modes, Keras BN semantics, parameter counts, content-loss layers,
and the stage config reaching the networks and the metrics file."""

import pytest
import torch
from torch import nn

from srlib import losses
from srlib.data.patches import PairedPatches
from srlib.models import ARCHS, SRGANModifiedDiscriminator, SRGANModifiedGenerator
from srlib.models.srgan import count_params
from srlib.models.srgan_modified import PadConv
from srlib.srgan_modified import bn as bn_modes
from srlib.srgan_modified import train as train_modified
from srlib.srgan_modified.config import SRGANModifiedTrainConfig

TINY = dict(num_feat=8, num_block=1, num_up_feat=8)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def vgg():
    return losses.VGGFeatures(
        layers=losses.SEED_CONTENT_LAYERS, weights_mode="random", normalize=False
    )


class TinyFeatures(nn.Module):
    """Stands in for VGG19 in the training test (a list of two post-ReLU maps, like VGGFeatures(layers=...))."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, stride=2, padding=1)

    def forward(self, x):
        a = torch.relu(self.c1(x))
        return [a, torch.relu(self.c2(a))]


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("padding", ["reflect", "zeros"])
def test_generator_output_shape(scale, padding):
    g = SRGANModifiedGenerator(scale=scale, padding=padding, **TINY).eval()
    assert g(torch.rand(2, 3, 10, 7)).shape == (2, 3, 10 * scale, 7 * scale)


def test_every_conv_is_valid_after_an_explicit_pad():
    for padding, kind in (("reflect", nn.ReflectionPad2d), ("zeros", nn.ZeroPad2d)):
        g = SRGANModifiedGenerator(padding=padding, **TINY)
        convs = [m for m in g.modules() if isinstance(m, nn.Conv2d)]
        assert all(c.padding == (0, 0) for c in convs)
        pads = [m for m in g.modules() if isinstance(m, PadConv)]
        assert len(pads) == len(convs) and all(isinstance(p.pad, kind) for p in pads)
        assert [p.pad.padding[0] for p in pads] == [p.conv.kernel_size[0] // 2 for p in pads]


def test_reflect_is_tf_reflect_not_symmetric():
    # tf.pad(..., "REFLECT") does not repeat the edge pixel: [1, 2, 3] -> [2, 1, 2, 3, 2]
    x = torch.tensor([[[[1.0, 2.0, 3.0]]]])
    assert nn.ReflectionPad2d((1, 1, 0, 0))(x).flatten().tolist() == [2, 1, 2, 3, 2]


def test_padding_modes_differ_only_near_the_border():
    torch.manual_seed(0)
    g_r = SRGANModifiedGenerator(padding="reflect", **TINY).eval()
    g_z = SRGANModifiedGenerator(padding="zeros", **TINY).eval()
    g_z.load_state_dict(g_r.state_dict())  # same weights, only the pads differ
    lq = torch.rand(1, 3, 48, 48)
    diff = (g_r(lq) - g_z(lq)).abs()[0].amax(0)  # (192, 192)
    r = 4 * g_r.receptive_radius
    assert diff.max() > 1e-3 and diff[r:-r, r:-r].max() < 1e-6


def test_block_layout_and_nearest_upsampling():
    g = SRGANModifiedGenerator(**TINY)
    block = g.body[0]
    assert [m.conv.kernel_size for m in (block.conv1, block.conv2, block.conv3)] == [
        (5, 5),
        (3, 3),
        (3, 3),
    ]
    assert g.conv_first.conv.kernel_size == (9, 9) and g.conv_second.conv.kernel_size == (5, 5)
    assert not any(isinstance(m, nn.PixelShuffle) for m in g.modules())
    assert all(
        isinstance(m, nn.PReLU) and m.weight.abs().sum() == 0
        for m in g.modules()
        if isinstance(m, nn.PReLU)
    )


def test_bn_uses_keras_momentum_and_eps():
    g = SRGANModifiedGenerator(**TINY)
    bns = [m for m in g.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 3 + 1 + 2 and all(m.momentum == 0.5 and m.eps == 1e-3 for m in bns)
    d = SRGANModifiedDiscriminator(num_feat=4, fc_dim=8, input_size=32)
    dbns = [m for m in d.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(dbns) == 7 and all(m.momentum == pytest.approx(0.2) and m.eps == 1e-3 for m in dbns)
    # Keras moving = 0.5 * moving + 0.5 * batch: from 0, one step gives half the batch mean
    bn = bns[0].train()
    x = torch.randn(4, 8, 5, 5) + 3
    bn(x)
    torch.testing.assert_close(bn.running_mean, 0.5 * x.mean((0, 2, 3)))


def test_seed_parameter_counts():
    # Trainable parameters of the seed's Keras models, counted by hand from SRGAN_train.py:
    # create_gen(20): 5,672,835 (conv biases everywhere, per-channel PReLU, BN gamma/beta);
    # create_disc(256x256): 34,729,569, of which 33,554,944 in Dense(512) on the 16x16x256 map.
    assert count_params(SRGANModifiedGenerator()) == 5_672_835
    d = SRGANModifiedDiscriminator()
    assert count_params(d) == 34_729_569 and d.classifier[1].in_features == 16 * 16 * 256


def test_discriminator_layout_and_shape():
    d = SRGANModifiedDiscriminator(num_feat=4, fc_dim=8, input_size=32).eval()
    convs = [m for m in d.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 4, 8, 8, 16, 16, 32, 32]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)} == {0.3}
    assert SRGANModifiedDiscriminator().classifier[1].out_features == 512
    assert d(torch.rand(3, 3, 32, 32)).shape == (3,)
    with pytest.raises(ValueError, match="built for 32x32"):
        d(torch.rand(1, 3, 48, 48))


def test_keras_vgg19_indices_map_to_torchvision_post_relu(vgg):
    from torchvision.models.vgg import cfgs

    # Keras VGG19(include_top=False).layers: InputLayer, then blockB_convK (ReLU inside) and blockB_pool
    keras, torch_relu, block, conv, idx = ["input"], {}, 1, 0, 0
    for v in cfgs["E"]:
        if v == "M":
            keras.append(f"block{block}_pool")
            block, conv, idx = block + 1, 0, idx + 1
        else:
            conv += 1
            keras.append(f"block{block}_conv{conv}")
            torch_relu[f"block{block}_conv{conv}"] = (
                idx + 1
            )  # torchvision: Conv2d at idx, its ReLU at idx + 1
            idx += 2
    derived = {k: torch_relu[keras[k]] for k in (10, 5, 8)}
    assert [keras[k] for k in (10, 5, 8)] == ["block3_conv4", "block2_conv2", "block3_conv2"]
    assert derived == losses.KERAS_VGG19_TO_TORCHVISION and losses.SEED_CONTENT_LAYERS == (
        8,
        13,
        17,
    )
    assert all(isinstance(vgg.features[i], nn.ReLU) for i in losses.SEED_CONTENT_LAYERS)
    maps = vgg(torch.rand(1, 3, 32, 32))
    assert [tuple(m.shape[1:]) for m in maps] == [(128, 16, 16), (256, 8, 8), (256, 8, 8)]
    assert all(m.min() >= 0 for m in maps)


def test_multi_layer_content_is_an_equal_weight_sum(vgg):
    sr, gt = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    want = sum(nn.functional.mse_loss(a, b) for a, b in zip(vgg(sr), vgg(gt)))
    torch.testing.assert_close(losses.multi_layer_content(sr, gt, vgg), want)
    with pytest.raises(ValueError, match="layers"):
        losses.multi_layer_content(sr, gt, lambda x: x)


def test_seed_recipe_trains_and_resumes(tmp_path):
    torch.manual_seed(0)
    data = PairedPatches([torch.rand(3, 40, 40)], scale=4, gt_size=32, batch_size=1, seed=0)
    feats = TinyFeatures()

    def run(iters):
        g = SRGANModifiedGenerator(**TINY)
        d = SRGANModifiedDiscriminator(num_feat=4, fc_dim=8, input_size=32)
        hist = train_modified.fit(
            g=g,
            d=d,
            vgg=feats,
            data=data,
            iters=iters,
            run_dir=tmp_path,
            log_interval=1,
            ckpt_interval=1,
        )
        return g, hist

    _, hist = run(2)
    assert [r["step"] for r in hist.rows] == [1, 2]
    assert {"l_g_content", "l_g_gan", "l_d_real", "l_d_fake"} <= set(hist.rows[0])
    g, hist = run(3)  # resumes from step 2
    assert [r["step"] for r in hist.rows] == [1, 2, 3] and not g.training
    assert ARCHS["srgan_modified"] is SRGANModifiedGenerator


def test_bn_inference_modes():
    torch.manual_seed(0)
    g = SRGANModifiedGenerator(**TINY).train()
    data = PairedPatches([torch.rand(3, 40, 40)], scale=4, gt_size=32, batch_size=1, seed=0)
    lq = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        g(torch.rand(1, 3, 8, 8))  # the moving statistics now hold one random batch
        running = {k: v.clone() for k, v in g.state_dict().items() if "running" in k}
        with bn_modes.per_image_bn(g.eval()):
            per_image = g(lq)
        g2 = bn_modes.recalibrate_bn(g, data, batches=3)
        assert not g.training and all(torch.equal(v, g.state_dict()[k]) for k, v in running.items())
        train_out = g.train()(
            lq
        )  # a batch-1 training forward normalises with the same per-image statistics
    torch.testing.assert_close(per_image, train_out)
    bn = g2.body[0].bn1
    assert bn.momentum == 0.5 and not torch.equal(
        bn.running_mean, running["body.0.bn1.running_mean"]
    )


def test_stage_config_reaches_the_networks():
    cfg = SRGANModifiedTrainConfig(
        num_feat=8,
        num_block=2,
        num_up_feat=12,
        d_num_feat=4,
        d_fc_dim=8,
        gt_size=32,
        bn_momentum=0.9,
    )
    g = train_modified.build_generator(cfg)
    want = dict(
        num_feat=8, num_block=2, num_up_feat=12, scale=4, padding="reflect", bn_momentum=0.9
    )
    assert {k: g.arch_kwargs[k] for k in want} == want and len(g.body) == 2
    twin = train_modified.build_generator(cfg, padding="zeros")
    assert twin.padding == "zeros" and twin.arch_kwargs == g.arch_kwargs | {"padding": "zeros"}
    d = train_modified.build_discriminator(cfg)
    assert next(m for m in d.features if isinstance(m, nn.Conv2d)).out_channels == 4
    assert d.classifier[1].out_features == 8 and d.input_size == 32


def test_metrics_config_block_names_generator_and_discriminator_apart():
    cfg = SRGANModifiedTrainConfig(
        num_feat=64, d_num_feat=32, gt_size=96, content_layers=(8, 13, 17)
    )
    block = train_modified.metrics_config(cfg)
    assert list(block) == [
        "num_feat", "num_block", "num_up_feat", "scale", "padding", "bn_momentum", "bicubic_skip",
        "d_num_feat", "d_fc_dim", "d_input_size", "gt_size", "batch_size", "iters", "lr_g", "lr_d", "adam_eps",
        "w_content", "w_adv", "content_layers", "vgg_normalize", "seed",
    ]  # fmt: skip
    assert block["num_feat"] == 64 and block["d_num_feat"] == 32 and block["d_input_size"] == 96
    assert block["content_layers"] == [8, 13, 17]
    assert train_modified.run_labels(cfg) == []
    assert (
        len(train_modified.run_labels(SRGANModifiedTrainConfig(run_label="x", bicubic_skip=True)))
        == 2
    )
    assert (
        train_modified.bn_check(SRGANModifiedTrainConfig(bn_check_batches=0), None, None, None)
        == {}
    )
