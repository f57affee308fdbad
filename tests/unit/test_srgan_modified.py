"""Modified SRGAN (seed port): layout, the seed's repeated 1-px reflect pads, Keras BN semantics and the two BN
inference modes, parameter counts, content-loss layers, the COLLAPSED / SMOKE labels, and the stage config reaching
the networks and the metrics file."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from srlib import losses, models
from srlib.config import ParamsError
from srlib.data.patches import PairedPatches
from srlib.models import ARCHS, SRGANModifiedDiscriminator, SRGANModifiedGenerator
from srlib.models.srgan import count_params
from srlib.models.srgan_modified import PadConv, SeedReflectPad, bn_statistics
from srlib.srgan_modified import bn as bn_modes
from srlib.srgan_modified import figures
from srlib.srgan_modified import train as train_modified
from srlib.srgan_modified.config import SRGANModifiedPostprocessConfig, SRGANModifiedTrainConfig

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
    for padding, kind, width in (
        ("reflect", SeedReflectPad, lambda pad: pad.n),
        ("zeros", nn.ZeroPad2d, lambda pad: pad.padding[0]),
    ):
        g = SRGANModifiedGenerator(padding=padding, **TINY)
        convs = [m for m in g.modules() if isinstance(m, nn.Conv2d)]
        assert all(c.padding == (0, 0) for c in convs)
        pads = [m for m in g.modules() if isinstance(m, PadConv)]
        assert len(pads) == len(convs) and all(isinstance(p.pad, kind) for p in pads)
        assert [width(p.pad) for p in pads] == [p.conv.kernel_size[0] // 2 for p in pads]


def _np_reflect_1px(a: np.ndarray, n: int) -> np.ndarray:
    # tf.pad(x, [[1, 1], [1, 1]], "REFLECT") is np.pad(mode="reflect"), one pixel at a time
    for _ in range(n):
        a = np.pad(a, 1, mode="reflect")
    return a


def test_reflect_pad_is_the_seeds_repeated_1px_tf_reflect():
    # the seed: k // 2 stacked SymmetricPadding2D(1) layers, each tf.pad(..., "REFLECT") of one pixel
    row = torch.arange(6.0)[None, None, None].expand(1, 1, 3, 6)
    assert SeedReflectPad(1)(row)[0, 0, 1].tolist() == [
        1,
        0,
        1,
        2,
        3,
        4,
        5,
        4,
    ]  # = ReflectionPad2d(1)
    assert SeedReflectPad(2)(row)[0, 0, 2].tolist() == [
        0,
        1,
        0,
        1,
        2,
        3,
        4,
        5,
        4,
        5,
    ]  # 5x5: x0 x1 | x0 x1 x2
    assert SeedReflectPad(4)(row)[0, 0, 4].tolist()[:6] == [
        0,
        1,
        0,
        1,
        0,
        1,
    ]  # 9x9: x0 x1 x0 x1 | x0 x1
    assert nn.ReflectionPad2d(2)(row)[0, 0, 2].tolist()[:3] == [
        2,
        1,
        0,
    ]  # not the single 2-px mirror
    x = torch.rand(2, 3, 7, 5)
    for n in (1, 2, 4):
        want = np.stack([[_np_reflect_1px(c, n) for c in img] for img in x.numpy()])
        np.testing.assert_array_equal(SeedReflectPad(n)(x).numpy(), want)
    assert not torch.equal(SeedReflectPad(2)(x), nn.ReflectionPad2d(2)(x))
    assert SeedReflectPad(4)(torch.rand(1, 1, 2, 2)).shape == (1, 1, 10, 10)  # works down to 2 px


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
    lq = torch.rand(2, 3, 8, 8)
    lq[1] = lq[1] * 0.3 + 0.6  # other statistics than image 0
    with torch.no_grad():
        g(torch.rand(1, 3, 8, 8))  # the moving statistics now hold one random batch
        running = {k: v.clone() for k, v in g.state_dict().items() if "running" in k}
        moving = g.eval()(lq)
        with bn_modes.per_image_bn(g):
            assert g.bn_inference == "per_image"
            per_image = g(lq)  # a batch of two: each image with its own statistics
        assert g.bn_inference == "moving"  # restored
        g2 = bn_modes.recalibrate_bn(g, data, batches=3)
        assert not g.training and all(torch.equal(v, g.state_dict()[k]) for k, v in running.items())
        # a batch-1 training forward of each image normalises with the same per-image statistics
        train_out = torch.cat([g.train()(lq[i : i + 1]) for i in range(2)])
    torch.testing.assert_close(per_image, train_out, atol=1e-5, rtol=1e-5)
    assert (per_image - moving).abs().max() > 1e-3
    bn = g2.body[0].bn1
    assert bn.momentum == 0.5 and not torch.equal(
        bn.running_mean, running["body.0.bn1.running_mean"]
    )


def test_bn_inference_is_recorded_in_the_file_and_refused_when_unknown(tmp_path):
    g = SRGANModifiedGenerator(**TINY, bn_inference="per_image").eval()
    assert all(m.per_image for m in g.modules() if isinstance(m, nn.BatchNorm2d))
    with bn_statistics(g, "moving"):
        assert not any(m.per_image for m in g.modules() if isinstance(m, nn.BatchNorm2d))
    models.save_generator(tmp_path / "g.pth", g)
    g2, _ = models.load_generator(tmp_path / "g.pth")
    assert g2.bn_inference == "per_image"
    g.bn_inference = "moving"  # set later: the file rebuilds the mode in use
    models.save_generator(tmp_path / "g.pth", g)
    assert models.load_generator(tmp_path / "g.pth")[0].bn_inference == "moving"
    with pytest.raises(ValueError, match="bn_inference"):
        SRGANModifiedGenerator(**TINY, bn_inference="batch")
    with pytest.raises(ParamsError, match="'bn_inference'"):
        SRGANModifiedTrainConfig(bn_inference="batch")
    with pytest.raises(ParamsError, match="'bn_inference'"):
        SRGANModifiedPostprocessConfig(bn_inference="batch")
    assert SRGANModifiedTrainConfig().bn_inference == SRGANModifiedPostprocessConfig().bn_inference
    assert SRGANModifiedTrainConfig().bn_inference == "per_image"


def test_training_is_the_seeds_in_both_bn_modes(tmp_path):
    # D's fakes come from the moving statistics (predict_on_batch) whatever bn_inference says: same weights
    data = PairedPatches([torch.rand(3, 40, 40)], scale=4, gt_size=32, batch_size=1, seed=0)
    weights = {}
    for mode in ("moving", "per_image"):
        torch.manual_seed(0)
        g = SRGANModifiedGenerator(**TINY, bn_inference=mode)
        d = SRGANModifiedDiscriminator(num_feat=4, fc_dim=8, input_size=32)
        train_modified.fit(
            g=g,
            d=d,
            vgg=TinyFeatures(),
            data=data,
            iters=2,
            run_dir=tmp_path / mode,
            ckpt_interval=2,
        )
        assert g.bn_inference == mode
        weights[mode] = g.state_dict()
    assert all(torch.equal(v, weights["per_image"][k]) for k, v in weights["moving"].items())


def test_validation_adds_the_other_mode():
    g = SRGANModifiedGenerator(**TINY, bn_inference="per_image").eval()
    with torch.no_grad():
        g.train()(torch.rand(1, 3, 8, 8) * 3)  # moving statistics far from the validation image's
    g.eval()
    lq = torch.rand(1, 3, 8, 8)

    @torch.no_grad()
    def val_fn(net):
        return {"v": float(net(lq).mean())}

    vals = bn_modes.with_other_mode(val_fn)(g)
    with torch.no_grad(), bn_statistics(g, "moving"):
        want_moving = float(g(lq).mean())
    assert set(vals) == {"v", "v_moving"} and g.bn_inference == "per_image"
    assert vals["v_moving"] == pytest.approx(want_moving) and vals["v"] != pytest.approx(
        want_moving
    )
    assert bn_modes.other_mode("moving") == "per_image"


def test_bn_offsets_are_zero_where_the_moving_statistics_are_the_images_own():
    torch.manual_seed(0)
    g = SRGANModifiedGenerator(**TINY)
    for m in g.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 1.0  # running = the last batch's statistics
    lq = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        g.train()(lq)
    # (not exactly 0: the running variance is the unbiased one, n / (n - 1) off the normalising one)
    same = bn_modes.bn_offsets(g, [lq[0]])
    other = bn_modes.bn_offsets(g, [torch.rand(3, 32, 32) * 0.2])
    names = [n for n, m in g.named_modules() if isinstance(m, nn.BatchNorm2d)]
    assert list(same) == names and list(other) == names  # forward order
    assert max(same.values()) < 5e-3 and min(other.values()) > 0.2, (same, other)
    assert g.bn_inference == "moving"


def test_collapse_threshold_and_title_tags():
    # squared error twice bicubic's
    assert figures.COLLAPSE_GAIN_DB == pytest.approx(-3.0103, abs=1e-4)
    assert not figures.collapsed(-3.0) and figures.collapsed(-3.02)
    assert not figures.collapsed(float("nan")) and not figures.collapsed(None)
    assert figures.title_tag("photos", -0.2) == ""
    assert figures.title_tag("smoke", -0.2) == " — SMOKE"
    gains = {"moving": -10.5, "per_image": -0.15}
    tag = figures.mode_tag("photos", "moving", gains)
    assert tag.startswith(" — COLLAPSED (-10.5 dB vs bicubic; cause: moving statistics (the seed)")
    assert "per-image statistics: -0.1 dB" in tag
    assert figures.mode_tag("photos", "per_image", gains) == ""
    both = {"moving": -10.5, "per_image": -9.0}  # no cause shown when both modes collapse
    assert (
        figures.mode_tag("smoke", "per_image", both) == " — SMOKE, COLLAPSED (-9.0 dB vs bicubic)"
    )
    assert math.isclose(figures.COLLAPSE_GAIN_DB, -10 * math.log10(2))


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
        num_feat=8,
        num_block=2,
        num_up_feat=12,
        scale=4,
        padding="reflect",
        bn_momentum=0.9,
        bn_inference="per_image",
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
        "num_feat", "num_block", "num_up_feat", "scale", "padding", "bn_momentum", "bicubic_skip", "bn_inference",
        "d_num_feat", "d_fc_dim", "d_input_size", "gt_size", "batch_size", "iters", "lr_g", "lr_d", "adam_eps",
        "w_content", "w_adv", "content_layers", "vgg_normalize", "seed",
    ]  # fmt: skip
    assert block["num_feat"] == 64 and block["d_num_feat"] == 32 and block["d_input_size"] == 96
    assert block["content_layers"] == [8, 13, 17]
    assert train_modified.run_labels(SRGANModifiedTrainConfig(bn_inference="moving")) == []
    assert train_modified.run_labels(cfg) == [bn_modes.inference_label("per_image")]
    assert "NOT the seed" in bn_modes.inference_label("per_image")
    labels = train_modified.run_labels(
        SRGANModifiedTrainConfig(run_label="x", bicubic_skip=True, bn_inference="moving")
    )
    assert len(labels) == 2
    assert (
        train_modified.bn_check(SRGANModifiedTrainConfig(bn_check_batches=0), None, None, None)
        == {}
    )


def _check(moving: float, per_image: float) -> dict:
    return {
        "moving statistics (the seed)": {"val_psnr_y": 18.0, "val_gain_db": moving},
        "recalibrated over 4 crops": {"val_psnr_y": 25.0, "val_gain_db": -3.6},
        "per-image statistics": {"val_psnr_y": 28.4, "val_gain_db": per_image},
    }


def test_final_metrics_and_conclusions_report_the_mode_and_the_seeds_collapse():
    cfg = SRGANModifiedTrainConfig(profile="photos", iters=600, log_interval=50)
    frame = pd.DataFrame(
        {
            "step": [50, 100],
            "sec_per_iter": [0.5, 0.5],
            **{k: [1.0, 1.0] for k in ("l_g_content", "l_g_gan", "l_d_real", "l_d_fake")},
            "val_psnr_y": [np.nan, 28.4],
            "val_gain_db": [np.nan, -0.15],
            "val_gain_db_moving": [np.nan, -10.5],
        }
    )
    final = train_modified.final_metrics(cfg, frame, _check(-10.5, -0.15), _check(-0.3, -0.2))
    assert final["bn_inference"] == "per_image" and final["collapsed"] is False
    assert final["val_gain_db"] == -0.15 and final["val_gain_db_moving"] == -10.5
    assert train_modified.title_tag(cfg, final) == ""
    assert set(final["bn_check_zero_padding"]) == set(_check(0, 0))
    found = train_modified.conclusions(cfg, final, {"reflect padding": {"a": 1.6, "b": 40.7}})
    assert "-0.15 dB against bicubic -- works (within 1 dB of bicubic or better)" in found[0]
    assert "COLLAPSES it -- here the run disagrees with the seed" in found[1]
    assert "does not collapse it." in found[2]
    assert "1.60 at the first BN layer, 40.70 at most" in found[3]
    moving = SRGANModifiedTrainConfig(profile="smoke", bn_inference="moving", log_interval=50)
    frame = frame.rename(
        columns={"val_gain_db": "val_gain_db_per_image", "val_gain_db_moving": "val_gain_db"}
    )
    final = train_modified.final_metrics(moving, frame, _check(-10.5, -0.15))
    assert final["collapsed"] is True and final["val_gain_db_per_image"] == -0.15
    tag = train_modified.title_tag(moving, final)
    assert tag.startswith(
        " — SMOKE, COLLAPSED (-10.5 dB vs bicubic; cause: moving statistics (the seed)"
    )
