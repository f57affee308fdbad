"""Training loop: determinism under a seed, resume == uninterrupted, losses fall, checkpoints; the stage's steps."""

import pytest
import torch

from srlib import models, training
from srlib.data import patches
from srlib.models import Discriminator, SRResNet
from srlib.srgan import perceptual, train
from srlib.srgan.config import SRGANTrainConfig

torch.set_num_threads(1)


def tiny_data(seed=0):
    g = torch.Generator().manual_seed(123)
    images = [torch.rand(3, 40, 48, generator=g), torch.rand(3, 36, 36, generator=g)]
    return patches.PairedPatches(images, scale=2, gt_size=16, batch_size=2, seed=seed)


def tiny_models(seed=0):
    torch.manual_seed(seed)
    return SRResNet(num_feat=8, num_block=1, scale=2), Discriminator(num_feat=4, fc_dim=8)


def run(tmp, iters, *, adversarial, resume=True, ckpt_interval=2, seed=0, data_seed=None):
    """A tiny run whose initialisation follows ``seed`` and whose crops follow ``data_seed`` (default: ``seed``)."""
    g, d = tiny_models(seed)
    kw = dict(w_pix=1.0, w_adv=1e-3, d=d, lr_d=1e-4) if adversarial else dict(w_pix=1.0)
    hist = train.fit(
        g=g,
        data=tiny_data(seed if data_seed is None else data_seed),
        iters=iters,
        run_dir=tmp,
        lr_g=1e-3,
        log_interval=1,
        ckpt_interval=ckpt_interval,
        resume=resume,
        **kw,
    )
    return g, d, hist


@pytest.mark.parametrize("adversarial", [False, True])
def test_resume_equals_uninterrupted(tmp_path, adversarial):
    g_full, d_full, h_full = run(tmp_path / "full", 4, adversarial=adversarial)
    run(
        tmp_path / "split", 2, adversarial=adversarial
    )  # "interrupted" after step 2 (checkpoint written)
    g_res, d_res, h_res = run(
        tmp_path / "split", 4, adversarial=adversarial
    )  # new process state, resumes
    for a, b in zip(g_full.state_dict().values(), g_res.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    if adversarial:
        for a, b in zip(d_full.state_dict().values(), d_res.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert [r["step"] for r in h_res.rows] == [1, 2, 3, 4]
    assert [r["l_g_pix"] for r in h_res.rows] == pytest.approx(
        [r["l_g_pix"] for r in h_full.rows], abs=0
    )


def weights(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.state_dict().items()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("adversarial", [False, True])
def test_same_seed_same_weights_other_seed_differs(tmp_path, adversarial):
    g1, d1, _ = run(tmp_path / "a", 3, adversarial=adversarial)
    g2, d2, _ = run(tmp_path / "b", 3, adversarial=adversarial)
    assert same_weights(weights(g1), weights(g2))  # every tensor, bit for bit
    if adversarial:
        assert same_weights(weights(d1), weights(d2))
    g3, d3, _ = run(tmp_path / "c", 3, adversarial=adversarial, seed=1)
    assert not same_weights(weights(g1), weights(g3))
    if adversarial:
        assert not same_weights(weights(d1), weights(d3))
    # the seed reaches the crops too: g1's initialisation trained on another seed's crops ends elsewhere
    g4, _, _ = run(tmp_path / "d", 3, adversarial=adversarial, data_seed=1)
    assert not same_weights(weights(g1), weights(g4))


def test_batches_are_pure_functions_of_step():
    ds = tiny_data()
    a, b = ds.batch(7), ds.batch(7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].shape == (2, 3, 8, 8) and a[1].shape == (2, 3, 16, 16)


def test_mse_training_reduces_the_loss(tmp_path):
    torch.manual_seed(0)
    g = SRResNet(num_feat=8, num_block=1, scale=2)
    ds = patches.PairedPatches(
        [torch.rand(3, 16, 16)], scale=2, gt_size=16, batch_size=1, use_augment=False
    )
    hist = train.fit(
        g=g, data=ds, iters=60, run_dir=tmp_path, lr_g=3e-3, log_interval=10, ckpt_interval=60
    )
    losses = [r["l_g_pix"] for r in hist.rows]
    assert losses[-1] < 0.5 * losses[0]


def test_checkpoint_and_history_written(tmp_path):
    run(tmp_path, 4, adversarial=True)
    state = torch.load(tmp_path / "last.pth", weights_only=True)
    assert state["step"] == 4 and {"g", "d", "opt_g", "opt_d"} <= set(state)
    assert (tmp_path / "history.csv").read_text().splitlines()[0].startswith("step,")


def test_step_decay_is_a_function_of_step():
    f = training.step_decay(1e-4, 10)
    assert f(0) == 1e-4 and f(9) == 1e-4 and f(10) == pytest.approx(1e-5)


def test_adversarial_without_discriminator_is_an_error(tmp_path):
    g, _ = tiny_models()
    with pytest.raises(ValueError, match="needs d and lr_d"):
        train.fit(g=g, data=tiny_data(), iters=1, run_dir=tmp_path, lr_g=1e-3, w_adv=1e-3)


# the srgan_train stage: each step reads the config


def tiny_cfg(**overrides) -> SRGANTrainConfig:
    return SRGANTrainConfig(
        **dict(
            num_feat=8,
            num_block=1,
            scale=2,
            bicubic_skip=True,
            gt_size=16,
            batch_size=2,
            pretrain_iters=2,
            gan_iters=2,
            lr_decay_at=1,
            vgg_layer="features.3",
            vgg_weights="random",
            log_interval=1,
            val_interval=0,
            ckpt_interval=2,
        )
        | overrides
    )


def test_build_generator_follows_the_config():
    g = train.build_generator(tiny_cfg(num_feat=12, num_block=3))
    assert isinstance(g, SRResNet) and g.conv_first.out_channels == 12 and len(g.body) == 3
    assert g.arch_kwargs == {
        "num_in_ch": 3,
        "num_out_ch": 3,
        "num_feat": 12,
        "num_block": 3,
        "scale": 2,
        "bicubic_skip": True,
    }
    paper = train.build_generator(SRGANTrainConfig())
    assert paper.arch_kwargs["num_block"] == 16 and not paper.bicubic_skip
    d = train.build_discriminator(tiny_cfg())
    assert isinstance(d, Discriminator) and d.classifier[1].out_features == 1024  # the paper's D


def test_run_record_is_the_metrics_config_block():
    """The keys, order and values the notebook wrote before the stage config (the smoke baseline's block)."""
    cfg = tiny_cfg(lr_g=3e-4, lr_d=2e-4, w_pix=0.5, w_adv=2e-3, seed=7)
    record = train.run_record(cfg, train.build_generator(cfg))
    assert list(record.items()) == [
        ("num_feat", 8),
        ("num_block", 1),
        ("scale", 2),
        ("bicubic_skip", True),
        ("gt_size", 16),
        ("batch_size", 2),
        ("pretrain_iters", 2),
        ("gan_iters", 2),
        ("lr_g_pretrain", 1e-4),
        ("lr_g", 3e-4),
        ("lr_d", 2e-4),
        ("w_pix", 0.5),
        ("w_adv", 2e-3),
        ("seed", 7),
    ]
    assert train.generator_labels(train.build_generator(cfg)) == [train.BICUBIC_SKIP_LABEL]
    assert train.generator_labels(train.build_generator(tiny_cfg(bicubic_skip=False))) == []


def test_pretrain_then_gan_write_both_generator_files(tmp_path):
    cfg = tiny_cfg()
    torch.manual_seed(0)
    g, d, vgg = train.build_generator(cfg), train.build_discriminator(cfg), perceptual.build(cfg)
    data = tiny_data()
    hist_pre = train.pretrain(cfg, g, data, run_dir=tmp_path, val_fn=None, device="cpu")
    after_pre = weights(g)
    hist_gan = train.train_gan(cfg, g, d, vgg, data, run_dir=tmp_path, val_fn=None, device="cpu")
    assert [r["step"] for r in hist_pre.rows] == [1, 2] and [r["step"] for r in hist_gan.rows] == [
        1,
        2,
    ]
    assert {"l_g_percep", "l_g_gan", "l_d_real"} <= set(hist_gan.rows[-1])
    assert hist_gan.rows[-1]["lr_g"] == pytest.approx(cfg.lr_g * 0.1)  # decayed from lr_decay_at
    srresnet, srresnet_file = models.load_generator(tmp_path / "srresnet.pth")
    srgan, srgan_file = models.load_generator(tmp_path / "srgan.pth")
    assert same_weights(weights(srresnet), after_pre) and same_weights(weights(srgan), weights(g))
    assert not same_weights(after_pre, weights(g))  # SRGAN continued from the SRResNet weights
    assert srresnet_file["meta"] == {"stage": "srresnet"}
    assert srgan_file["meta"]["vgg19"]["source"] == "random-init"
    assert srgan_file["meta"]["percep_net"] == "vgg19"  # the paper's VGG54 by default
